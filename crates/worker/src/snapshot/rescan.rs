//! The incremental fast path: when no directory the previous walk entered and no ignore
//! file has changed, the set of tracked paths cannot have changed either (adding, removing
//! or renaming an entry changes its directory's mtime), so the known paths are stat'ed in
//! parallel instead of walking the tree.
//!
//! Caveat: `.gitignore` files above the project root and the global excludes file are not
//! watched; a change to them is seen at the next full walk (whenever any directory of the
//! project changes). A previous scan that could not read something walks again (a
//! permission change does not touch the directory).

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use dxforge_fs::{Kind, Policy, Root};
use parking_lot::Mutex;

use super::index::{StatIndex, StatKey};
use super::manifest::ManifestEntry;
use super::objects::{ObjectId, Objects};
use super::scan::{Hashed, Scan, ScanItem, hash_file};
use super::skipped::{SkipReason, SkippedEntry};
use crate::error::{Result, WorkerError};

/// The scan, or `None` when something changed and a full walk is needed.
pub(crate) fn rescan(project: &Root, objects: &Objects, index: &StatIndex) -> Result<Option<Scan>> {
    let root = project.path();
    if index.dirs.is_empty()
        || index
            .skipped
            .iter()
            .any(|s| s.reason == SkipReason::Unreadable)
    {
        return Ok(None);
    }
    for (rel, recorded) in &index.dirs {
        let now = lstat(&dir_path(root, rel));
        if !now.is_some_and(|(key, is_dir)| is_dir && index.trusts(recorded, &key)) {
            return Ok(None);
        }
    }
    for (rel, recorded) in &index.ignore_files {
        let now = lstat(&root.join(rel)).map(|(key, _)| key);
        let unchanged = match (recorded, now) {
            (None, None) => true,
            (Some(r), Some(n)) => index.trusts(r, &n),
            _ => false,
        };
        if !unchanged {
            return Ok(None);
        }
    }

    // Sorted, so that each thread's share is whole directories in a row: each directory
    // is opened once (beneath the root, no link followed) and its files are stat'ed by
    // name through that handle, with no path walk per file.
    let mut files: Vec<(&String, &(StatKey, ObjectId))> = index.entries.iter().collect();
    files.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 8);
    let chunk = files.len().div_ceil(threads).max(1);
    let hashed = AtomicU64::new(0);
    let reused = AtomicU64::new(0);
    let new_objects = AtomicU64::new(0);
    let walk_needed = AtomicBool::new(false);
    let items = Mutex::new(Vec::with_capacity(files.len() + index.links.len()));
    let skipped: Mutex<Vec<SkippedEntry>> = Mutex::new(index.skipped.clone());
    let error: Mutex<Option<WorkerError>> = Mutex::new(None);

    let (hashed_ref, reused_ref, new_ref) = (&hashed, &reused, &new_objects);
    let (walk_ref, items_ref, error_ref) = (&walk_needed, &items, &error);
    let skipped_ref = &skipped;
    std::thread::scope(|scope| {
        for part in files.chunks(chunk) {
            let (hashed, reused, new_objects) = (hashed_ref, reused_ref, new_ref);
            let (walk_needed, items, error) = (walk_ref, items_ref, error_ref);
            let skipped = skipped_ref;
            scope.spawn(move || {
                let mut local = Vec::with_capacity(part.len());
                let mut dir: Option<(&str, Root)> = None;
                for (rel, _) in part {
                    if walk_needed.load(Ordering::Relaxed) || error.lock().is_some() {
                        return;
                    }
                    let (parent, name) = rel.rsplit_once('/').unwrap_or(("", rel.as_str()));
                    if dir.as_ref().is_none_or(|(d, _)| *d != parent) {
                        match project.subroot(parent, Policy::Project, false) {
                            Ok(handle) => dir = Some((parent, handle)),
                            // Its directory is gone or is now a link: walk to see.
                            Err(_) => {
                                walk_needed.store(true, Ordering::Relaxed);
                                return;
                            }
                        }
                    }
                    let Some((_, handle)) = &dir else { return };
                    let stat = match handle.metadata_here(name) {
                        Ok(Some(m)) if m.kind == Kind::File => StatKey::from_meta(&m),
                        // Gone or changed kind although its directory did not change: a
                        // rename within the same tick. Walk to be sure.
                        _ => {
                            walk_needed.store(true, Ordering::Relaxed);
                            return;
                        }
                    };
                    let (hash, size, cache_stat) = match index.lookup(rel, &stat) {
                        Some(hash) => {
                            reused.fetch_add(1, Ordering::Relaxed);
                            (hash, stat.size, Some(stat))
                        }
                        None => match hash_file(project, objects, rel) {
                            Ok(Hashed::Stored {
                                hash,
                                size,
                                new,
                                stat,
                            }) => {
                                hashed.fetch_add(1, Ordering::Relaxed);
                                if new {
                                    new_objects.fetch_add(1, Ordering::Relaxed);
                                }
                                (hash, size, (size == stat.size).then_some(stat))
                            }
                            Ok(Hashed::Vanished) => {
                                walk_needed.store(true, Ordering::Relaxed);
                                return;
                            }
                            Ok(Hashed::Skipped(s)) => {
                                skipped.lock().push(s);
                                continue;
                            }
                            Err(e) => {
                                error.lock().get_or_insert(e);
                                return;
                            }
                        },
                    };
                    local.push(ScanItem {
                        entry: ManifestEntry::File {
                            path: (*rel).clone(),
                            hash,
                            size,
                            executable: stat.mode & 0o111 != 0,
                        },
                        stat: cache_stat,
                    });
                }
                items.lock().append(&mut local);
            });
        }
    });
    if let Some(err) = error.into_inner() {
        return Err(err);
    }
    if walk_needed.into_inner() {
        return Ok(None);
    }
    let mut items = items.into_inner();
    for (rel, recorded, target) in &index.links {
        let path = root.join(rel.as_str());
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            return Ok(None);
        };
        if !meta.file_type().is_symlink() {
            return Ok(None);
        }
        let stat = StatKey::of(&meta);
        let target = if index.trusts(recorded, &stat) {
            target.clone()
        } else {
            // Read beneath the root: a parent swapped for a link is refused, not followed.
            let t = match project.read_link(rel.as_str()) {
                Ok(t) => t,
                Err(_) => return Ok(None),
            };
            match t.to_str() {
                Some(t) if !t.is_empty() && t.len() <= crate::limits::MAX_PATH_BYTES => {
                    t.to_owned()
                }
                _ => return Ok(None),
            }
        };
        items.push(ScanItem {
            entry: ManifestEntry::Symlink {
                path: rel.clone(),
                target,
            },
            stat: Some(stat),
        });
    }
    items.sort_unstable_by(|a, b| a.entry.path().cmp(b.entry.path()));
    let mut skipped = skipped.into_inner();
    skipped.sort();
    Ok(Some(Scan {
        items,
        hashed: hashed.into_inner(),
        reused: reused.into_inner(),
        new_objects: new_objects.into_inner(),
        skipped,
        dirs: index.dirs.clone(),
        ignore_files: index.ignore_files.clone(),
    }))
}

fn dir_path(root: &Path, rel: &str) -> std::path::PathBuf {
    if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    }
}

fn lstat(path: &Path) -> Option<(StatKey, bool)> {
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| (StatKey::of(&m), m.is_dir()))
}
