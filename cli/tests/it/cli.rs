//! End-to-end tests of the `dxforge` binary on real temporary projects, with
//! real tool processes and the control socket used from a second process.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{Project, ReservedPort, pid_alive, reserve_port, text, wait_exit, wait_until};

impl Project {
    /// Polls `status --json` until every named tool has `want` status.
    fn wait_statuses(&self, tools: &[&str], want: &str) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = self.dx(&["--json", "status"]);
            if let Ok(doc) = serde_json::from_slice::<serde_json::Value>(&out.stdout) {
                let all = tools.iter().all(|t| {
                    doc["tools"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|s| s["name"] == *t && s["status"]["status"] == want)
                });
                if all {
                    return doc;
                }
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {tools:?} to be {want}: {}",
                text(&out)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn tools_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/scenarios/tools")
        .canonicalize()
        .unwrap()
}

fn server_config(port: &ReservedPort) -> String {
    let tools = tools_dir();
    format!(
        r#"
[tools.db]
binary_path = "{tools}/tcp-server"
args = ["{port}"]
health = {{ tcp = "127.0.0.1:{port}" }}
health_interval_ms = 50
stop_timeout_ms = 2000

[tools.lint]
binary_path = "{tools}/exit-with"
args = ["0", "ok"]
restart = "never"
"#,
        tools = tools.display()
    )
}

#[test]
fn init_writes_config_creates_state_dir_and_ignores_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let dx = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_dxforge"))
            .arg("-C")
            .arg(dir.path())
            .args(args)
            .output()
            .unwrap()
    };
    let out = dx(&["init", "--name", "shop"]);
    assert!(out.status.success(), "{}", text(&out));
    let config = std::fs::read_to_string(dir.path().join("dxforge.toml")).unwrap();
    assert!(config.contains("name = \"shop\""));
    assert!(dir.path().join(".dxforge").is_dir());
    assert_eq!(
        std::fs::read_to_string(dir.path().join(".gitignore")).unwrap(),
        ".dxforge/\n"
    );
    // A second init keeps the user's file and does not duplicate the ignore line.
    std::fs::write(
        dir.path().join("dxforge.toml"),
        "[project]\nname = \"mine\"\n",
    )
    .unwrap();
    let out = dx(&["init"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("dxforge.toml")).unwrap(),
        "[project]\nname = \"mine\"\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join(".gitignore")).unwrap(),
        ".dxforge/\n"
    );
}

