//! Walks the project in parallel, hashing new or changed files into the object store.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use ignore::{DirEntry, ParallelVisitor, ParallelVisitorBuilder, WalkState};
use parking_lot::Mutex;

use super::index::{StatIndex, StatKey};
use super::manifest::ManifestEntry;
use super::objects::ObjectDir;
use crate::error::{Result, WorkerError};
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
    /// Paths skipped because their names are not UTF-8.
    pub(crate) skipped: Vec<String>,
    /// Directories walked, with their stat ("" is the root).
    pub(crate) dirs: Vec<(String, StatKey)>,
    /// Ignore files deciding the walk, with their stat (`None`: absent).
    pub(crate) ignore_files: Vec<(String, Option<StatKey>)>,
}

struct Shared<'a> {
    root: &'a Path,
    objects: &'a ObjectDir,
    index: &'a StatIndex,
    items: Mutex<Vec<ScanItem>>,
    skipped: Mutex<Vec<String>>,
    dirs: Mutex<Vec<(String, StatKey)>>,
    ignore_files: Mutex<Vec<(String, Option<StatKey>)>>,
    error: Mutex<Option<WorkerError>>,
    hashed: AtomicU64,
    reused: AtomicU64,
    new_objects: AtomicU64,
}

/// Scans `root`, storing new content in `objects` and reusing hashes from `index`.
pub(crate) fn scan(root: &Path, objects: &ObjectDir, index: &StatIndex) -> Result<Scan> {
    let shared = Shared {
        root,
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
    fn visit_entry(&mut self, entry: std::result::Result<DirEntry, ignore::Error>) -> Result<()> {
        let entry = match entry {
            Ok(e) => e,
            Err(err) => return walk_error(err),
        };
        let Some(file_type) = entry.file_type() else {
            return Ok(());
        };
        let shared = self.shared;
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
            shared
                .skipped
                .lock()
                .push(entry.path().to_string_lossy().into_owned());
            return Ok(());
        };
        if file_type.is_symlink() {
            let meta = match std::fs::symlink_metadata(entry.path()) {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(WorkerError::io("stat", entry.path(), e)),
            };
            let target = match std::fs::read_link(entry.path()) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(WorkerError::io("read link", entry.path(), e)),
            };
            let Some(target) = target.to_str() else {
                shared.skipped.lock().push(rel);
                return Ok(());
            };
            self.local.push(ScanItem {
                entry: ManifestEntry::Symlink {
                    path: rel,
                    target: target.to_owned(),
                },
                stat: Some(StatKey::of(&meta)),
            });
            return Ok(());
        }
        if !file_type.is_file() {
            return Ok(()); // sockets, fifos, devices: not content
        }
        let meta = match std::fs::symlink_metadata(entry.path()) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(WorkerError::io("stat", entry.path(), e)),
        };
        let stat = StatKey::of(&meta);
        let (hash, size) = match shared.index.lookup(&rel, &stat) {
            Some(hash) => {
                shared.reused.fetch_add(1, Ordering::Relaxed);
                (hash, stat.size)
            }
            None => {
                let (hash, size, new) = match shared.objects.put_file(entry.path(), stat.size) {
                    Ok(r) => r,
                    Err(WorkerError::Io { source, .. })
                        if source.kind() == std::io::ErrorKind::NotFound =>
                    {
                        return Ok(()); // deleted while we walked
                    }
                    Err(e) => return Err(e),
                };
                shared.hashed.fetch_add(1, Ordering::Relaxed);
                if new {
                    shared.new_objects.fetch_add(1, Ordering::Relaxed);
                }
                (hash, size)
            }
        };
        self.local.push(ScanItem {
            entry: ManifestEntry::File {
                path: rel,
                hash,
                size,
                executable: stat.mode & 0o111 != 0,
            },
            // The stat of a file that changed while we read it must not be cached with
            // the new hash; a size mismatch shows that, the racy rule covers the rest.
            stat: (size == stat.size).then_some(stat),
        });
        Ok(())
    }
}

/// Walk errors: vanished paths are ignored, anything else is reported.
fn walk_error(err: ignore::Error) -> Result<()> {
    if let Some(io) = err.io_error()
        && io.kind() == std::io::ErrorKind::NotFound
    {
        return Ok(());
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
