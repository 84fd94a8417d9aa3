//! Snapshot manifests (`manifests/<id>.json`) and snapshot ids.

use std::collections::HashSet;

use dxforge_fs::{Durability, Root, WriteOptions};
use serde::{Deserialize, Serialize};

use super::objects::ObjectId;
use crate::error::{Result, WorkerError};
use crate::limits::{MAX_MANIFEST_BYTES, MAX_PATH_BYTES, MAX_REASON_BYTES, MAX_SNAPSHOT_ENTRIES};
use crate::time;

/// Where manifests live in the snapshot store.
pub(crate) const MANIFEST_DIR: &str = "manifests";

/// Manifest format version written by this crate.
pub(crate) const FORMAT: u32 = 1;

/// One tracked path in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ManifestEntry {
    /// A regular file.
    File {
        /// Project-relative path with `/` separators.
        path: String,
        /// BLAKE3 of the content (the object's name).
        hash: ObjectId,
        /// Size in bytes.
        size: u64,
        /// Whether any execute bit was set.
        executable: bool,
    },
    /// A symbolic link (recorded, never followed).
    Symlink {
        /// Project-relative path with `/` separators.
        path: String,
        /// The link target exactly as stored in the link.
        target: String,
    },
}

impl ManifestEntry {
    /// The entry's project-relative path.
    pub fn path(&self) -> &str {
        match self {
            ManifestEntry::File { path, .. } | ManifestEntry::Symlink { path, .. } => path,
        }
    }
}

/// Everything needed to rebuild a tree: entries sorted by path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version (1).
    pub format: u32,
    /// `YYYYMMDDTHHMMSSZ-xxxxxxxx`: creation time and the first 8 hex digits of `tree_hash`.
    pub id: String,
    /// Creation time, RFC 3339 UTC.
    pub created: String,
    /// Creation time in milliseconds since the Unix epoch (for ordering).
    pub created_unix_ms: u64,
    /// Why it was taken ("manual", "background task", "safety before restore of …").
    pub reason: String,
    /// BLAKE3 over the sorted entries: equal trees have equal tree hashes.
    pub tree_hash: ObjectId,
    /// The tracked paths, sorted.
    pub entries: Vec<ManifestEntry>,
}

impl Manifest {
    /// Builds a manifest; `entries` must be sorted by path.
    pub(crate) fn new(entries: Vec<ManifestEntry>, reason: String, unix_ms: u64) -> Manifest {
        let mut manifest = Manifest {
            format: FORMAT,
            id: String::new(),
            created: String::new(),
            created_unix_ms: 0,
            reason,
            tree_hash: tree_hash(&entries),
            entries,
        };
        manifest.set_time(unix_ms);
        manifest
    }

    /// Sets the creation time and the id derived from it.
    pub(crate) fn set_time(&mut self, unix_ms: u64) {
        self.id = format!(
            "{}-{}",
            time::compact_utc(unix_ms / 1000),
            &self.tree_hash.to_hex()[..8]
        );
        self.created = time::rfc3339_utc(unix_ms);
        self.created_unix_ms = unix_ms;
    }

    /// Number of regular files.
    pub fn file_count(&self) -> u64 {
        self.entries
            .iter()
            .filter(|e| matches!(e, ManifestEntry::File { .. }))
            .count() as u64
    }

    /// Total size of regular files (saturating: sizes in a pulled manifest are claims).
    pub fn total_bytes(&self) -> u64 {
        self.entries
            .iter()
            .map(|e| match e {
                ManifestEntry::File { size, .. } => *size,
                ManifestEntry::Symlink { .. } => 0,
            })
            .fold(0u64, u64::saturating_add)
    }

