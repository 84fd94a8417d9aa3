//! Rolling the tree back to a snapshot.
//!
//! Order matters for "nothing changed on error": the manifest was validated when it was
//! read (every path relative, normal, never `.git` or `.dxforge` at any depth), every
//! object of the target is verified, the safety snapshot is taken and every obstacle is
//! checked before the first file is touched. The plan is then committed to the restore
//! journal (see [`super::journal`]): a restore killed after that point is finished by the
//! next command that takes the project lock, so the tree is always the old one or the
//! restored one, never a mix, once any dxforge command has run. Every write, delete and rename goes through
//! the project [`Root`]: no symbolic link is followed (a link where the snapshot has a
//! directory is either a tracked entry, deleted first, or an untracked one, which is a
//! conflict), and nothing is written into `.git` or `.dxforge`. Files are replaced
//! atomically (temp + rename, holes kept) and one `syncfs` at the end makes the restore
//! durable. Ignored files are never deleted; if one stands where the snapshot needs a file
//! or a directory, restore fails before changing anything.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicU64, Ordering};

use dxforge_fs::{Durability, Kind, Policy, Root};
use serde::Serialize;

use super::journal::RestoreJournal;
use super::manifest::{Manifest, ManifestEntry};
use super::objects::{ObjectId, SMALL_OBJECT};
use super::{Locked, Pending, SnapshotStore, par, sparse};
use crate::error::{Result, WorkerError};

/// What a restore changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct RestoreReport {
    /// The snapshot the tree now matches.
    pub restored: String,
    /// The snapshot of the tree as it was just before; restore it to undo.
    pub safety_snapshot: String,
    /// Files and links written (created or replaced).
    pub written: u64,
    /// Files and links deleted.
    pub deleted: u64,
    /// Files whose content was right but executable bit was not.
    pub mode_changed: u64,
    /// Entries already identical.
    pub unchanged: u64,
}

/// Most entries of one directory written by one task (see [`Plan::apply`]). Large, so
/// that the threads work in different directories: two threads creating and renaming in
/// one directory queue on its lock (`rwsem_spin_on_owner` was a fifth of a restore's
/// profile with chunks of 64).
const WRITE_CHUNK: usize = 1024;

enum Action<'a> {
    Write(&'a ManifestEntry),
    Chmod { path: &'a str, executable: bool },
}

/// Everything a restore does, computed from the target's manifest and the manifest of the
/// tree just before it (the safety snapshot): the same two manifests give the same plan,
/// which is what lets an interrupted restore be finished later.
struct Plan<'a> {
    actions: Vec<Action<'a>>,
    /// Tracked paths of the current tree the target does not have.
    deletes: HashSet<&'a str>,
    /// The paths of the current tree.
    current: HashSet<&'a str>,
    unchanged: u64,
}

