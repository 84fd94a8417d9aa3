//! Bounds on what the worker reads from `.dxforge/` and from a bucket, and on what it
//! writes there (a snapshot it could not read back is refused when taken).
//!
//! Everything under `.dxforge/` may have been planted (a cloned repository can carry it)
//! and a bucket is not trusted either, so every parser checks sizes before allocating.

use std::time::Duration;

/// Largest snapshot manifest read, local or pulled (about a million entries).
pub const MAX_MANIFEST_BYTES: u64 = 256 * 1024 * 1024;

/// Largest stat cache (`.dxforge/snapshots/index`) read; a larger one is ignored (every
/// file is then re-hashed, which is all a lost cache costs).
pub const MAX_INDEX_BYTES: u64 = 256 * 1024 * 1024;

/// Most entries (files and links) in one snapshot, and in each list of the stat cache.
pub const MAX_SNAPSHOT_ENTRIES: usize = 1_000_000;

/// Longest project-relative path, and longest link target, in a manifest or the stat
/// cache (Linux's `PATH_MAX`). Longer paths are skipped by snapshots and listed.
pub const MAX_PATH_BYTES: usize = 4096;

/// Longest `reason` of a manifest.
pub const MAX_REASON_BYTES: usize = 4096;

/// How long snapshot, restore, pull and gc wait for the project lock (held by another
/// dxforge command such as `add`) before failing with `WorkerError::Busy`. The default of
/// [`crate::WorkerConfig::lock_wait`].
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(30);
