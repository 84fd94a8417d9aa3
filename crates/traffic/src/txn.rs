//! One transaction per operation, crash-safe.
//!
//! 1. Every target is checked before anything is written: no component may
//!    be a symlink or a non-directory, the target itself must be a regular
//!    file or missing. A failure here changes nothing.
//! 2. A journal (`.dxforge/txn/journal.json`, state `staging`, written
//!    durably) lists the directories the transaction stages into and the
//!    directories it creates.
//! 3. Directories and temp files (unique `O_EXCL|O_NOFOLLOW` names next to
//!    their targets, created relative to each target directory opened once
//!    beneath the root as a `Root::subroot`, by up to four threads) are
//!    written, then flushed with one `syncfs` (which also flushes the base
//!    store's pack written just before).
//! 4. The journal is rewritten, durably, with state `committed` and every
//!    rename (temp -> target), deletion and the lock file's rename: this is
//!    the commit point.
//! 5. Temp files are renamed into place, deletions done, the lock file
//!    renamed LAST, one `syncfs`, the journal removed.
//!
//! Everything that can fail on a user-controlled name fails in step 1 (or
//! while staging), before the commit point; after it only renames of
//! dxforge's own temp files onto checked targets remain.
//!
//! Recovery (on the next operation, or [`crate::TrafficManager::recover`])
//! ROLLS BACK a `staging` journal (temp files in the staged directories and
//! new directories removed: the old state exactly) and ROLLS FORWARD a
//! `committed` one (remaining renames and deletions done: the new state
//! exactly). The journal is untrusted input: it is parsed by
//! [`crate::journal::parse_journal`], then every path it names is looked at
//! (no symlink on the way, temp files are regular files) before anything is
//! done, and every operation goes through the project's `dxforge_fs::Root`.
//! A journal failing any check is refused with [`TrafficError::Journal`],
//! left in place and not executed.
//!
//! The caller holds the project lock (`dxforge_fs::ProjectLock`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use dxforge_fs::{FsError, Kind, Root, WriteOptions};

use crate::crash;
use crate::error::{Result, TrafficError};
use crate::journal::{Deletion, JOURNAL, Journal, Rename, State, parse_journal, split};
use crate::limits::{MAX_JOURNAL_BYTES, MAX_PROJECT_FILE_BYTES};
use crate::lockfile::LOCK_FILE;
use crate::report::Recovery;
use crate::safety::validate_state_path;
use crate::store::hash_hex;

/// Everything one operation changes. Paths are project-relative.
#[derive(Debug, Default)]
pub struct Changes {
    /// Files to (over)write: path -> content.
    pub writes: Vec<(String, Vec<u8>)>,
    /// Files to delete: path + hash they must still have.
    pub deletions: Vec<(String, String)>,
    /// The new content of `dxforge.lock`, renamed into place last.
    pub lock: Option<Vec<u8>>,
}

/// Whether an interrupted transaction's journal is waiting in the state root.
pub(crate) fn journal_pending(state: &Root) -> Result<bool> {
    Ok(state.metadata(JOURNAL)?.is_some())
}

fn write_journal(state: &Root, j: &Journal) -> Result<()> {
    let data = j.to_bytes(&state.join(JOURNAL))?;
    state.write_atomic(JOURNAL, &data, WriteOptions::durable())?;
    Ok(())
}

fn what(kind: Kind) -> &'static str {
    match kind {
        Kind::File => "a file",
        Kind::Dir => "a directory",
        Kind::Symlink => "a symbolic link",
        Kind::Other => "a FIFO, socket or device",
    }
}

/// Directories seen while checking targets: the real ones (checked once)
/// and the missing ones the transaction creates, parents first.
#[derive(Default)]
struct TargetDirs {
    real: BTreeSet<String>,
    missing: BTreeSet<String>,
    create: Vec<String>,
}

