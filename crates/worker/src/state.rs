//! Task ids, states, reports and counters.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::analyze::AnalysisSummary;
use crate::prefetch::PrefetchReport;
use crate::remote::SyncReport;
use crate::snapshot::SnapshotSummary;

/// Identifies one enqueued task. Ids are issued in increasing order, starting at 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskId(pub u64);

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Where a task is in its life. `Succeeded`, `Failed` and `Dropped` are final.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(tag = "state", content = "detail", rename_all = "snake_case")]
pub enum TaskState {
    /// Waiting in the queue.
    Queued,
    /// A consumer is working on it.
    Running,
    /// Done; the report of what it did.
    Succeeded(TaskReport),
    /// Done with an error (the error's message).
    Failed(String),
    /// Evicted from a full queue (oldest first) or discarded at shutdown; never ran.
    Dropped,
}

impl TaskState {
    /// Every state name, in declaration order: the index is [`index`](Self::index)
    /// (and the C binding's `dxforge_task_status` value).
    pub const NAMES: [&'static str; 5] = ["queued", "running", "succeeded", "failed", "dropped"];

    /// Position of the variant in declaration order (`Queued` is 0, `Dropped` 4).
    pub fn index(&self) -> usize {
        match self {
            TaskState::Queued => 0,
            TaskState::Running => 1,
            TaskState::Succeeded(_) => 2,
            TaskState::Failed(_) => 3,
            TaskState::Dropped => 4,
        }
    }

    /// Lower-case name of the variant (`"succeeded"`, …), the `state` of its JSON.
    pub fn as_str(&self) -> &'static str {
        Self::NAMES[self.index()]
    }

    /// Whether the state can no longer change.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            TaskState::Succeeded(_) | TaskState::Failed(_) | TaskState::Dropped
        )
    }
}

/// What a finished task did, by task kind.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TaskReport {
    /// `CacheCurrentState`: the snapshot taken.
    Snapshot(SnapshotSummary),
    /// `SyncToCloudflareR2`: what the push sent.
    Sync(SyncReport),
    /// `PrefetchPackage`: what was cached.
    Prefetch(PrefetchReport),
    /// `AnalyzeCodebasePatterns`: a summary of `.dxforge/analysis.json`.
    Analysis(AnalysisSummary),
}

/// A point-in-time view of the queue. `queued` and `running` are current values, the
/// others totals since the worker started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, schemars::JsonSchema)]
pub struct Counters {
    /// Tasks ever enqueued.
    pub enqueued: u64,
    /// Tasks waiting now.
    pub queued: u64,
    /// Tasks running now.
    pub running: u64,
    /// Tasks finished successfully.
    pub succeeded: u64,
    /// Tasks finished with an error.
    pub failed: u64,
    /// Tasks dropped (evicted from a full queue, or discarded at shutdown).
    pub dropped: u64,
}

impl Counters {
    /// Tasks that reached a final state (`succeeded + failed + dropped`).
    pub fn done(&self) -> u64 {
        self.succeeded + self.failed + self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names_are_the_serde_names() {
        let states = [
            TaskState::Queued,
            TaskState::Running,
            TaskState::Succeeded(TaskReport::Sync(crate::SyncReport::default())),
            TaskState::Failed("boom".to_owned()),
            TaskState::Dropped,
        ];
        for (i, state) in states.iter().enumerate() {
            let json = serde_json::to_value(state).unwrap();
            assert_eq!(json["state"], state.as_str(), "{state:?}");
            assert_eq!(state.index(), i, "{state:?}");
        }
        assert_eq!(states.len(), TaskState::NAMES.len());
    }
}
