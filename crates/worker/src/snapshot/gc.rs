//! `gc` (objects no manifest names) and `prune` (old snapshots, then their objects).
//!
//! Crash safety: prune deletes manifests first and makes those deletions durable
//! (`syncfs`) before it deletes any object, so a kill or a power cut at any point leaves
//! every remaining manifest with all of its objects; what is left over is unreferenced
//! objects, which the next `gc` or `prune` deletes. Both run under the project lock.

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use serde::Serialize;

use super::{GcReport, Locked, Manifest, SnapshotStore, SnapshotSummary};
use crate::error::Result;

/// Which snapshots `prune` keeps. A snapshot is deleted only when every rule given
/// lets it go: `keep` and `older_than_ms` together keep the newest `keep` snapshots
/// *and* every snapshot younger than the cut-off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneRule {
    /// Keep the newest N snapshots.
    pub keep: Option<usize>,
    /// Keep snapshots younger than this many milliseconds.
    pub older_than_ms: Option<u64>,
}

/// What `prune` deleted (or, in a dry run, would delete).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct PruneReport {
    /// The snapshots deleted, oldest first.
    pub removed: Vec<SnapshotSummary>,
    /// How many snapshots remain.
    pub kept: u64,
    /// The object collection that followed.
    pub gc: GcReport,
    /// Nothing was deleted: this is what would have been.
    pub dry_run: bool,
}

impl SnapshotStore {
    /// Deletes objects no manifest refers to, and leftover temp files.
    pub(crate) fn gc(&self, dry_run: bool) -> Result<GcReport> {
        let locked = self.lock("gc")?;
        gc_locked(&locked, &HashSet::new(), dry_run)
    }

    /// Deletes the snapshots `rule` lets go, then the objects only they referred to.
    pub(crate) fn prune(&self, rule: PruneRule, now_ms: u64, dry_run: bool) -> Result<PruneReport> {
        let locked = self.lock("prune")?;
        let store = &locked.store;
        let mut manifests = Self::ids_in(store)?
            .iter()
            .map(|id| Manifest::load(store, id))
            .collect::<Result<Vec<_>>>()?;
        // Newest first, so `keep` counts from the newest.
        manifests.sort_by(|a, b| (b.created_unix_ms, &b.id).cmp(&(a.created_unix_ms, &a.id)));
        let (mut doomed, kept): (Vec<_>, Vec<_>) =
            manifests.into_iter().enumerate().partition(|(rank, m)| {
                let beyond_keep = rule.keep.is_none_or(|keep| *rank >= keep);
                let old_enough = rule
                    .older_than_ms
                    .is_none_or(|age| now_ms.saturating_sub(m.created_unix_ms) >= age);
                beyond_keep && old_enough
            });
        doomed.reverse();
        let mut removed_ids = HashSet::new();
        if !dry_run {
            for (_, m) in &doomed {
                store.remove_file(Manifest::rel(&m.id))?;
            }
            if !doomed.is_empty() {
                // The deletions must be on disk before the objects they named go.
                store.syncfs()?;
            }
        } else {
            removed_ids.extend(doomed.iter().map(|(_, m)| m.id.clone()));
        }
        let gc = gc_locked(&locked, &removed_ids, dry_run)?;
        Ok(PruneReport {
            removed: doomed.iter().map(|(_, m)| SnapshotSummary::of(m)).collect(),
            kept: kept.len() as u64,
            gc,
            dry_run,
        })
    }
}

/// The collection proper, under `locked`; manifests in `ignoring` count as deleted
/// (a dry run of prune, which leaves them in place).
fn gc_locked(locked: &Locked, ignoring: &HashSet<String>, dry_run: bool) -> Result<GcReport> {
    let store = &locked.store;
    let mut report = GcReport::default();
    if !dry_run {
        // Always a full sweep here (gc is the explicit clean-up). The busy marker goes
        // with this operation, so objects an interrupted run left are synced now.
        let interrupted = locked.interrupted.swap(false, Ordering::Relaxed);
        report.temp_files_removed = store.sweep_temps("")? as u64;
        if interrupted {
            store.syncfs()?;
        }
    }
    let mut referenced = HashSet::new();
    for id in SnapshotStore::ids_in(store)? {
        if ignoring.contains(&id) {
            continue;
        }
        let manifest = Manifest::load(store, &id)?;
        referenced.extend(manifest.objects().map(|(hash, _)| hash));
    }
    let (present, old_temps) = locked.objects.list()?;
    for id in present {
        if referenced.contains(&id) {
            report.kept += 1;
            continue;
        }
        report.bytes_freed += if dry_run {
            locked.objects.size(&id)?
        } else {
            locked.objects.remove(&id)?
        };
        report.removed += 1;
    }
    if !dry_run {
        for temp in old_temps {
            if matches!(store.remove_file(&temp), Ok(true)) {
                report.temp_files_removed += 1;
            }
        }
    }
    Ok(report)
}
