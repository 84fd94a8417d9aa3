//! The local content-addressed object store: `objects/ab/cdef…` named by BLAKE3 hash.

use std::fmt;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Result, WorkerError};
use crate::fsutil;

/// Files up to this size are read whole; bigger ones are streamed through a temp file.
const READ_WHOLE_LIMIT: u64 = 16 * 1024 * 1024;
const STREAM_CHUNK: usize = 1024 * 1024;

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

/// The object directory of a snapshot store.
#[derive(Debug, Clone)]
pub(crate) struct ObjectDir {
    dir: PathBuf,
}

impl ObjectDir {
    pub(crate) fn new(dir: PathBuf) -> Self {
        ObjectDir { dir }
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// `objects/ab/cdef…`.
    pub(crate) fn path_of(&self, id: &ObjectId) -> PathBuf {
        let hex = id.to_hex();
        self.dir.join(&hex[..2]).join(&hex[2..])
    }

    /// Stores `bytes` under their hash unless already present. Returns whether it was new.
    pub(crate) fn put_bytes(&self, id: &ObjectId, bytes: &[u8]) -> Result<bool> {
        let path = self.path_of(id);
        if path.is_file() {
            return Ok(false);
        }
        write_object(&path, bytes)?;
        Ok(true)
    }

    /// Hashes the file at `src` and stores it. Returns (id, size, whether it was new).
    pub(crate) fn put_file(&self, src: &Path, size_hint: u64) -> Result<(ObjectId, u64, bool)> {
        if size_hint <= READ_WHOLE_LIMIT {
            let bytes = fs::read(src).map_err(|e| WorkerError::io("read", src, e))?;
            let id = ObjectId::of(&bytes);
            let new = self.put_bytes(&id, &bytes)?;
            return Ok((id, bytes.len() as u64, new));
        }
        self.put_stream(src)
    }

    /// Large files: copy into a temp file while hashing, then rename to the hash name.
    fn put_stream(&self, src: &Path) -> Result<(ObjectId, u64, bool)> {
        let mut input = File::open(src).map_err(|e| WorkerError::io("open", src, e))?;
        fsutil::create_dir_all(&self.dir)?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".dxforge-tmp-")
            .tempfile_in(&self.dir)
            .map_err(|e| WorkerError::io("create temporary file in", &self.dir, e))?;
        let mut hasher = blake3::Hasher::new();
        let mut buf = vec![0u8; STREAM_CHUNK];
        let mut size = 0u64;
        loop {
            let n = input
                .read(&mut buf)
                .map_err(|e| WorkerError::io("read", src, e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            tmp.write_all(&buf[..n])
                .map_err(|e| WorkerError::io("write", tmp.path().to_path_buf(), e))?;
            size += n as u64;
        }
        let id = ObjectId(*hasher.finalize().as_bytes());
        let path = self.path_of(&id);
        if path.is_file() {
            return Ok((id, size, false));
        }
        let parent = path.parent().unwrap_or(&self.dir);
        fsutil::create_dir_all(parent)?;
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o444))
            .map_err(|e| WorkerError::io("set permissions of", tmp.path().to_path_buf(), e))?;
        tmp.persist(&path)
            .map_err(|e| WorkerError::io("rename temporary file to", &path, e.error))?;
        Ok((id, size, true))
    }

    /// Reads an object and checks that it hashes to its name.
    pub(crate) fn read_verified(&self, id: &ObjectId) -> Result<Vec<u8>> {
        let path = self.path_of(id);
        let bytes = fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => WorkerError::MissingObject {
                hash: id.to_hex(),
                path: path.clone(),
            },
            _ => WorkerError::io("read", &path, e),
        })?;
        let actual = ObjectId::of(&bytes);
        if actual != *id {
            return Err(WorkerError::CorruptObject {
                hash: id.to_hex(),
                path,
                actual: actual.to_hex(),
            });
        }
        Ok(bytes)
    }

    /// Checks an object's hash by streaming it (no full copy in memory).
    pub(crate) fn verify(&self, id: &ObjectId) -> Result<u64> {
        let path = self.path_of(id);
        let mut file = File::open(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => WorkerError::MissingObject {
                hash: id.to_hex(),
                path: path.clone(),
            },
            _ => WorkerError::io("open", &path, e),
        })?;
        let mut hasher = blake3::Hasher::new();
        let size =
            std::io::copy(&mut file, &mut hasher).map_err(|e| WorkerError::io("read", &path, e))?;
        let actual = ObjectId(*hasher.finalize().as_bytes());
        if actual != *id {
            return Err(WorkerError::CorruptObject {
                hash: id.to_hex(),
                path,
                actual: actual.to_hex(),
            });
        }
        Ok(size)
    }

    /// Every object id present (files whose names are not hashes are ignored), plus the
    /// paths of leftover temporary files.
    pub(crate) fn list(&self) -> Result<(Vec<ObjectId>, Vec<PathBuf>)> {
        let mut ids = Vec::new();
        let mut temps = Vec::new();
        let shards = match fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((ids, temps)),
            Err(e) => return Err(WorkerError::io("list", &self.dir, e)),
        };
        for shard in shards {
            let shard = shard.map_err(|e| WorkerError::io("list", &self.dir, e))?;
            let name = shard.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(".dxforge-tmp-") {
                temps.push(shard.path());
                continue;
            }
            if name.len() != 2 || !shard.path().is_dir() {
                continue;
            }
            let entries =
                fs::read_dir(shard.path()).map_err(|e| WorkerError::io("list", shard.path(), e))?;
            for entry in entries {
                let entry = entry.map_err(|e| WorkerError::io("list", shard.path(), e))?;
                let file = entry.file_name();
                let file = file.to_string_lossy();
                if file.starts_with(".dxforge-tmp-") {
                    temps.push(entry.path());
                } else if let Ok(id) = format!("{name}{file}").parse::<ObjectId>() {
                    ids.push(id);
                }
            }
        }
        Ok((ids, temps))
    }
}

/// Writes an object: a uniquely named temp file in the shard directory (created read-only,
/// so no chmod is needed), then a rename. The shard directory is created on demand. This
/// is the hot path of a first snapshot, hence fewer system calls than `write_atomic`.
fn write_object(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut attempts = 0;
    loop {
        attempts += 1;
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".dxforge-tmp-{}-{n}", std::process::id()));
        let opened = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o444)
            .open(&tmp);
        let mut file = match opened {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && attempts < 3 => {
                fsutil::create_dir_all(dir)?;
                continue;
            }
            // A leftover of a crashed process with the same pid: take the next name.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempts < 100 => continue,
            Err(e) => return Err(WorkerError::io("create", &tmp, e)),
        };
        let written = file.write_all(bytes).and_then(|()| {
            drop(file);
            fs::rename(&tmp, path)
        });
        return written.map_err(|e| {
            let _ = fs::remove_file(&tmp);
            WorkerError::io("write object", path, e)
        });
    }
}
