//! Shadow Worker: a bounded background queue whose `enqueue` never blocks, and the work
//! it does — project snapshots with rollback, snapshot sync to S3-compatible storage
//! (Cloudflare R2, AWS S3, MinIO), package prefetch and codebase analysis.
//!
//! ```no_run
//! # async fn demo() -> Result<(), dxforge_worker::WorkerError> {
//! use std::time::Duration;
//! use dxforge_worker::{BackgroundTask, BackgroundWorker, WorkerConfig};
//!
//! let worker = BackgroundWorker::new(WorkerConfig::new(".", tokio::runtime::Handle::current()));
//! let id = worker.enqueue(BackgroundTask::CacheCurrentState); // returns at once
//! let state = worker.wait(id, Duration::from_secs(30)).await?;
//! println!("{state:?}");
//! # Ok(()) }
//! ```
//!
//! Caveats:
//! - The queue drops the *oldest* queued task when full (a warning is logged and the task
//!   is marked `Dropped`); size it for bursts.
//! - Only the latest 10,000 final task states are remembered; `task(id)` of an older task
//!   returns `None`.
//! - The blocking operations (`snapshot`, `restore`, `analyze`, …) must not be called on
//!   an async runtime thread; use `spawn_blocking` or enqueue a task.
//!
//! # Trust and safety decisions
//!
//! Nothing under the project or `.dxforge/`, and nothing in the bucket, is trusted (see
//! `docs/security.md`). What the worker does about it:
//!
//! - **Confinement.** Every file access goes through `dxforge_fs`: the project is read
//!   and restored through a `Root` with the project policy, the store (`.dxforge/
//!   snapshots`) through a plain subroot of the state root. The kernel refuses any
//!   symbolic link on the way, so a link is recorded as a link (its target string) and
//!   never read through, restore never writes through one, and `.git`/`.dxforge` are out
//!   of reach at any depth. The directory walk itself lists by path, but content is only
//!   ever opened through the root (and only regular files: a FIFO is never opened).
//!   `.dxforge` being a link is refused ([`WorkerError::UnsafePath`]).
//! - **One project lock.** Snapshot (direct or background), restore (including its
//!   safety snapshot, under the same single acquisition), sync pull (from the first
//!   download to the end of its restore) and gc take `.dxforge/lock` exclusively: the
//!   lock the package commands (`add`, `update`, `remove`) take, so a restore cannot
//!   interleave with an install. They wait up to [`WorkerConfig::lock_wait`] (default
//!   [`DEFAULT_LOCK_WAIT`], 30 s, the same for direct calls and background tasks), then
//!   fail with [`WorkerError::Busy`] naming the holder ("busy: add (pid 42) holds the
//!   project lock …"). Listing snapshots and push take no lock: manifests and objects are
//!   immutable once renamed into place and nothing deletes an object a manifest names
//!   (an upload therefore never holds up an install). Analysis takes none either: it only
//!   reads, and replaces its own report atomically.
//! - **Durability.** Objects are written without fsync (thousands of them); one
//!   `syncfs` of the store runs before the manifest that names them is written durably
//!   (file and directory fsynced), whenever objects were written (by this snapshot, or
//!   by an interrupted operation before it; earlier snapshots synced their own). The
//!   stat cache is written without fsync and is safe to lose: a missing, torn or invalid
//!   cache only means a full re-hash. A restore ends with one `syncfs` of the project.
//!   A restore is crash-atomic: once checked, it commits to a journal naming the target
//!   and safety snapshots, and a restore killed after that is finished by the next
//!   operation that takes the lock, or by [`finish_interrupted_restore`], which the core
//!   calls before every package command. Temp files left in the store by a killed or
//!   crashed operation are removed by the next snapshot, restore or pull (a `busy`
//!   marker kept in the store while an operation runs tells it one was interrupted:
//!   sweeping every object shard on every snapshot would cost more than the snapshot)
//!   and always by gc; dxforge temp names in the project
//!   (`.<name>.dxforge-<hex>.tmp`) are never snapshotted.
//! - **Bounded parsing.** Manifests (local or pulled) are read up to
//!   [`MAX_MANIFEST_BYTES`], the stat cache up to [`MAX_INDEX_BYTES`]; counts are checked
//!   against [`MAX_SNAPSHOT_ENTRIES`] and what the bytes can hold before anything is
//!   allocated; paths and link targets against [`MAX_PATH_BYTES`]. Every manifest path
//!   must be relative with normal components and no `.git`/`.dxforge` component at any
//!   depth, and is checked before restore changes anything. A pulled object is read up to
//!   the size its manifest records and stored only if it hashes to its name.
//! - **What a snapshot leaves out is listed.** Unreadable files and directories, FIFOs,
//!   sockets, devices, names that are not UTF-8 and over-long paths are skipped and listed
//!   in [`SnapshotSummary::skipped_entries`] with a [`SkipReason`]; none of them fails the
//!   snapshot. (The older `skipped` field keeps listing only the non-UTF-8 names.) A
//!   snapshot that could not read something walks the tree again next time (a permission
//!   change does not touch the directory, so the fast path would not see it).
//! - **Sparse files.** Objects stay plain files named by the BLAKE3 of their content
//!   (sync and dedup unchanged) but are written sparse: holes of the source (found with
//!   `SEEK_DATA`, never read) and every aligned 64 KiB run of zeros are left as holes, in
//!   the store and again on restore and pull. A 1 GiB sparse file takes a few blocks in
//!   the store. Chosen over compression: no new dependency, no format change, and the
//!   bytes on disk stay readable as they are. Caveat: push still uploads the zeros (S3
//!   has no holes).
//! - **Network timeouts.** `[remote] connect_timeout_ms` (default 5000) and
//!   `request_timeout_ms` (default 30000), each 100..=600000, checked when parsed; see
//!   [`RemoteConfig`]. A stalled endpoint fails after about one request timeout with
//!   [`WorkerError::RemoteUnreachable`] naming the endpoint.

