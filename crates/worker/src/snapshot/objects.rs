//! The local content-addressed object store: `objects/ab/cdef…` named by BLAKE3 hash of
//! the content.
//!
//! Objects are plain files holding the content, but written sparse: runs of zeros of at
//! least [`sparse::BLOCK`] bytes (and holes of a sparse source) are left as holes, so a
//! 1 GiB sparse file takes a few blocks in the store, restores sparse, and the object's
//! name stays the hash of its content (sync and dedup are unchanged). Objects are written
//! without fsync; the snapshot makes them durable with one `syncfs` before it writes the
//! manifest that names them.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use dxforge_fs::{Durability, Kind, Policy, Root};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::sparse;
use crate::error::{Result, WorkerError};

/// Files up to this size are read whole; bigger ones are streamed through a temp file.
const READ_WHOLE_LIMIT: u64 = 16 * 1024 * 1024;

/// Objects below this size are read whole when restored (see [`Objects::read_small`]):
/// a zero run shorter than [`sparse::BLOCK`] is never a hole anyway.
pub(crate) const SMALL_OBJECT: u64 = sparse::BLOCK as u64;

/// Whether each new object's writeback starts as soon as it is written (see
/// [`Objects::put_bytes`]).
const START_WRITEBACK: bool = true;

/// Where objects live in the snapshot store.
pub(crate) const OBJECT_DIR: &str = "objects";

/// Temp files of older versions (`.dxforge-tmp-…`); gc still removes them.
const OLD_TEMP_PREFIX: &str = ".dxforge-tmp-";

/// A BLAKE3 hash naming an object.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId(pub [u8; 32]);

impl ObjectId {
    /// Hash of `bytes`.
    pub fn of(bytes: &[u8]) -> ObjectId {
        ObjectId(*blake3::hash(bytes).as_bytes())
    }

    /// Lower-case hex, 64 characters.
    pub fn to_hex(&self) -> String {
        blake3::Hash::from_bytes(self.0).to_hex().to_string()
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectId({})", self.to_hex())
    }
}

impl FromStr for ObjectId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.len() != 64 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(format!(
                "{s:?} is not a 64-digit lower-case hex BLAKE3 hash"
            ));
        }
        blake3::Hash::from_hex(s)
            .map(|h| ObjectId(*h.as_bytes()))
            .map_err(|e| e.to_string())
    }
}

impl Serialize for ObjectId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for ObjectId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The object directory of a snapshot store (a handle on the store root).
#[derive(Debug, Clone)]
pub(crate) struct Objects {
    store: Root,
    /// `objects/00` … `objects/ff`, each opened (and created) once, on first use: an
    /// object is then stat'ed, created and renamed by name through its shard's handle,
    /// with no path resolution per object.
    shards: Arc<[OnceLock<Root>; 256]>,
}

impl Objects {
    pub(crate) fn new(store: Root) -> Self {
        Objects {
            store,
            shards: Arc::new(std::array::from_fn(|_| OnceLock::new())),
        }
    }

    /// The handle on the shard directory of `id` (created when missing).
    fn shard(&self, id: &ObjectId) -> Result<&Root> {
        let cell = &self.shards[usize::from(id.0[0])];
        if let Some(root) = cell.get() {
            return Ok(root);
        }
        let rel = format!("{OBJECT_DIR}/{:02x}", id.0[0]);
        let root = self.store.subroot(rel, Policy::Plain, true)?;
        Ok(cell.get_or_init(|| root))
    }

    /// `objects/ab/cdef…`, relative to the store.
    pub(crate) fn rel_of(id: &ObjectId) -> String {
        let hex = id.to_hex();
        format!("{OBJECT_DIR}/{}/{}", &hex[..2], &hex[2..])
    }

    /// The object's absolute path, for messages.
    pub(crate) fn path_of(&self, id: &ObjectId) -> PathBuf {
        self.store.join(Objects::rel_of(id))
    }

    /// Whether the object is present with the expected size (a torn object left by a
    /// crash before the store was synced has the wrong size and is written again).
    fn present(&self, id: &ObjectId, size: u64) -> Result<bool> {
        Ok(self
            .store
            .metadata(Objects::rel_of(id))?
            .is_some_and(|m| m.kind == Kind::File && m.len == size))
    }

    /// Stores `bytes` under their hash unless already present. Returns whether it was new.
    ///
    /// Through the shard's handle: one `fstatat` (present with the right size?), then a
    /// temp file created read-only, written, and renamed to the hash. Writeback starts at
    /// once, so the snapshot's one `syncfs` before its manifest has little left to wait
    /// for. A crash leaves the temp file (swept later) or the whole object, never a
    /// partial object under its name.
    pub(crate) fn put_bytes(&self, id: &ObjectId, bytes: &[u8]) -> Result<bool> {
        let shard = self.shard(id)?;
        let hex = id.to_hex();
        let name = &hex[2..];
        if shard
            .metadata_here(name)?
            .is_some_and(|m| m.kind == Kind::File && m.len == bytes.len() as u64)
        {
            return Ok(false);
        }
        shard.write_here(name, bytes, 0o444, START_WRITEBACK)?;
        Ok(true)
    }