/// Check that `rel` can be replaced by a rename: no symlink or non-directory
/// on the way, a regular file or nothing at the end. Records the missing
/// parent directories (parents first) in `dirs.create`.
fn check_write_target(project: &Root, rel: &str, dirs: &mut TargetDirs) -> Result<()> {
    let refuse = |reason: String| TrafficError::UnsafePath {
        package: String::new(),
        path: rel.to_string(),
        reason,
    };
    validate_state_path(rel).map_err(|why| refuse(why.to_string()))?;
    let parts: Vec<&str> = rel.split('/').collect();
    for i in 0..parts.len() {
        let prefix = parts[..=i].join("/");
        let last = i + 1 == parts.len();
        if !last && dirs.real.contains(&prefix) {
            continue;
        }
        let kind = if !last && dirs.missing.contains(&prefix) {
            None
        } else {
            project.metadata(&prefix)?.map(|m| m.kind)
        };
        match kind {
            None => {
                for j in i..parts.len() - 1 {
                    let dir = parts[..=j].join("/");
                    if dirs.missing.insert(dir.clone()) {
                        dirs.create.push(dir);
                    }
                }
                return Ok(());
            }
            Some(Kind::Dir) if !last => {
                dirs.real.insert(prefix);
            }
            Some(Kind::File) if last => {}
            Some(kind) => {
                return Err(refuse(format!(
                    "`{prefix}` is {}; dxforge only replaces regular files inside real directories",
                    what(kind)
                )));
            }
        }
    }
    Ok(())
}

/// Apply `changes` as one transaction. The caller holds the project lock.
pub fn apply(project: &Root, state: &Root, changes: Changes) -> Result<()> {
    let mut journal = Journal::staging();
    let mut writes: Vec<(&str, &[u8])> = changes
        .writes
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_slice()))
        .collect();
    if let Some(lock) = &changes.lock {
        writes.push((LOCK_FILE, lock.as_slice()));
    }
    let mut dirs = TargetDirs::default();
    let mut targets = BTreeSet::new();
    let mut staged_in = BTreeSet::new();
    for (target, _) in &writes {
        if !targets.insert(*target) {
            return Err(TrafficError::UnsafePath {
                package: String::new(),
                path: target.to_string(),
                reason: "written twice by one transaction".to_string(),
            });
        }
        check_write_target(project, target, &mut dirs)?;
        let (dir, _) = split(target);
        if staged_in.insert(dir) {
            journal.dirs.push(dir.to_string());
        }
    }
    journal.created_dirs = dirs.create;
    for (path, _) in &changes.deletions {
        validate_state_path(path).map_err(|why| TrafficError::UnsafePath {
            package: String::new(),
            path: path.clone(),
            reason: why.to_string(),
        })?;
    }
    journal.deletions = changes
        .deletions
        .iter()
        .map(|(path, hash)| Deletion {
            path: path.clone(),
            hash: hash.clone(),
        })
        .collect();
    write_journal(state, &journal)?;
    crash::point("journal staged");

    let mut temps: Vec<String> = Vec::with_capacity(writes.len());
    let staged = stage(project, state, &journal, &writes, &mut temps).and_then(|()| {
        journal.state = State::Committed;
        let mut renames: Vec<Rename> = temps
            .iter()
            .zip(&writes)
            .map(|(temp, (target, _))| Rename {
                temp: temp.clone(),
                target: target.to_string(),
            })
            .collect();
        if changes.lock.is_some() {
            journal.lock = renames.pop();
        }
        journal.renames = renames;
        // Too large a journal is refused here, still before the commit point.
        write_journal(state, &journal)
    });
    if let Err(e) = staged {
        discard(project, &journal.created_dirs, &temps);
        let _ = state.remove_file(JOURNAL);
        return Err(e);
    }
    crash::point("committed");
    roll_forward(project, &journal)?;
    project.syncfs()?;
    crash::point("applied");
    state.remove_file(JOURNAL)?;
    Ok(())
}

/// Create the new directories and one temp file per write; `temps` receives
/// each temp file's path as soon as it exists (in `writes` order once all
/// succeed). Ends with one `syncfs`, which also makes the base store's new
/// pack durable (and a second one for `.dxforge` when it lives on another
/// file system).
fn stage(
    project: &Root,
    state: &Root,
    journal: &Journal,
    writes: &[(&str, &[u8])],
    temps: &mut Vec<String>,
) -> Result<()> {
    for d in &journal.created_dirs {
        project.create_dir_all(d)?;
    }
    stage_files(project, writes, temps)?;
    project.syncfs()?;
    let device = |root: &Root| root.metadata("").ok().flatten().map(|m| m.dev);
    if device(state) != device(project) {
        state.syncfs()?;
    }
    Ok(())
}