use serde::{Deserialize, Serialize};

mod analyze;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod limits;
mod prefetch;
mod queue;
mod remote;
mod snapshot;
mod state;
mod time;
mod walk;
mod worker;

pub use analyze::{
    AnalysisReport, AnalysisSummary, LanguageStats, MAX_LISTED_REFERENCES, ModifiedFile,
    PackageAnalysis, PackageUsage, Reference,
};
pub use error::WorkerError;
pub use limits::{
    DEFAULT_LOCK_WAIT, MAX_INDEX_BYTES, MAX_MANIFEST_BYTES, MAX_PATH_BYTES, MAX_REASON_BYTES,
    MAX_SNAPSHOT_ENTRIES,
};
pub use prefetch::{PrefetchReport, PrefetchedPackage};
pub use remote::{
    DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_REQUEST_TIMEOUT_MS, ProgressFn, RemoteConfig, SyncProgress,
    SyncReport, TIMEOUT_RANGE_MS, check_timeout_ms,
};
pub use snapshot::{
    GcReport, Manifest, ManifestEntry, ObjectId, PruneReport, PruneRule, RestoreReport, SkipReason,
    SkippedEntry, SnapshotSummary, finish_interrupted_restore,
};
pub use state::{Counters, TaskId, TaskReport, TaskState};
pub use worker::{BackgroundWorker, DEFAULT_CAPACITY, DEFAULT_CONCURRENCY, WorkerConfig};

/// Work the Shadow Worker can do in the background.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum BackgroundTask {
    /// Snapshot the project tree for rollback.
    CacheCurrentState,
    /// Upload snapshots to the `[remote]` S3-compatible bucket.
    SyncToCloudflareR2,
    /// Resolve `name@req` and store the package in the local cache.
    PrefetchPackage(String),
    /// Walk the codebase and write `.dxforge/analysis.json`.
    AnalyzeCodebasePatterns,
}

