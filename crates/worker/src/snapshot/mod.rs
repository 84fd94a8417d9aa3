//! Content-addressed snapshots of the project tree (CacheCurrentState) and rollback.
//!
//! Layout under `.dxforge/snapshots/`: `objects/ab/cdef…` (file contents named by their
//! BLAKE3 hash, stored sparse), `manifests/<id>.json` (one per snapshot) and `index` (the
//! stat cache that makes snapshots incremental). The project is read through a
//! [`Root`] with the project policy and the store through a plain subroot of the state
//! root: no symbolic link is ever followed, and `.git`/`.dxforge` are out of reach.
//!
//! Snapshot, restore, pull and gc hold the project lock (`.dxforge/lock`, shared with the
//! package commands) exclusively, once per operation.
//!
//! Durability: objects are written without fsync; one `syncfs` of the store runs before
//! the manifest naming them is written durably (fsync of the file and its directory),
//! whenever this snapshot or an interrupted one before it wrote objects. The stat cache is
//! written without fsync: losing it costs a full re-hash, a torn one is refused by its
//! parser and ignored. Every locked operation keeps a `busy` marker in the store while it
//! runs; finding it at the start means the previous one was interrupted, and its temp
//! files are swept (and its objects synced) before anything else. gc always sweeps.
//!
//! Caveats: what is tracked is what `git add -A` would add (`.gitignore` honoured, `.git/`
//! and `.dxforge/` skipped at any depth); empty directories, ownership and permission
//! bits other than "executable" are not recorded. Paths that cannot be kept (unreadable
//! files and directories, FIFOs, sockets, devices, names that are not UTF-8, over-long
//! paths) are skipped and listed in the summary; they never fail the snapshot.

mod gc;
mod index;
mod journal;
mod manifest;
mod objects;
mod par;
mod rescan;
mod restore;
mod scan;
mod skipped;
mod sparse;

use std::path::{Path, PathBuf};
use std::time::Duration;

use dxforge_fs::{Durability, LockMode, Policy, ProjectLock, Root, WriteOptions};
use serde::Serialize;

pub use gc::{PruneReport, PruneRule};
pub use manifest::{Manifest, ManifestEntry};
pub use objects::ObjectId;
pub use restore::RestoreReport;
pub use skipped::{SkipReason, SkippedEntry};

pub(crate) use index::StatIndex;
pub(crate) use journal::RestoreJournal;
pub(crate) use manifest::validate_id;
pub(crate) use objects::Objects;
pub(crate) use sparse::SparseWriter;

use crate::error::{Result, WorkerError};
use crate::limits::MAX_SNAPSHOT_ENTRIES;
use index::StatKey;

/// What a snapshot contains and what taking it cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
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
    /// Paths skipped because their names are not UTF-8 (shown lossily). Kept for
    /// compatibility: `skipped_entries` lists these too, with everything else left out.
    pub skipped: Vec<String>,
    /// Every path left out of the snapshot and why (unreadable, FIFO, socket, device,
    /// name not UTF-8, path too long), sorted by path (empty when listed later).
    pub skipped_entries: Vec<SkippedEntry>,
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
            symlinks: (manifest.entries.len() as u64).saturating_sub(manifest.file_count()),
            bytes: manifest.total_bytes(),
            hashed: 0,
            reused: 0,
            new_objects: 0,
            skipped: Vec::new(),
            skipped_entries: Vec::new(),
            full_walk: false,
        }
    }
}

/// What `gc` removed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, schemars::JsonSchema)]
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

/// Present in the store while an operation holds the lock: found at the start of the
/// next one, it says the last one was interrupted (killed, or the machine went down) and
/// may have left temp files and objects that were never synced.
const BUSY_MARKER: &str = "busy";

/// The handles one locked operation works through. Dropping it removes the busy marker,
/// then releases the lock.
pub(crate) struct Locked {
    /// The project, under the project policy.
    pub(crate) project: Root,
    /// `.dxforge/snapshots`, a plain subroot.
    pub(crate) store: Root,
    /// The object directory of `store`.
    pub(crate) objects: Objects,
    /// The previous operation was interrupted: sweep temp files and sync before relying
    /// on the store (cleared once done).
    interrupted: std::sync::atomic::AtomicBool,
    /// The restore a killed process left unfinished, finished when the lock was taken.
    pub(crate) finished_restore: Option<RestoreReport>,
    _lock: ProjectLock,
}

