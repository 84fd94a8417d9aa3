//! Start, stop, idempotence, execute, process trees: real processes.

use crate::common;

use std::sync::Arc;

use common::*;
use dxforge_orchestrator::{HealthCheck, OrchestratorError, ToolStatus};

#[test]
fn ensure_running_spawns_and_stop_stops() {
    let p = Project::new();
    p.orch.register_tool(tool("svc", &[])).unwrap();
    assert_eq!(p.orch.status("svc").unwrap(), ToolStatus::Stopped);
    let status = p.block(p.orch.ensure_running("svc")).unwrap();
    let ToolStatus::Running(pid) = status else {
        panic!("expected Running, got {status:?}")
    };
    assert_eq!(
        proc_state(pid).map(|s| s != 'Z'),
        Some(true),
        "tool process {pid} must be alive"
    );
    assert_eq!(p.orch.state("svc").unwrap().pid, Some(pid));
    p.block(p.orch.stop("svc")).unwrap();
    assert_eq!(p.orch.status("svc").unwrap(), ToolStatus::Stopped);
    wait_until(10, "tool process gone", || gone(pid));
}

#[test]
fn ensure_running_is_idempotent_and_keeps_the_pid() {
    let p = Project::new();
    let record = p.path("starts");
    p.orch
        .register_tool(tool("svc", &["--record", record.to_str().unwrap()]))
        .unwrap();
    let first = p.block(p.orch.ensure_running("svc")).unwrap();
    for _ in 0..5 {
        assert_eq!(p.block(p.orch.ensure_running("svc")).unwrap(), first);
    }
    wait_until(10, "start recorded", || lines(&record).len() == 1);
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_eq!(lines(&record).len(), 1);
}

#[test]
fn fifty_threads_spawn_exactly_one_process() {
    let p = Project::new();
    let record = p.path("starts");
    p.orch
        .register_tool(tool("svc", &["--record", record.to_str().unwrap()]))
        .unwrap();
    let barrier = Arc::new(std::sync::Barrier::new(50));
    let handles: Vec<_> = (0..50)
        .map(|_| {
            let orch = p.orch.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                // Each thread drives the future with its own tiny executor.
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(orch.ensure_running("svc")).unwrap()
            })
        })
        .collect();
    let statuses: Vec<ToolStatus> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(
        statuses.iter().all(|s| *s == statuses[0]),
        "all callers see the same status: {statuses:?}"
    );
    wait_until(10, "start recorded", || !lines(&record).is_empty());
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(
        lines(&record).len(),
        1,
        "exactly one spawn: {:?}",
        lines(&record)
    );
}

#[test]
fn dependencies_start_in_order_after_tcp_health() {
    let p = Project::new();
    let port = free_port();
    let order = p.path("order");
    let o = order.to_str().unwrap();
    let mut db = tool(
        "db",
        &[
            "--sleep",
            "300",
            "--record",
            o,
            "--serve-tcp",
            &port.to_string(),
        ],
    );
    db.health = Some(HealthCheck::Tcp(format!("127.0.0.1:{port}")));
    db.health_interval_ms = 50;
    let mut web = tool("web", &["--record", o]);
    web.dependencies = vec!["db".into()];
    p.orch.register_tool(db).unwrap();
    p.orch.register_tool(web).unwrap();
    let status = p.block(p.orch.ensure_running("web")).unwrap();
    assert!(matches!(status, ToolStatus::Running(_)));
    assert_eq!(p.orch.status("db").unwrap(), ToolStatus::Healthy);
    // db records its start only after sleeping 300 ms, before it serves:
    // web can only have started after db's port answered.
    wait_until(10, "both started", || lines(&order).len() == 2);
    let db_pid = p.orch.state("db").unwrap().pid.unwrap();
    assert!(
        lines(&order)[0].starts_with(&format!("start {db_pid} ")),
        "{:?}",
        lines(&order)
    );
    assert_eq!(p.orch.tool_names(), vec!["db", "web"]);
    // Stopping the dependency stops its dependent first.
    p.block(p.orch.stop("db")).unwrap();
    assert_eq!(p.orch.status("web").unwrap(), ToolStatus::Stopped);
    assert_eq!(p.orch.status("db").unwrap(), ToolStatus::Stopped);
}

#[test]
fn http_health_check_makes_a_tool_healthy() {
    let p = Project::new();
    let port = free_port();
    let mut api = tool("api", &["--serve-http", &port.to_string()]);
    api.health = Some(HealthCheck::Http(format!("http://127.0.0.1:{port}/health")));
    api.health_interval_ms = 50;
    p.orch.register_tool(api).unwrap();
    assert_eq!(
        p.block(p.orch.ensure_running("api")).unwrap(),
        ToolStatus::Healthy
    );
}

