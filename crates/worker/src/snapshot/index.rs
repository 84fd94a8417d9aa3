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
//!
//! Trust: the cache may have been planted (`.dxforge/` can come with a clone). It is
//! parsed with bounds ([`crate::MAX_INDEX_BYTES`], [`crate::MAX_SNAPSHOT_ENTRIES`],
//! [`crate::MAX_PATH_BYTES`]) and every path in it is checked like a manifest path; a
//! cache that fails is ignored (a full re-hash). A planted entry is only ever used when
//! the file's inode, ctime, mtime, size and mode match it exactly, which nobody can
//! arrange for a file checked out after the cache was written. The cache is written
//! without fsync: losing it, or finding it torn after a crash, only costs a full re-hash.

use std::collections::HashMap;

use dxforge_fs::{Durability, Root, WriteOptions};

use super::manifest::check_rel_path;
use super::objects::ObjectId;
use super::skipped::{SkipReason, SkippedEntry};
use crate::error::{Result, WorkerError};
use crate::limits::{MAX_INDEX_BYTES, MAX_PATH_BYTES, MAX_SNAPSHOT_ENTRIES};
use crate::time;

const MAGIC: &[u8; 8] = b"DXFIDX3\n";

/// The stat cache's file name in the snapshot store.
pub(crate) const INDEX_FILE: &str = "index";
const STAMP_FILE: &str = "index.stamp";

/// The one ignore file outside the walked tree that the cache records.
const GIT_EXCLUDE: &str = ".git/info/exclude";

/// Bytes of an encoded [`StatKey`].
const STAT_BYTES: usize = 8 * 4 + 4;

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
            mtime_ns: time::mtime_ns(meta),
            ctime_ns: time::ctime_ns(meta),
            ino: meta.ino(),
            mode: meta.mode(),
        }
    }

    /// The same from the filesystem layer's stat.
    pub(crate) fn from_meta(meta: &dxforge_fs::Meta) -> StatKey {
        StatKey {
            size: meta.len,
            mtime_ns: meta.mtime_ns,
            ctime_ns: meta.ctime_ns,
            ino: meta.ino,
            mode: meta.mode | file_type_bits(meta.kind),
        }
    }
}