/// What taking the lock does with a restore a killed process left unfinished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pending {
    /// Finish it; failing to is this operation's error (the journal stays).
    Finish,
    /// Finish it, or drop its journal when that fails (a new restore replaces it).
    FinishOrAbandon,
}

impl Drop for Locked {
    fn drop(&mut self) {
        // Best effort: a marker left behind only costs the next operation a sweep.
        let _ = self.store.remove_file(BUSY_MARKER);
    }
}

/// Whether a process was killed while writing the busy marker itself: its
/// temp file (`.busy.<random>.tmp`) is there, the marker is not. One listing
/// of the store's top directory, a handful of entries.
fn marker_write_interrupted(store: &Root) -> Result<bool> {
    let prefix = format!(".{BUSY_MARKER}.");
    Ok(store.read_dir("")?.iter().any(|(name, _)| {
        name.to_str()
            .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".tmp"))
    }))
}

impl Locked {
    /// Removes temp files an interrupted operation left in the store (once); returns
    /// whether it did, i.e. whether objects of that operation may not be durable yet.
    fn recover(&self) -> Result<bool> {
        use std::sync::atomic::Ordering;
        if !self.interrupted.swap(false, Ordering::Relaxed) {
            return Ok(false);
        }
        let swept = self.store.sweep_temps("")?;
        if swept > 0 {
            tracing::info!(swept, store = %self.store.path().display(), "removed leftover temp files");
        }
        Ok(true)
    }
}

/// Finishes a `restore` that a killed process left unfinished in the project at `root`,
/// if there is one, waiting up to `lock_wait` for the project lock; returns what it did.
///
/// Every snapshot operation does this on its own when it takes the lock. Other commands
/// that read or write the tree (the package commands) call it first, so that they never
/// see a half-restored tree. Cheap when there is nothing to finish: one `stat`, no lock.
pub fn finish_interrupted_restore(
    root: &Path,
    lock_wait: Duration,
) -> Result<Option<RestoreReport>> {
    SnapshotStore::new(root, lock_wait).finish_interrupted_restore()
}

/// The snapshot store of one project root.
#[derive(Debug, Clone)]
pub(crate) struct SnapshotStore {
    root: PathBuf,
    lock_wait: Duration,
}

/// The snapshot store's directory in the state root.
const STORE_DIR: &str = "snapshots";

