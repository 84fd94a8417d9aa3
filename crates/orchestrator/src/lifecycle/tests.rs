//! The state machine against a scripted mock child: crash loops, stops in
//! every phase, stop escalation, health, panics. No real process; each
//! test takes milliseconds.

use std::collections::VecDeque;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use tokio::sync::{broadcast, watch};

use super::child::{ChildProcess, Launcher, Remote, Signal};
use super::machine::{Claim, claim, launch_claimed, settle, stop, stop_blocking};
use super::state::{Life, Policy, Tool};
use crate::error::{OrchestratorError, Result};
use crate::{ExitStatus, RestartPolicy, ToolEvent, ToolStatus};

const SIGTERM: libc::c_int = libc::SIGTERM;

/// Which signals end a mock process.
#[derive(Clone, Copy)]
enum Honours {
    /// The stop signal and everything after it.
    Stop,
    /// Only the tree kill or the hard kill (ignores the stop signal).
    KillTree,
    /// Only the hard kill (a shim that does not answer).
    KillHard,
}

/// The script of one spawn.
#[derive(Clone, Copy)]
struct Plan {
    /// Exits at once with this status.
    exit_now: Option<ExitStatus>,
    honours: Honours,
    /// `wait` panics (a bug in the supervising code's dependencies).
    panic_on_wait: bool,
    /// The stop signal panics.
    panic_on_stop: bool,
}

const RUNS: Plan = Plan {
    exit_now: None,
    honours: Honours::Stop,
    panic_on_wait: false,
    panic_on_stop: false,
};

fn exits(code: i32) -> Plan {
    Plan {
        exit_now: Some(ExitStatus::Code(code)),
        ..RUNS
    }
}

/// The shared side of a mock process: signals received, exit status.
struct MockRemote {
    plan: Plan,
    signals: Mutex<Vec<Signal>>,
    exited: watch::Sender<Option<ExitStatus>>,
    blocking: (Mutex<bool>, Condvar),
}

impl MockRemote {
    fn exit(&self, status: ExitStatus) {
        self.exited.send_if_modified(|e| {
            let first = e.is_none();
            if first {
                *e = Some(status);
            }
            first
        });
        let (lock, cv) = &self.blocking;
        *lock.lock().unwrap() = true;
        cv.notify_all();
    }

    fn signals(&self) -> Vec<Signal> {
        self.signals.lock().unwrap().clone()
    }
}

impl Remote for MockRemote {
    fn signal(&self, sig: Signal) -> bool {
        if self.exited.borrow().is_some() {
            return false;
        }
        if self.plan.panic_on_stop && matches!(sig, Signal::Stop(_)) {
            panic!("scripted panic on stop");
        }
        self.signals.lock().unwrap().push(sig);
        let dies = matches!(
            (self.plan.honours, sig),
            (Honours::Stop, _)
                | (Honours::KillTree, Signal::KillTree | Signal::KillHard)
                | (Honours::KillHard, Signal::KillHard)
        );
        if dies {
            let n = match sig {
                Signal::Stop(s) => s,
                Signal::KillTree | Signal::KillHard => libc::SIGKILL,
            };
            self.exit(ExitStatus::Signal(n));
        }
        true
    }

    fn wait_exit_blocking(&self, limit: Duration) -> bool {
        let (lock, cv) = &self.blocking;
        let guard = lock.lock().unwrap();
        let (guard, _) = cv.wait_timeout_while(guard, limit, |done| !*done).unwrap();
        *guard
    }
}

struct MockChild {
    pid: u32,
    remote: Arc<MockRemote>,
}

impl ChildProcess for MockChild {
    fn pid(&self) -> u32 {
        self.pid
    }

    fn attach(&mut self) {}

