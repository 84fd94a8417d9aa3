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
//! - Snapshot, restore, pull and gc of one project are serialised by a file lock in
//!   `.dxforge/snapshots/`, also across processes.
//! - The blocking operations (`snapshot`, `restore`, `analyze`, …) must not be called on
//!   an async runtime thread; use `spawn_blocking` or enqueue a task.
#![warn(missing_docs)]

use serde::{Deserialize, Serialize};

mod analyze;
mod error;
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
    GcReport, Manifest, ManifestEntry, ObjectId, RestoreReport, SkipReason, SkippedEntry,
    SnapshotSummary,
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
