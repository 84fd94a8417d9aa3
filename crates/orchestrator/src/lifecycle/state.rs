//! The lifecycle states of one tool and the record observers read.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::{broadcast, watch};

use super::child::Remote;
use super::control::RunHandle;
use crate::{ExitStatus, RestartPolicy, ToolEvent, ToolStatus};

/// Where a tool is in its life. Exactly one holds; every transition goes
/// through [`Tool::set`], which publishes the visible [`ToolStatus`] change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Life {
    /// No process, nothing to do.
    Stopped,
    /// Claimed for a start; the process is being created. `attempt` 0 is an
    /// explicit start, `n` the n-th restart.
    Spawning { attempt: u32 },
    /// Spawned, waiting for its health check.
    Starting { attempt: u32, pid: u32 },
    /// Up, no health check.
    Running { pid: u32 },
    /// Up, health check passed.
    Healthy { pid: u32 },
    /// Exited; restarts when `until` is reached.
    Backoff { until: Instant, restarts: u32 },
    /// Being stopped; the stop escalates to a tree kill at `deadline`.
    /// `shown` is what observers keep seeing until the process is gone.
    Stopping {
        deadline: Instant,
        pid: u32,
        shown: ToolStatus,
    },
    /// Failed to start, failed its health check, or out of restarts.
    Degraded { reason: String },
    /// The supervising task panicked: an internal error, not a tool failure.
    Broken { message: String },
    /// Replaced by a re-registration: callers look the tool up again.
    Retired,
}

impl Life {
    /// The status shown to hosts (the public, stable view).
    pub fn status(&self) -> ToolStatus {
        match self {
            Life::Stopped | Life::Retired => ToolStatus::Stopped,
            Life::Spawning { .. } | Life::Starting { .. } | Life::Backoff { .. } => {
                ToolStatus::Starting
            }
            Life::Running { pid } => ToolStatus::Running(*pid),
            Life::Healthy { .. } => ToolStatus::Healthy,
            Life::Stopping { shown, .. } => *shown,
            Life::Degraded { .. } | Life::Broken { .. } => ToolStatus::Degraded,
        }
    }

    /// PID of the live process, if any.
    pub fn pid(&self) -> Option<u32> {
        match self {
            Life::Starting { pid, .. }
            | Life::Running { pid }
            | Life::Healthy { pid }
            | Life::Stopping { pid, .. } => Some(*pid),
            _ => None,
        }
    }

    /// Running or healthy: nothing to start.
    pub fn is_up(&self) -> bool {
        is_up(self.status())
    }

    /// No supervising task owns the tool: a start may claim it.
    pub fn is_idle(&self) -> bool {
        matches!(
            self,
            Life::Stopped | Life::Degraded { .. } | Life::Broken { .. }
        )
    }
}

/// Running or healthy: nothing to start.
pub(crate) fn is_up(status: ToolStatus) -> bool {
    matches!(status, ToolStatus::Running(_) | ToolStatus::Healthy)
}

/// What observers read: the life plus counters that outlive one run.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub life: Life,
    /// Restarts since the last explicit start.
    pub restarts: u32,
    pub last_exit: Option<ExitStatus>,
    pub last_error: Option<String>,
    /// PID of the live process, if any (mirrors `life`).
    pub pid: Option<u32>,
}

impl Default for Record {
    fn default() -> Self {
        Self {
            life: Life::Stopped,
            restarts: 0,
            last_exit: None,
            last_error: None,
            pid: None,
        }
    }
}

/// Timings and policy of one tool, from its definition.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    pub restart: RestartPolicy,
    pub max_restarts: u32,
    /// First restart delay; doubles per restart up to `backoff_cap`.
    pub backoff_start: Duration,
    pub backoff_cap: Duration,
    pub stop_signal: libc::c_int,
    /// Grace between the stop signal and the tree kill.
    pub stop_timeout: Duration,
    /// Grace between the tree kill and the hard kill of the shim.
    pub kill_grace: Duration,
    pub has_health: bool,
    pub health_interval: Duration,
    pub startup_timeout: Duration,
}

impl Policy {
    /// Delay before restart number `restarts` (1-based).
    pub fn backoff(&self, restarts: u32) -> Duration {
        self.backoff_start
            .saturating_mul(1u32 << restarts.saturating_sub(1).min(20))
            .min(self.backoff_cap)
    }

    /// Bound of one health check.
    pub fn per_check(&self) -> Duration {
        (self.health_interval * 2).clamp(Duration::from_millis(200), Duration::from_secs(5))
    }
}