    async fn wait(&mut self) -> ExitStatus {
        if self.remote.plan.panic_on_wait {
            panic!("scripted panic in wait");
        }
        let mut rx = self.remote.exited.subscribe();
        let status = *rx.wait_for(Option::is_some).await.unwrap();
        status.unwrap_or(ExitStatus::Code(-1))
    }

    fn remote(&self) -> Arc<dyn Remote> {
        self.remote.clone()
    }
}

/// Spawns mock children from a script (the last plan repeats) and answers
/// health checks from another (the last answer repeats).
struct MockLauncher {
    plans: Mutex<VecDeque<Plan>>,
    checks: Mutex<VecDeque<std::result::Result<(), String>>>,
    spawn_error: bool,
    spawned: Mutex<Vec<Arc<MockRemote>>>,
}

impl MockLauncher {
    fn new(plans: &[Plan]) -> Arc<Self> {
        Arc::new(Self {
            plans: Mutex::new(plans.iter().copied().collect()),
            checks: Mutex::new(VecDeque::from([Err("not yet".to_owned())])),
            spawn_error: false,
            spawned: Mutex::new(Vec::new()),
        })
    }

    fn with_checks(plans: &[Plan], checks: &[std::result::Result<(), &str>]) -> Arc<Self> {
        let l = Self::new(plans);
        *l.checks.lock().unwrap() = checks.iter().map(|c| c.map_err(str::to_owned)).collect();
        l
    }

    fn spawned(&self) -> usize {
        self.spawned.lock().unwrap().len()
    }

    fn last(&self) -> Arc<MockRemote> {
        self.spawned.lock().unwrap().last().unwrap().clone()
    }
}

impl Launcher for MockLauncher {
    type Child = MockChild;

    fn launch(&self) -> Result<MockChild> {
        if self.spawn_error {
            return Err(OrchestratorError::BinaryNotFound {
                tool: "t".into(),
                path: "/nonexistent/t".into(),
            });
        }
        let plan = {
            let mut plans = self.plans.lock().unwrap();
            if plans.len() > 1 {
                plans.pop_front().unwrap()
            } else {
                *plans.front().unwrap()
            }
        };
        let (exited, _) = watch::channel(None);
        let remote = Arc::new(MockRemote {
            plan,
            signals: Mutex::new(Vec::new()),
            exited,
            blocking: (Mutex::new(false), Condvar::new()),
        });
        if let Some(status) = plan.exit_now {
            remote.exit(status);
        }
        let mut spawned = self.spawned.lock().unwrap();
        spawned.push(remote.clone());
        Ok(MockChild {
            pid: 1000 + spawned.len() as u32,
            remote,
        })
    }

    async fn check(&self, _limit: Duration) -> std::result::Result<(), String> {
        let mut checks = self.checks.lock().unwrap();
        if checks.len() > 1 {
            checks.pop_front().unwrap()
        } else {
            checks.front().cloned().unwrap_or(Ok(()))
        }
    }
}

fn policy() -> Policy {
    Policy {
        restart: RestartPolicy::Always,
        max_restarts: 3,
        backoff_start: Duration::from_millis(1),
        backoff_cap: Duration::from_millis(4),
        stop_signal: SIGTERM,
        stop_timeout: Duration::from_millis(20),
        kill_grace: Duration::from_millis(20),
        has_health: false,
        health_interval: Duration::from_millis(1),
        startup_timeout: Duration::from_secs(10),
    }
}

fn tool(policy: Policy) -> (Arc<Tool>, broadcast::Receiver<ToolEvent>) {
    let (events, rx) = broadcast::channel(1024);
    let tool = Tool::new("t".into(), policy, events, Arc::new(AtomicBool::new(false)));
    (Arc::new(tool), rx)
}

