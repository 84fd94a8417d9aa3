//! The stat cache (`snapshots/index`): for each file, the stat data seen when it was last
//! hashed, so unchanged files are not read again (git's index idea).
//!
//! Racy timestamps: a file modified twice within one file-system timestamp tick keeps
//! its mtime. So, like git, an entry is trusted only when the file's mtime is strictly
//! older than a timestamp the file system itself issued *before* the file was hashed
//! (the mtime of a stamp file written at the start of the scan). Files touched in the same
//! tick as the scan are re-hashed next time.

use std::collections::HashMap;
use std::path::Path;

use super::objects::ObjectId;
use crate::error::{Result, WorkerError};
use crate::fsutil;

const MAGIC: &[u8; 8] = b"DXFIDX1\n";

/// Stat data of a file when its content was hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StatKey {
    pub(crate) size: u64,
    pub(crate) mtime_ns: i64,
    pub(crate) ctime_ns: i64,
    pub(crate) ino: u64,
    pub(crate) mode: u32,
}

impl StatKey {
    pub(crate) fn of(meta: &std::fs::Metadata) -> StatKey {
        use std::os::unix::fs::MetadataExt;
        StatKey {
            size: meta.len(),
            mtime_ns: fsutil::mtime_ns(meta) as i64,
            ctime_ns: fsutil::ctime_ns(meta) as i64,
            ino: meta.ino(),
            mode: meta.mode(),
        }
    }
}

/// Entries by project-relative path, plus the racy threshold of the scan that wrote them.
#[derive(Debug, Default)]
pub(crate) struct StatIndex {
    pub(crate) racy_threshold_ns: i64,
    pub(crate) entries: HashMap<String, (StatKey, ObjectId)>,
}

impl StatIndex {
    /// The cached hash of `path` if its stat data is unchanged and not racy.
    pub(crate) fn lookup(&self, path: &str, stat: &StatKey) -> Option<ObjectId> {
        let (cached, hash) = self.entries.get(path)?;
        (cached == stat && stat.mtime_ns < self.racy_threshold_ns).then_some(*hash)
    }

    /// Loads the index; a missing or unreadable index is an empty one (everything is
    /// re-hashed), since it is only a cache.
    pub(crate) fn load(path: &Path) -> StatIndex {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(_) => return StatIndex::default(),
        };
        match Self::decode(&bytes) {
            Some(index) => index,
            None => {
                tracing::warn!(index = %path.display(), "snapshot stat cache is damaged; re-hashing every file");
                StatIndex::default()
            }
        }
    }

    fn decode(bytes: &[u8]) -> Option<StatIndex> {
        let mut r = Reader(bytes);
        if r.take(8)? != MAGIC {
            return None;
        }
        let racy_threshold_ns = r.i64()?;
        let count = r.u64()? as usize;
        let mut entries = HashMap::with_capacity(count.min(1 << 20));
        for _ in 0..count {
            let len = r.u32()? as usize;
            let path = std::str::from_utf8(r.take(len)?).ok()?.to_owned();
            let hash = ObjectId(r.take(32)?.try_into().ok()?);
            let key = StatKey {
                size: r.u64()?,
                mtime_ns: r.i64()?,
                ctime_ns: r.i64()?,
                ino: r.u64()?,
                mode: r.u32()?,
            };
            entries.insert(path, (key, hash));
        }
        Some(StatIndex {
            racy_threshold_ns,
            entries,
        })
    }

    /// Writes the index atomically.
    pub(crate) fn save(&self, path: &Path) -> Result<()> {
        let mut out = Vec::with_capacity(32 + self.entries.len() * 100);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.racy_threshold_ns.to_le_bytes());
        out.extend_from_slice(&(self.entries.len() as u64).to_le_bytes());
        for (p, (key, hash)) in &self.entries {
            out.extend_from_slice(&(p.len() as u32).to_le_bytes());
            out.extend_from_slice(p.as_bytes());
            out.extend_from_slice(&hash.0);
            out.extend_from_slice(&key.size.to_le_bytes());
            out.extend_from_slice(&key.mtime_ns.to_le_bytes());
            out.extend_from_slice(&key.ctime_ns.to_le_bytes());
            out.extend_from_slice(&key.ino.to_le_bytes());
            out.extend_from_slice(&key.mode.to_le_bytes());
        }
        fsutil::write_atomic(path, &out, 0o644)
    }

    /// Writes the stamp file and returns its mtime: a time the file system issued before
    /// any file of this scan is hashed.
    pub(crate) fn stamp(stamp_path: &Path) -> Result<i64> {
        std::fs::write(stamp_path, b"scan started\n")
            .map_err(|e| WorkerError::io("write", stamp_path, e))?;
        let meta =
            std::fs::metadata(stamp_path).map_err(|e| WorkerError::io("stat", stamp_path, e))?;
        Ok(fsutil::mtime_ns(&meta) as i64)
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}
