//! PrefetchPackage: resolve `name@req` against the registry and store the package in the
//! local package cache (hashes verified), so a later install needs no registry access.

use serde::Serialize;

use crate::error::{Result, WorkerError};

/// What a prefetch stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrefetchReport {
    /// The spec asked for (`name@req` or `name`).
    pub spec: String,
    /// The resolved package name.
    pub name: String,
    /// The resolved version.
    pub version: String,
    /// Whether it was newly cached (false: it already was).
    pub newly_cached: bool,
}

/// Prefetches `spec`. Delegates to the traffic manager once it is built.
pub(crate) fn prefetch(spec: &str) -> Result<PrefetchReport> {
    let _ = spec;
    Err(WorkerError::NotBuiltYet {
        feature: "PrefetchPackage (needs dxforge_traffic::TrafficManager::prefetch)",
    })
}
