//! The whole process tree dies on stop; no zombies; restarts and degradation.

#[path = "it/common.rs"]
mod common;

use std::time::{Duration, Instant};

use common::*;
use dxforge_orchestrator::{ExitStatus, RestartPolicy, ToolStatus};

#[test]
fn stop_kills_a_double_forked_grandchild_and_leaves_no_zombie() {
    let p = Project::new();
    let pidfile = p.path("grandchild.pid");
    let tool_pid = start_forker(&p, &pidfile);
    let grandchild = read_pid(&pidfile);
    assert_eq!(
        proc_state(grandchild).map(|s| s != 'Z'),
        Some(true),
        "grandchild alive before stop"
    );
    // It really left the tool's process group and session.
    let stat = std::fs::read_to_string(format!("/proc/{grandchild}/stat")).unwrap();
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .collect();
    assert_ne!(
        fields[2],
        tool_pid.to_string(),
        "grandchild must be outside the tool's process group"
    );

    p.block(p.orch.stop("forker")).unwrap();
    assert_eq!(p.orch.status("forker").unwrap(), ToolStatus::Stopped);
    // Gone means reaped: not even a zombie entry is left.
    wait_until(10, "grandchild reaped", || gone(grandchild));
    wait_until(10, "tool reaped", || gone(tool_pid));
    wait_until(10, "no zombie children of the host", || {
        our_zombies().is_empty()
    });
}

#[test]
fn a_tool_ignoring_sigterm_is_killed_after_stop_timeout() {
    let p = Project::new();
    let pidfile = p.path("grandchild.pid");
    let mut t = tool(
        "stubborn",
        &["--ignore-term", "--double-fork", pidfile.to_str().unwrap()],
    );
    t.stop_timeout_ms = 400;
    p.orch.register_tool(t).unwrap();
    let ToolStatus::Running(pid) = p.block(p.orch.ensure_running("stubborn")).unwrap() else {
        panic!()
    };
    let grandchild = read_pid(&pidfile);
    let started = Instant::now();
    p.block(p.orch.stop("stubborn")).unwrap();
    // It ignored SIGTERM, so only the SIGKILL after stop_timeout_ms ended it.
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert_eq!(
        p.orch.state("stubborn").unwrap().last_exit,
        Some(ExitStatus::Signal(libc::SIGKILL))
    );
    wait_until(10, "tool reaped", || gone(pid));
    wait_until(10, "grandchild reaped", || gone(grandchild));
}

/// Regression: `shutdown_blocking` (what closing a `DxForge` does) used to
/// escalate to SIGKILL at once, cutting a tool's grace period short.
#[test]
fn shutdown_gives_a_tool_ignoring_sigterm_its_full_stop_timeout() {
    let p = Project::new();
    // `--touch` runs after `--ignore-term`: once the file exists, SIGTERM is ignored.
    let ready = p.path("ready");
    let mut t = tool(
        "stubborn",
        &["--ignore-term", "--touch", ready.to_str().unwrap()],
    );
    t.stop_timeout_ms = 400;
    p.orch.register_tool(t).unwrap();
    let ToolStatus::Running(pid) = p.block(p.orch.ensure_running("stubborn")).unwrap() else {
        panic!()
    };
    wait_until(10, "SIGTERM handler installed", || ready.exists());
    let started = Instant::now();
    p.orch.shutdown_blocking();
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "killed after {:?}, before stop_timeout_ms",
        started.elapsed()
    );
    assert_eq!(p.orch.status("stubborn").unwrap(), ToolStatus::Stopped);
    wait_until(10, "tool reaped", || gone(pid));
}

#[test]
fn a_crashing_tool_leaves_no_descendants_behind() {
    let p = Project::new();
    let pidfile = p.path("grandchild.pid");
    let mut t = tool(
        "crashy",
        &[
            "--double-fork",
            pidfile.to_str().unwrap(),
            "--sleep",
            "200",
            "--crash",
        ],
    );
    t.restart = RestartPolicy::Never;
    t.stop_timeout_ms = 300;
    p.orch.register_tool(t).unwrap();
    p.block(p.orch.ensure_running("crashy")).unwrap();
    let grandchild = read_pid(&pidfile);
    wait_until(10, "tool degraded after its crash", || {
        p.orch.status("crashy").unwrap() == ToolStatus::Degraded
    });
    let state = p.orch.state("crashy").unwrap();
    assert_eq!(state.last_exit, Some(ExitStatus::Signal(libc::SIGABRT)));
    assert!(state.last_error.unwrap().contains("signal 6"));
    wait_until(10, "orphaned grandchild killed and reaped", || {
        gone(grandchild)
    });
}