    /// The distinct objects this manifest refers to.
    pub fn objects(&self) -> impl Iterator<Item = (ObjectId, u64)> + '_ {
        let mut seen = HashSet::new();
        self.entries.iter().filter_map(move |e| match e {
            ManifestEntry::File { hash, size, .. } if seen.insert(*hash) => Some((*hash, *size)),
            _ => None,
        })
    }

    /// Parses and validates a manifest. `origin` names the file or key in errors. Input
    /// larger than [`MAX_MANIFEST_BYTES`] is refused before parsing.
    pub(crate) fn parse(bytes: &[u8], origin: &str) -> Result<Manifest> {
        if bytes.len() as u64 > MAX_MANIFEST_BYTES {
            return Err(WorkerError::InvalidManifest {
                path: origin.to_owned(),
                reason: format!("larger than {MAX_MANIFEST_BYTES} bytes"),
            });
        }
        let manifest: Manifest =
            serde_json::from_slice(bytes).map_err(|e| WorkerError::InvalidManifest {
                path: origin.to_owned(),
                reason: e.to_string(),
            })?;
        manifest.validate(origin)?;
        Ok(manifest)
    }

    /// Rejects anything restore must not act on: unknown formats, too many entries,
    /// unsafe paths (absolute, `..`, empty components, `.git` or `.dxforge` at any depth,
    /// over-long), unsafe link targets (NUL, over-long), duplicates, a path that is also
    /// another path's directory, a tree hash that does not match the entries.
    fn validate(&self, origin: &str) -> Result<()> {
        let bad = |reason: String| WorkerError::InvalidManifest {
            path: origin.to_owned(),
            reason,
        };
        if self.format != FORMAT {
            return Err(bad(format!("unsupported format {}", self.format)));
        }
        validate_id(&self.id).map_err(|e| bad(e.to_string()))?;
        if self.entries.len() > MAX_SNAPSHOT_ENTRIES {
            return Err(bad(format!(
                "{} entries: more than {MAX_SNAPSHOT_ENTRIES}",
                self.entries.len()
            )));
        }
        if self.reason.len() > MAX_REASON_BYTES || self.created.len() > 64 {
            return Err(bad("reason or creation time too long".to_owned()));
        }
        let mut previous: Option<&str> = None;
        for entry in &self.entries {
            let path = entry.path();
            check_rel_path(path).map_err(|why| bad(format!("entry {path:?}: {why}")))?;
            if let ManifestEntry::Symlink { target, .. } = entry
                && (target.is_empty() || target.len() > MAX_PATH_BYTES || target.contains('\0'))
            {
                return Err(bad(format!(
                    "entry {path:?}: empty, over-long or NUL link target"
                )));
            }
            if let Some(prev) = previous {
                if prev >= path {
                    return Err(bad(format!("entries not sorted or duplicated at {path:?}")));
                }
                if path.starts_with(prev) && path.as_bytes().get(prev.len()) == Some(&b'/') {
                    return Err(bad(format!("{prev:?} is both an entry and a directory")));
                }
            }
            previous = Some(path);
        }
        // A file `a` and `a/b` need not be adjacent in sorted order (`a.txt` sorts between),
        // so check every entry's ancestors as well.
        let paths: HashSet<&str> = self.entries.iter().map(|e| e.path()).collect();
        for entry in &self.entries {
            let path = entry.path();
            let mut end = 0;
            while let Some(pos) = path[end..].find('/') {
                let dir = &path[..end + pos];
                if paths.contains(dir) {
                    return Err(bad(format!("{dir:?} is both an entry and a directory")));
                }
                end += pos + 1;
            }
        }
        if tree_hash(&self.entries) != self.tree_hash {
            return Err(bad("tree hash does not match the entries".to_owned()));
        }
        Ok(())
    }

    /// `manifests/<id>.json`, relative to the snapshot store.
    pub(crate) fn rel(id: &str) -> String {
        format!("{MANIFEST_DIR}/{id}.json")
    }

    /// Reads and validates the manifest of snapshot `id` from the snapshot store: bounded,
    /// never through a link, and its id must be the one its file is named after.
    pub(crate) fn load(store: &Root, id: &str) -> Result<Manifest> {
        validate_id(id)?;
        let rel = Manifest::rel(id);
        let path = store.join(&rel);
        let bytes = match store.read(&rel, MAX_MANIFEST_BYTES) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => {
                return Err(WorkerError::SnapshotNotFound {
                    id: id.to_owned(),
                    path,
                });
            }
            Err(dxforge_fs::FsError::TooLarge { limit, .. }) => {
                return Err(WorkerError::InvalidManifest {
                    path: path.display().to_string(),
                    reason: format!("larger than {limit} bytes"),
                });
            }
            Err(e) => return Err(e.into()),
        };
        let manifest = Manifest::parse(&bytes, &path.display().to_string())?;
        if manifest.id != id {
            return Err(WorkerError::InvalidManifest {
                path: path.display().to_string(),
                reason: format!("it describes snapshot {:?}", manifest.id),
            });
        }
        Ok(manifest)
    }

    /// Writes `manifests/<id>.json` durably (fsync of the file and its directory). The
    /// caller has made the objects it names durable first (one `syncfs` of the store).
    pub(crate) fn write(&self, store: &Root) -> Result<()> {
        let json = serde_json::to_vec(self).map_err(|e| WorkerError::InvalidManifest {
            path: self.id.clone(),
            reason: e.to_string(),
        })?;
        let options = WriteOptions {
            mode: Some(0o644),
            durability: Durability::Durable,
        };
        store.write_atomic(Manifest::rel(&self.id), &json, options)?;
        Ok(())
    }
}

