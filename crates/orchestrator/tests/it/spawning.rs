//! How a tool is started: environment, working directory, descriptors, and
//! independence from the thread that started it. Real processes.

use crate::common;

use std::time::Duration;

use common::*;
use dxforge_orchestrator::{DxToolDefinition, OrchestratorError, ToolStatus};

fn shell(name: &str, script: &str) -> DxToolDefinition {
    let mut def = DxToolDefinition::new(name, "/bin/sh");
    def.args = vec!["-c".into(), script.into()];
    def
}

/// Runs `name` once with `sh -c script` and returns its stdout.
fn stdout_of(p: &Project, name: &str, script: &str) -> String {
    let args = vec!["-c".to_owned(), script.to_owned()];
    let out = p.block(p.orch.execute_tool(name, &args)).unwrap();
    assert_eq!(
        out.exit_code,
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_tool_gets_the_host_environment_with_its_own_env_on_top() {
    let p = Project::new();
    let mut def = shell("env", "");
    def.env
        .insert("DXF_SPAWN_TEST".into(), "from-definition".into());
    def.env.insert("HOME".into(), "/overridden".into());
    p.orch.register_tool(def).unwrap();
    let script = r#"printf '%s|%s|%s' "$DXF_SPAWN_TEST" "$HOME" "$PATH""#;
    let path = std::env::var("PATH").unwrap_or_default();
    assert_eq!(
        stdout_of(&p, "env", script),
        format!("from-definition|/overridden|{path}")
    );
}

#[test]
fn a_tool_without_its_own_env_gets_the_host_environment_unchanged() {
    let p = Project::new();
    p.orch.register_tool(shell("env", "")).unwrap();
    assert_eq!(
        stdout_of(&p, "env", r#"printf '%s' "$PATH""#),
        std::env::var("PATH").unwrap_or_default()
    );
}

#[test]
fn a_tool_runs_in_its_working_directory() {
    let p = Project::new();
    std::fs::create_dir(p.path("sub")).unwrap();
    let mut def = shell("pwd", "pwd");
    def.cwd = Some("sub".into());
    p.orch.register_tool(def).unwrap();
    let out = stdout_of(&p, "pwd", "pwd");
    let expected = p.path("sub").canonicalize().unwrap();
    assert_eq!(
        std::path::Path::new(out.trim()).canonicalize().unwrap(),
        expected
    );
}

#[test]
fn a_missing_working_directory_is_a_spawn_error_naming_it() {
    let p = Project::new();
    let mut def = shell("nowhere", "true");
    def.cwd = Some("does-not-exist".into());
    p.orch.register_tool(def).unwrap();
    let err = p.block(p.orch.ensure_running("nowhere")).unwrap_err();
    let OrchestratorError::SpawnFailed { tool, path, .. } = &err else {
        panic!("expected SpawnFailed, got {err:?}");
    };
    assert_eq!(tool, "nowhere");
    assert!(path.ends_with("does-not-exist"), "{err}");
    assert_eq!(p.orch.status("nowhere").unwrap(), ToolStatus::Degraded);
    // Other tests of this binary start and stop tools meanwhile, so this
    // waits for a moment with no zombie at all.
    wait_until(10, "no zombie shim left", || our_zombies().is_empty());
}

/// Regression guard for the shim, which is a copy of the host's descriptor
/// table: it must not keep the host's pipes open for the tool's lifetime.
#[test]
fn a_running_tool_keeps_no_copy_of_the_hosts_descriptors() {
    let p = Project::new();
    p.orch
        .register_tool(tool("long", &["--sleep", "60000"]))
        .unwrap();
    let (reader, writer) = std::io::pipe().unwrap();
    p.block(p.orch.ensure_running("long")).unwrap();
    drop(writer);
    assert_reaches_eof(reader);
}

/// A descriptor the host leaves inheritable (no close-on-exec) does not
/// reach tools, neither through a pair made on the spot nor a parked one.
#[test]
fn a_tool_inherits_stdin_stdout_and_stderr_only() {
    let p = Project::new();
    // SAFETY: a fresh descriptor, at 500 or above so that it cannot clash
    // with those of tests running alongside, without close-on-exec.
    let leaked = unsafe { libc::fcntl(0, libc::F_DUPFD, 500) };
    assert!(leaked >= 500);
    p.orch.register_tool(shell("fds", "")).unwrap();
    let script = r#"for f in /proc/$$/fd/*; do printf '%s ' "${f##*/}"; done"#;
    for round in ["first start", "parked pair"] {
        let out = stdout_of(&p, "fds", script);
        let fds: Vec<&str> = out.split_whitespace().collect();
        // 3 is the shell's own handle on the directory it lists.
        assert!(fds.starts_with(&["0", "1", "2"]), "{round}: {out}");
        assert!(
            fds.len() <= 4 && !fds.contains(&leaked.to_string().as_str()),
            "{round}: {out}"
        );
    }
    // SAFETY: closing the descriptor made above.
    unsafe { libc::close(leaked) };
}

/// Regression guard: a tool must not depend on the thread that started it
/// (a parent-death signal follows the thread, not the process).
#[test]
fn a_tool_started_from_a_thread_that_exits_keeps_running() {
    let p = Project::new();
    p.orch
        .register_tool(tool("svc", &["--sleep", "60000"]))
        .unwrap();
    let orch = p.orch.clone();
    std::thread::spawn(move || RT.block_on(orch.ensure_running("svc")))
        .join()
        .unwrap()
        .unwrap();
    let pid = p.orch.state("svc").unwrap().pid.unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(matches!(
        p.orch.status("svc").unwrap(),
        ToolStatus::Running(_)
    ));
    assert!(
        !gone(pid),
        "tool {pid} died with the thread that started it"
    );
}

#[test]
fn many_starts_and_stops_leave_no_zombies() {
    let p = Project::new();
    p.orch
        .register_tool(tool("svc", &["--sleep", "60000"]))
        .unwrap();
    let mut pids = Vec::new();
    for _ in 0..30 {
        p.block(p.orch.ensure_running("svc")).unwrap();
        pids.push(p.orch.state("svc").unwrap().pid.unwrap());
        p.block(p.orch.stop("svc")).unwrap();
    }
    for pid in pids {
        wait_until(10, "tool gone", || gone(pid));
    }
    wait_until(10, "no zombies", || our_zombies().is_empty());
}
