//! `schema/reports.json` is what `dxforge::schema::reports()` emits: the Python
//! `TypedDict`s and every binding's report checks are built from the committed
//! file, so a report type changed without regenerating it fails here.
//! Regenerate with `DXFORGE_BLESS=1 cargo test -p dxforge --test it schema`.

use std::path::PathBuf;

#[test]
fn committed_report_schema_is_current() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schema/reports.json");
    let mut want = serde_json::to_string_pretty(&dxforge::schema::reports()).unwrap();
    want.push('\n');
    if std::env::var_os("DXFORGE_BLESS").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "schema/reports.json is stale: run `DXFORGE_BLESS=1 cargo test -p dxforge --test it \
         schema`, then `python3 scripts/gen-reports.py` and commit both"
    );
}

// The serde form of every report is what the C API (`*_json`) and the command line's
// `--json` print, so checking it here checks those against the schema too.

use std::time::Duration;

use dxforge::DxForge;
use dxforge::dxforge_traffic::InstallOptions;
use dxforge::dxforge_worker::BackgroundTask;
use serde_json::{Map, Value};

/// A `$ref` merged with the keywords beside it (a tagged variant adds its tag).
fn resolve<'a>(defs: &'a Map<String, Value>, schema: &'a Value) -> Value {
    let Some(name) = schema.get("$ref").and_then(Value::as_str) else {
        return schema.clone();
    };
    let mut merged = resolve(defs, &defs[name.rsplit('/').next().unwrap()]);
    for (k, v) in schema.as_object().unwrap() {
        match (k.as_str(), merged.get_mut(k)) {
            ("$ref", _) => {}
            ("properties", Some(Value::Object(base))) => {
                base.extend(v.as_object().unwrap().clone())
            }
            ("required", Some(Value::Array(base))) => base.extend(v.as_array().unwrap().clone()),
            _ => {
                merged[k] = v.clone();
            }
        }
    }
    merged
}

/// Why `value` does not match `schema` (empty when it does), for the keywords reports use.
fn errors(defs: &Map<String, Value>, value: &Value, schema: &Value, at: &str) -> Vec<String> {
    let s = resolve(defs, schema);
    for key in ["oneOf", "anyOf"] {
        if let Some(variants) = s.get(key).and_then(Value::as_array) {
            let n = variants
                .iter()
                .filter(|v| errors(defs, value, v, at).is_empty())
                .count();
            let ok = if key == "oneOf" { n == 1 } else { n >= 1 };
            return if ok {
                vec![]
            } else {
                vec![format!("{at}: {value} matches {n} {key} variants")]
            };
        }
    }
    if s.get("const").is_some_and(|c| c != value) {
        return vec![format!("{at}: {value} is not {}", s["const"])];
    }
    let types: Vec<&str> = match s.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let is = |t: &str| match t {
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_u64(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        "null" => value.is_null(),
        _ => false,
    };
    if !types.is_empty() && !types.iter().any(|t| is(t)) {
        return vec![format!("{at}: {value} is not {}", types.join("/"))];
    }
    let mut found = vec![];
    if let (Some(items), Some(list)) = (s.get("items"), value.as_array()) {
        for (i, item) in list.iter().enumerate() {
            found.extend(errors(defs, item, items, &format!("{at}[{i}]")));
        }
    }
    if let (Some(Value::Object(props)), Some(object)) = (s.get("properties"), value.as_object()) {
        for k in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !object.contains_key(k.as_str().unwrap()) {
                found.push(format!("{at}: missing {k}"));
            }
        }
        for (k, v) in object {
            match props.get(k) {
                Some(p) => found.extend(errors(defs, v, p, &format!("{at}.{k}"))),
                None => found.push(format!("{at}: unknown field {k}")),
            }
        }
    }
    found
}

#[track_caller]
fn check<T: serde::Serialize>(report: &T, name: &str) {
    let schema = dxforge::schema::reports();
    let defs = schema["$defs"].as_object().unwrap();
    let value = serde_json::to_value(report).unwrap();
    let problems = errors(
        defs,
        &value,
        &serde_json::json!({ "$ref": format!("#/$defs/{name}") }),
        "$",
    );
    assert!(
        problems.is_empty(),
        "{name} does not match the schema: {problems:#?}\n{value}"
    );
}

#[test]
fn the_checker_rejects_what_the_schema_forbids() {
    let schema = dxforge::schema::reports();
    let defs = schema["$defs"].as_object().unwrap();
    let counters = serde_json::json!({"enqueued": 1, "queued": 0, "running": 0, "succeeded": 1, "failed": 0, "dropped": 0});
    let reject = |v: Value, name: &str| {
        assert!(
            !errors(
                defs,
                &v,
                &serde_json::json!({"$ref": format!("#/$defs/{name}")}),
                "$"
            )
            .is_empty(),
            "{v}"
        );
    };
    assert!(
        errors(
            defs,
            &counters,
            &serde_json::json!({"$ref": "#/$defs/Counters"}),
            "$"
        )
        .is_empty()
    );
    let mut extra = counters.clone();
    extra["extra"] = 1.into();
    reject(extra, "Counters");
    let mut wrong = counters.clone();
    wrong["queued"] = (-1).into();
    reject(wrong, "Counters");
    reject(
        serde_json::json!({"state": "succeeded", "detail": "x"}),
        "TaskState",
    );
    reject(serde_json::json!("rolled_sideways"), "Recovery");
}