#[test]
fn crashes_restart_with_backoff_then_degrade() {
    let p = Project::new();
    let record = p.path("starts");
    let mut t = tool(
        "flaky",
        &[
            "--record",
            record.to_str().unwrap(),
            "--sleep",
            "50",
            "--exit",
            "7",
        ],
    );
    t.restart = RestartPolicy::OnFailure;
    t.max_restarts = 3;
    p.orch.register_tool(t).unwrap();
    let mut events = p.orch.subscribe();
    p.block(p.orch.ensure_running("flaky")).unwrap();
    wait_until(20, "degraded after max_restarts", || {
        p.orch.status("flaky").unwrap() == ToolStatus::Degraded
    });
    let state = p.orch.state("flaky").unwrap();
    assert_eq!(state.restarts, 3);
    assert_eq!(state.last_exit, Some(ExitStatus::Code(7)));
    assert!(
        state
            .last_error
            .as_deref()
            .unwrap()
            .contains("max_restarts"),
        "{state:?}"
    );
    // One initial start plus three restarts.
    assert_eq!(lines(&record).len(), 4);
    // Backoff: the waits between exits and restarts are 100, 200 and 400 ms.
    let mut restart_reasons = Vec::new();
    while let Ok(e) = events.try_recv() {
        if e.new == ToolStatus::Starting && e.old != ToolStatus::Stopped {
            restart_reasons.push(e.reason.unwrap_or_default());
        }
    }
    assert_eq!(restart_reasons.len(), 3, "{restart_reasons:?}");
    assert!(
        restart_reasons[2].contains("restart 3/3"),
        "{restart_reasons:?}"
    );
}

#[test]
fn backoff_doubles_between_restarts() {
    let p = Project::new();
    let record = p.path("starts");
    let mut t = tool(
        "flaky",
        &["--record", record.to_str().unwrap(), "--exit", "1"],
    );
    t.max_restarts = 4;
    p.orch.register_tool(t).unwrap();
    p.block(p.orch.ensure_running("flaky")).unwrap();
    wait_until(30, "degraded", || {
        p.orch.status("flaky").unwrap() == ToolStatus::Degraded
    });
    // Each line is "start <pid> <monotonic ms>"; the gap before restart n is
    // at least the backoff 100 ms * 2^(n-1) (a lower bound, not a speed claim).
    let starts: Vec<u64> = lines(&record)
        .iter()
        .map(|l| l.split(' ').nth(2).unwrap().parse().unwrap())
        .collect();
    assert_eq!(starts.len(), 5);
    for (n, pair) in starts.windows(2).enumerate() {
        let backoff = 100u64 << n;
        assert!(
            pair[1] - pair[0] >= backoff,
            "gap before restart {} was {} ms",
            n + 1,
            pair[1] - pair[0]
        );
    }
}

#[test]
fn a_tool_that_exits_at_once_without_restarts_is_degraded() {
    let p = Project::new();
    let mut t = tool("oneshot", &["--exit", "4"]);
    t.restart = RestartPolicy::Never;
    p.orch.register_tool(t).unwrap();
    // No health check: it is Running once spawned; the exit follows.
    p.block(p.orch.ensure_running("oneshot")).unwrap();
    wait_until(10, "degraded", || {
        p.orch.status("oneshot").unwrap() == ToolStatus::Degraded
    });
    let state = p.orch.state("oneshot").unwrap();
    assert_eq!(state.last_exit, Some(ExitStatus::Code(4)));
    assert_eq!(state.pid, None);
    assert!(state.last_error.unwrap().contains("exited with code 4"));
}

#[test]
fn a_tool_that_exits_at_once_before_its_health_check_fails_to_start() {
    let p = Project::new();
    // Held for the whole test: nothing ever listens on it.
    let port = reserve_port();
    let mut t = tool("oneshot", &["--exit", "5"]);
    t.health = Some(dxforge_orchestrator::HealthCheck::Tcp(format!(
        "127.0.0.1:{port}"
    )));
    t.health_interval_ms = 50;
    p.orch.register_tool(t).unwrap();
    let err = p.block(p.orch.ensure_running("oneshot")).unwrap_err();
    assert!(
        err.to_string()
            .contains("exited with code 5 while starting"),
        "{err}"
    );
    assert_eq!(p.orch.status("oneshot").unwrap(), ToolStatus::Degraded);
}

#[test]
fn a_clean_exit_with_on_failure_policy_is_stopped() {
    let p = Project::new();
    p.orch
        .register_tool(tool("done", &["--exit", "0"]))
        .unwrap();
    p.block(p.orch.ensure_running("done")).unwrap();
    wait_until(10, "stopped", || {
        p.orch.status("done").unwrap() == ToolStatus::Stopped
    });
    assert_eq!(
        p.orch.state("done").unwrap().last_exit,
        Some(ExitStatus::Code(0))
    );
}

#[test]
fn stop_during_restart_backoff_stops_cleanly() {
    let p = Project::new();
    let mut t = tool("flaky", &["--exit", "1"]);
    t.max_restarts = 100;
    p.orch.register_tool(t).unwrap();
    p.block(p.orch.ensure_running("flaky")).unwrap();
    wait_until(10, "restarting", || {
        p.orch.state("flaky").unwrap().restarts >= 2
    });
    p.block(p.orch.stop("flaky")).unwrap();
    assert_eq!(p.orch.status("flaky").unwrap(), ToolStatus::Stopped);
    let restarts = p.orch.state("flaky").unwrap().restarts;
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        p.orch.state("flaky").unwrap().restarts,
        restarts,
        "no restart after stop"
    );
    assert_eq!(p.orch.status("flaky").unwrap(), ToolStatus::Stopped);
}

