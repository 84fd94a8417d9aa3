//! A scripted mock child: it exits when told or when sent a signal its
//! plan honours, and records every signal it gets.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use crate::ExitStatus;
use crate::error::{OrchestratorError, Result};
use crate::lifecycle::child::{ChildProcess, Launcher, Remote, Signal};

pub(super) const SIGTERM: libc::c_int = libc::SIGTERM;

/// Which signals end a mock process.
#[derive(Clone, Copy)]
pub(super) enum Honours {
    /// The stop signal and everything after it.
    Stop,
    /// Only the tree kill or the hard kill (ignores the stop signal).
    KillTree,
    /// Only the hard kill (a shim that does not answer).
    KillHard,
}

/// The script of one spawn.
#[derive(Clone, Copy)]
pub(super) struct Plan {
    /// Exits at once with this status.
    pub(super) exit_now: Option<ExitStatus>,
    pub(super) honours: Honours,
    /// `wait` panics (a bug in the supervising code's dependencies).
    pub(super) panic_on_wait: bool,
    /// The stop signal panics.
    pub(super) panic_on_stop: bool,
}

pub(super) const RUNS: Plan = Plan {
    exit_now: None,
    honours: Honours::Stop,
    panic_on_wait: false,
    panic_on_stop: false,
};

pub(super) fn exits(code: i32) -> Plan {
    Plan {
        exit_now: Some(ExitStatus::Code(code)),
        ..RUNS
    }
}

/// The shared side of a mock process: signals received, exit status.
pub(super) struct MockRemote {
    pub(super) plan: Plan,
    pub(super) signals: Mutex<Vec<Signal>>,
    pub(super) exited: watch::Sender<Option<ExitStatus>>,
    pub(super) blocking: (Mutex<bool>, Condvar),
}

impl MockRemote {
    pub(super) fn exit(&self, status: ExitStatus) {
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

    pub(super) fn signals(&self) -> Vec<Signal> {
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

pub(super) struct MockChild {
    pub(super) pid: u32,
    pub(super) remote: Arc<MockRemote>,
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
pub(super) struct MockLauncher {
    pub(super) plans: Mutex<VecDeque<Plan>>,
    pub(super) checks: Mutex<VecDeque<std::result::Result<(), String>>>,
    pub(super) spawn_error: bool,
    pub(super) spawned: Mutex<Vec<Arc<MockRemote>>>,
}

impl MockLauncher {
    pub(super) fn new(plans: &[Plan]) -> Arc<Self> {
        Arc::new(Self {
            plans: Mutex::new(plans.iter().copied().collect()),
            checks: Mutex::new(VecDeque::from([Err("not yet".to_owned())])),
            spawn_error: false,
            spawned: Mutex::new(Vec::new()),
        })
    }

    pub(super) fn with_checks(
        plans: &[Plan],
        checks: &[std::result::Result<(), &str>],
    ) -> Arc<Self> {
        let l = Self::new(plans);
        *l.checks.lock().unwrap() = checks.iter().map(|c| c.map_err(str::to_owned)).collect();
        l
    }

    pub(super) fn spawned(&self) -> usize {
        self.spawned.lock().unwrap().len()
    }

    pub(super) fn last(&self) -> Arc<MockRemote> {
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
