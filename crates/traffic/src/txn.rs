//! One transaction per operation, crash-safe.
//!
//! 1. A journal (`.dxforge/txn/journal.json`, state `staging`) lists every
//!    temp file, target, deletion and directory the transaction will create.
//! 2. Directories and temp files (next to their targets) are written, then
//!    flushed with one `syncfs`.
//! 3. The journal is rewritten with state `committed`: this is the commit point.
//! 4. Temp files are renamed into place, deletions done, the lock file
//!    renamed LAST, the journal removed.
//!
//! Recovery (on the next operation, or [`crate::TrafficManager::recover`])
//! ROLLS BACK a `staging` journal (temps and new directories removed: the old
//! state exactly) and ROLLS FORWARD a `committed` one (remaining renames and
//! deletions done: the new state exactly). Between a crash and that recovery
//! the tree may hold temp files `.<name>.dxforge-<id>.tmp` or, after the
//! commit point, a mix of renamed and not-yet-renamed files.
//!
//! A project-level `flock` on `.dxforge/install.lock` serialises transactions
//! across processes; a second process gets [`TrafficError::Busy`].

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::crash;
use crate::error::{Result, TrafficError};
use crate::report::Recovery;
use crate::store::{hash_hex, read_optional, temp_path_for, write_atomic};

/// Held while a transaction (or recovery) runs.
#[derive(Debug)]
pub struct ProjectLock {
    _file: std::fs::File,
}