/// Most threads staging files at once. Creating an inode is most of an
/// install's time (kernel CPU in the file system's allocator), and it
/// scales with cores; more threads than that only contend.
const MAX_STAGE_THREADS: usize = 4;

/// Files per thread below which another thread costs more than it saves.
const FILES_PER_THREAD: usize = 64;

/// What one staging thread did: `(index in writes, temp path)` per file it
/// created, and the error that stopped it.
type Staged = (Vec<(usize, String)>, Option<TrafficError>);

/// Write every temp file: each target directory is resolved once (a
/// [`Root::subroot`] used by name, see [`open_dir`]), then the files are
/// created and written by up to [`MAX_STAGE_THREADS`] threads. On failure `temps` holds every temp file
/// that was created (for [`discard`]) and the first error is returned.
fn stage_files(project: &Root, writes: &[(&str, &[u8])], temps: &mut Vec<String>) -> Result<()> {
    let mut dirs: BTreeMap<&str, Root> = BTreeMap::new();
    for (target, _) in writes {
        let (dir, _) = split(target);
        if !dirs.contains_key(dir) {
            dirs.insert(dir, open_dir(project, dir)?);
        }
    }
    let order = interleave_by_dir(writes);
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let work = || {
        let mut done: Vec<(usize, String)> = Vec::new();
        loop {
            let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) else {
                return (done, None);
            };
            let Some((target, content)) = writes.get(i) else {
                return (done, None);
            };
            if failed.load(Ordering::Relaxed) {
                return (done, None);
            }
            let (dir, name) = split(target);
            let staged = match dirs.get(dir) {
                Some(d) => stage_one(d, dir, name, content),
                None => Err(TrafficError::io(
                    "stage",
                    project.join(dir),
                    std::io::Error::other("directory was not opened"),
                )),
            };
            match staged {
                Ok(rel) => {
                    done.push((i, rel));
                    crash::point("staged file");
                }
                Err(e) => {
                    failed.store(true, Ordering::Relaxed);
                    return (done, Some(e));
                }
            }
        }
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(MAX_STAGE_THREADS)
        .min(writes.len() / FILES_PER_THREAD)
        .min(dirs.len())
        .max(1);
    let results: Vec<Staged> = std::thread::scope(|s| {
        let helpers: Vec<_> = (1..threads).map(|_| s.spawn(work)).collect();
        let mut results = vec![work()];
        for h in helpers {
            match h.join() {
                Ok(r) => results.push(r),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        results
    });
    let mut staged: Vec<(usize, String)> = Vec::with_capacity(writes.len());
    let mut first_error = None;
    for (done, error) in results {
        staged.extend(done);
        if first_error.is_none() {
            first_error = error;
        }
    }
    staged.sort_unstable_by_key(|(i, _)| *i);
    temps.extend(staged.into_iter().map(|(_, rel)| rel));
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The indices of `writes`, taking one file of each directory in turn: the
/// kernel creates files of one directory one at a time (under its lock), so
/// threads taking consecutive jobs should be in different directories.
fn interleave_by_dir(writes: &[(&str, &[u8])]) -> Vec<usize> {
    let mut by_dir: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, (target, _)) in writes.iter().enumerate() {
        by_dir.entry(split(target).0).or_default().push(i);
    }
    let mut queues: Vec<std::vec::IntoIter<usize>> =
        by_dir.into_values().map(Vec::into_iter).collect();
    let mut order = Vec::with_capacity(writes.len());
    while !queues.is_empty() {
        queues.retain_mut(|q| match q.next() {
            Some(i) => {
                order.push(i);
                true
            }
            None => false,
        });
    }
    order
}

/// The directory `dir` of the project (`""`: the root) as a handle whose
/// entries are then created, renamed and inspected by name: the directory is
/// resolved once, beneath the project and through no link, and names are
/// single checked components (never `.git` or `.dxforge`).
fn open_dir(project: &Root, dir: &str) -> Result<Root> {
    Ok(project.subroot(dir, project.policy(), false)?)
}

/// One temp file next to `dir/name`; returns its project-relative path.
fn stage_one(d: &Root, dir: &str, name: &str, content: &[u8]) -> Result<String> {
    let temp = d.stage_here(name, content, 0o666)?;
    let Some(temp) = temp.to_str() else {
        return Err(TrafficError::io(
            "stage",
            d.join(&temp),
            std::io::Error::other("temporary file name is not UTF-8"),
        ));
    };
    Ok(if dir.is_empty() {
        temp.to_string()
    } else {
        format!("{dir}/{temp}")
    })
}

/// Undo a failed staging: remove its temp files and the directories it created.
fn discard(project: &Root, created_dirs: &[String], temps: &[String]) {
    for t in temps {
        let _ = project.remove_file(t);
    }
    for d in created_dirs.iter().rev() {
        let _ = project.remove_dir(d);
    }
}

/// Finish a committed transaction; idempotent.
fn roll_forward(project: &Root, journal: &Journal) -> Result<()> {
    // Each directory is resolved once for all the renames in it.
    let mut dirs: BTreeMap<&str, Option<Root>> = BTreeMap::new();
    for r in &journal.renames {
        let (dir, _) = split(&r.target);
        let d = dirs
            .entry(dir)
            .or_insert_with(|| open_dir(project, dir).ok());
        rename_if_staged(project, d.as_ref(), r)?;
        crash::point("renamed file");
    }
    for d in &journal.deletions {
        if matches!(project.metadata(&d.path)?, Some(m) if m.kind == Kind::File)
            && let Some(data) = project.read(&d.path, MAX_PROJECT_FILE_BYTES)?
            && hash_hex(&data) == d.hash
        {
            project.remove_file(&d.path)?;
            remove_empty_parents(project, &d.path);
            crash::point("deleted file");
        }
    }
    if let Some(r) = &journal.lock {
        rename_if_staged(project, None, r)?;
    }
    Ok(())
}

/// Renames are made durable by one `syncfs` before the journal is removed,
/// not by one directory fsync each. `dir`: the target's directory, already
/// open; used when the temp file sits in it (as staging puts it).
fn rename_if_staged(project: &Root, dir: Option<&Root>, r: &Rename) -> Result<()> {
    let (temp_dir, temp_name) = split(&r.temp);
    let (target_dir, target_name) = split(&r.target);
    let renamed = match dir {
        Some(d) if temp_dir == target_dir => d.rename_here(temp_name, target_name),
        _ => project.rename(&r.temp, &r.target),
    };
    match renamed {
        Ok(()) => Ok(()),
        // Already renamed by an earlier, interrupted roll forward (the temp
        // file and its directory, which is the target's, are gone).
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Remove directories left empty by a deletion, up to (not including) the root.
fn remove_empty_parents(project: &Root, file: &str) {
    let mut rest = file;
    while let Some((dir, _)) = rest.rsplit_once('/') {
        if !matches!(project.remove_dir(dir), Ok(true)) {
            break;
        }
        rest = dir;
    }
}

/// What recovery did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Recovered {
    pub outcome: Recovery,
    /// Temp files of the interrupted transaction removed from the project.
    pub temps_removed: usize,
}

/// Finish or undo an interrupted transaction. The caller holds the project lock.
pub(crate) fn recover(project: &Root, state: &Root) -> Result<Recovered> {
    let path = state.join(JOURNAL);
    let refuse = |message: String| TrafficError::Journal {
        journal: path.clone(),
        message,
    };
    let raw = match state.read(JOURNAL, MAX_JOURNAL_BYTES) {
        Ok(Some(raw)) => raw,
        Ok(None) => {
            return Ok(Recovered {
                outcome: Recovery::Clean,
                temps_removed: 0,
            });
        }
        Err(FsError::TooLarge { limit, .. }) => {
            return Err(refuse(format!("larger than the limit of {limit} bytes")));
        }
        Err(e) if e.is_refusal() => return Err(refuse(e.to_string())),
        Err(e) => return Err(e.into()),
    };
    let journal = parse_journal(&raw, &path)?;
    preflight(project, &journal).map_err(refuse)?;
    let recovered = match journal.state {
        State::Staging => Recovered {
            outcome: Recovery::RolledBack,
            temps_removed: roll_back(project, &journal)?,
        },
        State::Committed => {
            roll_forward(project, &journal)?;
            project.syncfs()?;
            Recovered {
                outcome: Recovery::RolledForward,
                temps_removed: 0,
            }
        }
    };
    state.remove_file(JOURNAL)?;
    tracing::info!(
        journal = %path.display(),
        outcome = ?recovered.outcome,
        temps_removed = recovered.temps_removed,
        "recovered interrupted dxforge transaction"
    );
    Ok(recovered)
}

/// What is at `rel`, looking at every component without following links:
/// `Err` when a component is a symlink, `None` when something on the way is
/// missing or not a directory.
fn inspect(project: &Root, rel: &str) -> std::result::Result<Option<Kind>, String> {
    let parts: Vec<&str> = rel.split('/').collect();
    for i in 0..parts.len() {
        let prefix = parts[..=i].join("/");
        let kind = project
            .metadata(&prefix)
            .map_err(|e| format!("cannot inspect `{}`: {e}", rel.escape_debug()))?
            .map(|m| m.kind);
        match kind {
            Some(Kind::Symlink) => {
                return Err(format!(
                    "`{}` crosses the symbolic link `{}`",
                    rel.escape_debug(),
                    prefix.escape_debug()
                ));
            }
            Some(Kind::Dir) if i + 1 < parts.len() => {}
            Some(k) if i + 1 == parts.len() => return Ok(Some(k)),
            _ => return Ok(None),
        }
    }
    Ok(None)
}

/// Look at every path a journal names before acting on any of it.
fn preflight(project: &Root, journal: &Journal) -> std::result::Result<(), String> {
    let committed = journal.state == State::Committed;
    for r in journal.all_renames() {
        let temp = inspect(project, &r.temp)?;
        match temp {
            None | Some(Kind::File) => {}
            Some(k) => {
                return Err(format!(
                    "temp file `{}` is {}, not a file dxforge staged",
                    r.temp.escape_debug(),
                    what(k)
                ));
            }
        }
        let target = inspect(project, &r.target)?;
        if committed && temp.is_some() && !matches!(target, None | Some(Kind::File)) {
            return Err(format!(
                "target `{}` is {}; the transaction cannot be finished",
                r.target.escape_debug(),
                what(target.unwrap_or(Kind::Other))
            ));
        }
    }
    for d in journal.dirs.iter().filter(|d| !d.is_empty()) {
        inspect(project, d)?;
    }
    for d in &journal.created_dirs {
        inspect(project, d)?;
    }
    for d in &journal.deletions {
        inspect(project, &d.path)?;
    }
    Ok(())
}

/// Undo a staging journal: its temp files and every dxforge temp file
/// directly in the directories it staged into, then the directories it created.
fn roll_back(project: &Root, journal: &Journal) -> Result<usize> {
    let mut removed = 0;
    for r in journal.all_renames() {
        if matches!(project.metadata(&r.temp)?, Some(m) if m.kind == Kind::File)
            && project.remove_file(&r.temp)?
        {
            removed += 1;
        }
    }
    for dir in &journal.dirs {
        let entries = match project.read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.is_not_found() => continue,
            Err(FsError::Io { source, .. }) if source.raw_os_error() == Some(libc::ENOTDIR) => {
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        for (name, kind) in entries {
            let Some(name) = name.to_str() else { continue };
            if kind == Kind::File && dxforge_fs::is_temp_name(name) {
                let rel = if dir.is_empty() {
                    name.to_string()
                } else {
                    format!("{dir}/{name}")
                };
                if project.remove_file(&rel)? {
                    removed += 1;
                }
            }
        }
    }
    for d in journal.created_dirs.iter().rev() {
        if matches!(project.metadata(d)?, Some(m) if m.kind == Kind::Dir) {
            project.remove_dir(d)?;
        }
    }
    Ok(removed)
}

/// Remove every dxforge temp file left under the state root's traffic
/// directories (`base/`, `txn/`, `cache/`) by a killed process. The caller
/// holds the project lock exclusively.
pub(crate) fn sweep_state(state: &Root) -> Result<usize> {
    let mut removed = 0;
    for dir in ["base", "txn", "cache"] {
        removed += state.sweep_temps(dir)?;
    }
    Ok(removed)
}
