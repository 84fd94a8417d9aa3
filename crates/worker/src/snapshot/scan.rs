//! Walks the project in parallel, hashing new or changed files into the object store.
//!
//! The walk lists directories by path (the `ignore` crate, links never followed); every
//! file's content is read through the project [`Root`], so a directory swapped for a link
//! while the walk runs is refused by the kernel, never read through. Stat data used for
//! the cache comes from `lstat` by path: it is only compared with the cache, never trusted
//! for content.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use dxforge_fs::Root;
use ignore::{DirEntry, ParallelVisitor, ParallelVisitorBuilder, WalkState};
use parking_lot::Mutex;

use super::index::{StatIndex, StatKey};
use super::manifest::ManifestEntry;
use super::objects::{ObjectId, Objects};
use super::skipped::{SkipReason, SkippedEntry};
use crate::error::{Result, WorkerError};
use crate::limits::MAX_PATH_BYTES;
use crate::walk;

/// One tracked path and, for files, the stat data it was hashed with.
pub(crate) struct ScanItem {
    pub(crate) entry: ManifestEntry,
    pub(crate) stat: Option<StatKey>,
}

/// The outcome of a scan; `items` sorted by path.
pub(crate) struct Scan {
    pub(crate) items: Vec<ScanItem>,
    /// Files read and hashed.
    pub(crate) hashed: u64,
    /// Files whose hash came from the stat cache.
    pub(crate) reused: u64,
    /// Objects written to the store.
    pub(crate) new_objects: u64,
    /// Paths left out, sorted.
    pub(crate) skipped: Vec<SkippedEntry>,
    /// Directories walked, with their stat ("" is the root).
    pub(crate) dirs: Vec<(String, StatKey)>,
    /// Ignore files deciding the walk, with their stat (`None`: absent).
    pub(crate) ignore_files: Vec<(String, Option<StatKey>)>,
}

/// What reading one file gave.
pub(crate) enum Hashed {
    /// Stored: hash, size, whether the object was new, and the stat of the file as opened.
    Stored {
        hash: ObjectId,
        size: u64,
        new: bool,
        stat: StatKey,
    },
    /// Deleted while we looked.
    Vanished,
    /// Could not be read: listed, not fatal.
    Skipped(SkippedEntry),
}

/// Opens `rel` through the project root (no link followed, nothing but a regular file
/// opened) and stores its content. Only errors of the store are errors.
pub(crate) fn hash_file(project: &Root, objects: &Objects, rel: &str) -> Result<Hashed> {
    // One `openat2` and one `fstat`: the stat is of the file actually read.
    let (file, stat) = match project.open_file_meta(rel) {
        Ok((f, meta)) => (f, StatKey::from_meta(&meta)),
        Err(e) if e.is_not_found() => return Ok(Hashed::Vanished),
        Err(e) => return Ok(Hashed::Skipped(SkippedEntry::unreadable(rel.to_owned(), e))),
    };
    Ok(match objects.put_file(&file, stat.size)? {
        Ok((hash, size, new)) => Hashed::Stored {
            hash,
            size,
            new,
            stat,
        },
        Err(e) => Hashed::Skipped(SkippedEntry::unreadable(
            rel.to_owned(),
            WorkerError::io("read", project.join(rel), e),
        )),
    })
}

struct Shared<'a> {
    root: &'a Path,
    project: &'a Root,
    objects: &'a Objects,
    index: &'a StatIndex,
    items: Mutex<Vec<ScanItem>>,
    skipped: Mutex<Vec<SkippedEntry>>,
    dirs: Mutex<Vec<(String, StatKey)>>,
    ignore_files: Mutex<Vec<(String, Option<StatKey>)>>,
    error: Mutex<Option<WorkerError>>,
    hashed: AtomicU64,
    reused: AtomicU64,
    new_objects: AtomicU64,
}

