//! Content-addressed snapshots of the project tree (CacheCurrentState) and rollback.
//!
//! Layout under `.dxforge/snapshots/`: `objects/ab/cdef…` (file contents named by their
//! BLAKE3 hash, written atomically), `manifests/<id>.json` (one per snapshot), `index`
//! (the stat cache that makes snapshots incremental) and `lock`.
//!
//! Caveats: what is tracked is what `git add -A` would add (`.gitignore` honoured, `.git/`
//! and `.dxforge/` skipped); empty directories, ownership and permission bits other
//! than "executable" are not recorded; paths that are not UTF-8 are skipped and listed in
//! the summary.

mod index;
mod manifest;
mod objects;
mod rescan;
mod restore;
mod scan;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use manifest::{Manifest, ManifestEntry};
pub use objects::ObjectId;
pub use restore::RestoreReport;

pub(crate) use manifest::validate_id;
pub(crate) use objects::ObjectDir;

use crate::error::{Result, WorkerError};
use crate::fsutil::{self, StoreLock};
use index::{StatIndex, StatKey};

/// What a snapshot contains and what taking it cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotSummary {
    /// `YYYYMMDDTHHMMSSZ-xxxxxxxx`.
    pub id: String,
    /// RFC 3339 creation time (UTC).
    pub created: String,
    /// Why it was taken.
    pub reason: String,
    /// Regular files in it.
    pub files: u64,
    /// Symbolic links in it.
    pub symlinks: u64,
    /// Total bytes of its files.
    pub bytes: u64,
    /// Files read and hashed while taking it (0 when listed later).
    pub hashed: u64,
    /// Files whose hash came from the stat cache (0 when listed later).
    pub reused: u64,
    /// New objects written to the store (0 when listed later).
    pub new_objects: u64,
    /// Paths skipped because their names are not UTF-8.
    pub skipped: Vec<String>,
    /// Whether the tree was walked (false: no directory changed since the previous
    /// snapshot, so only the known paths were checked).
    pub full_walk: bool,
}

impl SnapshotSummary {
    fn of(manifest: &Manifest) -> SnapshotSummary {
        SnapshotSummary {
            id: manifest.id.clone(),
            created: manifest.created.clone(),
            reason: manifest.reason.clone(),
            files: manifest.file_count(),
            symlinks: manifest.entries.len() as u64 - manifest.file_count(),
            bytes: manifest.total_bytes(),
            hashed: 0,
            reused: 0,
            new_objects: 0,
            skipped: Vec::new(),
            full_walk: false,
        }
    }
}

/// What `gc` removed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct GcReport {
    /// Objects still referenced by some manifest.
    pub kept: u64,
    /// Unreferenced objects deleted.
    pub removed: u64,
    /// Bytes freed.
    pub bytes_freed: u64,
    /// Leftover temporary files deleted.
    pub temp_files_removed: u64,
}

/// The snapshot store of one project root.
#[derive(Debug, Clone)]
pub(crate) struct SnapshotStore {
    root: PathBuf,
    dir: PathBuf,
    objects: ObjectDir,
}

impl SnapshotStore {
    pub(crate) fn new(root: &Path) -> SnapshotStore {
        let dir = root.join(crate::walk::STATE_DIR).join("snapshots");
        SnapshotStore {
            root: root.to_path_buf(),
            objects: ObjectDir::new(dir.join("objects")),
            dir,
        }
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn objects(&self) -> &ObjectDir {
        &self.objects
    }

    pub(crate) fn manifest_dir(&self) -> PathBuf {
        self.dir.join("manifests")
    }

    pub(crate) fn manifest_path(&self, id: &str) -> PathBuf {
        self.manifest_dir().join(format!("{id}.json"))
    }

    pub(crate) fn lock(&self, exclusive: bool) -> Result<StoreLock> {
        StoreLock::acquire(&self.dir.join("lock"), exclusive)
    }

    /// Takes a snapshot (under the store lock).
    pub(crate) fn snapshot(&self, reason: &str) -> Result<SnapshotSummary> {
        let _lock = self.lock(true)?;
        Ok(self.snapshot_locked(reason)?.0)
    }

    /// Takes a snapshot; the caller holds the exclusive lock. Returns the manifest too.
    pub(crate) fn snapshot_locked(&self, reason: &str) -> Result<(SnapshotSummary, Manifest)> {
        if !self.root.is_dir() {
            return Err(WorkerError::io(
                "snapshot",
                &self.root,
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "project root is not a directory",
                ),
            ));
        }
        fsutil::create_dir_all(&self.dir)?;
        let index_path = self.dir.join("index");
        let index = StatIndex::load(&index_path);
        let racy_threshold_ns = StatIndex::stamp(&self.dir.join("index.stamp"))?;
        let (scan, full_walk) = match rescan::rescan(&self.root, &self.objects, &index)? {
            Some(scan) => (scan, false),
            None => (scan::scan(&self.root, &self.objects, &index)?, true),
        };
        drop(index);

        let mut next_index = StatIndex {
            racy_threshold_ns,
            dirs: scan.dirs,
            ignore_files: scan.ignore_files,
            skipped: scan.skipped.clone(),
            ..StatIndex::default()
        };
        next_index.entries.reserve(scan.items.len());
        let mut entries = Vec::with_capacity(scan.items.len());
        for item in scan.items {
            match &item.entry {
                ManifestEntry::File { path, hash, .. } => {
                    let stat = item.stat.unwrap_or(StatKey::UNTRUSTED);
                    next_index.entries.insert(path.clone(), (stat, *hash));
                }
                ManifestEntry::Symlink { path, target } => {
                    let stat = item.stat.unwrap_or(StatKey::UNTRUSTED);
                    next_index.links.push((path.clone(), stat, target.clone()));
                }
            }
            entries.push(item.entry);
        }
        // Objects are on disk before the manifest that names them. The index is written
        // alongside the manifest (independent work) but only moved into place after the
        // manifest is, so it never trusts content that no manifest records.
        let staged_index = index_path.with_extension("next");
        let (manifest, index_saved) = std::thread::scope(|scope| {
            let saver = scope.spawn(|| next_index.save(&staged_index));
            let manifest = self.store_manifest(Manifest::new(
                entries,
                reason.to_owned(),
                fsutil::now_unix_ms(),
            ));
            let saved = saver.join().unwrap_or_else(|_| {
                Err(WorkerError::Panicked {
                    what: "stat cache writer",
                    message: "thread panicked".to_owned(),
                })
            });
            (manifest, saved)
        });
        let manifest = manifest?;
        index_saved?;
        std::fs::rename(&staged_index, &index_path)
            .map_err(|e| WorkerError::io("rename", &index_path, e))?;

        let mut summary = SnapshotSummary::of(&manifest);
        summary.hashed = scan.hashed;
        summary.reused = scan.reused;
        summary.new_objects = scan.new_objects;
        summary.skipped = scan.skipped;
        summary.full_walk = full_walk;
        tracing::debug!(id = %summary.id, files = summary.files, hashed = summary.hashed, "snapshot taken");
        Ok((summary, manifest))
    }