    /// Hashes the open regular file `src` (named `shown` in errors) and stores it.
    /// The outer error is the store's; the inner one is a failure to read `src` (the
    /// caller skips such a file). Returns (id, size, whether it was new).
    pub(crate) fn put_file(
        &self,
        src: &File,
        size_hint: u64,
    ) -> Result<std::io::Result<(ObjectId, u64, bool)>> {
        if size_hint <= READ_WHOLE_LIMIT {
            let bytes = match read_whole(src, size_hint) {
                Ok(bytes) => bytes,
                Err(e) => return Ok(Err(e)),
            };
            if bytes.len() as u64 <= READ_WHOLE_LIMIT {
                let id = ObjectId::of(&bytes);
                let new = self.put_bytes(&id, &bytes)?;
                return Ok(Ok((id, bytes.len() as u64, new)));
            }
        }
        self.put_stream(src)
    }

    /// Large files: copy (sparse) into a temp file while hashing, then rename to the hash.
    fn put_stream(&self, src: &File) -> Result<std::io::Result<(ObjectId, u64, bool)>> {
        let tmp = self.store.temp_file(OBJECT_DIR)?;
        let mut hasher = blake3::Hasher::new();
        let size = match sparse::copy(src, tmp.file(), &mut hasher) {
            Ok(size) => size,
            Err(sparse::CopyError::Read(e)) => return Ok(Err(e)),
            Err(sparse::CopyError::Write(e)) => {
                return Err(WorkerError::io("write", self.store.join(tmp.rel()), e));
            }
        };
        let id = ObjectId(*hasher.finalize().as_bytes());
        if self.present(&id, size)? {
            return Ok(Ok((id, size, false))); // the temp file goes on drop
        }
        self.persist(tmp, &id)?;
        Ok(Ok((id, size, true)))
    }