/// Scans the project, storing new content in `objects` and reusing hashes from `index`.
pub(crate) fn scan(project: &Root, objects: &Objects, index: &StatIndex) -> Result<Scan> {
    let root = project.path();
    let shared = Shared {
        root,
        project,
        objects,
        index,
        items: Mutex::new(Vec::new()),
        skipped: Mutex::new(Vec::new()),
        dirs: Mutex::new(Vec::new()),
        ignore_files: Mutex::new(vec![(
            ".git/info/exclude".to_owned(),
            lstat_key(&root.join(".git/info/exclude")),
        )]),
        error: Mutex::new(None),
        hashed: AtomicU64::new(0),
        reused: AtomicU64::new(0),
        new_objects: AtomicU64::new(0),
    };
    walk::project_walker(root).visit(&mut Builder { shared: &shared });
    if let Some(err) = shared.error.into_inner() {
        return Err(err);
    }
    let mut items = shared.items.into_inner();
    items.sort_unstable_by(|a, b| a.entry.path().cmp(b.entry.path()));
    let mut skipped = shared.skipped.into_inner();
    skipped.sort();
    Ok(Scan {
        items,
        hashed: shared.hashed.into_inner(),
        reused: shared.reused.into_inner(),
        new_objects: shared.new_objects.into_inner(),
        skipped,
        dirs: shared.dirs.into_inner(),
        ignore_files: shared.ignore_files.into_inner(),
    })
}

/// The stat of `path` (not following links), `None` when it does not exist.
fn lstat_key(path: &Path) -> Option<StatKey> {
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| StatKey::of(&m))
}

struct Builder<'s, 'a> {
    shared: &'s Shared<'a>,
}

impl<'s, 'a: 's> ParallelVisitorBuilder<'s> for Builder<'s, 'a> {
    fn build(&mut self) -> Box<dyn ParallelVisitor + 's> {
        Box::new(Visitor {
            shared: self.shared,
            local: Vec::new(),
        })
    }
}

/// Collects into a thread-local vector, merged once when the thread finishes.
struct Visitor<'s, 'a> {
    shared: &'s Shared<'a>,
    local: Vec<ScanItem>,
}

impl Drop for Visitor<'_, '_> {
    fn drop(&mut self) {
        self.shared.items.lock().append(&mut self.local);
    }
}

impl ParallelVisitor for Visitor<'_, '_> {
    fn visit(&mut self, entry: std::result::Result<DirEntry, ignore::Error>) -> WalkState {
        match self.visit_entry(entry) {
            Ok(()) => WalkState::Continue,
            Err(err) => {
                self.shared.error.lock().get_or_insert(err);
                WalkState::Quit
            }
        }
    }
}

impl Visitor<'_, '_> {
    fn skip(&self, entry: SkippedEntry) {
        self.shared.skipped.lock().push(entry);
    }