    /// Writes a new manifest. The same tree snapshotted twice within one second has the
    /// same id: the existing snapshot is kept and returned. A different tree whose id
    /// collides (same second, same 8-digit hash prefix) moves to the next free second.
    fn store_manifest(&self, mut manifest: Manifest) -> Result<Manifest> {
        loop {
            match self.load(&manifest.id) {
                Ok(existing) if existing.tree_hash == manifest.tree_hash => return Ok(existing),
                Ok(_) => {
                    let next = manifest.created_unix_ms + 1000;
                    manifest.set_time(next);
                }
                Err(WorkerError::SnapshotNotFound { .. } | WorkerError::InvalidManifest { .. }) => {
                    manifest.write(&self.manifest_dir())?;
                    return Ok(manifest);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Loads and validates a local manifest.
    pub(crate) fn load(&self, id: &str) -> Result<Manifest> {
        validate_id(id)?;
        let path = self.manifest_path(id);
        let bytes = std::fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => WorkerError::SnapshotNotFound {
                id: id.to_owned(),
                path: path.clone(),
            },
            _ => WorkerError::io("read", &path, e),
        })?;
        Manifest::parse(&bytes, &path.display().to_string())
    }

    /// Ids of every local snapshot, unordered.
    pub(crate) fn ids(&self) -> Result<Vec<String>> {
        let dir = self.manifest_dir();
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(WorkerError::io("list", &dir, e)),
        };
        let mut ids = Vec::new();
        for entry in rd {
            let entry = entry.map_err(|e| WorkerError::io("list", &dir, e))?;
            let name = entry.file_name();
            if let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".json"))
                && validate_id(id).is_ok()
            {
                ids.push(id.to_owned());
            }
        }
        Ok(ids)
    }

    /// Every local snapshot, oldest first.
    pub(crate) fn list(&self) -> Result<Vec<SnapshotSummary>> {
        let mut manifests = Vec::new();
        for id in self.ids()? {
            manifests.push(self.load(&id)?);
        }
        manifests.sort_by(|a, b| (a.created_unix_ms, &a.id).cmp(&(b.created_unix_ms, &b.id)));
        Ok(manifests.iter().map(SnapshotSummary::of).collect())
    }

    /// Deletes objects no manifest refers to, and leftover temp files.
    pub(crate) fn gc(&self) -> Result<GcReport> {
        let _lock = self.lock(true)?;
        let mut referenced = std::collections::HashSet::new();
        for id in self.ids()? {
            let manifest = self.load(&id)?;
            referenced.extend(manifest.objects().map(|(hash, _)| hash));
        }
        let (present, temps) = self.objects.list()?;
        let mut report = GcReport::default();
        for id in present {
            if referenced.contains(&id) {
                report.kept += 1;
                continue;
            }
            let path = self.objects.path_of(&id);
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            std::fs::remove_file(&path).map_err(|e| WorkerError::io("remove", &path, e))?;
            report.removed += 1;
            report.bytes_freed += size;
        }
        for temp in temps {
            if std::fs::remove_file(&temp).is_ok() {
                report.temp_files_removed += 1;
            }
        }
        Ok(report)
    }
}
