//! PrefetchPackage: resolve `name@req` against the registry and store the package (and its
//! dependencies) in the local package cache, hashes verified, so a later install needs no
//! registry access. The work is the traffic manager's; this adds the task plumbing.

use serde::Serialize;

pub use dxforge_traffic::PrefetchedPackage;
use dxforge_traffic::{TrafficError, TrafficManager};

use crate::analyze::PackageFacts;
use crate::error::{Result, WorkerError};

/// What a prefetch stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct PrefetchReport {
    /// The spec asked for (`name@req` or `name`).
    pub spec: String,
    /// The package and its dependencies, as cached.
    pub packages: Vec<PrefetchedPackage>,
}

/// Prefetches `spec` through the traffic manager.
pub(crate) fn prefetch(traffic: Option<&TrafficManager>, spec: &str) -> Result<PrefetchReport> {
    let traffic = traffic.ok_or_else(no_registry)?;
    let report = traffic.prefetch(spec).map_err(from_traffic)?;
    Ok(PrefetchReport {
        spec: spec.to_owned(),
        packages: report.packages,
    })
}

/// Registry, lock file and modified files, for the analysis. `None` without a traffic
/// manager.
pub(crate) fn package_facts(traffic: Option<&TrafficManager>) -> Result<Option<PackageFacts>> {
    let Some(traffic) = traffic else {
        return Ok(None);
    };
    let detect = traffic
        .registry_packages()
        .map_err(from_traffic)?
        .into_iter()
        .filter(|m| !m.detect_patterns.is_empty())
        .map(|m| (m.name, m.detect_patterns))
        .collect();
    let installed = traffic
        .lockfile()
        .map_err(from_traffic)?
        .packages
        .into_iter()
        .map(|(name, p)| (name, p.version.to_string()))
        .collect();
    let modified = traffic
        .modified_files()
        .map_err(from_traffic)?
        .into_iter()
        .map(|m| (m.package, m.path))
        .collect();
    Ok(Some(PackageFacts {
        detect,
        installed,
        modified,
    }))
}

fn no_registry() -> WorkerError {
    WorkerError::RegistryUnavailable {
        reason: "this worker has no package manager; set [registry] path in dxforge.toml"
            .to_owned(),
    }
}

fn from_traffic(err: TrafficError) -> WorkerError {
    match err {
        TrafficError::NoRegistry => WorkerError::RegistryUnavailable {
            reason: err.to_string(),
        },
        source => WorkerError::Traffic { source },
    }
}
