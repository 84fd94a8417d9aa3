//! Snapshot sync with S3-compatible object storage (SyncToCloudflareR2).
//!
//! Remote layout under `[remote].prefix`: `objects/ab/cdef…` and `manifests/<id>.json`,
//! the same names as the local store, so an object is uploaded at most once per bucket.
//!
//! Caveats: credentials come only from the environment (`DXFORGE_S3_ACCESS_KEY_ID` /
//! `DXFORGE_S3_SECRET_ACCESS_KEY`, else `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`);
//! objects above 8 MiB are sent as multipart uploads of equal 5 MiB parts (Cloudflare R2's
//! rule); an interrupted multipart upload may leave an incomplete upload on the server
//! that a bucket lifecycle rule should clean up.

mod config;
mod sync;

use serde::Serialize;

pub use config::{
    DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_REQUEST_TIMEOUT_MS, RemoteConfig, TIMEOUT_RANGE_MS,
    check_timeout_ms,
};
pub(crate) use sync::{pull, push};

use crate::snapshot::RestoreReport;

/// What a push or pull transferred.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, schemars::JsonSchema)]
pub struct SyncReport {
    /// Objects uploaded (push) or downloaded (pull).
    pub objects_sent: u64,
    /// Bytes of those objects.
    pub bytes_sent: u64,
    /// Objects that were already on the other side and were not transferred.
    pub objects_skipped: u64,
    /// Manifests uploaded (push) or downloaded (pull).
    pub manifests_sent: u64,
    /// Manifests already on the other side.
    pub manifests_skipped: u64,
    /// The snapshots involved.
    pub snapshots: Vec<String>,
    /// For a pull: the restore that brought the tree to the pulled snapshot.
    pub restore: Option<RestoreReport>,
}

/// Progress of a push or pull, for progress bars.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncProgress {
    /// "objects" or "manifests".
    pub phase: &'static str,
    /// Items finished in this phase.
    pub done: u64,
    /// Items to transfer in this phase.
    pub total: u64,
    /// Bytes transferred so far in this phase.
    pub bytes: u64,
}

/// A progress callback.
pub type ProgressFn = std::sync::Arc<dyn Fn(&SyncProgress) + Send + Sync>;