#[test]
fn command_health_check_that_never_passes_degrades_the_tool() {
    let p = Project::new();
    let mut t = tool("t", &[]);
    t.health = Some(HealthCheck::Command(vec!["false".into()]));
    t.health_interval_ms = 50;
    t.startup_timeout_ms = 500;
    p.orch.register_tool(t).unwrap();
    let err = p.block(p.orch.ensure_running("t")).unwrap_err();
    assert!(
        matches!(err, OrchestratorError::StartupFailed { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("startup_timeout_ms"), "{err}");
    let state = p.orch.state("t").unwrap();
    assert_eq!(state.status, ToolStatus::Degraded);
    assert!(state.last_error.unwrap().contains("health"));
}

#[test]
fn priority_breaks_ties_in_start_order() {
    let p = Project::new();
    let mut a = tool("a", &[]);
    a.priority = 5;
    let mut b = tool("b", &[]);
    b.priority = 1;
    let mut c = tool("c", &[]);
    c.priority = 3;
    c.dependencies = vec!["a".into()];
    p.orch.register_tools(vec![a, b, c]).unwrap();
    assert_eq!(p.orch.tool_names(), vec!["b", "a", "c"]);
    p.block(p.orch.ensure_all_running()).unwrap();
    let states = p.orch.states();
    assert_eq!(
        states.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        vec!["b", "a", "c"]
    );
    assert!(
        states
            .iter()
            .all(|s| matches!(s.status, ToolStatus::Running(_)))
    );
    p.block(p.orch.stop_all()).unwrap();
    assert!(
        p.orch
            .states()
            .iter()
            .all(|s| s.status == ToolStatus::Stopped)
    );
}

#[test]
fn execute_tool_returns_exit_code_and_output() {
    let p = Project::new();
    p.orch
        .register_tool(tool("lint", &["--exit", "0"]))
        .unwrap();
    let args: Vec<String> = ["--print", "hello", "--eprint", "oops", "--exit", "3"]
        .map(String::from)
        .to_vec();
    let out = p.block(p.orch.execute_tool("lint", &args)).unwrap();
    assert_eq!(out.exit_code, Some(3));
    assert_eq!(out.signal, None);
    assert_eq!(out.stdout, b"hello\n");
    assert_eq!(out.stderr, b"oops\n");
    let ok = p
        .block(p.orch.execute_tool("lint", &["--exit".into(), "0".into()]))
        .unwrap();
    assert_eq!(ok.exit_code, Some(0));
    let crash = p
        .block(p.orch.execute_tool("lint", &["--crash".into()]))
        .unwrap();
    assert_eq!(crash.exit_code, None);
    assert_eq!(crash.signal, Some(libc::SIGABRT));
    // A one-shot run does not change the tool's status.
    assert_eq!(p.orch.status("lint").unwrap(), ToolStatus::Stopped);
}

#[test]
fn execute_tool_starts_dependencies_first() {
    let p = Project::new();
    p.orch.register_tool(tool("db", &[])).unwrap();
    let mut lint = tool("lint", &[]);
    lint.dependencies = vec!["db".into()];
    p.orch.register_tool(lint).unwrap();
    let out = p
        .block(p.orch.execute_tool("lint", &["--exit".into(), "0".into()]))
        .unwrap();
    assert_eq!(out.exit_code, Some(0));
    assert!(matches!(
        p.orch.status("db").unwrap(),
        ToolStatus::Running(_)
    ));
}

#[test]
fn stopping_a_tool_that_is_not_running_is_a_no_op() {
    let p = Project::new();
    p.orch.register_tool(tool("svc", &[])).unwrap();
    let mut events = p.orch.subscribe();
    p.block(p.orch.stop("svc")).unwrap();
    assert_eq!(p.orch.status("svc").unwrap(), ToolStatus::Stopped);
    assert!(events.try_recv().is_err(), "no status change, no event");
    assert!(matches!(
        p.block(p.orch.stop("nope")),
        Err(OrchestratorError::UnknownTool { .. })
    ));
}

#[test]
fn missing_binary_degrades_with_the_path() {
    let p = Project::new();
    p.orch
        .register_tool(dxforge_orchestrator::DxToolDefinition::new(
            "ghost",
            "./bin/not-there",
        ))
        .unwrap();
    let err = p.block(p.orch.ensure_running("ghost")).unwrap_err();
    assert!(
        matches!(err, OrchestratorError::BinaryNotFound { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("bin/not-there"), "{err}");
    let state = p.orch.state("ghost").unwrap();
    assert_eq!(state.status, ToolStatus::Degraded);
    assert!(state.last_error.unwrap().contains("bin/not-there"));

    p.orch
        .register_tool(dxforge_orchestrator::DxToolDefinition::new(
            "nopath",
            "no-such-tool-on-path-xyz",
        ))
        .unwrap();
    let err = p.block(p.orch.ensure_running("nopath")).unwrap_err();
    assert!(
        err.to_string().contains("no-such-tool-on-path-xyz"),
        "{err}"
    );
}

#[test]
fn non_executable_binary_degrades_with_the_path() {
    let p = Project::new();
    std::fs::create_dir_all(p.path("bin")).unwrap();
    std::fs::write(p.path("bin/plain"), "not a program").unwrap();
    p.orch
        .register_tool(dxforge_orchestrator::DxToolDefinition::new(
            "plain",
            "bin/plain",
        ))
        .unwrap();
    let err = p.block(p.orch.ensure_running("plain")).unwrap_err();
    assert!(
        matches!(err, OrchestratorError::NotExecutable { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("bin/plain"), "{err}");
    assert_eq!(p.orch.status("plain").unwrap(), ToolStatus::Degraded);
}

#[test]
fn dependency_failure_names_the_dependency_and_does_not_start_the_dependent() {
    let p = Project::new();
    p.orch
        .register_tool(dxforge_orchestrator::DxToolDefinition::new(
            "db",
            "./missing-db",
        ))
        .unwrap();
    let mut web = tool("web", &[]);
    web.dependencies = vec!["db".into()];
    p.orch.register_tool(web).unwrap();
    let err = p.block(p.orch.ensure_running("web")).unwrap_err();
    let OrchestratorError::DependencyFailed {
        tool, dependency, ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!((tool.as_str(), dependency.as_str()), ("web", "db"));
    assert_eq!(p.orch.status("web").unwrap(), ToolStatus::Stopped);
}

#[test]
fn status_changes_are_published_as_events() {
    let p = Project::new();
    p.orch.register_tool(tool("svc", &[])).unwrap();
    let mut events = p.orch.subscribe();
    let status = p.block(p.orch.ensure_running("svc")).unwrap();
    p.block(p.orch.stop("svc")).unwrap();
    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        assert_eq!(e.tool, "svc");
        seen.push((e.old, e.new));
    }
    assert_eq!(
        seen,
        vec![
            (ToolStatus::Stopped, ToolStatus::Starting),
            (ToolStatus::Starting, status),
            (status, ToolStatus::Stopped),
        ]
    );
}

#[test]
fn re_registering_a_running_tool_is_an_error_and_a_stopped_one_replaces_it() {
    let p = Project::new();
    p.orch.register_tool(tool("svc", &[])).unwrap();
    p.block(p.orch.ensure_running("svc")).unwrap();
    let err = p
        .orch
        .register_tool(tool("svc", &["--print", "x"]))
        .unwrap_err();
    assert!(
        matches!(err, OrchestratorError::ToolRunning { .. }),
        "{err}"
    );
    assert_eq!(p.orch.definition("svc").unwrap().args, Vec::<String>::new());
    p.block(p.orch.stop("svc")).unwrap();
    p.orch
        .register_tool(tool("svc", &["--print", "x"]))
        .unwrap();
    assert_eq!(p.orch.definition("svc").unwrap().args, vec!["--print", "x"]);
}

#[test]
fn shutdown_blocking_from_a_plain_thread_stops_everything() {
    let p = Project::new();
    p.orch.register_tool(tool("a", &[])).unwrap();
    let mut b = tool("b", &["--ignore-term"]);
    b.stop_timeout_ms = 300;
    b.dependencies = vec!["a".into()];
    p.orch.register_tool(b).unwrap();
    p.block(p.orch.ensure_running("b")).unwrap();
    let pids: Vec<u32> = p.orch.states().iter().map(|s| s.pid.unwrap()).collect();
    let orch = p.orch.clone();
    std::thread::spawn(move || orch.shutdown_blocking())
        .join()
        .unwrap();
    assert!(
        p.orch
            .states()
            .iter()
            .all(|s| s.status == ToolStatus::Stopped)
    );
    for pid in pids {
        wait_until(10, "tool gone", || gone(pid));
    }
    let err = p.block(p.orch.ensure_running("a")).unwrap_err();
    assert!(matches!(err, OrchestratorError::ShutDown), "{err}");
}

#[test]
fn shutdown_blocking_inside_a_runtime_thread_does_not_deadlock() {
    let p = Project::new();
    p.orch.register_tool(tool("a", &[])).unwrap();
    p.block(p.orch.ensure_running("a")).unwrap();
    let pid = p.orch.state("a").unwrap().pid.unwrap();
    let orch = p.orch.clone();
    // On a current-thread runtime nothing else can run while we block.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move { orch.shutdown_blocking() });
    wait_until(10, "tool gone", || gone(pid));
    assert_eq!(p.orch.status("a").unwrap(), ToolStatus::Stopped);
}

/// Regression (hung CI for 90 minutes): `ensure_running` right after
/// `shutdown_blocking`, while the stopped tool's supervisor task had not yet
/// run its last step, waited for a wake-up that never came, because the
/// supervisor's final status equalled the one shutdown had already set.
#[test]
fn ensure_running_after_shutdown_is_refused_while_supervisors_wind_down() {
    let dir = tempfile::tempdir().unwrap();
    // One worker, so that blocking it holds back the supervisor task.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let orch = dxforge_orchestrator::Orchestrator::new(dxforge_orchestrator::OrchestratorConfig {
        root: dir.path().to_path_buf(),
        log_dir: dir.path().join(".dxforge/logs"),
        log_max_bytes: 1 << 20,
        recent_lines: 10,
        runtime: rt.handle().clone(),
        env_file: None,
    });
    orch.register_tool(tool("a", &[])).unwrap();
    rt.block_on(orch.ensure_running("a")).unwrap();
    let pid = orch.state("a").unwrap().pid.unwrap();
    let (busy_tx, busy_rx) = std::sync::mpsc::channel();
    rt.spawn(async move {
        busy_tx.send(()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(500));
    });
    busy_rx.recv().unwrap();
    orch.shutdown_blocking();
    let err = rt
        .block_on(async {
            tokio::time::timeout(std::time::Duration::from_secs(20), orch.ensure_running("a")).await
        })
        .expect("ensure_running after shutdown must not hang")
        .unwrap_err();
    assert!(matches!(err, OrchestratorError::ShutDown), "{err}");
    wait_until(10, "tool gone", || gone(pid));
}

#[test]
fn dropping_an_execute_tool_future_kills_its_process_tree() {
    let p = Project::new();
    let pidfile = p.path("grandchild.pid");
    p.orch.register_tool(tool("long", &[])).unwrap();
    let args: Vec<String> = [
        "--double-fork",
        pidfile.to_str().unwrap(),
        "--sleep",
        "60000",
    ]
    .map(String::from)
    .to_vec();
    let orch = p.orch.clone();
    let pidfile2 = pidfile.clone();
    p.block(async move {
        let run = orch.execute_tool("long", &args);
        // Give up on the run as soon as its grandchild exists.
        let waited = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            tokio::select! {
                _ = run => panic!("the run should not finish by itself"),
                _ = async { while !pidfile2.exists() { tokio::time::sleep(std::time::Duration::from_millis(20)).await } } => {}
            }
        });
        waited.await.unwrap();
    });
    let grandchild = read_pid(&pidfile);
    wait_until(
        10,
        "grandchild of the abandoned run killed and reaped",
        || gone(grandchild),
    );
}

#[test]
fn an_executable_that_cannot_be_executed_is_a_spawn_error_naming_the_path() {
    let p = Project::new();
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(p.path("bin")).unwrap();
    // A script whose interpreter does not exist: exec fails (ENOENT) in the
    // tool process, behind the shim, and must still reach the caller.
    std::fs::write(p.path("bin/garbage"), "#!/nonexistent/interpreter\n").unwrap();
    std::fs::set_permissions(
        p.path("bin/garbage"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    p.orch
        .register_tool(dxforge_orchestrator::DxToolDefinition::new(
            "garbage",
            "bin/garbage",
        ))
        .unwrap();
    let err = p.block(p.orch.ensure_running("garbage")).unwrap_err();
    assert!(
        matches!(err, OrchestratorError::SpawnFailed { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("bin/garbage"), "{err}");
    assert!(err.to_string().contains("No such file"), "{err}");
    assert_eq!(p.orch.status("garbage").unwrap(), ToolStatus::Degraded);
    let out = p.block(p.orch.execute_tool("garbage", &[]));
    assert!(out.is_err());
    wait_until(10, "no zombie shim left", || our_zombies().is_empty());
}