impl<'a> Plan<'a> {
    fn new(target: &'a Manifest, current: &'a Manifest) -> Plan<'a> {
        let current: HashMap<&str, &ManifestEntry> =
            current.entries.iter().map(|e| (e.path(), e)).collect();
        let wanted: HashSet<&str> = target.entries.iter().map(|e| e.path()).collect();
        let deletes = current
            .keys()
            .copied()
            .filter(|p| !wanted.contains(p))
            .collect();
        let mut actions = Vec::new();
        let mut unchanged = 0;
        for entry in &target.entries {
            match (entry, current.get(entry.path()).copied()) {
                (e, Some(cur)) if cur == e => unchanged += 1,
                (
                    ManifestEntry::File {
                        path,
                        hash,
                        executable,
                        ..
                    },
                    Some(ManifestEntry::File { hash: cur_hash, .. }),
                ) if hash == cur_hash => actions.push(Action::Chmod {
                    path,
                    executable: *executable,
                }),
                (e, _) => actions.push(Action::Write(e)),
            }
        }
        Plan {
            actions,
            deletes,
            current: current.into_keys().collect(),
            unchanged,
        }
    }

    /// Fails, before anything is changed, when the plan would destroy something untracked.
    fn check(&self, project: &Root) -> Result<()> {
        // What each directory prefix is, looked up once for all the files below it.
        let mut dirs = HashMap::new();
        for action in &self.actions {
            if let Action::Write(entry) = action {
                let tracked = self.current.contains(entry.path());
                check_obstacles(project, entry.path(), &self.deletes, tracked, &mut dirs)?;
            }
        }
        Ok(())
    }

    /// Carries the plan out and makes the tree durable. Every step is idempotent: running
    /// it again over a tree it was interrupted in reaches the same end.
    fn apply(&self, locked: &Locked) -> Result<(u64, u64, u64)> {
        let project = &locked.project;
        let mut deleted = 0;
        let mut sorted_deletes: Vec<&str> = self.deletes.iter().copied().collect();
        sorted_deletes.sort_unstable();
        for rel in &sorted_deletes {
            if project.remove_file(rel)? {
                deleted += 1;
            }
        }
        for rel in sorted_deletes.iter().rev() {
            prune_empty_parents(project, rel);
        }
        // Writes grouped by directory, in chunks: each chunk opens its directory once,
        // and the chunks spread over the cores. Writes are independent of each other (no
        // target path lies below another one), so their order does not matter.
        let mut by_dir: BTreeMap<&str, Vec<&ManifestEntry>> = BTreeMap::new();
        let mut chmods = Vec::new();
        for action in &self.actions {
            match *action {
                Action::Write(entry) => by_dir
                    .entry(parent_of(entry.path()))
                    .or_default()
                    .push(entry),
                Action::Chmod { path, executable } => chmods.push((path, executable)),
            }
        }
        let chunks: Vec<(&str, &[&ManifestEntry])> = by_dir
            .iter()
            .flat_map(|(dir, entries)| entries.chunks(WRITE_CHUNK).map(move |c| (*dir, c)))
            .collect();
        let written = AtomicU64::new(0);
        par::for_each(&chunks, |(dir, entries)| {
            write_dir(locked, dir, entries)?;
            written.fetch_add(entries.len() as u64, Ordering::Relaxed);
            Ok(())
        })?;
        let mut mode_changed = 0;
        for (path, executable) in chmods {
            set_executable(project, path, executable)?;
            mode_changed += 1;
        }
        let written = written.into_inner();
        project.syncfs()?;
        Ok((written, deleted, mode_changed))
    }
}

impl SnapshotStore {
    /// Makes the tree identical to snapshot `id` (see the module docs), under one
    /// exclusive acquisition of the project lock. A restore a killed process left
    /// unfinished is finished first or, when that fails, abandoned: this restore's
    /// safety snapshot then records the tree as that one left it.
    pub(crate) fn restore(&self, id: &str) -> Result<RestoreReport> {
        let locked = self.lock_with("restore", Pending::FinishOrAbandon)?;
        let target = Manifest::load(&locked.store, id)?;
        self.restore_manifest_locked(&locked, &target)
    }

    /// Restore with the lock held and the target manifest already loaded (pull uses it;
    /// the manifest is in the store already, which an interrupted restore relies on).
    pub(crate) fn restore_manifest_locked(
        &self,
        locked: &Locked,
        target: &Manifest,
    ) -> Result<RestoreReport> {
        let objects: Vec<(ObjectId, u64)> = target.objects().collect();
        par::for_each(&objects, |(hash, size)| {
            locked.objects.verify_sized(hash, *size)
        })?;
        // The current tree, which the safety snapshot records anyway; its objects are in
        // the store once it is taken.
        let (safety, current) =
            self.snapshot_locked(locked, &format!("safety before restore of {}", target.id))?;
        let plan = Plan::new(target, &current);
        plan.check(&locked.project)?;
        // The commit point: from here on, the next command finishes this restore.
        RestoreJournal::new(&locked.store, &target.id, &current.id)?.write(&locked.store)?;
        let (written, deleted, mode_changed) = plan.apply(locked)?;
        RestoreJournal::remove(&locked.store)?;
        Ok(RestoreReport {
            restored: target.id.clone(),
            safety_snapshot: safety.id,
            written,
            deleted,
            mode_changed,
            unchanged: plan.unchanged,
        })
    }