    fn visit_entry(&mut self, entry: std::result::Result<DirEntry, ignore::Error>) -> Result<()> {
        let shared = self.shared;
        let entry = match entry {
            Ok(e) => e,
            Err(err) => return walk_error(shared.root, err, |s| self.skip(s)),
        };
        let Some(file_type) = entry.file_type() else {
            return Ok(());
        };
        if file_type.is_dir() {
            // Recorded so the next scan can tell whether anything was added or removed here.
            let rel = if entry.depth() == 0 {
                Some(String::new())
            } else {
                walk::relative_utf8(shared.root, entry.path())
            };
            if let (Some(rel), Ok(meta)) = (rel, std::fs::symlink_metadata(entry.path())) {
                let gitignore = if rel.is_empty() {
                    ".gitignore".to_owned()
                } else {
                    format!("{rel}/.gitignore")
                };
                let key = lstat_key(&entry.path().join(".gitignore"));
                shared.ignore_files.lock().push((gitignore, key));
                shared.dirs.lock().push((rel, StatKey::of(&meta)));
            }
            return Ok(());
        }
        let Some(rel) = walk::relative_utf8(shared.root, entry.path()) else {
            let shown = walk::relative_lossy(shared.root, entry.path());
            self.skip(SkippedEntry::new(shown, SkipReason::NonUtf8Name));
            return Ok(());
        };
        if rel.len() > MAX_PATH_BYTES {
            self.skip(SkippedEntry::new(rel, SkipReason::PathTooLong));
            return Ok(());
        }
        if file_type.is_symlink() {
            return self.visit_link(entry.path(), rel);
        }
        if !file_type.is_file() {
            // FIFOs, sockets, devices: no content to keep (and opening a FIFO would block).
            self.skip(SkippedEntry::new(rel, SkipReason::of_file_type(&file_type)));
            return Ok(());
        }
        // A path the cache does not know is hashed without a separate `lstat`: the stat
        // recorded for it is the `fstat` of the file as opened.
        let cached = if shared.index.entries.contains_key(&rel) {
            match std::fs::symlink_metadata(entry.path()) {
                Ok(m) => Some(StatKey::of(&m)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(e) => {
                    self.skip(SkippedEntry::unreadable(rel, e));
                    return Ok(());
                }
            }
        } else {
            None
        };
        if let Some(stat) = cached
            && let Some(hash) = shared.index.lookup(&rel, &stat)
        {
            shared.reused.fetch_add(1, Ordering::Relaxed);
            self.local.push(ScanItem {
                entry: ManifestEntry::File {
                    path: rel,
                    hash,
                    size: stat.size,
                    executable: stat.mode & 0o111 != 0,
                },
                stat: Some(stat),
            });
            return Ok(());
        }
        match hash_file(shared.project, shared.objects, &rel)? {
            Hashed::Vanished => {}
            Hashed::Skipped(s) => self.skip(s),
            Hashed::Stored {
                hash,
                size,
                new,
                stat,
            } => {
                shared.hashed.fetch_add(1, Ordering::Relaxed);
                if new {
                    shared.new_objects.fetch_add(1, Ordering::Relaxed);
                }
                self.local.push(ScanItem {
                    entry: ManifestEntry::File {
                        path: rel,
                        hash,
                        size,
                        executable: stat.mode & 0o111 != 0,
                    },
                    // The stat of a file that changed while we read it must not be cached
                    // with the new hash; a size mismatch shows that, the racy rule covers
                    // the rest.
                    stat: (size == stat.size).then_some(stat),
                });
            }
        }
        Ok(())
    }

    fn visit_link(&mut self, path: &Path, rel: String) -> Result<()> {
        let meta = match std::fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => {
                self.skip(SkippedEntry::unreadable(rel, e));
                return Ok(());
            }
        };
        // The link's own target, read beneath the root (never through a parent link).
        let target = match self.shared.project.read_link(&rel) {
            Ok(t) => t,
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => {
                self.skip(SkippedEntry::unreadable(rel, e));
                return Ok(());
            }
        };
        match target.to_str() {
            Some(t) if !t.is_empty() && t.len() <= MAX_PATH_BYTES => {
                self.local.push(ScanItem {
                    entry: ManifestEntry::Symlink {
                        path: rel,
                        target: t.to_owned(),
                    },
                    stat: Some(StatKey::of(&meta)),
                });
            }
            Some(_) => self.skip(SkippedEntry::new(rel, SkipReason::PathTooLong)),
            None => self.skip(SkippedEntry::new(rel, SkipReason::NonUtf8Name)),
        }
        Ok(())
    }
}

/// Walk errors: vanished paths are ignored, unreadable ones (a directory without read
/// permission, say) are skipped and listed; anything else is reported.
fn walk_error(root: &Path, err: ignore::Error, skip: impl Fn(SkippedEntry)) -> Result<()> {
    if let Some(io) = err.io_error() {
        if io.kind() == std::io::ErrorKind::NotFound {
            return Ok(());
        }
        if let Some(path) = error_path(&err) {
            let rel = walk::relative_lossy(root, &path);
            skip(SkippedEntry::unreadable(rel, io));
            return Ok(());
        }
    }
    let path = error_path(&err).unwrap_or_default();
    Err(WorkerError::io(
        "walk",
        path,
        std::io::Error::other(err.to_string()),
    ))
}

fn error_path(err: &ignore::Error) -> Option<std::path::PathBuf> {
    match err {
        ignore::Error::WithPath { path, .. } => Some(path.clone()),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        ignore::Error::Partial(errs) => errs.iter().find_map(error_path),
        _ => None,
    }
}
