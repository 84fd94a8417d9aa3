//! Rolling the tree back to a snapshot.
//!
//! Order matters for "nothing changed on error": every object of the target is verified,
//! the safety snapshot is taken and every obstacle is checked before the first file is
//! touched. Files are replaced atomically (temp + rename).
//! Ignored files are never deleted; if one stands where the snapshot needs a file or a
//! directory, restore fails before changing anything.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde::Serialize;

use super::SnapshotStore;
use super::manifest::{Manifest, ManifestEntry};
use crate::error::{Result, WorkerError};
use crate::fsutil;

/// What a restore changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

enum Action<'a> {
    Write(&'a ManifestEntry),
    Chmod { path: &'a str, executable: bool },
}

impl SnapshotStore {
    /// Makes the tree identical to snapshot `id` (see the module docs).
    pub(crate) fn restore(&self, id: &str) -> Result<RestoreReport> {
        let _lock = self.lock(true)?;
        let target = self.load(id)?;
        self.restore_manifest_locked(&target)
    }

    /// Restore with the lock held and the target manifest already loaded (pull uses it).
    pub(crate) fn restore_manifest_locked(&self, target: &Manifest) -> Result<RestoreReport> {
        for (hash, _) in target.objects() {
            self.objects().verify(&hash)?;
        }
        // The current tree, which the safety snapshot records anyway; its objects are in
        // the store once it is taken.
        let (safety, current) =
            self.snapshot_locked(&format!("safety before restore of {}", target.id))?;
        let current: HashMap<&str, &ManifestEntry> =
            current.entries.iter().map(|e| (e.path(), e)).collect();
        let wanted: HashSet<&str> = target.entries.iter().map(|e| e.path()).collect();
        let deletes: HashSet<&str> = current
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
        for action in &actions {
            if let Action::Write(entry) = action {
                self.check_obstacles(entry.path(), &deletes, current.contains_key(entry.path()))?;
            }
        }

        let root = self.root();
        let mut deleted = 0;
        let mut sorted_deletes: Vec<&str> = deletes.iter().copied().collect();
        sorted_deletes.sort_unstable();
        for rel in &sorted_deletes {
            let path = fsutil::join_rel(root, rel);
            match fs::remove_file(&path) {
                Ok(()) => deleted += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(WorkerError::io("remove", &path, e)),
            }
        }
        for rel in sorted_deletes.iter().rev() {
            prune_empty_parents(root, rel);
        }

        let (mut written, mut mode_changed) = (0, 0);
        for action in actions {
            match action {
                Action::Chmod { path, executable } => {
                    let full = fsutil::join_rel(root, path);
                    set_executable(&full, executable)?;
                    mode_changed += 1;
                }
                Action::Write(entry) => {
                    self.write_entry(entry)?;
                    written += 1;
                }
            }
        }
        Ok(RestoreReport {
            restored: target.id.clone(),
            safety_snapshot: safety.id,
            written,
            deleted,
            mode_changed,
            unchanged,
        })
    }

    /// Fails when writing `rel` would need to delete something that is not tracked (an
    /// ignored file, link or directory content) or write through a link.
    fn check_obstacles(&self, rel: &str, deletes: &HashSet<&str>, tracked: bool) -> Result<()> {
        let root = self.root();
        let mut end = 0;
        while let Some(pos) = rel[end..].find('/') {
            let dir = &rel[..end + pos];
            end += pos + 1;
            match fs::symlink_metadata(fsutil::join_rel(root, dir)) {
                Ok(meta) if meta.is_dir() => {}
                Ok(_) if deletes.contains(dir) => {}
                Ok(_) => {
                    return Err(WorkerError::RestoreConflict {
                        path: dir.to_owned(),
                        reason: "an untracked (ignored) file or link is where the snapshot has a directory",
                    });
                }
                Err(_) => break, // missing: created on write
            }
        }
        let full = fsutil::join_rel(root, rel);
        if let Ok(meta) = fs::symlink_metadata(&full)
            && meta.is_dir()
            && !tracked
            && !only_deleted_files_below(root, &full, deletes)
        {
            return Err(WorkerError::RestoreConflict {
                path: rel.to_owned(),
                reason: "a directory holding untracked (ignored) files is where the snapshot has a file",
            });
        }
        Ok(())
    }

    fn write_entry(&self, entry: &ManifestEntry) -> Result<()> {
        let root = self.root();
        let full = fsutil::join_rel(root, entry.path());
        if let Some(parent) = full.parent() {
            fsutil::create_dir_all(parent)?;
        }
        if let Ok(meta) = fs::symlink_metadata(&full)
            && meta.is_dir()
        {
            // Checked beforehand: only emptied directories remain below.
            fs::remove_dir_all(&full).map_err(|e| WorkerError::io("remove directory", &full, e))?;
        }
        match entry {
            ManifestEntry::File {
                hash, executable, ..
            } => {
                let bytes = self.objects().read_verified(hash)?;
                let mode = match fs::symlink_metadata(&full) {
                    Ok(meta) if meta.is_file() => {
                        exec_mode(meta.permissions().mode() & 0o7777, *executable)
                    }
                    _ if *executable => 0o755,
                    _ => 0o644,
                };
                fsutil::write_atomic(&full, &bytes, mode)
            }
            ManifestEntry::Symlink { target, .. } => {
                let dir = full.parent().unwrap_or(root);
                let tmp = dir.join(format!(".dxforge-tmp-link-{}", std::process::id()));
                let _ = fs::remove_file(&tmp);
                std::os::unix::fs::symlink(target, &tmp)
                    .map_err(|e| WorkerError::io("create link", &tmp, e))?;
                fs::rename(&tmp, &full).map_err(|e| WorkerError::io("rename link to", &full, e))
            }
        }
    }
}

/// Turns execute bits on (where read is allowed) or off.
fn exec_mode(mode: u32, executable: bool) -> u32 {
    if executable {
        mode | ((mode & 0o444) >> 2)
    } else {
        mode & !0o111
    }
}

fn set_executable(path: &Path, executable: bool) -> Result<()> {
    let meta = fs::metadata(path).map_err(|e| WorkerError::io("stat", path, e))?;
    let mode = exec_mode(meta.permissions().mode() & 0o7777, executable);
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| WorkerError::io("set permissions of", path, e))
}

/// Whether every non-directory below `dir` is about to be deleted.
fn only_deleted_files_below(root: &Path, dir: &Path, deletes: &HashSet<&str>) -> bool {
    let Ok(rd) = fs::read_dir(dir) else {
        return false;
    };
    for entry in rd.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => {
                if !only_deleted_files_below(root, &path, deletes) {
                    return false;
                }
            }
            Ok(_) => {
                let rel = crate::walk::relative_utf8(root, &path);
                if !rel.is_some_and(|r| deletes.contains(r.as_str())) {
                    return false;
                }
            }
            Err(_) => return false,
        }
    }
    true
}

/// Removes directories left empty by deleting `rel`, up to (not including) the root.
fn prune_empty_parents(root: &Path, rel: &str) {
    let mut path = fsutil::join_rel(root, rel);
    while path.pop() && path != root && path.starts_with(root) {
        if fs::remove_dir(&path).is_err() {
            break;
        }
    }
}
