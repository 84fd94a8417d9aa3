//! `gc` of the base store: deletes pristine contents no entry of `dxforge.lock` names.
//!
//! Loose objects go one by one. A pack goes whole when none of its objects is named,
//! index before pack (a pack without its index is invisible and is deleted by the next
//! `gc`); a pack with one named object stays whole (rewriting packs is not worth the
//! risk for what a few dead entries cost). A pack whose index cannot be read is kept:
//! what cannot be read is never deleted. The caller holds the project lock exclusively
//! and has recovered any interrupted install, so no transaction is writing the store.

use std::collections::BTreeSet;

use dxforge_fs::{Kind, Root};
use serde::Serialize;

use crate::base::{BASE, PACKS, load_index};
use crate::error::Result;
use crate::store::is_hash;

/// What `gc` of the base store deleted (or, in a dry run, would delete).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct BaseGcReport {
    /// Loose objects and packs kept because the lock names (some of) their content.
    pub kept: u64,
    /// Loose objects deleted.
    pub objects_removed: u64,
    /// Packs deleted (with their index).
    pub packs_removed: u64,
    /// Bytes freed (file sizes).
    pub bytes_freed: u64,
}

/// Collects the base store in `state` (`.dxforge`), keeping every hash in `referenced`.
pub(crate) fn collect(
    state: &Root,
    referenced: &BTreeSet<String>,
    dry_run: bool,
) -> Result<BaseGcReport> {
    let mut report = BaseGcReport::default();
    let shards = match state.read_dir(BASE) {
        Ok(entries) => entries,
        Err(e) if e.is_not_found() => return Ok(report),
        Err(e) => return Err(e.into()),
    };
    for (shard, kind) in shards {
        let Some(shard) = shard.to_str() else {
            continue;
        };
        if kind != Kind::Dir || shard.len() != 2 {
            continue;
        }
        for (name, kind) in state.read_dir(format!("{BASE}/{shard}"))? {
            let Some(hash) = name.to_str() else { continue };
            if kind != Kind::File || !is_hash(hash) || !hash.starts_with(shard) {
                continue;
            }
            if referenced.contains(hash) {
                report.kept += 1;
                continue;
            }
            let rel = format!("{BASE}/{shard}/{hash}");
            report.bytes_freed += remove(state, &rel, dry_run)?;
            report.objects_removed += 1;
        }
    }
    collect_packs(state, referenced, dry_run, &mut report)?;
    Ok(report)
}

fn collect_packs(
    state: &Root,
    referenced: &BTreeSet<String>,
    dry_run: bool,
    report: &mut BaseGcReport,
) -> Result<()> {
    let entries = match state.read_dir(PACKS) {
        Ok(entries) => entries,
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let names: BTreeSet<String> = entries
        .into_iter()
        .filter(|(_, kind)| *kind == Kind::File)
        .filter_map(|(name, _)| name.into_string().ok())
        .collect();
    for name in &names {
        if let Some(id) = name.strip_suffix(".idx").filter(|id| is_hash(id)) {
            let named = if !names.contains(&format!("{id}.pack")) {
                // An index whose pack is gone names nothing readable.
                false
            } else {
                match load_index(state, id) {
                    Ok(objects) => objects.iter().any(|(hash, _)| referenced.contains(hash)),
                    Err(e) => {
                        tracing::warn!(error = %e, "pack index unreadable; pack kept");
                        true
                    }
                }
            };
            if named {
                report.kept += 1;
                continue;
            }
            report.bytes_freed += remove(state, &format!("{PACKS}/{id}.idx"), dry_run)?;
            if names.contains(&format!("{id}.pack")) {
                report.bytes_freed += remove(state, &format!("{PACKS}/{id}.pack"), dry_run)?;
            }
            report.packs_removed += 1;
        } else if let Some(id) = name.strip_suffix(".pack").filter(|id| is_hash(id))
            && !names.contains(&format!("{id}.idx"))
        {
            // An interrupted gc (or install) left a pack without its index.
            report.bytes_freed += remove(state, &format!("{PACKS}/{name}"), dry_run)?;
            report.packs_removed += 1;
        }
    }
    Ok(())
}

/// Deletes `rel` (unless `dry_run`); returns its size.
fn remove(state: &Root, rel: &str, dry_run: bool) -> Result<u64> {
    let size = state.metadata(rel)?.map_or(0, |m| m.len);
    if !dry_run {
        state.remove_file(rel)?;
    }
    Ok(size)
}
