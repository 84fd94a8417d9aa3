//! Stops in each phase, the escalation, the blocking path, retirement.

use super::*;

#[tokio::test]
async fn stop_during_backoff_ends_stopped_without_another_spawn() {
    let (tool, _) = tool(Policy {
        backoff_start: Duration::from_secs(3600),
        backoff_cap: Duration::from_secs(3600),
        ..policy()
    });
    let launcher = MockLauncher::new(&[RUNS]);
    start(&tool, &launcher).await.unwrap();
    launcher.last().exit(ExitStatus::Code(1));
    tool.wait_for(|r| matches!(r.life, Life::Backoff { restarts: 1, .. }))
        .await;
    assert_eq!(tool.status(), ToolStatus::Starting);
    stop_tool(&tool).await.unwrap();
    assert_eq!(tool.life(), Life::Stopped);
    assert_eq!(launcher.spawned(), 1);
}

#[tokio::test]
async fn an_honoured_stop_signal_ends_the_run_without_escalation() {
    let (tool, _) = tool(policy());
    let launcher = MockLauncher::new(&[RUNS]);
    start(&tool, &launcher).await.unwrap();
    stop_tool(&tool).await.unwrap();
    assert_eq!(launcher.last().signals(), vec![Signal::Stop(SIGTERM)]);
    let rec = tool.state.borrow().clone();
    assert_eq!(rec.life, Life::Stopped);
    assert_eq!(rec.last_exit, Some(ExitStatus::Signal(SIGTERM)));
    assert_eq!(launcher.spawned(), 1, "a stop is not a crash");
}

#[tokio::test]
async fn stop_escalates_from_the_stop_signal_to_the_tree_kill() {
    let (tool, _) = tool(policy());
    let launcher = MockLauncher::new(&[Plan {
        honours: Honours::KillTree,
        ..RUNS
    }]);
    start(&tool, &launcher).await.unwrap();
    stop_tool(&tool).await.unwrap();
    assert_eq!(
        launcher.last().signals(),
        vec![Signal::Stop(SIGTERM), Signal::KillTree]
    );
    assert_eq!(tool.life(), Life::Stopped);
}

#[tokio::test]
async fn stop_escalates_to_the_hard_kill_when_the_tree_kill_is_not_answered() {
    let (tool, _) = tool(policy());
    let launcher = MockLauncher::new(&[Plan {
        honours: Honours::KillHard,
        ..RUNS
    }]);
    start(&tool, &launcher).await.unwrap();
    stop_tool(&tool).await.unwrap();
    assert_eq!(
        launcher.last().signals(),
        vec![Signal::Stop(SIGTERM), Signal::KillTree, Signal::KillHard]
    );
    assert_eq!(
        tool.state.borrow().last_exit,
        Some(ExitStatus::Signal(libc::SIGKILL))
    );
}

#[tokio::test]
async fn a_sigkill_stop_signal_goes_straight_to_the_tree_kill() {
    let (tool, _) = tool(Policy {
        stop_signal: libc::SIGKILL,
        ..policy()
    });
    let launcher = MockLauncher::new(&[RUNS]);
    start(&tool, &launcher).await.unwrap();
    stop_tool(&tool).await.unwrap();
    assert_eq!(launcher.last().signals(), vec![Signal::KillTree]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_stop_signals_the_process_and_ends_the_supervision() {
    let (tool, _) = tool(Policy {
        backoff_start: Duration::from_secs(3600),
        ..policy()
    });
    let launcher = MockLauncher::new(&[RUNS]);
    start(&tool, &launcher).await.unwrap();
    tool.shut_down
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let t = tool.clone();
    tokio::task::spawn_blocking(move || stop_blocking(&t))
        .await
        .unwrap();
    assert_eq!(launcher.last().signals(), vec![Signal::Stop(SIGTERM)]);
    assert_eq!(tool.life(), Life::Stopped);
    let _gate = tool.gate.lock().await;
    assert!(matches!(
        claim(&tool).await,
        Err(OrchestratorError::ShutDown)
    ));
    // The supervising task saw the exit and ended without a restart.
    let run = tool.run.lock().take().unwrap();
    run.task.await.unwrap();
    assert_eq!(launcher.spawned(), 1);
}

#[tokio::test]
async fn a_retired_tool_sends_starters_to_the_new_registration() {
    let (tool, _) = tool(policy());
    tool.set(Life::Retired, "registered again", |_| {});
    let _gate = tool.gate.lock().await;
    assert!(matches!(claim(&tool).await, Ok(Claim::Retired)));
}
