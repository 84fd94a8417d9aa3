//! Process trees the supervisor starts besides the tool itself: command
//! health checks (class 7 of issue 10) and `execute_tool` runs whose
//! caller goes away.

use crate::common;

use std::path::Path;

use common::*;
use dxforge_orchestrator::{HealthCheck, OrchestratorError};

/// Dead: gone, or a zombie of a parent that does not reap (PID 1 in a
/// container often does not).
fn dead(pid: u32) -> bool {
    proc_state(pid).is_none_or(|s| s == 'Z')
}

/// PIDs a check script appended to `path`.
fn pids(path: &Path) -> Vec<u32> {
    lines(path)
        .iter()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// A command check that starts a background `sleep 1000`, records both
/// PIDs and hangs.
fn hanging_check(dir: &Path) -> HealthCheck {
    let script = format!(
        "echo $$ >> {d}/check.pids; sleep 1000 & echo $! >> {d}/bg.pids; sleep 1000",
        d = dir.display()
    );
    HealthCheck::Command(vec!["sh".into(), "-c".into(), script])
}

#[test]
fn health_check_command_tree_is_killed_on_timeout() {
    let p = Project::new();
    let mut t = tool("t", &["--sleep", "600000"]);
    t.health = Some(hanging_check(p.root()));
    // Per-check timeout 200 ms; about three checks before the start gives up.
    t.health_interval_ms = 50;
    t.startup_timeout_ms = 700;
    p.orch.register_tool(t).unwrap();
    let err = p.block(p.orch.ensure_running("t")).unwrap_err();
    assert!(
        matches!(err, OrchestratorError::StartupFailed { .. }),
        "{err}"
    );
    let checks = pids(&p.path("check.pids"));
    let background = pids(&p.path("bg.pids"));
    assert!(!checks.is_empty() && !background.is_empty());
    for pid in checks.iter().chain(&background) {
        wait_until(10, "health-check process killed", || dead(*pid));
    }
}

#[test]
fn health_check_command_tree_is_killed_when_the_tool_stops() {
    let p = Project::new();
    let mut t = tool("t", &["--sleep", "600000"]);
    t.health = Some(hanging_check(p.root()));
    t.health_interval_ms = 2_000; // one check of up to 4 s in flight
    t.startup_timeout_ms = 60_000;
    p.orch.register_tool(t).unwrap();
    let orch = p.orch.clone();
    let start = RT.spawn(async move { orch.ensure_running("t").await });
    wait_until(10, "background process of the check", || {
        !pids(&p.path("bg.pids")).is_empty()
    });
    p.block(p.orch.stop("t")).unwrap();
    let err = p.block(start).unwrap().unwrap_err();
    assert!(matches!(err, OrchestratorError::ShutDown), "{err}");
    for pid in pids(&p.path("check.pids"))
        .iter()
        .chain(&pids(&p.path("bg.pids")))
    {
        wait_until(10, "health-check process killed", || dead(*pid));
    }
}

#[test]
fn dropping_execute_tool_mid_run_kills_the_tool_and_its_setsid_grandchild() {
    let p = Project::new();
    let tool_pid = p.path("tool.pid");
    let grandchild_pid = p.path("grandchild.pid");
    p.orch.register_tool(tool("long", &[])).unwrap();
    let args: Vec<String> = [
        "--touch",
        tool_pid.to_str().unwrap(),
        "--double-fork",
        grandchild_pid.to_str().unwrap(),
        "--sleep",
        "600000",
    ]
    .map(String::from)
    .to_vec();
    let orch = p.orch.clone();
    let ready = grandchild_pid.clone();
    p.block(async move {
        let run = orch.execute_tool("long", &args);
        tokio::pin!(run);
        // Poll the run until its grandchild exists, then drop it mid-run.
        while !ready.exists() {
            tokio::select! {
                out = &mut run => panic!("the run ended by itself: {out:?}"),
                _ = tokio::time::sleep(std::time::Duration::from_millis(20)) => {}
            }
        }
    });
    let tool = read_pid(&tool_pid);
    let grandchild = read_pid(&grandchild_pid);
    wait_until(10, "tool of the dropped run gone", || dead(tool));
    wait_until(10, "setsid grandchild of the dropped run gone", || {
        dead(grandchild)
    });
}
