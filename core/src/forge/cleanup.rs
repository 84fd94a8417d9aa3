//! `DxForge` methods that reclaim space: `gc` (snapshot objects and base-store content
//! nothing references) and `prune_snapshots`. Both block on file-system work (call them
//! from a plain thread) and each store is collected under the project lock.

use dxforge_traffic::BaseGcReport;
use dxforge_worker::{GcReport, PruneReport, PruneRule};
use serde::Serialize;

use crate::{DxForge, Result};

/// What `gc` deleted (or, in a dry run, would delete) in both stores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct GcSummary {
    /// Snapshot objects (`.dxforge/snapshots/`) no snapshot refers to.
    pub snapshots: GcReport,
    /// Pristine package content (`.dxforge/base/`) `dxforge.lock` does not name.
    pub base: BaseGcReport,
    /// Total bytes freed in both stores.
    pub bytes_freed: u64,
    /// Nothing was deleted: this is what would have been.
    pub dry_run: bool,
}

impl DxForge {
    /// Deletes snapshot objects no snapshot refers to and base-store content no entry
    /// of `dxforge.lock` names (blocking). With `dry_run`, only reports what it would
    /// delete.
    pub fn gc(&self, dry_run: bool) -> Result<GcSummary> {
        self.live()?;
        let snapshots = self.worker()?.gc_with(dry_run)?;
        let base = self.traffic_manager()?.gc_base(dry_run)?;
        Ok(GcSummary {
            bytes_freed: snapshots.bytes_freed.saturating_add(base.bytes_freed),
            snapshots,
            base,
            dry_run,
        })
    }

    /// Deletes the snapshots `rule` lets go (their manifests first, made durable),
    /// then the objects only they referred to (blocking). With `dry_run`, only reports
    /// what it would delete.
    pub fn prune_snapshots(&self, rule: PruneRule, dry_run: bool) -> Result<PruneReport> {
        self.live()?;
        Ok(self.worker()?.prune(rule, dry_run)?)
    }
}
