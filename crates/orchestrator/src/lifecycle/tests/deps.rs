//! Dependency waits.

use super::*;

/// Two mock tools, `db` and `api` (which depends on `db`), started the way
/// the orchestrator starts a dependency closure.
async fn start_api(
    db: &(Arc<Tool>, Arc<MockLauncher>),
    api: &(Arc<Tool>, Arc<MockLauncher>),
) -> Result<ToolStatus> {
    let order = ["db".to_owned(), "api".to_owned()];
    let wait_of = |_: &str| crate::lifecycle::deps::Wait::Ready;
    crate::lifecycle::deps::start_chain("api", &order, true, wait_of, |name, _| async move {
        let (tool, launcher) = if name == "db" { db } else { api };
        start(tool, launcher).await
    })
    .await
    .map(|s| s.expect("started with_self"))
}

#[tokio::test]
async fn a_dependent_starts_only_after_its_dependency_is_healthy() {
    let db_tool = tool(Policy {
        has_health: true,
        ..policy()
    })
    .0;
    let db = (
        db_tool,
        MockLauncher::with_checks(&[RUNS], &[Err("refused"), Err("refused"), Ok(())]),
    );
    let api = (tool(policy()).0, MockLauncher::new(&[RUNS]));
    let mut db_events = db.0.state.subscribe();
    let api_tool = api.0.clone();
    // Whenever db changes, api has not been spawned unless db is healthy.
    let watcher = tokio::spawn(async move {
        while db_events.changed().await.is_ok() {
            let db_up = db_events.borrow_and_update().life.is_up();
            if !db_up {
                assert_eq!(api_tool.status(), ToolStatus::Stopped);
            }
        }
    });
    assert_eq!(
        start_api(&db, &api).await.unwrap(),
        ToolStatus::Running(1001)
    );
    assert_eq!(db.0.life(), Life::Healthy { pid: 1001 });
    assert_eq!(api.1.spawned(), 1);
    watcher.abort();
}

#[tokio::test]
async fn a_failed_dependency_is_named_and_its_dependent_is_not_started() {
    let db = (
        tool(Policy {
            has_health: true,
            startup_timeout: Duration::from_millis(20),
            ..policy()
        })
        .0,
        MockLauncher::with_checks(&[RUNS], &[Err("refused")]),
    );
    let api = (tool(policy()).0, MockLauncher::new(&[RUNS]));
    let err = start_api(&db, &api).await.unwrap_err();
    let OrchestratorError::DependencyFailed {
        tool,
        dependency,
        reason,
    } = err
    else {
        panic!("{err:?}")
    };
    assert_eq!((tool.as_str(), dependency.as_str()), ("api", "db"));
    assert!(reason.contains("refused"), "{reason}");
    assert_eq!(api.1.spawned(), 0);
    assert_eq!(api.0.life(), Life::Stopped);
    assert!(matches!(db.0.life(), Life::Degraded { .. }));
}
