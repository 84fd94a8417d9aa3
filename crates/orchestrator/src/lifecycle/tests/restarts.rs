//! Exits, the restart policy, backoff and the counters.

use super::*;

#[tokio::test]
async fn crash_loop_restarts_up_to_max_restarts_then_degrades() {
    let (tool, mut events) = tool(policy());
    let launcher = MockLauncher::new(&[RUNS, exits(1)]);
    assert_eq!(
        start(&tool, &launcher).await.unwrap(),
        ToolStatus::Running(1001)
    );
    launcher.last().exit(ExitStatus::Code(3));
    let Life::Degraded { reason } = idle(&tool).await else {
        panic!("not degraded: {:?}", tool.life())
    };
    assert!(
        reason.contains("gave up after max_restarts = 3"),
        "{reason}"
    );
    assert_eq!(launcher.spawned(), 4, "first start and three restarts");
    let rec = tool.state.borrow().clone();
    assert_eq!(rec.restarts, 3);
    assert_eq!(rec.last_exit, Some(ExitStatus::Code(1)));
    assert_eq!(rec.pid, None);
    let seen = statuses(&mut events);
    assert_eq!(seen.first(), Some(&ToolStatus::Starting));
    assert_eq!(seen.last(), Some(&ToolStatus::Degraded));
    assert!(
        seen.iter().filter(|s| **s == ToolStatus::Starting).count() >= 4,
        "each restart is published as Starting: {seen:?}"
    );
}

#[tokio::test]
async fn a_restarted_tool_runs_again_with_its_restart_counted() {
    let (tool, _) = tool(policy());
    let launcher = MockLauncher::new(&[RUNS]);
    start(&tool, &launcher).await.unwrap();
    launcher.last().exit(ExitStatus::Signal(9));
    let rec = tool
        .wait_for(|r| r.life == Life::Running { pid: 1002 })
        .await;
    assert_eq!(rec.restarts, 1);
    assert_eq!(rec.last_exit, Some(ExitStatus::Signal(9)));
    stop_tool(&tool).await.unwrap();
    assert_eq!(tool.life(), Life::Stopped);
}

#[tokio::test]
async fn clean_exit_with_on_failure_stops_without_restart() {
    let (tool, _) = tool(Policy {
        restart: RestartPolicy::OnFailure,
        ..policy()
    });
    let launcher = MockLauncher::new(&[exits(0)]);
    start(&tool, &launcher).await.unwrap();
    assert_eq!(idle(&tool).await, Life::Stopped);
    assert_eq!(launcher.spawned(), 1);
}

#[tokio::test]
async fn failure_with_restart_never_degrades_at_once() {
    let (tool, _) = tool(Policy {
        restart: RestartPolicy::Never,
        ..policy()
    });
    let launcher = MockLauncher::new(&[exits(2)]);
    start(&tool, &launcher).await.unwrap();
    assert!(matches!(idle(&tool).await, Life::Degraded { reason } if reason.contains("code 2")));
    assert_eq!(launcher.spawned(), 1);
}

#[tokio::test]
async fn a_start_during_a_restart_waits_for_it_instead_of_spawning() {
    let (tool, _) = tool(Policy {
        backoff_start: Duration::from_millis(30),
        ..policy()
    });
    let launcher = MockLauncher::new(&[RUNS]);
    start(&tool, &launcher).await.unwrap();
    launcher.last().exit(ExitStatus::Code(1));
    tool.wait_for(|r| matches!(r.life, Life::Backoff { .. }))
        .await;
    assert_eq!(
        start(&tool, &launcher).await.unwrap(),
        ToolStatus::Running(1002)
    );
    assert_eq!(launcher.spawned(), 2);
}

#[tokio::test]
async fn an_explicit_start_after_degraded_resets_the_restart_counter() {
    let (tool, _) = tool(Policy {
        max_restarts: 1,
        ..policy()
    });
    let launcher = MockLauncher::new(&[exits(1), exits(1), RUNS]);
    start(&tool, &launcher).await.unwrap();
    assert!(matches!(idle(&tool).await, Life::Degraded { .. }));
    assert_eq!(tool.state.borrow().restarts, 1);
    start(&tool, &launcher).await.unwrap();
    let rec = tool.state.borrow().clone();
    assert_eq!(rec.restarts, 0);
    assert_eq!(rec.last_error, None);
}

#[test]
fn the_packed_status_of_the_warm_path_round_trips() {
    use crate::lifecycle::state::{pack, unpack};
    for status in [
        ToolStatus::Stopped,
        ToolStatus::Starting,
        ToolStatus::Running(0),
        ToolStatus::Running(1),
        ToolStatus::Running(u32::MAX),
        ToolStatus::Healthy,
        ToolStatus::Degraded,
    ] {
        assert_eq!(unpack(pack(status)), status);
    }
}

#[tokio::test]
async fn the_warm_status_follows_every_transition() {
    let (tool, _) = tool(Policy {
        backoff_start: Duration::from_secs(3600),
        ..policy()
    });
    let launcher = MockLauncher::new(&[RUNS]);
    assert_eq!(tool.status(), ToolStatus::Stopped);
    start(&tool, &launcher).await.unwrap();
    assert_eq!(tool.status(), ToolStatus::Running(1001));
    launcher.last().exit(ExitStatus::Code(1));
    tool.wait_for(|r| matches!(r.life, Life::Backoff { .. }))
        .await;
    assert_eq!(tool.status(), ToolStatus::Starting);
    stop_tool(&tool).await.unwrap();
    assert_eq!(tool.status(), ToolStatus::Stopped);
}