/// The `S_IFMT` bits of `kind`, so that [`StatKey::from_meta`] gives the same `mode` as
/// [`StatKey::of`] (which keeps the whole `st_mode`).
fn file_type_bits(kind: dxforge_fs::Kind) -> u32 {
    match kind {
        dxforge_fs::Kind::File => 0o100_000,
        dxforge_fs::Kind::Dir => 0o040_000,
        dxforge_fs::Kind::Symlink => 0o120_000,
        _ => 0,
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
    /// Paths the scan left out, and why.
    pub(crate) skipped: Vec<SkippedEntry>,
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

    /// Loads the cache from the snapshot store; a missing, old, oversized or damaged cache
    /// is an empty one (every file is re-hashed), since it is only a cache.
    pub(crate) fn load(store: &Root) -> StatIndex {
        let bytes = match store.read(INDEX_FILE, MAX_INDEX_BYTES) {
            Ok(Some(b)) => b,
            Ok(None) => return StatIndex::default(),
            Err(e) => {
                tracing::warn!(error = %e, "snapshot stat cache is unreadable; re-hashing every file");
                return StatIndex::default();
            }
        };
        match Self::parse(&bytes) {
            Ok(index) => index,
            Err(e) => {
                tracing::warn!(index = %store.join(INDEX_FILE).display(), error = %e, "re-hashing every file");
                StatIndex::default()
            }
        }
    }

    /// Decodes a cache, checking every count, length and path against the limits.
    pub(crate) fn parse(bytes: &[u8]) -> Result<StatIndex> {
        Self::decode(bytes).map_err(|reason| WorkerError::InvalidIndex { reason })
    }

    fn decode(bytes: &[u8]) -> std::result::Result<StatIndex, String> {
        if bytes.len() as u64 > MAX_INDEX_BYTES {
            return Err(format!("larger than {MAX_INDEX_BYTES} bytes"));
        }
        let mut r = Reader(bytes);
        if r.take(8)? != MAGIC {
            return Err("unknown format (bad magic)".to_owned());
        }
        let racy_threshold_ns = r.i64()?;

        let n = r.count("files", 4 + 32 + STAT_BYTES)?;
        let mut entries = HashMap::with_capacity(n.min(1 << 16));
        for _ in 0..n {
            let path = r.path()?;
            let hash = ObjectId(r.array()?);
            let stat = r.stat()?;
            if entries.insert(path, (stat, hash)).is_some() {
                return Err("duplicate file entry".to_owned());
            }
        }
        let n = r.count("links", 4 + STAT_BYTES + 4)?;
        let mut links = Vec::with_capacity(n.min(1 << 16));
        for _ in 0..n {
            let path = r.path()?;
            let stat = r.stat()?;
            let target = r.string(MAX_PATH_BYTES)?;
            links.push((path, stat, target));
        }
        let n = r.count("directories", 4 + STAT_BYTES)?;
        let mut dirs = Vec::with_capacity(n.min(1 << 16));
        for _ in 0..n {
            let path = r.string(MAX_PATH_BYTES)?;
            if !path.is_empty() {
                check_rel_path(&path).map_err(|why| format!("directory {path:?}: {why}"))?;
            }
            dirs.push((path, r.stat()?));
        }
        let n = r.count("ignore files", 4 + 1)?;
        let mut ignore_files = Vec::with_capacity(n.min(1 << 16));
        for _ in 0..n {
            let path = r.string(MAX_PATH_BYTES)?;
            if path != GIT_EXCLUDE {
                check_rel_path(&path).map_err(|why| format!("ignore file {path:?}: {why}"))?;
            }
            let stat = match r.take(1)?[0] {
                0 => None,
                1 => Some(r.stat()?),
                other => return Err(format!("bad presence flag {other}")),
            };
            ignore_files.push((path, stat));
        }
        let n = r.count("skipped paths", 4 + 1 + 1)?;
        let mut skipped = Vec::with_capacity(n.min(1 << 16));
        for _ in 0..n {
            let path = r.string(MAX_PATH_BYTES * 3)?;
            let code = r.take(1)?[0];
            let reason =
                SkipReason::from_code(code).ok_or_else(|| format!("unknown skip reason {code}"))?;
            let detail = match r.take(1)?[0] {
                0 => None,
                1 => Some(r.string(MAX_PATH_BYTES * 2)?),
                other => return Err(format!("bad presence flag {other}")),
            };
            skipped.push(SkippedEntry {
                path,
                reason,
                detail,
            });
        }
        if !r.0.is_empty() {
            return Err(format!("{} trailing bytes", r.0.len()));
        }
        Ok(StatIndex {
            racy_threshold_ns,
            entries,
            links,
            dirs,
            ignore_files,
            skipped,
        })
    }

    /// The encoded cache.
    pub(crate) fn encode(&self) -> Vec<u8> {
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
        for s in &self.skipped {
            w.string(&s.path);
            w.0.push(s.reason.code());
            match &s.detail {
                None => w.0.push(0),
                Some(d) => {
                    w.0.push(1);
                    w.string(d);
                }
            }
        }
        w.0
    }

    /// Writes the stamp file and returns its mtime: a time the file system issued before
    /// any file of this scan is hashed.
    pub(crate) fn stamp(store: &Root) -> Result<i64> {
        let options = WriteOptions {
            mode: Some(0o644),
            durability: Durability::Atomic,
        };
        store.write_atomic(STAMP_FILE, b"scan started\n", options)?;
        let meta = store.metadata(STAMP_FILE)?.ok_or_else(|| {
            WorkerError::io(
                "stat",
                store.join(STAMP_FILE),
                std::io::Error::from(std::io::ErrorKind::NotFound),
            )
        })?;
        Ok(meta.mtime_ns)
    }
}

struct Writer(Vec<u8>);

impl Writer {
    fn count(&mut self, n: usize) {
        self.0.extend_from_slice(&(n as u64).to_le_bytes());
    }
    fn string(&mut self, s: &str) {
        // Strings longer than the reader accepts are never produced: paths and targets are
        // bounded by the scan, details and lossy names are cut.
        let s = truncate(s, MAX_PATH_BYTES * 2);
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

/// `s` cut to at most `max` bytes at a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

type Parse<T> = std::result::Result<T, String>;

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Parse<&'a [u8]> {
        if self.0.len() < n {
            return Err(format!(
                "truncated: {n} bytes wanted, {} left",
                self.0.len()
            ));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }
    fn array<const N: usize>(&mut self) -> Parse<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
    fn u32(&mut self) -> Parse<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Parse<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    fn i64(&mut self) -> Parse<i64> {
        Ok(i64::from_le_bytes(self.array()?))
    }
    /// A count of records at least `min_record` bytes long: bounded by the limit and by
    /// what the remaining bytes could hold, so no allocation follows a crafted count.
    fn count(&mut self, what: &str, min_record: usize) -> Parse<usize> {
        let n = self.u64()?;
        if n > MAX_SNAPSHOT_ENTRIES as u64 {
            return Err(format!("{n} {what}: more than {MAX_SNAPSHOT_ENTRIES}"));
        }
        let n = n as usize;
        if n.saturating_mul(min_record) > self.0.len() {
            return Err(format!("{n} {what} cannot fit in {} bytes", self.0.len()));
        }
        Ok(n)
    }
    fn string(&mut self, max: usize) -> Parse<String> {
        let len = self.u32()? as usize;
        if len > max {
            return Err(format!("string of {len} bytes: more than {max}"));
        }
        std::str::from_utf8(self.take(len)?)
            .map(str::to_owned)
            .map_err(|_| "string is not UTF-8".to_owned())
    }
    /// A tracked path: checked like a manifest path.
    fn path(&mut self) -> Parse<String> {
        let path = self.string(MAX_PATH_BYTES)?;
        check_rel_path(&path).map_err(|why| format!("path {path:?}: {why}"))?;
        Ok(path)
    }
    fn stat(&mut self) -> Parse<StatKey> {
        Ok(StatKey {
            size: self.u64()?,
            mtime_ns: self.i64()?,
            ctime_ns: self.i64()?,
            ino: self.u64()?,
            mode: self.u32()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> StatIndex {
        let key = StatKey {
            size: 3,
            mtime_ns: 1,
            ctime_ns: 2,
            ino: 4,
            mode: 0o100644,
        };
        let mut index = StatIndex {
            racy_threshold_ns: 99,
            ..StatIndex::default()
        };
        index
            .entries
            .insert("src/a.rs".to_owned(), (key, ObjectId::of(b"abc")));
        index
            .links
            .push(("l".to_owned(), key, "../outside".to_owned()));
        index.dirs.push((String::new(), key));
        index.ignore_files.push((GIT_EXCLUDE.to_owned(), None));
        index
            .ignore_files
            .push((".gitignore".to_owned(), Some(key)));
        index.skipped.push(SkippedEntry::unreadable(
            "secret".to_owned(),
            "Permission denied",
        ));
        index
    }

    #[test]
    fn round_trips() {
        let index = sample();
        let back = StatIndex::parse(&index.encode()).unwrap();
        assert_eq!(back.entries, index.entries);
        assert_eq!(back.links, index.links);
        assert_eq!(back.dirs, index.dirs);
        assert_eq!(back.ignore_files, index.ignore_files);
        assert_eq!(back.skipped, index.skipped);
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = sample().encode();
        for end in 0..bytes.len() {
            assert!(StatIndex::parse(&bytes[..end]).is_err(), "prefix of {end}");
        }
    }
}