/// Take the project lock without waiting.
pub fn lock_project(state_dir: &Path) -> Result<ProjectLock> {
    std::fs::create_dir_all(state_dir)
        .map_err(|e| TrafficError::io("create directory", state_dir, e))?;
    let path = state_dir.join("install.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| TrafficError::io("open", &path, e))?;
    // SAFETY: flock on a valid open descriptor owned by `file`.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        let err = std::io::Error::last_os_error();
        if err.kind() == std::io::ErrorKind::WouldBlock {
            return Err(TrafficError::Busy { lock: path });
        }
        return Err(TrafficError::io("lock", path, err));
    }
    Ok(ProjectLock { _file: file })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum State {
    Staging,
    Committed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Rename {
    temp: PathBuf,
    target: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Deletion {
    path: PathBuf,
    /// Only deleted when its content still has this hash.
    hash: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Journal {
    state: State,
    root: PathBuf,
    created_dirs: Vec<PathBuf>,
    renames: Vec<Rename>,
    deletions: Vec<Deletion>,
    /// The lock file, renamed after everything else.
    lock: Option<Rename>,
}

/// Everything one operation changes.
#[derive(Debug, Default)]
pub struct Changes {
    /// Files to (over)write: real path -> content.
    pub writes: Vec<(PathBuf, Vec<u8>)>,
    /// Files to delete: real path + hash they must still have.
    pub deletions: Vec<(PathBuf, String)>,
    /// The new lock file (path, content), applied last.
    pub lock: Option<(PathBuf, Vec<u8>)>,
}

fn journal_path(state_dir: &Path) -> PathBuf {
    state_dir.join("txn").join("journal.json")
}

fn write_journal(state_dir: &Path, j: &Journal) -> Result<()> {
    let path = journal_path(state_dir);
    let dir = state_dir.join("txn");
    std::fs::create_dir_all(&dir).map_err(|e| TrafficError::io("create directory", &dir, e))?;
    let data = serde_json::to_vec_pretty(j).map_err(|e| TrafficError::Journal {
        journal: path.clone(),
        message: e.to_string(),
    })?;
    write_atomic(&path, &data)
}

/// Flush every pending write of the filesystem holding `path` (one call for all staged files).
fn sync_fs(path: &Path) -> Result<()> {
    let f = std::fs::File::open(path).map_err(|e| TrafficError::io("open", path, e))?;
    // SAFETY: syncfs on a valid open descriptor owned by `f`.
    if unsafe { libc::syncfs(f.as_raw_fd()) } != 0 {
        return Err(TrafficError::io(
            "syncfs",
            path,
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// Apply `changes` as one transaction. The caller holds the project lock.
pub fn apply(root: &Path, state_dir: &Path, changes: Changes) -> Result<()> {
    let tag = format!("{}-{}", std::process::id(), unique_suffix());
    let mut journal = Journal {
        state: State::Staging,
        root: root.to_path_buf(),
        created_dirs: Vec::new(),
        renames: Vec::new(),
        deletions: changes
            .deletions
            .iter()
            .map(|(p, h)| Deletion {
                path: p.clone(),
                hash: h.clone(),
            })
            .collect(),
        lock: None,
    };
    for (target, _) in changes.writes.iter().chain(changes.lock.iter()) {
        let mut missing = Vec::new();
        let mut dir = target.parent();
        while let Some(d) = dir {
            if d.starts_with(root) && d != root && !d.exists() {
                missing.push(d.to_path_buf());
                dir = d.parent();
            } else {
                break;
            }
        }
        for d in missing.into_iter().rev() {
            if !journal.created_dirs.contains(&d) {
                journal.created_dirs.push(d);
            }
        }
        journal.renames.push(Rename {
            temp: temp_path_for(target, &tag),
            target: target.clone(),
        });
    }
    if changes.lock.is_some() {
        journal.lock = journal.renames.pop();
    }
    write_journal(state_dir, &journal)?;
    crash::point("journal staged");
    if let Err(e) = stage(&journal, &changes) {
        rollback(&journal);
        let _ = std::fs::remove_file(journal_path(state_dir));
        return Err(e);
    }
    journal.state = State::Committed;
    write_journal(state_dir, &journal)?;
    crash::point("committed");
    roll_forward(&journal)?;
    sync_fs(root)?;
    crash::point("applied");
    let jp = journal_path(state_dir);
    std::fs::remove_file(&jp).map_err(|e| TrafficError::io("remove", &jp, e))?;
    Ok(())
}

fn stage(journal: &Journal, changes: &Changes) -> Result<()> {
    for d in &journal.created_dirs {
        std::fs::create_dir(d).map_err(|e| TrafficError::io("create directory", d, e))?;
    }
    let contents = changes
        .writes
        .iter()
        .chain(changes.lock.iter())
        .map(|(_, c)| c);
    for (rename, content) in journal
        .renames
        .iter()
        .chain(journal.lock.iter())
        .zip(contents)
    {
        std::fs::write(&rename.temp, content)
            .map_err(|e| TrafficError::io("write", &rename.temp, e))?;
        crash::point("staged file");
    }
    sync_fs(&journal.root)
}

/// Undo staging: remove temps and the directories the transaction created.
fn rollback(journal: &Journal) {
    for r in journal.renames.iter().chain(journal.lock.iter()) {
        let _ = std::fs::remove_file(&r.temp);
    }
    for d in journal.created_dirs.iter().rev() {
        let _ = std::fs::remove_dir(d);
    }
}

/// Finish a committed transaction; idempotent.
fn roll_forward(journal: &Journal) -> Result<()> {
    for r in &journal.renames {
        rename_if_staged(r)?;
        crash::point("renamed file");
    }
    for d in &journal.deletions {
        if let Some(data) = read_optional(&d.path)?
            && hash_hex(&data) == d.hash
        {
            std::fs::remove_file(&d.path).map_err(|e| TrafficError::io("remove", &d.path, e))?;
            remove_empty_parents(&journal.root, &d.path);
            crash::point("deleted file");
        }
    }
    if let Some(r) = &journal.lock {
        rename_if_staged(r)?;
    }
    Ok(())
}

/// Renames are made durable by one `syncfs` before the journal is removed,
/// not by one directory fsync each.
fn rename_if_staged(r: &Rename) -> Result<()> {
    match std::fs::rename(&r.temp, &r.target) {
        Ok(()) => Ok(()),
        // Already renamed by an earlier, interrupted roll forward.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(TrafficError::io("rename", &r.target, e)),
    }
}

/// Remove directories left empty by a deletion, up to (not including) the root.
pub fn remove_empty_parents(root: &Path, file: &Path) {
    let mut dir = file.parent();
    while let Some(d) = dir {
        if d == root || !d.starts_with(root) || std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

/// Finish or undo an interrupted transaction. The caller holds the project lock.
pub fn recover(state_dir: &Path) -> Result<Recovery> {
    let path = journal_path(state_dir);
    let Some(raw) = read_optional(&path)? else {
        return Ok(Recovery::Clean);
    };
    let journal: Journal = match serde_json::from_slice(&raw) {
        Ok(j) => j,
        Err(e) => {
            return Err(TrafficError::Journal {
                journal: path,
                message: e.to_string(),
            });
        }
    };
    let outcome = match journal.state {
        State::Staging => {
            rollback(&journal);
            Recovery::RolledBack
        }
        State::Committed => {
            roll_forward(&journal)?;
            sync_fs(&journal.root)?;
            Recovery::RolledForward
        }
    };
    std::fs::remove_file(&path).map_err(|e| TrafficError::io("remove", &path, e))?;
    tracing::info!(journal = %path.display(), ?outcome, "recovered interrupted dxforge transaction");
    Ok(outcome)
}

/// Whether an interrupted transaction is waiting for recovery.
pub fn journal_pending(state_dir: &Path) -> bool {
    journal_path(state_dir).exists()
}

fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{nanos:08x}")
}