/// The hash identifying a tree's content (paths, kinds, modes, content hashes). The
/// entries are laid out in one buffer and hashed once (many tiny hasher updates are slow).
fn tree_hash(entries: &[ManifestEntry]) -> ObjectId {
    let mut buf = Vec::with_capacity(entries.len() * 96);
    for entry in entries {
        match entry {
            ManifestEntry::File {
                path,
                hash,
                executable,
                ..
            } => {
                buf.extend_from_slice(if *executable { b"x " } else { b"f " });
                buf.extend_from_slice(&hash.0);
                buf.extend_from_slice(path.as_bytes());
            }
            ManifestEntry::Symlink { path, target } => {
                buf.extend_from_slice(b"l ");
                buf.extend_from_slice(target.as_bytes());
                buf.push(0);
                buf.extend_from_slice(path.as_bytes());
            }
        }
        buf.push(0);
    }
    ObjectId::of(&buf)
}

/// Checks that `id` looks like `YYYYMMDDTHHMMSSZ-xxxxxxxx` (it becomes a file name).
pub(crate) fn validate_id(id: &str) -> Result<()> {
    let err = |reason| WorkerError::InvalidSnapshotId {
        id: id.to_owned(),
        reason,
    };
    let b = id.as_bytes();
    if b.len() != 25 {
        return Err(err("expected YYYYMMDDTHHMMSSZ-xxxxxxxx (25 characters)"));
    }
    let digits = b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit);
    let hex = b[17..]
        .iter()
        .all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
    if !digits || b[8] != b'T' || b[15] != b'Z' || b[16] != b'-' || !hex {
        return Err(err("expected YYYYMMDDTHHMMSSZ-xxxxxxxx"));
    }
    Ok(())
}

/// A project-relative path is safe when it is non-empty, at most [`MAX_PATH_BYTES`]
/// long, relative, has no empty, `.` or `..` components and no `.git` or `.dxforge`
/// component at any depth. (The filesystem layer refuses the same under its project
/// policy; checking here refuses a whole manifest before anything is changed.)
pub(crate) fn check_rel_path(path: &str) -> std::result::Result<(), &'static str> {
    if path.is_empty() {
        return Err("empty path");
    }
    if path.len() > MAX_PATH_BYTES {
        return Err("path longer than 4096 bytes");
    }
    if path.starts_with('/') {
        return Err("absolute path");
    }
    if path.contains('\0') {
        return Err("NUL in path");
    }
    for part in path.split('/') {
        match part {
            "" => return Err("empty path component"),
            "." | ".." => return Err("'.' or '..' component"),
            ".git" => return Err("inside a .git directory"),
            crate::walk::STATE_DIR => return Err("inside a .dxforge directory"),
            _ => {}
        }
    }
    Ok(())
}
