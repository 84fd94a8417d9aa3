//! Opening a project for one operation: its roots, the project lock and
//! recovery of an interrupted transaction.
//!
//! Every path in the project is reached through a `dxforge_fs::Root` opened
//! with `Policy::Project` on the project root (no symlink is followed, `.git`
//! and `.dxforge` are out of reach), and dxforge's own state through
//! `project.subroot(".dxforge", Policy::Plain, _)`.
//!
//! Locking (`.dxforge/lock`, the one project lock every dxforge command
//! shares, see `dxforge_fs::ProjectLock`):
//!
//! - commands that change the project (`add`, `install`, `update`, `remove`,
//!   `recover`) take it EXCLUSIVELY, waiting at most [`WRITE_LOCK_WAIT`] (one
//!   second): a second command gets [`TrafficError::Busy`] naming the holder.
//!   Not zero: `flock` belongs to the open file, and a child process forked
//!   by another thread of the same program shares it until its `exec`
//!   closes it, so a lock just released can look held for an instant;
//! - `prefetch` (it writes `.dxforge/cache/`) takes it exclusively, waiting up
//!   to [`LOCK_WAIT`] (it usually runs as a background task);
//! - read-only operations (`check`, `diff`, dry runs, the lock file, modified
//!   files, the registry listing) take it SHARED, waiting up to [`LOCK_WAIT`],
//!   so they never see a half-applied transaction; a project without
//!   `.dxforge/` has nothing to lock and is read as it is (a read never creates
//!   state). A read that finds an interrupted transaction takes the lock
//!   exclusively to recover it first.

use std::path::PathBuf;
use std::time::Duration;

use dxforge_fs::{FsError, LockMode, Policy, ProjectLock, Root};

use crate::error::{Result, TrafficError};
use crate::report::RecoveryReport;
use crate::txn;

/// How long read-only operations and `prefetch` wait for the project lock.
pub const LOCK_WAIT: Duration = Duration::from_secs(10);

/// How long commands that change the project wait for the project lock
/// before failing with [`TrafficError::Busy`].
pub const WRITE_LOCK_WAIT: Duration = Duration::from_secs(1);

/// The state directory's name at the project root.
const STATE_DIR: &str = ".dxforge";

/// A project opened for one operation.
pub(crate) struct Session {
    /// The canonical project root (messages, caller-given absolute paths).
    pub root: PathBuf,
    /// The project root as a confined root.
    pub project: Root,
    /// `.dxforge` (absent for a read of a project that has none).
    pub state: Option<Root>,
    /// The held lock, released when the session drops.
    _lock: Option<ProjectLock>,
}

/// Which lock an operation takes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Access {
    /// A command that changes the project: exclusive, [`WRITE_LOCK_WAIT`].
    Write(&'static str),
    /// A command that changes only `.dxforge/` (prefetch): exclusive, bounded wait.
    Background(&'static str),
    /// A read-only operation: shared, bounded wait.
    Read,
}

fn open_project(root: &std::path::Path) -> Result<(PathBuf, Root)> {
    let canonical =
        std::fs::canonicalize(root).map_err(|e| TrafficError::io("open project root", root, e))?;
    let project = Root::open(&canonical, Policy::Project)?;
    Ok((canonical, project))
}

fn state_root(project: &Root, create: bool) -> Result<Option<Root>> {
    match project.subroot(STATE_DIR, Policy::Plain, create) {
        Ok(r) => Ok(Some(r)),
        Err(e) if e.is_not_found() && !create => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Recover an interrupted transaction and sweep leftover temp files. The
/// caller holds the lock exclusively.
fn recover_locked(project: &Root, state: &Root, sweep_cache: bool) -> Result<RecoveryReport> {
    let recovered = txn::recover(project, state)?;
    let mut swept = txn::sweep_state(state)?;
    if sweep_cache {
        swept += state.sweep_temps("cache")?;
    }
    if swept > 0 {
        tracing::info!(
            state = %state.path().display(),
            swept,
            "removed temp files left under .dxforge by an interrupted dxforge process"
        );
    }
    Ok(RecoveryReport {
        outcome: recovered.outcome,
        temp_files_removed: recovered.temps_removed + swept,
    })
}

/// The shared lock of a read. A state directory this process may not write
/// (a read-only checkout, another user's project) cannot be changed by
/// dxforge from here either: it is read without the lock.
fn shared_lock(state: &Root) -> Result<Option<ProjectLock>> {
    match ProjectLock::acquire(state, "read", LockMode::Shared, LOCK_WAIT) {
        Ok(lock) => Ok(Some(lock)),
        Err(FsError::Io { source, .. })
            if matches!(
                source.raw_os_error(),
                Some(libc::EROFS | libc::EACCES | libc::EPERM)
            ) =>
        {
            tracing::debug!(state = %state.path().display(), error = %source, "reading without the project lock");
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

impl Session {
    /// Open the project at `root` for an operation with `access`, recovering
    /// an interrupted transaction first.
    pub fn open(root: &std::path::Path, access: Access) -> Result<Session> {
        let (canonical, project) = open_project(root)?;
        let (state, lock) = match access {
            Access::Write(command) | Access::Background(command) => {
                let wait = match access {
                    Access::Background(_) => LOCK_WAIT,
                    _ => WRITE_LOCK_WAIT,
                };
                let state = state_root(&project, true)?.ok_or_else(|| {
                    TrafficError::io(
                        "create",
                        canonical.join(STATE_DIR),
                        std::io::Error::from(std::io::ErrorKind::NotFound),
                    )
                })?;
                let lock = ProjectLock::acquire(&state, command, LockMode::Exclusive, wait)?;
                recover_locked(&project, &state, matches!(access, Access::Background(_)))?;
                (Some(state), Some(lock))
            }
            Access::Read => match state_root(&project, false)? {
                None => (None, None),
                Some(state) => {
                    let mut lock = shared_lock(&state)?;
                    if txn::journal_pending(&state)? {
                        drop(lock);
                        let exclusive = ProjectLock::acquire(
                            &state,
                            "recover",
                            LockMode::Exclusive,
                            LOCK_WAIT,
                        )?;
                        recover_locked(&project, &state, false)?;
                        lock = Some(exclusive);
                    }
                    (Some(state), lock)
                }
            },
        };
        Ok(Session {
            root: canonical,
            project,
            state,
            _lock: lock,
        })
    }

    /// Recover explicitly (exclusive lock, like a command that changes the
    /// project); a project without `.dxforge/` is clean.
    pub fn recover(root: &std::path::Path) -> Result<RecoveryReport> {
        let (_, project) = open_project(root)?;
        let Some(state) = state_root(&project, false)? else {
            return Ok(RecoveryReport {
                outcome: crate::report::Recovery::Clean,
                temp_files_removed: 0,
            });
        };
        let _lock = ProjectLock::acquire(&state, "recover", LockMode::Exclusive, WRITE_LOCK_WAIT)?;
        recover_locked(&project, &state, true)
    }

    /// The state root of a write session.
    pub fn state(&self) -> Result<&Root> {
        self.state.as_ref().ok_or_else(|| {
            TrafficError::io(
                "open",
                self.root.join(STATE_DIR),
                std::io::Error::from(std::io::ErrorKind::NotFound),
            )
        })
    }
}