/// The lifecycle side of one registered tool: its state, its policy and the
/// channel to its supervising task. Shared by the handle and the task.
pub(crate) struct Tool {
    pub name: String,
    pub policy: Policy,
    pub state: watch::Sender<Record>,
    /// `state`'s visible status, packed (see [`pack`]): the warm path of
    /// `ensure_running` reads it without taking the channel's lock.
    status: AtomicU64,
    pub events: broadcast::Sender<ToolEvent>,
    /// The orchestrator's shutdown flag (shared by all tools).
    pub shut_down: Arc<AtomicBool>,
    /// The supervising task of the current run, while there is one.
    pub run: Mutex<Option<RunHandle>>,
    /// Signalling side of the live process, for the blocking stop path.
    pub remote: Mutex<Option<Arc<dyn Remote>>>,
    /// Serialises explicit starts and stops of this tool.
    pub gate: tokio::sync::Mutex<()>,
}

impl Tool {
    pub fn new(
        name: String,
        policy: Policy,
        events: broadcast::Sender<ToolEvent>,
        shut_down: Arc<AtomicBool>,
    ) -> Self {
        Self {
            name,
            policy,
            state: watch::Sender::new(Record::default()),
            status: AtomicU64::new(pack(ToolStatus::Stopped)),
            events,
            shut_down,
            run: Mutex::new(None),
            remote: Mutex::new(None),
            gate: tokio::sync::Mutex::new(()),
        }
    }

    /// Current life (a clone; cheap for every state without a reason).
    pub fn life(&self) -> Life {
        self.state.borrow().life.clone()
    }

    /// Current public status; the warm path of `ensure_running`.
    #[inline]
    pub fn status(&self) -> ToolStatus {
        unpack(self.status.load(Ordering::Acquire))
    }

    pub fn shutting_down(&self) -> bool {
        self.shut_down.load(Ordering::SeqCst)
    }

    /// Moves to `life`, after `edit` adjusted the counters; publishes an
    /// event when the visible status changes. Observers always wake (a
    /// waiter may wait for the end of a run whose status does not change).
    pub fn set(&self, life: Life, reason: impl Into<String>, edit: impl FnOnce(&mut Record)) {
        self.set_unless(|_| false, life, reason, edit);
    }

    /// [`Tool::set`], unless `skip` holds for the current life: checked
    /// under the channel's write lock, so no other writer runs between the
    /// check and the move.
    pub fn set_unless(
        &self,
        skip: impl FnOnce(&Life) -> bool,
        life: Life,
        reason: impl Into<String>,
        edit: impl FnOnce(&mut Record),
    ) {
        let reason = reason.into();
        self.state.send_if_modified(|rec| {
            if skip(&rec.life) {
                return false;
            }
            let old = rec.life.status();
            edit(rec);
            rec.pid = life.pid();
            match &life {
                Life::Degraded { reason } | Life::Broken { message: reason } => {
                    rec.last_error = Some(reason.clone());
                }
                _ => {}
            }
            rec.life = life;
            let new = rec.life.status();
            // Stored under the channel's write lock, so it never runs
            // behind the record.
            self.status.store(pack(new), Ordering::Release);
            if old != new {
                let _ = self.events.send(ToolEvent {
                    tool: self.name.clone(),
                    old,
                    new,
                    pid: rec.pid,
                    reason: Some(reason),
                });
            }
            true
        });
    }

    /// Waits until `done` holds for the record; returns the record then.
    pub async fn wait_for(&self, done: impl FnMut(&Record) -> bool) -> Record {
        let mut rx = self.state.subscribe();
        // The sender lives in `self`, so the channel cannot close here.
        match rx.wait_for(done).await {
            Ok(rec) => rec.clone(),
            Err(_) => self.state.borrow().clone(),
        }
    }
}

/// A status as one word: variant in the high half, PID in the low half.
pub(super) fn pack(status: ToolStatus) -> u64 {
    let (tag, pid) = match status {
        ToolStatus::Stopped => (0u64, 0u32),
        ToolStatus::Starting => (1, 0),
        ToolStatus::Running(pid) => (2, pid),
        ToolStatus::Healthy => (3, 0),
        ToolStatus::Degraded => (4, 0),
    };
    (tag << 32) | u64::from(pid)
}

pub(super) fn unpack(word: u64) -> ToolStatus {
    let pid = (word & u64::from(u32::MAX)) as u32;
    match word >> 32 {
        1 => ToolStatus::Starting,
        2 => ToolStatus::Running(pid),
        3 => ToolStatus::Healthy,
        4 => ToolStatus::Degraded,
        _ => ToolStatus::Stopped,
    }
}