/// The kind of a [`BackgroundTask`] without its argument: what a binding gets
/// from its caller. [`ALL`](Self::ALL) is in the order of the C `dxforge_task_kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskKind {
    /// [`BackgroundTask::CacheCurrentState`].
    CacheCurrentState,
    /// [`BackgroundTask::SyncToCloudflareR2`].
    SyncToCloudflareR2,
    /// [`BackgroundTask::PrefetchPackage`]; the only kind with an argument.
    PrefetchPackage,
    /// [`BackgroundTask::AnalyzeCodebasePatterns`].
    AnalyzeCodebasePatterns,
}

impl TaskKind {
    /// Every kind, in declaration order.
    pub const ALL: [TaskKind; 4] = [
        TaskKind::CacheCurrentState,
        TaskKind::SyncToCloudflareR2,
        TaskKind::PrefetchPackage,
        TaskKind::AnalyzeCodebasePatterns,
    ];

    /// Snake-case name, e.g. `"prefetch_package"`.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::CacheCurrentState => "cache_current_state",
            TaskKind::SyncToCloudflareR2 => "sync_to_cloudflare_r2",
            TaskKind::PrefetchPackage => "prefetch_package",
            TaskKind::AnalyzeCodebasePatterns => "analyze_codebase_patterns",
        }
    }
}

/// Why a kind and an argument make no [`BackgroundTask`]; each binding words
/// it with its own parameter name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskArgError {
    /// `PrefetchPackage` without its package spec.
    Missing,
    /// An argument for a kind that takes none.
    Unexpected,
}

impl BackgroundTask {
    /// The task of `kind` with `arg`, the package spec that only (and always)
    /// `PrefetchPackage` takes. The one validation of a kind and its argument.
    pub fn from_kind(kind: TaskKind, arg: Option<String>) -> Result<Self, TaskArgError> {
        match (kind, arg) {
            (TaskKind::PrefetchPackage, Some(spec)) => Ok(BackgroundTask::PrefetchPackage(spec)),
            (TaskKind::PrefetchPackage, None) => Err(TaskArgError::Missing),
            (_, Some(_)) => Err(TaskArgError::Unexpected),
            (TaskKind::CacheCurrentState, None) => Ok(BackgroundTask::CacheCurrentState),
            (TaskKind::SyncToCloudflareR2, None) => Ok(BackgroundTask::SyncToCloudflareR2),
            (TaskKind::AnalyzeCodebasePatterns, None) => {
                Ok(BackgroundTask::AnalyzeCodebasePatterns)
            }
        }
    }

    /// The kind of this task.
    pub fn kind(&self) -> TaskKind {
        match self {
            BackgroundTask::CacheCurrentState => TaskKind::CacheCurrentState,
            BackgroundTask::SyncToCloudflareR2 => TaskKind::SyncToCloudflareR2,
            BackgroundTask::PrefetchPackage(_) => TaskKind::PrefetchPackage,
            BackgroundTask::AnalyzeCodebasePatterns => TaskKind::AnalyzeCodebasePatterns,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_prefetch_takes_and_needs_an_argument() {
        for kind in TaskKind::ALL {
            let arg = (kind == TaskKind::PrefetchPackage).then(|| "left-pad@1".to_owned());
            let task = BackgroundTask::from_kind(kind, arg).unwrap();
            assert_eq!(task.kind(), kind);
        }
        assert_eq!(
            BackgroundTask::from_kind(TaskKind::PrefetchPackage, None),
            Err(TaskArgError::Missing)
        );
        assert_eq!(
            BackgroundTask::from_kind(TaskKind::CacheCurrentState, Some("x".to_owned())),
            Err(TaskArgError::Unexpected)
        );
    }
}
