//! Bringing a project back to a settled state before a snapshot-store
//! operation, after a dxforge command was killed.
//!
//! Traffic Branching and the Shadow Worker share one project lock, but each
//! recovers only its own leftovers. Two crossings need the core:
//!
//! - an install a killed process left half-done (its journal in
//!   `.dxforge/txn/`) must be finished or undone *before* a snapshot captures
//!   the tree or a restore rewrites it: otherwise the snapshot holds a torn
//!   tree, or the next Traffic command rolls the journal over the restored one;
//! - a killed restore leaves dxforge temporary files in the project's
//!   directories, which snapshots leave out and so a second restore never
//!   deletes: they are swept before a restore, under the project lock (which
//!   proves no live command owns them);
//! - a restore killed after its commit point is finished by the next
//!   snapshot-store operation on its own, and by the core before every
//!   Traffic Branching call, so a package command never reads or writes a
//!   half-restored tree.

use std::path::Path;
use std::time::Duration;

use dxforge_fs::{FsError, LockMode, Policy, ProjectLock, Root};
use dxforge_traffic::{TrafficError, TrafficManager};

use crate::{Result, STATE_DIR};

/// How long the sweep waits for the project lock; a holder is a live command
/// whose temporary files are not leftovers, so the sweep is skipped then.
const SWEEP_LOCK_WAIT: Duration = Duration::from_secs(1);

/// Finishes or undoes an interrupted install. A live command holding the lock
/// recovered at its own start, so `Busy` is not an error here.
pub(crate) fn recover_traffic(traffic: &TrafficManager) -> Result<()> {
    match traffic.recover() {
        Ok(_) | Err(TrafficError::Busy { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Removes dxforge temporary files left anywhere in the project tree (never
/// in `.git` or `.dxforge`, never through a link); returns how many.
pub(crate) fn sweep_project_temps(root: &Path) -> Result<usize> {
    let project = Root::open(root, Policy::Project)?;
    let state = match project.subroot(STATE_DIR, Policy::Plain, false) {
        Ok(state) => state,
        Err(e) if e.is_not_found() => return Ok(0), // no dxforge command ever wrote here
        Err(e) => return Err(e.into()),
    };
    let _lock = match ProjectLock::acquire(&state, "sweep", LockMode::Exclusive, SWEEP_LOCK_WAIT) {
        Ok(lock) => lock,
        Err(FsError::Busy { .. }) => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    Ok(project.sweep_temps("")?)
}

/// Finishes a restore a killed process left unfinished (one `stat` when there
/// is none).
pub(crate) fn finish_restore(root: &Path) -> Result<()> {
    if let Some(report) =
        dxforge_worker::finish_interrupted_restore(root, dxforge_worker::DEFAULT_LOCK_WAIT)?
    {
        tracing::warn!(
            restored = %report.restored,
            safety_snapshot = %report.safety_snapshot,
            "finished a restore that a killed command left unfinished"
        );
    }
    Ok(())
}