    /// Finishes the restore recorded in `journal`: the plan is recomputed from the two
    /// manifests it names and carried out again over the tree the killed restore left.
    /// Temp files that restore left in the project are removed first (the lock is held,
    /// so no live command owns them).
    pub(crate) fn finish_interrupted(
        &self,
        locked: &Locked,
        journal: &RestoreJournal,
    ) -> Result<RestoreReport> {
        let swept = locked.project.sweep_temps("")?;
        let target = Manifest::load(&locked.store, &journal.target)?;
        let before = Manifest::load(&locked.store, &journal.safety)?;
        let plan = Plan::new(&target, &before);
        let (written, deleted, mode_changed) = plan.apply(locked)?;
        RestoreJournal::remove(&locked.store)?;
        tracing::info!(
            target = %journal.target, safety = %journal.safety, swept,
            "finished a restore that was interrupted"
        );
        Ok(RestoreReport {
            restored: target.id.clone(),
            safety_snapshot: journal.safety.clone(),
            written,
            deleted,
            mode_changed,
            unchanged: plan.unchanged,
        })
    }
}

/// Fails when writing `rel` would need to delete something that is not tracked (an
/// ignored file, link or directory content) or write through a link.
fn check_obstacles<'a>(
    project: &Root,
    rel: &'a str,
    deletes: &HashSet<&str>,
    tracked: bool,
    dirs: &mut HashMap<&'a str, Option<Kind>>,
) -> Result<()> {
    let mut end = 0;
    while let Some(pos) = rel[end..].find('/') {
        let dir = &rel[..end + pos];
        end += pos + 1;
        let kind = match dirs.get(dir) {
            Some(kind) => *kind,
            None => {
                let kind = project.metadata(dir)?.map(|m| m.kind);
                dirs.insert(dir, kind);
                kind
            }
        };
        match kind {
            Some(Kind::Dir) => {}
            // A tracked file or link deleted first: everything below is created afresh.
            Some(_) if deletes.contains(dir) => return Ok(()),
            Some(_) => {
                return Err(WorkerError::RestoreConflict {
                    path: dir.to_owned(),
                    reason: "an untracked (ignored) file or link is where the snapshot has a directory",
                });
            }
            None => return Ok(()), // missing: created on write
        }
    }
    if let Some(meta) = project.metadata(rel)?
        && meta.kind == Kind::Dir
        && !tracked
        && !only_deleted_files_below(project, rel, deletes)
    {
        return Err(WorkerError::RestoreConflict {
            path: rel.to_owned(),
            reason: "a directory holding untracked (ignored) files is where the snapshot has a file",
        });
    }
    Ok(())
}

