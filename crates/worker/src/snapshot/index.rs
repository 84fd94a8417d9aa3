//! The stat cache (`snapshots/index`): for each file, the stat data seen when it was last
//! hashed, so unchanged files are not read again (git's index idea); and for each
//! directory the walk entered, its stat data, so that when no directory and no ignore file
//! changed the next scan can stat the known paths without walking (git's untracked cache).
//!
//! Racy timestamps: a file modified twice within one file-system timestamp tick keeps
//! its mtime. So, like git, an entry is trusted only when the file's mtime is strictly
//! older than a timestamp the file system itself issued *before* the file was hashed
//! (the mtime of a stamp file written at the start of the scan). Files and directories
//! touched in the same tick as the scan are re-checked next time.

use std::collections::HashMap;
use std::path::Path;

use super::objects::ObjectId;
use crate::error::{Result, WorkerError};
use crate::fsutil;

const MAGIC: &[u8; 8] = b"DXFIDX2\n";

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
    /// Matches no real file: for files whose content changed while they were read.
    pub(crate) const UNTRUSTED: StatKey = StatKey {
        size: u64::MAX,
        mtime_ns: i64::MAX,
        ctime_ns: i64::MAX,
        ino: u64::MAX,
        mode: u32::MAX,
    };

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

/// Everything the previous scan saw, plus its racy threshold.
#[derive(Debug, Default)]
pub(crate) struct StatIndex {
    pub(crate) racy_threshold_ns: i64,
    /// Files by project-relative path.
    pub(crate) entries: HashMap<String, (StatKey, ObjectId)>,
    /// Symlinks: path, stat, target.
    pub(crate) links: Vec<(String, StatKey, String)>,
    /// Every directory the walk entered (the root is ""), with its stat.
    pub(crate) dirs: Vec<(String, StatKey)>,
    /// Ignore files that decide what the walk sees (`.gitignore` per directory,
    /// `.git/info/exclude`), with their stat or `None` when absent.
    pub(crate) ignore_files: Vec<(String, Option<StatKey>)>,
    /// Paths skipped because their names are not UTF-8.
    pub(crate) skipped: Vec<String>,
}

impl StatIndex {
    /// Whether stat data recorded by the previous scan can be trusted.
    pub(crate) fn trusts(&self, recorded: &StatKey, now: &StatKey) -> bool {
        recorded == now && now.mtime_ns < self.racy_threshold_ns
    }

    /// The cached hash of `path` if its stat data is unchanged and not racy.
    pub(crate) fn lookup(&self, path: &str, stat: &StatKey) -> Option<ObjectId> {
        let (cached, hash) = self.entries.get(path)?;
        self.trusts(cached, stat).then_some(*hash)
    }

    /// Loads the index; a missing, old or damaged index is an empty one (everything is
    /// re-hashed), since it is only a cache.
    pub(crate) fn load(path: &Path) -> StatIndex {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(_) => return StatIndex::default(),
        };
        match Self::decode(&bytes) {
            Some(index) => index,
            None => {
                tracing::warn!(index = %path.display(), "snapshot stat cache is unreadable; re-hashing every file");
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
        let n = r.count()?;
        let mut entries = HashMap::with_capacity(n);
        for _ in 0..n {
            let path = r.string()?;
            let hash = ObjectId(r.take(32)?.try_into().ok()?);
            entries.insert(path, (r.stat()?, hash));
        }
        let n = r.count()?;
        let mut links = Vec::with_capacity(n);
        for _ in 0..n {
            links.push((r.string()?, r.stat()?, r.string()?));
        }
        let n = r.count()?;
        let mut dirs = Vec::with_capacity(n);
        for _ in 0..n {
            dirs.push((r.string()?, r.stat()?));
        }
        let n = r.count()?;
        let mut ignore_files = Vec::with_capacity(n);
        for _ in 0..n {
            let path = r.string()?;
            let stat = match r.take(1)?[0] {
                0 => None,
                _ => Some(r.stat()?),
            };
            ignore_files.push((path, stat));
        }
        let n = r.count()?;
        let mut skipped = Vec::with_capacity(n);
        for _ in 0..n {
            skipped.push(r.string()?);
        }
        r.0.is_empty().then_some(StatIndex {
            racy_threshold_ns,
            entries,
            links,
            dirs,
            ignore_files,
            skipped,
        })
    }

    /// Writes the index atomically.
    pub(crate) fn save(&self, path: &Path) -> Result<()> {
        let mut w = Writer(Vec::with_capacity(64 + self.entries.len() * 110));
        w.0.extend_from_slice(MAGIC);
        w.0.extend_from_slice(&self.racy_threshold_ns.to_le_bytes());
        w.count(self.entries.len());
        for (p, (key, hash)) in &self.entries {
            w.string(p);
            w.0.extend_from_slice(&hash.0);
            w.stat(key);
        }
        w.count(self.links.len());
        for (p, key, target) in &self.links {
            w.string(p);
            w.stat(key);
            w.string(target);
        }
        w.count(self.dirs.len());
        for (p, key) in &self.dirs {
            w.string(p);
            w.stat(key);
        }
        w.count(self.ignore_files.len());
        for (p, key) in &self.ignore_files {
            w.string(p);
            match key {
                None => w.0.push(0),
                Some(k) => {
                    w.0.push(1);
                    w.stat(k);
                }
            }
        }
        w.count(self.skipped.len());
        for p in &self.skipped {
            w.string(p);
        }
        fsutil::write_atomic(path, &w.0, 0o644)
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

struct Writer(Vec<u8>);

impl Writer {
    fn count(&mut self, n: usize) {
        self.0.extend_from_slice(&(n as u64).to_le_bytes());
    }
    fn string(&mut self, s: &str) {
        self.0.extend_from_slice(&(s.len() as u32).to_le_bytes());
        self.0.extend_from_slice(s.as_bytes());
    }
    fn stat(&mut self, k: &StatKey) {
        self.0.extend_from_slice(&k.size.to_le_bytes());
        self.0.extend_from_slice(&k.mtime_ns.to_le_bytes());
        self.0.extend_from_slice(&k.ctime_ns.to_le_bytes());
        self.0.extend_from_slice(&k.ino.to_le_bytes());
        self.0.extend_from_slice(&k.mode.to_le_bytes());
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
    /// A count, bounded by what the remaining bytes could hold (damaged files).
    fn count(&mut self) -> Option<usize> {
        let n = self.u64()? as usize;
        (n <= self.0.len()).then_some(n)
    }
    fn string(&mut self) -> Option<String> {
        let len = self.u32()? as usize;
        Some(std::str::from_utf8(self.take(len)?).ok()?.to_owned())
    }
    fn stat(&mut self) -> Option<StatKey> {
        Some(StatKey {
            size: self.u64()?,
            mtime_ns: self.i64()?,
            ctime_ns: self.i64()?,
            ino: self.u64()?,
            mode: self.u32()?,
        })
    }
}
