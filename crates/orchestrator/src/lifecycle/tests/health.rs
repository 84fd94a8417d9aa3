//! Readiness, start failures, and panics of the supervising task.

use super::*;

#[tokio::test]
async fn a_health_check_that_passes_after_failures_makes_the_tool_healthy() {
    let (tool, _) = tool(Policy {
        has_health: true,
        ..policy()
    });
    let launcher = MockLauncher::with_checks(&[RUNS], &[Err("refused"), Err("refused"), Ok(())]);
    assert_eq!(start(&tool, &launcher).await.unwrap(), ToolStatus::Healthy);
    assert_eq!(tool.life(), Life::Healthy { pid: 1001 });
    assert_eq!(tool.state.borrow().pid, Some(1001));
}

#[tokio::test]
async fn a_health_check_that_never_passes_degrades_and_stops_the_process() {
    let (tool, _) = tool(Policy {
        has_health: true,
        startup_timeout: Duration::from_millis(30),
        ..policy()
    });
    let launcher = MockLauncher::with_checks(&[RUNS], &[Err("refused")]);
    let err = start(&tool, &launcher).await.unwrap_err();
    let OrchestratorError::StartupFailed { reason, .. } = err else {
        panic!("{err:?}")
    };
    assert!(reason.contains("startup_timeout_ms = 30") && reason.contains("refused"));
    assert_eq!(launcher.last().signals(), vec![Signal::Stop(SIGTERM)]);
    assert!(matches!(tool.life(), Life::Degraded { .. }));
    assert_eq!(launcher.spawned(), 1, "a start failure is not restarted");
}

#[tokio::test]
async fn an_exit_before_the_health_check_passes_is_a_start_failure() {
    let (tool, _) = tool(Policy {
        has_health: true,
        ..policy()
    });
    let launcher = MockLauncher::with_checks(&[exits(7)], &[Err("refused")]);
    let err = start(&tool, &launcher).await.unwrap_err();
    assert!(
        matches!(&err, OrchestratorError::StartupFailed { reason, .. } if reason.contains("code 7 while starting")),
        "{err:?}"
    );
    assert_eq!(launcher.spawned(), 1);
}

#[tokio::test]
async fn a_restart_that_fails_its_health_check_degrades() {
    let (tool, _) = tool(Policy {
        has_health: true,
        startup_timeout: Duration::from_millis(30),
        ..policy()
    });
    let launcher = MockLauncher::with_checks(&[RUNS], &[Ok(()), Err("refused")]);
    start(&tool, &launcher).await.unwrap();
    launcher.last().exit(ExitStatus::Code(1));
    assert!(matches!(idle(&tool).await, Life::Degraded { reason } if reason.contains("refused")));
    assert_eq!(launcher.spawned(), 2);
}

#[tokio::test]
async fn a_spawn_failure_degrades_with_the_error() {
    let (tool, _) = tool(policy());
    let launcher = Arc::new(MockLauncher {
        spawn_error: true,
        ..Arc::into_inner(MockLauncher::new(&[RUNS])).unwrap()
    });
    let err = start(&tool, &launcher).await.unwrap_err();
    assert!(matches!(err, OrchestratorError::BinaryNotFound { .. }));
    assert!(matches!(tool.life(), Life::Degraded { reason } if reason.contains("/nonexistent/t")));
    // An explicit stop of a degraded tool makes it Stopped.
    stop_tool(&tool).await.unwrap();
    assert_eq!(tool.life(), Life::Stopped);
}

#[tokio::test]
async fn a_panicking_supervisor_is_an_internal_error_and_kills_the_tree() {
    let (tool, _) = tool(Policy {
        has_health: true,
        ..policy()
    });
    let launcher = MockLauncher::with_checks(
        &[Plan {
            panic_on_wait: true,
            ..RUNS
        }],
        &[Err("refused")],
    );
    let err = start(&tool, &launcher).await.unwrap_err();
    let OrchestratorError::Internal {
        tool: name,
        message,
    } = err
    else {
        panic!("{err:?}")
    };
    assert_eq!(name, "t");
    assert!(message.contains("scripted panic in wait"), "{message}");
    assert_eq!(launcher.last().signals(), vec![Signal::KillTree]);
    assert_eq!(tool.status(), ToolStatus::Degraded);
    // The panic was reported once; a later stop clears it.
    stop_tool(&tool).await.unwrap();
    assert_eq!(tool.life(), Life::Stopped);
}

#[tokio::test]
async fn a_panic_during_a_stop_is_reported_by_the_stop() {
    let (tool, _) = tool(policy());
    let launcher = MockLauncher::new(&[Plan {
        panic_on_stop: true,
        ..RUNS
    }]);
    start(&tool, &launcher).await.unwrap();
    let err = stop_tool(&tool).await.unwrap_err();
    assert!(
        matches!(&err, OrchestratorError::Internal { message, .. } if message.contains("scripted panic on stop")),
        "{err:?}"
    );
    assert_eq!(tool.life(), Life::Stopped);
}