/// The directory part of `rel` ("" at the top).
fn parent_of(rel: &str) -> &str {
    rel.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// Writes the target entries `entries`, all in the directory `dir` of the project,
/// through one handle on that directory (created when missing; never through a link).
fn write_dir(locked: &Locked, dir: &str, entries: &[&ManifestEntry]) -> Result<()> {
    let project = &locked.project;
    let handle = project.subroot(dir, Policy::Project, true)?;
    for entry in entries {
        let rel = entry.path();
        let name = rel.rsplit_once('/').map_or(rel, |(_, name)| name);
        let existing = handle.metadata_here(name)?;
        if existing.is_some_and(|m| m.kind == Kind::Dir) {
            // Checked beforehand: only emptied directories remain below.
            remove_empty_tree(project, rel)?;
        }
        match entry {
            ManifestEntry::File {
                hash,
                executable,
                size,
                ..
            } => {
                let mode = match existing {
                    Some(meta) if meta.kind == Kind::File => exec_mode(meta.mode, *executable),
                    _ if *executable => 0o755,
                    _ => 0o644,
                };
                if *size < SMALL_OBJECT {
                    write_small(locked, &handle, name, hash, rel, mode)?;
                } else {
                    write_file(locked, hash, rel, mode)?;
                }
            }
            ManifestEntry::Symlink { target, .. } => {
                handle.replace_with_symlink(target, name)?;
            }
        }
    }
    Ok(())
}

/// A small file: the object read whole and checked, then written through the directory
/// handle (temp file, exact mode, rename). Its writeback starts at once, so the final
/// `syncfs` has little left to wait for.
fn write_small(
    locked: &Locked,
    dir: &Root,
    name: &str,
    hash: &ObjectId,
    rel: &str,
    mode: u32,
) -> Result<()> {
    let bytes = locked.objects.read_small(hash)?;
    dir.write_here_with(name, mode, |file| -> Result<()> {
        let shown = || locked.project.join(rel);
        let mut out = file;
        out.write_all(&bytes)
            .map_err(|e| WorkerError::io("write", shown(), e))?;
        // Exactly `mode`, whatever the umask.
        file.set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(|e| WorkerError::io("set permissions of", shown(), e))?;
        dxforge_fs::start_writeback_of(file);
        Ok(())
    })
}

/// Copies object `hash` into the project at `rel` (holes kept), checking its hash on the
/// way; a mismatch leaves `rel` untouched.
fn write_file(locked: &Locked, hash: &ObjectId, rel: &str, mode: u32) -> Result<()> {
    let project = &locked.project;
    let src = locked.objects.open(hash)?;
    let tmp = project.temp_file(parent_of(rel))?;
    let mut hasher = blake3::Hasher::new();
    sparse::copy(&src, tmp.file(), &mut hasher).map_err(|e| match e {
        sparse::CopyError::Read(e) => WorkerError::io("read", locked.objects.path_of(hash), e),
        sparse::CopyError::Write(e) => WorkerError::io("write", project.join(tmp.rel()), e),
    })?;
    locked
        .objects
        .check(hash, ObjectId(*hasher.finalize().as_bytes()))?;
    tmp.file()
        .set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(|e| WorkerError::io("set permissions of", project.join(tmp.rel()), e))?;
    tmp.persist(rel, Durability::Atomic)?;
    Ok(())
}

/// Turns execute bits on (where read is allowed) or off.
fn exec_mode(mode: u32, executable: bool) -> u32 {
    if executable {
        mode | ((mode & 0o444) >> 2)
    } else {
        mode & !0o111
    }
}

/// Sets or clears the execute bits of the regular file `rel` (through an open
/// descriptor: never through a link).
fn set_executable(project: &Root, rel: &str, executable: bool) -> Result<()> {
    let file = project.open_file(rel)?;
    let meta = file
        .metadata()
        .map_err(|e| WorkerError::io("stat", project.join(rel), e))?;
    let mode = exec_mode(meta.permissions().mode() & 0o7777, executable);
    file.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(|e| WorkerError::io("set permissions of", project.join(rel), e))
}

/// Whether every non-directory below `dir` is about to be deleted.
fn only_deleted_files_below(project: &Root, dir: &str, deletes: &HashSet<&str>) -> bool {
    let Ok(entries) = project.read_dir(dir) else {
        return false;
    };
    for (name, kind) in entries {
        let Some(name) = name.to_str() else {
            return false;
        };
        let rel = format!("{dir}/{name}");
        let ok = match kind {
            Kind::Dir => only_deleted_files_below(project, &rel, deletes),
            _ => deletes.contains(rel.as_str()),
        };
        if !ok {
            return false;
        }
    }
    true
}

/// Removes the directory `rel` whose tree holds only (emptied) directories.
fn remove_empty_tree(project: &Root, rel: &str) -> Result<()> {
    for (name, kind) in project.read_dir(rel)? {
        let Some(name) = name.to_str() else { continue };
        if kind == Kind::Dir {
            remove_empty_tree(project, &format!("{rel}/{name}"))?;
        }
    }
    if !project.remove_dir(rel)? && project.metadata(rel)?.is_some() {
        return Err(WorkerError::RestoreConflict {
            path: rel.to_owned(),
            reason: "the directory is not empty although the snapshot has a file there",
        });
    }
    Ok(())
}

/// Removes directories left empty by deleting `rel`, up to (not including) the root.
fn prune_empty_parents(project: &Root, rel: &str) {
    let mut dir = parent_of(rel);
    while !dir.is_empty() {
        if !matches!(project.remove_dir(dir), Ok(true)) {
            break;
        }
        dir = parent_of(dir);
    }
}