#[test]
fn malformed_config_unknown_key_names_file_line_and_key() {
    let p = Project::new(
        "dxcli",
        "[tools.db]\nbinary_path = \"x\"\nrestrat = \"never\"\n",
    );
    let out = p.dx(&["status"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("dxforge.toml:3:"), "{err}");
    assert!(err.contains("tools.db.restrat"), "{err}");
}

#[test]
fn malformed_config_wrong_type_names_key() {
    let p = Project::new(
        "dxcli",
        "[tools.db]\nbinary_path = \"x\"\nmax_restarts = \"five\"\n",
    );
    let out = p.dx(&["status"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("dxforge.toml:3:") && err.contains("tools.db.max_restarts"),
        "{err}"
    );
}

#[test]
fn dependency_cycle_in_config_names_the_tools() {
    let p = Project::new(
        "dxcli",
        "[tools.a]\nbinary_path = \"/bin/true\"\ndependencies = [\"b\"]\n[tools.b]\nbinary_path = \"/bin/true\"\ndependencies = [\"a\"]\n",
    );
    let out = p.dx(&["status"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cycle") && err.contains('a') && err.contains('b'),
        "{err}"
    );
}

#[test]
fn unknown_command_is_a_usage_error_with_exit_code_2() {
    let p = Project::new("dxcli", "");
    assert_eq!(p.dx(&["frobnicate"]).status.code(), Some(2));
}

#[test]
fn run_passes_through_the_tools_exit_code_and_output() {
    let p = Project::new(
        "dxcli",
        &format!(
            "[tools.check]\nbinary_path = \"{}/exit-with\"\n",
            tools_dir().display()
        ),
    );
    let out = p.dx(&["run", "check", "--", "4", "hello"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("hello"));
    let out = p.dx(&["--json", "run", "check", "--", "0", "fine"]);
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["exit_code"], 0);
    assert_eq!(doc["stdout"], "fine\n");
    assert_eq!(doc["stderr"], "to-stderr\n");
}

#[test]
fn status_without_a_supervisor_reports_every_tool_stopped() {
    let port = reserve_port();
    let p = Project::new("dxcli", &server_config(&port));
    let out = p.dx(&["status"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "TOOL  STATUS         PID  RESTARTS\ndb    stopped          -         0\nlint  stopped          -         0\n"
    );
}

#[test]
fn up_serves_status_logs_run_and_stop_to_a_second_process() {
    let port = reserve_port();
    let p = Project::new("dxcli", &server_config(&port));
    let mut up = p.spawn(&["up", "db"]);
    let doc = p.wait_statuses(&["db"], "healthy");
    let db = doc["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "db")
        .unwrap()
        .clone();
    let pid = db["pid"].as_u64().unwrap() as u32;
    assert!(pid_alive(pid));

    // The status table, volatile pid (and the padding that depends on its width) redacted.
    let out = p.dx(&["status"]);
    let table = String::from_utf8_lossy(&out.stdout).replace(&pid.to_string(), "[PID]");
    let table: Vec<String> = table
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        table,
        [
            "TOOL STATUS PID RESTARTS",
            "db healthy [PID] 0",
            "lint stopped - 0"
        ]
    );

    // The health check can pass before the reader has taken the tool's
    // first line from its pipe: poll.
    wait_until(30, "db's first line in `dxforge logs`", || {
        String::from_utf8_lossy(&p.dx(&["logs", "db", "-n", "5"]).stdout).contains("listening on")
    });
    let run = p.dx(&["run", "lint"]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));

    // A second `up` on the same project is refused and changes nothing.
    let second = p.dx(&["up", "db"]);
    assert_eq!(second.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("already running"),
        "{}",
        text(&second)
    );
    assert!(pid_alive(pid));

    let stop = p.dx(&["stop"]);
    assert!(stop.status.success(), "{}", text(&stop));
    assert!(wait_exit(&mut up, 30).success());
    assert!(!pid_alive(pid), "db survived `dxforge stop`");
    assert!(!p.root().join(".dxforge/control.sock").exists());

    // Without a supervisor, `logs` reads the tool's log file from that run.
    let logs = p.dx(&["logs", "db"]);
    assert!(
        String::from_utf8_lossy(&logs.stdout).contains("listening on"),
        "{}",
        text(&logs)
    );
}

#[test]
fn up_stops_every_tool_on_sigterm() {
    let port = reserve_port();
    let p = Project::new("dxcli", &server_config(&port));
    let mut up = p.spawn(&["up", "db"]);
    let doc = p.wait_statuses(&["db"], "healthy");
    let pid = doc["tools"][0]["pid"].as_u64().unwrap() as u32;
    // SAFETY: plain kill(2) on our own child.
    unsafe { libc::kill(up.id() as i32, libc::SIGTERM) };
    assert!(wait_exit(&mut up, 30).success());
    assert!(!pid_alive(pid), "db survived SIGTERM of `dxforge up`");
}

#[test]
fn up_with_a_missing_binary_fails_naming_it_and_leaves_nothing_running() {
    let port = reserve_port();
    let p = Project::new(
        "dxcli",
        &format!(
            "{}\n[tools.web]\nbinary_path = \"./bin/not-there\"\ndependencies = [\"db\"]\n",
            server_config(&port)
        ),
    );
    let out = p.dx(&["up"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("bin/not-there"),
        "{}",
        text(&out)
    );
    // db was started first and must have been stopped again: nothing
    // listens on its port any more (the test's own reservation never does).
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port.port())).is_err(),
        "db still listening"
    );
}