impl SnapshotStore {
    pub(crate) fn new(root: &Path, lock_wait: Duration) -> SnapshotStore {
        SnapshotStore {
            root: root.to_path_buf(),
            lock_wait,
        }
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The project root and its state root (`.dxforge`); `None` when the state root does
    /// not exist.
    pub(crate) fn open_state(&self) -> Result<Option<(Root, Root)>> {
        let project = Root::open(&self.root, Policy::Project)?;
        match project.subroot(crate::walk::STATE_DIR, Policy::Plain, false) {
            Ok(state) => Ok(Some((project, state))),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Takes the project lock exclusively for `command` (waiting up to the configured
    /// lock wait, then [`WorkerError::Busy`] naming the holder) and opens the store. A
    /// restore a killed process left unfinished is finished before anything else.
    pub(crate) fn lock(&self, command: &str) -> Result<Locked> {
        self.lock_with(command, Pending::Finish)
    }

    /// [`lock`](Self::lock), choosing what happens to an unfinished restore.
    pub(crate) fn lock_with(&self, command: &str, pending: Pending) -> Result<Locked> {
        let project = Root::open(&self.root, Policy::Project)?;
        let state = project.subroot(crate::walk::STATE_DIR, Policy::Plain, true)?;
        let lock = ProjectLock::acquire(&state, command, LockMode::Exclusive, self.lock_wait)?;
        let store = state.subroot(STORE_DIR, Policy::Plain, true)?;
        // Sweeping every shard of a large store costs more than the rest of an incremental
        // snapshot, so only an interrupted operation (its marker still there) triggers it.
        let interrupted =
            store.metadata(BUSY_MARKER)?.is_some() || marker_write_interrupted(&store)?;
        let options = WriteOptions {
            mode: Some(0o644),
            durability: Durability::Atomic,
        };
        store.write_atomic(BUSY_MARKER, command.as_bytes(), options)?;
        let mut locked = Locked {
            project,
            objects: Objects::new(store.clone()),
            store,
            interrupted: std::sync::atomic::AtomicBool::new(interrupted),
            finished_restore: None,
            _lock: lock,
        };
        let journal = match (RestoreJournal::load(&locked.store), pending) {
            (Ok(journal), _) => journal,
            (Err(e), Pending::FinishOrAbandon) => {
                tracing::warn!(error = %e, "abandoning an unreadable restore journal");
                RestoreJournal::remove(&locked.store)?;
                None
            }
            (Err(e), Pending::Finish) => return Err(e),
        };
        if let Some(journal) = journal {
            locked.recover()?;
            match (self.finish_interrupted(&locked, &journal), pending) {
                (Ok(report), _) => locked.finished_restore = Some(report),
                (Err(e), Pending::FinishOrAbandon) => {
                    tracing::warn!(error = %e, target = %journal.target, "abandoning an interrupted restore");
                    RestoreJournal::remove(&locked.store)?;
                }
                (Err(e), Pending::Finish) => {
                    return Err(WorkerError::RestoreUnfinished {
                        target: journal.target,
                        safety: journal.safety,
                        source: Box::new(e),
                    });
                }
            }
        }
        Ok(locked)
    }

    /// Finishes a restore a killed process left unfinished, if there is one (cheap when
    /// there is none: one `stat`, no lock).
    pub(crate) fn finish_interrupted_restore(&self) -> Result<Option<RestoreReport>> {
        let Some(store) = self.open_store()? else {
            return Ok(None);
        };
        if store.metadata(journal::JOURNAL_FILE)?.is_none() {
            return Ok(None);
        }
        drop(store);
        let mut locked = self.lock("finish restore")?;
        Ok(locked.finished_restore.take())
    }

    /// The store for reading without the lock (listing, push); `None` when there is none.
    /// Manifests and objects are immutable once renamed into place, and nothing deletes
    /// an object a manifest names, so readers need no lock.
    pub(crate) fn open_store(&self) -> Result<Option<Root>> {
        let Some((_, state)) = self.open_state()? else {
            return Ok(None);
        };
        match state.subroot(STORE_DIR, Policy::Plain, false) {
            Ok(store) => Ok(Some(store)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Takes a snapshot under the project lock.
    pub(crate) fn snapshot(&self, reason: &str) -> Result<SnapshotSummary> {
        let locked = self.lock("snapshot")?;
        Ok(self.snapshot_locked(&locked, reason)?.0)
    }

    /// Takes a snapshot; the caller holds the lock. Returns the manifest too.
    pub(crate) fn snapshot_locked(
        &self,
        locked: &Locked,
        reason: &str,
    ) -> Result<(SnapshotSummary, Manifest)> {
        let store = &locked.store;
        let recovered = locked.recover()?;
        let index = StatIndex::load(store);
        let mut racy_threshold_ns = StatIndex::stamp(store)?;
        // Creating `.dxforge` (the first snapshot) changes the project root in the same
        // file-system tick as the stamp: the root would count as racy and the next
        // snapshot walk the whole tree. Stamp again once the clock has moved past it
        // (a few milliseconds, and only when the root changed just now).
        for _ in 0..25 {
            match locked.project.metadata("")? {
                Some(root) if root.mtime_ns >= racy_threshold_ns => {
                    std::thread::sleep(Duration::from_millis(2));
                    racy_threshold_ns = StatIndex::stamp(store)?;
                }
                _ => break,
            }
        }
        let (scan, full_walk) = match rescan::rescan(&locked.project, &locked.objects, &index)? {
            Some(scan) => (scan, false),
            None => (scan::scan(&locked.project, &locked.objects, &index)?, true),
        };
        drop(index);
        if scan.items.len() > MAX_SNAPSHOT_ENTRIES {
            return Err(WorkerError::TooManyEntries {
                path: self.root.clone(),
                limit: MAX_SNAPSHOT_ENTRIES as u64,
            });
        }
        let mut skipped = scan.skipped;
        skipped.truncate(MAX_SNAPSHOT_ENTRIES);

        let mut next_index = StatIndex {
            racy_threshold_ns,
            dirs: scan.dirs,
            ignore_files: scan.ignore_files,
            skipped: skipped.clone(),
            ..StatIndex::default()
        };
        next_index.dirs.truncate(MAX_SNAPSHOT_ENTRIES);
        next_index.ignore_files.truncate(MAX_SNAPSHOT_ENTRIES);
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
        // The index is encoded into a temp file alongside the manifest work, and only
        // renamed into place after the manifest is, so it never trusts content that no
        // manifest records. The objects become durable (one syncfs) before the manifest
        // naming them is written durably.
        let (manifest, staged) = std::thread::scope(|scope| {
            let saver = scope.spawn(|| -> Result<dxforge_fs::TempFile> {
                use std::io::Write;
                let mut tmp = store.temp_file("")?;
                tmp.write_all(&next_index.encode())
                    .map_err(|e| WorkerError::io("write", store.join(tmp.rel()), e))?;
                Ok(tmp)
            });
            // Nothing to flush when no object was written, by this snapshot or by an
            // interrupted one before it (earlier snapshots synced theirs).
            let synced = if scan.new_objects > 0 || recovered {
                store.syncfs()
            } else {
                Ok(())
            };
            let manifest = synced.map_err(WorkerError::from).and_then(|()| {
                self.store_manifest(
                    store,
                    Manifest::new(entries, reason.to_owned(), crate::time::now_unix_ms()),
                )
            });
            let staged = saver.join().unwrap_or_else(|_| {
                Err(WorkerError::Panicked {
                    what: "stat cache writer",
                    message: "thread panicked".to_owned(),
                })
            });
            (manifest, staged)
        });
        let manifest = manifest?;
        staged?.persist(index::INDEX_FILE, Durability::Atomic)?;

        let mut summary = SnapshotSummary::of(&manifest);
        summary.hashed = scan.hashed;
        summary.reused = scan.reused;
        summary.new_objects = scan.new_objects;
        summary.skipped = skipped
            .iter()
            .filter(|s| s.reason == SkipReason::NonUtf8Name)
            .map(|s| s.path.clone())
            .collect();
        summary.skipped_entries = skipped;
        summary.full_walk = full_walk;
        tracing::debug!(id = %summary.id, files = summary.files, hashed = summary.hashed, "snapshot taken");
        Ok((summary, manifest))
    }

    /// Writes a new manifest. The same tree snapshotted twice within one second has the
    /// same id: the existing snapshot is kept and returned. A different tree whose id
    /// collides (same second, same 8-digit hash prefix) moves to the next free second.
    fn store_manifest(&self, store: &Root, mut manifest: Manifest) -> Result<Manifest> {
        loop {
            match Manifest::load(store, &manifest.id) {
                Ok(existing) if existing.tree_hash == manifest.tree_hash => return Ok(existing),
                Ok(_) => {
                    let next = manifest.created_unix_ms.saturating_add(1000);
                    manifest.set_time(next);
                }
                Err(WorkerError::SnapshotNotFound { .. } | WorkerError::InvalidManifest { .. }) => {
                    manifest.write(store)?;
                    return Ok(manifest);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Ids of every snapshot in `store`, unordered.
    pub(crate) fn ids_in(store: &Root) -> Result<Vec<String>> {
        let names = match store.read_dir(manifest::MANIFEST_DIR) {
            Ok(names) => names,
            Err(e) if e.is_not_found() => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        Ok(names
            .into_iter()
            .filter(|(_, kind)| *kind == dxforge_fs::Kind::File)
            .filter_map(|(name, _)| {
                let id = name.to_str()?.strip_suffix(".json")?;
                validate_id(id).is_ok().then(|| id.to_owned())
            })
            .collect())
    }

    /// Every local snapshot's manifest (no lock, see [`SnapshotStore::open_store`]).
    pub(crate) fn manifests(&self) -> Result<Vec<Manifest>> {
        let Some(store) = self.open_store()? else {
            return Ok(Vec::new());
        };
        Self::ids_in(&store)?
            .iter()
            .map(|id| Manifest::load(&store, id))
            .collect()
    }

    /// Every local snapshot, oldest first.
    pub(crate) fn list(&self) -> Result<Vec<SnapshotSummary>> {
        let mut manifests = self.manifests()?;
        manifests.sort_by(|a, b| (a.created_unix_ms, &a.id).cmp(&(b.created_unix_ms, &b.id)));
        Ok(manifests.iter().map(SnapshotSummary::of).collect())
    }
}