const BUTTON: &str = "components/ui/button.tsx";

fn project() -> (tempfile::TempDir, DxForge) {
    let dir = tempfile::tempdir().unwrap();
    let registry = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/registry");
    let toml = format!(
        "[project]\nname = \"s\"\n\n[registry]\npath = \"{}\"\n\n[dependencies]\ncard = \"^0.1\"\n",
        registry.display()
    );
    std::fs::write(dir.path().join("dxforge.toml"), toml).unwrap();
    std::fs::create_dir(dir.path().join("src")).unwrap();
    std::fs::write(dir.path().join("src/page.tsx"), "<Button />\n").unwrap();
    let forge = DxForge::open(dir.path()).unwrap();
    (dir, forge)
}

#[test]
fn traffic_reports_match_the_schema() {
    let (dir, forge) = project();
    let dry = InstallOptions {
        dry_run: true,
        ..Default::default()
    };
    let wet = InstallOptions {
        dry_run: false,
        ..Default::default()
    };
    check(
        &forge.install_package("button", "^1.2", &dry).unwrap(),
        "InstallReport",
    );
    check(
        &forge.install_package("button", "=1.0.0", &wet).unwrap(),
        "InstallReport",
    );
    check(&forge.recover_traffic().unwrap(), "Recovery");
    std::fs::write(dir.path().join(BUTTON), "my own button\n").unwrap();
    let registry = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/registry");
    let upstream = std::fs::read(registry.join("button/1.3.0/files").join(BUTTON)).unwrap();
    let verdict = forge.check(BUTTON, &upstream).unwrap();
    assert!(!verdict.conflicts.is_empty());
    check(&verdict, "FileReport");
    let red = forge.install_package("button", "^1", &wet).unwrap();
    assert!(red.files.iter().any(|f| f.side_file.is_some()));
    check(&red, "InstallReport");
    check(
        &forge.remove_package("button", &dry).unwrap(),
        "RemoveReport",
    );
    check(
        &forge.remove_package("button", &wet).unwrap(),
        "RemoveReport",
    );
    check(&forge.diff(None).unwrap(), "InstallReport");
    check(
        &forge.install_all_dependencies(&wet).unwrap(),
        "InstallReport",
    );
    check(&forge.update(None, &dry).unwrap(), "InstallReport");
    forge.shutdown().unwrap();
}

#[test]
fn worker_reports_match_the_schema() {
    let (dir, forge) = project();
    // A FIFO is left out of snapshots and listed among the skipped entries.
    let fifo = std::ffi::CString::new(
        dir.path()
            .join("src/pipe")
            .into_os_string()
            .into_encoded_bytes(),
    )
    .unwrap();
    // SAFETY: `fifo` is a valid NUL-terminated path for the duration of the call.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    let snap = forge.snapshot().unwrap();
    assert!(!snap.skipped_entries.is_empty());
    check(&snap, "SnapshotSummary");
    for s in forge.snapshots().unwrap() {
        check(&s, "SnapshotSummary");
    }
    std::fs::write(dir.path().join("src/page.tsx"), "changed\n").unwrap();
    let restored = forge.restore(&snap.id).unwrap();
    check(&restored, "RestoreReport");
    check(
        &forge.restore(&restored.safety_snapshot).unwrap(),
        "RestoreReport",
    );
    check(&forge.gc_snapshots().unwrap(), "GcReport");
    let analysis = forge.analyze().unwrap();
    assert!(analysis.packages.is_some());
    check(&analysis, "AnalysisReport");
    check(&forge.prefetch("card@^0.1").unwrap(), "PrefetchReport");
    let ids = [
        BackgroundTask::CacheCurrentState,
        BackgroundTask::AnalyzeCodebasePatterns,
        BackgroundTask::PrefetchPackage("card@^0.1".into()),
        BackgroundTask::SyncToCloudflareR2, // fails: no [remote]
    ]
    .map(|t| forge.enqueue(t).unwrap());
    check(&forge.task(ids[3]).unwrap().unwrap(), "TaskState");
    for id in ids {
        let state = dxforge::runtime::block_on(forge.wait(id, Duration::from_secs(60)))
            .unwrap()
            .unwrap();
        assert!(state.is_final());
        check(&state, "TaskState");
    }
    check(&forge.counters().unwrap(), "Counters");
    forge.shutdown().unwrap();
}

#[test]
fn orchestrator_documents_match_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let forge = DxForge::open(dir.path()).unwrap();
    let mut sleeper = dxforge::DxToolDefinition::new("sleeper", "/bin/sleep");
    sleeper.args = vec!["30".into()];
    sleeper.health_interval_ms = 50;
    forge.register_tool(sleeper).unwrap();
    forge
        .register_tool(dxforge::DxToolDefinition::new("echo", "/bin/echo"))
        .unwrap();
    for state in forge.states().unwrap() {
        check(&state, "ToolState");
    }
    dxforge::runtime::block_on(forge.ensure_running("sleeper"))
        .unwrap()
        .unwrap();
    check(&forge.state("sleeper").unwrap(), "ToolState");
    let output = dxforge::runtime::block_on(forge.execute_tool("echo", &["hi".into()]))
        .unwrap()
        .unwrap();
    check(&output, "ExecOutput");
    dxforge::runtime::block_on(forge.stop("sleeper"))
        .unwrap()
        .unwrap();
    for state in forge.states().unwrap() {
        check(&state, "ToolState");
    }
    forge.shutdown().unwrap();
}