    /// Opens an object for reading (never through a link).
    pub(crate) fn open(&self, id: &ObjectId) -> Result<File> {
        match self.store.open_file(Objects::rel_of(id)) {
            Ok(f) => Ok(f),
            Err(e) if e.is_not_found() => Err(WorkerError::MissingObject {
                hash: id.to_hex(),
                path: self.path_of(id),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// Reads a small object whole and checks that it hashes to its name (`limit` bounds
    /// the read; callers know the object's size).
    pub(crate) fn read_verified(&self, id: &ObjectId, limit: u64) -> Result<Vec<u8>> {
        let bytes = match self.store.read(Objects::rel_of(id), limit)? {
            Some(bytes) => bytes,
            None => {
                return Err(WorkerError::MissingObject {
                    hash: id.to_hex(),
                    path: self.path_of(id),
                });
            }
        };
        self.check(id, ObjectId::of(&bytes))?;
        Ok(bytes)
    }

    /// Reads a small object whole (one open, one `fstat`, usually one `read`) and checks
    /// that it hashes to its name. For objects below [`SMALL_OBJECT`] bytes, which have no
    /// hole worth keeping; a bigger object on disk is read up to the whole-read bound and
    /// then fails the check.
    pub(crate) fn read_small(&self, id: &ObjectId) -> Result<Vec<u8>> {
        let (file, meta) = match self.store.open_file_meta(Objects::rel_of(id)) {
            Ok(opened) => opened,
            Err(e) if e.is_not_found() => {
                return Err(WorkerError::MissingObject {
                    hash: id.to_hex(),
                    path: self.path_of(id),
                });
            }
            Err(e) => return Err(e.into()),
        };
        let bytes = read_whole(&file, meta.len)
            .map_err(|e| WorkerError::io("read", self.path_of(id), e))?;
        self.check(id, ObjectId::of(&bytes))?;
        Ok(bytes)
    }

    /// Checks object `id` of manifest size `size`: small ones read whole, others streamed.
    pub(crate) fn verify_sized(&self, id: &ObjectId, size: u64) -> Result<()> {
        if size < SMALL_OBJECT {
            self.read_small(id).map(drop)
        } else {
            self.verify(id).map(drop)
        }
    }

    /// Checks an object's hash by streaming it (holes are hashed without being read).
    pub(crate) fn verify(&self, id: &ObjectId) -> Result<u64> {
        let file = self.open(id)?;
        let mut hasher = blake3::Hasher::new();
        let size = sparse::hash(&file, &mut hasher)
            .map_err(|e| WorkerError::io("read", self.path_of(id), e))?;
        self.check(id, ObjectId(*hasher.finalize().as_bytes()))?;
        Ok(size)
    }

    /// `CorruptObject` unless `actual` is `id`.
    pub(crate) fn check(&self, id: &ObjectId, actual: ObjectId) -> Result<()> {
        if actual != *id {
            return Err(WorkerError::CorruptObject {
                hash: id.to_hex(),
                path: self.path_of(id),
                actual: actual.to_hex(),
            });
        }
        Ok(())
    }

    /// Moves a verified temp file (a download) into place as object `id`.
    pub(crate) fn persist(&self, tmp: dxforge_fs::TempFile, id: &ObjectId) -> Result<()> {
        set_read_only(tmp.file(), &self.store.join(tmp.rel()))?;
        let rel = Objects::rel_of(id);
        self.store.create_dir_all(shard_of(&rel))?;
        tmp.persist(&rel, Durability::Atomic)?;
        Ok(())
    }

    /// A temp file in the object directory (downloads).
    pub(crate) fn temp_file(&self) -> Result<dxforge_fs::TempFile> {
        Ok(self.store.temp_file(OBJECT_DIR)?)
    }

    /// Every object id present (names that are not hashes are ignored), plus the
    /// store-relative paths of old-style leftover temp files (`.dxforge-tmp-…`; current
    /// temp files are removed by `Root::sweep_temps`).
    pub(crate) fn list(&self) -> Result<(Vec<ObjectId>, Vec<String>)> {
        let mut ids = Vec::new();
        let mut temps = Vec::new();
        let shards = match self.store.read_dir(OBJECT_DIR) {
            Ok(shards) => shards,
            Err(e) if e.is_not_found() => return Ok((ids, temps)),
            Err(e) => return Err(e.into()),
        };
        for (name, kind) in shards {
            let Some(name) = name.to_str() else { continue };
            if name.starts_with(OLD_TEMP_PREFIX) {
                temps.push(format!("{OBJECT_DIR}/{name}"));
                continue;
            }
            if name.len() != 2 || kind != Kind::Dir {
                continue;
            }
            let dir = format!("{OBJECT_DIR}/{name}");
            for (file, kind) in self.store.read_dir(&dir)? {
                let Some(file) = file.to_str() else { continue };
                if file.starts_with(OLD_TEMP_PREFIX) {
                    temps.push(format!("{dir}/{file}"));
                } else if kind == Kind::File
                    && let Ok(id) = format!("{name}{file}").parse::<ObjectId>()
                {
                    ids.push(id);
                }
            }
        }
        Ok((ids, temps))
    }

    /// The stored size of object `id` (0 when it is gone).
    pub(crate) fn size(&self, id: &ObjectId) -> Result<u64> {
        Ok(self
            .store
            .metadata(Objects::rel_of(id))?
            .map_or(0, |m| m.len))
    }

    /// Deletes object `id`; returns its size.
    pub(crate) fn remove(&self, id: &ObjectId) -> Result<u64> {
        let rel = Objects::rel_of(id);
        let size = self.store.metadata(&rel)?.map_or(0, |m| m.len);
        self.store.remove_file(&rel)?;
        Ok(size)
    }
}

/// Reads `src` whole, up to [`READ_WHOLE_LIMIT`] + 1 bytes (one more says it grew past
/// the limit: the caller streams it instead). `size` is its `fstat` size: a short read
/// once that many bytes are in is the end of a regular file, so a file read in one
/// `read` costs no second call to find its end.
fn read_whole(mut src: &File, size: u64) -> std::io::Result<Vec<u8>> {
    let cap = size.min(READ_WHOLE_LIMIT) as usize + 1;
    let mut bytes = vec![0u8; cap];
    let mut filled = 0;
    loop {
        let want = bytes.len() - filled;
        let n = match src.read(&mut bytes[filled..]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        filled += n;
        if n == 0 || (n < want && filled as u64 >= size) {
            bytes.truncate(filled);
            return Ok(bytes);
        }
        if filled == bytes.len() {
            // It grew past its `fstat` size: read the rest the plain way (bounded).
            bytes.truncate(filled);
            let rest = (READ_WHOLE_LIMIT + 1).saturating_sub(filled as u64);
            src.take(rest).read_to_end(&mut bytes)?;
            return Ok(bytes);
        }
    }
}

/// `objects/ab` of `objects/ab/cdef…`.
fn shard_of(rel: &str) -> &str {
    rel.rsplit_once('/').map_or(rel, |(dir, _)| dir)
}

fn set_read_only(file: &File, shown: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o444))
        .map_err(|e| WorkerError::io("set permissions of", shown, e))
}