#[test]
fn ensure_running_on_a_degraded_tool_starts_it_afresh() {
    let p = Project::new();
    let mut t = tool("t", &["--exit", "3"]);
    t.restart = RestartPolicy::Never;
    p.orch.register_tool(t).unwrap();
    p.block(p.orch.ensure_running("t")).unwrap();
    wait_until(10, "degraded", || {
        p.orch.status("t").unwrap() == ToolStatus::Degraded
    });
    p.block(p.orch.stop("t")).unwrap();
    assert_eq!(
        p.orch.status("t").unwrap(),
        ToolStatus::Stopped,
        "stop turns Degraded into Stopped"
    );
    p.orch.register_tool(tool("t", &[])).unwrap();
    assert!(matches!(
        p.block(p.orch.ensure_running("t")).unwrap(),
        ToolStatus::Running(_)
    ));
}

/// The host's own cgroup v2 directory, if this process may make a child
/// cgroup in it (what the orchestrator needs for its per-tool leaves).
fn writable_cgroup_dir() -> Option<std::path::PathBuf> {
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let rel = own.lines().find_map(|l| l.strip_prefix("0::"))?.to_owned();
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mount = mounts.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        let f: Vec<&str> = left.split(' ').collect();
        (right.starts_with("cgroup2 ") && f.get(3) == Some(&"/")).then(|| f[4].to_owned())
    })?;
    let dir = std::path::Path::new(&mount).join(rel.trim_start_matches('/'));
    let probe = dir.join(format!("probe-{}", std::process::id()));
    std::fs::create_dir(&probe).ok()?;
    let kill_exists = probe.join("cgroup.kill").exists();
    std::fs::remove_dir(&probe).ok()?;
    kill_exists.then_some(dir)
}

/// The cgroup v2 path of `pid` (the "0::" line).
fn cgroup_of(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .unwrap_or_default()
        .to_owned()
}

/// Where the host allows it, a tool and everything it starts live in a
/// cgroup leaf of their own, empty once the tool is stopped; elsewhere the
/// tool stays in the host's cgroup (the `/proc` scan covers it).
#[test]
fn a_tool_tree_lives_in_its_own_cgroup_leaf_where_the_host_allows_it() {
    let p = Project::new();
    let pidfile = p.path("grandchild.pid");
    let tool_pid = start_forker(&p, &pidfile);
    let grandchild = read_pid(&pidfile);
    let (tool_cg, grandchild_cg) = (cgroup_of(tool_pid), cgroup_of(grandchild));
    let host_cg = cgroup_of(std::process::id());
    match writable_cgroup_dir() {
        Some(dir) => {
            let leaf = tool_cg.rsplit('/').next().unwrap().to_owned();
            assert!(
                leaf.starts_with(&format!("dxforge-{}-", std::process::id())),
                "tool in {tool_cg}"
            );
            assert_eq!(
                grandchild_cg, tool_cg,
                "the escaped grandchild is in the leaf"
            );
            p.block(p.orch.stop("forker")).unwrap();
            assert!(gone(grandchild));
            // Kept for a later pair of this host, but empty.
            let procs = std::fs::read_to_string(dir.join(&leaf).join("cgroup.procs"));
            assert!(
                procs.is_ok_and(|p| p.trim().is_empty()),
                "leaf empty after stop"
            );
        }
        None => {
            assert_eq!(tool_cg, host_cg, "no leaf where the host allows none");
            p.block(p.orch.stop("forker")).unwrap();
            assert!(gone(grandchild));
        }
    }
}

/// Regression: on Linux 6.18 a child cloned into a cgroup whose
/// `cgroup.kill` was once written is SIGKILLed at birth, so a leaf reused
/// after a killed tree made every later start fail ("ended before its
/// exec"). Killed leaves are replaced, never reused.
#[test]
fn starts_keep_working_after_trees_were_killed() {
    let p = Project::new();
    let ready = p.path("ready");
    let mut t = tool(
        "stubborn",
        &["--ignore-term", "--touch", ready.to_str().unwrap()],
    );
    t.stop_timeout_ms = 100;
    p.orch.register_tool(t).unwrap();
    for round in 0..4 {
        let _ = std::fs::remove_file(&ready);
        let status = p.block(p.orch.ensure_running("stubborn"));
        assert!(
            matches!(status, Ok(ToolStatus::Running(_))),
            "round {round}: {status:?}"
        );
        wait_until(10, "SIGTERM handler installed", || ready.exists());
        // Ignores SIGTERM: the stop ends with the kill-all (cgroup.kill).
        p.block(p.orch.stop("stubborn")).unwrap();
        assert_eq!(
            p.orch.state("stubborn").unwrap().last_exit,
            Some(ExitStatus::Signal(libc::SIGKILL))
        );
    }
}
