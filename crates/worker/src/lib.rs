//! Shadow Worker: a bounded background queue whose `enqueue` never blocks.
#![warn(missing_docs)]

use serde::{Deserialize, Serialize};

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
