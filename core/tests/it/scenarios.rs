//! Runs the shared scenario files of `tests/scenarios/` against the Rust API;
//! the C, Python and Node suites run the same files against their bindings.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use dxforge::{DxForge, DxToolDefinition, HealthCheck, RestartPolicy, ToolStatus, runtime};

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/scenarios")
}

#[path = "../../../tests/support/reserved_port.rs"]
mod reserved_port;
use reserved_port::reserve_port;

/// One parsed line: the step words and the expectation after `=>`.
struct Step {
    words: Vec<String>,
    expect: Vec<String>,
}

fn parse(text: &str, vars: &HashMap<&str, String>) -> Vec<Step> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| {
            let mut line = line.to_owned();
            for (k, v) in vars {
                line = line.replace(&format!("${{{k}}}"), v);
            }
            let (step, expect) = line.split_once("=>").unwrap_or((&line, ""));
            Step {
                words: step.split_whitespace().map(str::to_owned).collect(),
                expect: expect.split_whitespace().map(str::to_owned).collect(),
            }
        })
        .collect()
}

fn keys(words: &[String]) -> HashMap<String, String> {
    words
        .iter()
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn list(v: Option<&String>) -> Vec<String> {
    v.map(|v| {
        v.split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    })
    .unwrap_or_default()
}

fn definition(name: &str, k: &HashMap<String, String>) -> DxToolDefinition {
    let mut def = DxToolDefinition::new(name, k["bin"].clone());
    def.args = list(k.get("args"));
    def.dependencies = list(k.get("deps"));
    def.health_interval_ms = 50;
    def.stop_timeout_ms = 2000;
    def.startup_timeout_ms = 10_000;
    if let Some(v) = k.get("priority") {
        def.priority = v.parse().unwrap();
    }
    if let Some(v) = k.get("health_tcp") {
        def.health = Some(HealthCheck::Tcp(v.clone()));
    }
    if let Some(v) = k.get("restart") {
        def.restart = match v.as_str() {
            "never" => RestartPolicy::Never,
            "always" => RestartPolicy::Always,
            _ => RestartPolicy::OnFailure,
        };
    }
    if let Some(v) = k.get("max_restarts") {
        def.max_restarts = v.parse().unwrap();
    }
    if let Some(v) = k.get("startup_timeout_ms") {
        def.startup_timeout_ms = v.parse().unwrap();
    }
    if let Some(v) = k.get("stop_timeout_ms") {
        def.stop_timeout_ms = v.parse().unwrap();
    }
    def
}

fn status_name(s: ToolStatus) -> &'static str {
    s.as_str()
}

/// Checks a call's result against the expectation words.
fn check<T>(
    file: &str,
    line: &[String],
    expect: &[String],
    result: dxforge::Result<T>,
    ok: impl FnOnce(T, &[String]),
) {
    match (expect.first().map(String::as_str), result) {
        (Some("error"), Err(e)) => {
            assert_eq!(e.code(), expect[1], "{file}: {line:?}: wrong error: {e}")
        }
        (Some("error"), Ok(_)) => panic!(
            "{file}: {line:?}: expected error {}, got success",
            expect[1]
        ),
        (_, Err(e)) => panic!("{file}: {line:?}: unexpected error {}: {e}", e.code()),
        (_, Ok(v)) => ok(v, expect),
    }
}

fn run_file(path: &Path) {
    let file = path.file_name().unwrap().to_string_lossy().into_owned();
    let tools = scenarios_dir().join("tools").canonicalize().unwrap();
    // Held until the file has run: the tools bind beside the reservations.
    let ports = [reserve_port(), reserve_port()];
    let vars = HashMap::from([
        ("TOOLS", tools.display().to_string()),
        ("PORT1", ports[0].to_string()),
        ("PORT2", ports[1].to_string()),
    ]);
    let project = tempfile::tempdir().unwrap();
    let forge = DxForge::open(project.path()).unwrap();
    let mut pids = HashMap::new();
    for step in parse(&std::fs::read_to_string(path).unwrap(), &vars) {
        let (op, name) = (step.words[0].as_str(), step.words[1].as_str());
        let (w, e) = (&step.words, &step.expect[..]);
        match op {
            "tool" => check(
                &file,
                w,
                e,
                forge.register_tool(definition(name, &keys(&w[2..]))),
                |(), _| {},
            ),
            "ensure_running" => check(
                &file,
                w,
                e,
                runtime::block_on(forge.ensure_running(name)).unwrap(),
                |s, x| assert_eq!(status_name(s), x[0], "{file}: {w:?}"),
            ),
            "status" => check(&file, w, e, forge.status(name), |s, x| {
                assert_eq!(status_name(s), x[0], "{file}: {w:?}")
            }),
            "stop" => check(
                &file,
                w,
                e,
                runtime::block_on(forge.stop(name)).unwrap(),
                |(), _| {},
            ),
            "execute" => {
                let args = list(keys(&w[2..]).get("args"));
                check(
                    &file,
                    w,
                    e,
                    runtime::block_on(forge.execute_tool(name, &args)).unwrap(),
                    |out, x| {
                        assert_eq!(out.exit_code, Some(x[1].parse().unwrap()), "{file}: {w:?}");
                        if let Some(text) = keys(&x[2..]).get("stdout") {
                            assert!(
                                String::from_utf8_lossy(&out.stdout).contains(text.as_str()),
                                "{file}: {w:?}"
                            );
                        }
                    },
                )
            }
            "remember_pid" => {
                pids.insert(
                    name.to_owned(),
                    forge
                        .state(name)
                        .unwrap()
                        .pid
                        .expect("running tool has a pid"),
                );
            }
            "same_pid" => assert_eq!(
                forge.state(name).unwrap().pid,
                pids.get(name).copied(),
                "{file}: {w:?}"
            ),
            other => panic!("{file}: unknown step `{other}`"),
        }
    }
    forge.shutdown().unwrap();
}

#[test]
fn every_shared_scenario_passes_through_the_rust_api() {
    let mut files: Vec<_> = std::fs::read_dir(scenarios_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "scn"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "scenario files missing");
    for f in files {
        run_file(&f);
    }
}