/// What `start_one` does: claim, launch, settle.
async fn start(tool: &Arc<Tool>, launcher: &Arc<MockLauncher>) -> Result<ToolStatus> {
    {
        let _gate = tool.gate.lock().await;
        match claim(tool).await? {
            Claim::Up(status) => return Ok(status),
            Claim::Retired => return Err(OrchestratorError::ShutDown),
            Claim::Claimed => {
                let rt = tokio::runtime::Handle::current();
                if let Some(status) = launch_claimed(tool, launcher.clone(), &rt)? {
                    return Ok(status);
                }
            }
        }
    }
    settle(tool).await
}

async fn stop_tool(tool: &Tool) -> Result<()> {
    let _gate = tool.gate.lock().await;
    stop(tool).await
}

/// Waits until the supervision has ended (an idle state).
async fn idle(tool: &Tool) -> Life {
    tool.wait_for(|r| r.life.is_idle()).await.life
}

fn statuses(rx: &mut broadcast::Receiver<ToolEvent>) -> Vec<ToolStatus> {
    std::iter::from_fn(|| rx.try_recv().ok())
        .map(|e| e.new)
        .collect()
}

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

#[test]
fn the_packed_status_of_the_warm_path_round_trips() {
    use super::state::{pack, unpack};
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

/// One step of [`any_sequence_keeps_at_most_one_live_process_and_a_consistent_state`].
#[derive(Debug, Clone, Copy)]
enum Op {
    Start,
    Stop,
    /// The live process (if any) exits with this code.
    Exit(i32),
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        Just(Op::Start),
        Just(Op::Stop),
        Just(Op::Exit(0)),
        Just(Op::Exit(1)),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config::with_cases(64))]
    #[test]
    fn any_sequence_keeps_at_most_one_live_process_and_a_consistent_state(
        ops in proptest::collection::vec(op(), 1..16)
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let (tool, _) = tool(Policy { restart: RestartPolicy::OnFailure, max_restarts: 2, ..policy() });
            let launcher = MockLauncher::new(&[RUNS]);
            for op in ops {
                let mut ended = None;
                match op {
                    Op::Start => { start(&tool, &launcher).await.unwrap(); }
                    Op::Stop => stop_tool(&tool).await.unwrap(),
                    Op::Exit(code) => {
                        let live = launcher.spawned.lock().unwrap().iter().enumerate()
                            .find(|(_, r)| r.exited.borrow().is_none())
                            .map(|(i, r)| (1001 + i as u32, r.clone()));
                        if let Some((pid, live)) = live {
                            live.exit(ExitStatus::Code(code));
                            ended = Some(pid);
                        }
                    }
                }
                // Let the supervision see the exit and settle (restarts included).
                let rec = tool
                    .wait_for(|r| {
                        (r.life.is_up() || r.life.is_idle()) && (ended.is_none() || r.life.pid() != ended)
                    })
                    .await;
                let live: Vec<u32> = launcher.spawned.lock().unwrap().iter().enumerate()
                    .filter(|(_, r)| r.exited.borrow().is_none())
                    .map(|(i, _)| 1001 + i as u32)
                    .collect();
                assert!(live.len() <= 1, "two live processes: {live:?}");
                match rec.life {
                    Life::Running { pid } => assert_eq!(live, vec![pid]),
                    ref life => {
                        assert!(life.is_idle(), "{life:?}");
                        assert!(live.is_empty(), "{life:?} with live {live:?}");
                        assert_eq!(rec.pid, None);
                    }
                }
                assert!(rec.restarts <= 2);
                assert_eq!(tool.status(), rec.life.status());
            }
        });
    }
}

/// Two mock tools, `db` and `api` (which depends on `db`), started the way
/// the orchestrator starts a dependency closure.
async fn start_api(
    db: &(Arc<Tool>, Arc<MockLauncher>),
    api: &(Arc<Tool>, Arc<MockLauncher>),
) -> Result<ToolStatus> {
    let order = ["db".to_owned(), "api".to_owned()];
    super::deps::start_chain("api", &order, |name| async move {
        let (tool, launcher) = if name == "db" { db } else { api };
        start(tool, launcher).await
    })
    .await
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
