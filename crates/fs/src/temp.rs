//! Temporary files: unique, never through a link, removed unless persisted.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;

use crate::{Durability, FsError, Result, Root};

/// Marker in every temporary file name: `.<name>.dxforge-<16 hex>.tmp`.
const MARKER: &str = ".dxforge-";

/// Longest part of the target's name kept in a temp name (names are at most 255 bytes).
const MAX_STEM: usize = 200;

/// Tries before giving up on finding a free random name.
const ATTEMPTS: usize = 16;

/// Whether `name` is one of dxforge's temporary file names.
pub fn is_temp_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix('.') else {
        return false;
    };
    let Some(rest) = rest.strip_suffix(".tmp") else {
        return false;
    };
    rest.rfind(MARKER).is_some_and(|i| {
        let hex = &rest[i + MARKER.len()..];
        hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// A temporary file beneath a [`Root`], created with
/// `O_CREAT | O_EXCL | O_NOFOLLOW` under a random name, so nothing planted
/// in advance (a file or a link at a guessed name) can be written through.
/// Dropping it removes it; [`TempFile::persist`] renames it into place.
#[derive(Debug)]
pub struct TempFile {
    root: Root,
    dir: OwnedFd,
    name: OsString,
    rel: PathBuf,
    file: Option<File>,
}

impl TempFile {
    pub(crate) fn create(root: Root, dir_rel: &Path, target: &OsStr) -> Result<TempFile> {
        let dir = crate::resolve::open_beneath(
            root.fd(),
            dir_rel,
            OFlags::RDONLY | OFlags::DIRECTORY,
            Mode::empty(),
            &root.join(dir_rel),
        )?;
        match create_unique(dir.as_fd(), 0o666, || temp_name(target)) {
            Ok((name, fd)) => {
                let rel = dir_rel.join(&name);
                Ok(TempFile {
                    root,
                    dir,
                    name,
                    rel,
                    file: Some(File::from(fd)),
                })
            }
            Err(e) => Err(FsError::io(
                "create a temporary file in",
                root.join(dir_rel),
                e.into(),
            )),
        }
    }

    /// The open file.
    pub fn file(&self) -> &File {
        // Only `None` after persist/keep, which consume `self`.
        self.file.as_ref().unwrap_or_else(|| unreachable!())
    }

    /// Its path relative to the root.
    pub fn rel(&self) -> &Path {
        &self.rel
    }

    pub(crate) fn set_mode(&self, mode: u32) -> Result<()> {
        rustix::fs::fchmod(self.file(), Mode::from_raw_mode(mode & 0o7777))
            .map_err(|e| FsError::io("set permissions of", self.root.join(&self.rel), e.into()))
    }

    /// Renames the file to `target` (beneath the same root; its directory
    /// must exist). `Durable`: the file is fsynced first and the target's
    /// directory after.
    pub fn persist(mut self, target: impl AsRef<Path>, durability: Durability) -> Result<()> {
        let target = target.as_ref();
        if durability.syncs() {
            self.file()
                .sync_all()
                .map_err(|e| FsError::io("fsync", self.root.join(&self.rel), e))?;
        }
        let (to_dir, to_name, _) = self.root.parent(target, false)?;
        rustix::fs::renameat(&self.dir, &self.name, &to_dir, to_name)
            .map_err(|e| FsError::io("rename into place", self.root.join(target), e.into()))?;
        self.file = None;
        self.name.clear(); // renamed: nothing left to remove on drop
        if durability.syncs() {
            rustix::fs::fsync(&to_dir).map_err(|e| {
                FsError::io("fsync the directory of", self.root.join(target), e.into())
            })?;
        }
        Ok(())
    }

    /// Keeps the file where it is (a staged file a journal will rename) and
    /// returns its path relative to the root.
    pub fn keep(mut self) -> PathBuf {
        self.file = None;
        self.name.clear();
        std::mem::take(&mut self.rel)
    }
}

impl Write for TempFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut f = self.file();
        f.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.name.is_empty() {
            let _ = rustix::fs::unlinkat(&self.dir, &self.name, AtFlags::empty());
        }
    }
}

/// A fresh random temp name for `target`: `.<target>.dxforge-<16 hex>.tmp`.
pub(crate) fn temp_name(target: &OsStr) -> OsString {
    temp_name_with(target, random_u64())
}

/// A temp name for `target` like [`temp_name`], without a `getrandom` call per name:
/// 64 random bits drawn once per process, plus a counter. Names only need to be unlikely
/// to collide (creation is `O_EXCL`, a taken name just moves on to the next one), and a
/// batch of thousands of files then costs no extra system call per file.
pub(crate) fn fast_temp_name(target: &OsStr) -> OsString {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static BASE: OnceLock<u64> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let base = *BASE.get_or_init(random_u64);
    // An odd multiplier spreads consecutive counters over the whole 64-bit space.
    let n = NEXT
        .fetch_add(1, Ordering::Relaxed)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15);
    temp_name_with(target, base ^ n)
}

/// `.<target>.dxforge-<bits as 16 hex>.tmp`, the target cut to [`MAX_STEM`] bytes. A
/// UTF-8 target is cut at a character boundary, so its temp name stays UTF-8: callers
/// record temp names as strings, and sweeps recognise them with [`is_temp_name`].
fn temp_name_with(target: &OsStr, bits: u64) -> OsString {
    let bytes = target.as_bytes();
    let cut = match target.to_str() {
        // (`str::floor_char_boundary` is newer than the crate's minimum Rust.)
        Some(text) => (0..=MAX_STEM.min(text.len()))
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0),
        None => bytes.len().min(MAX_STEM),
    };
    let stem = &bytes[..cut];
    let mut name = Vec::with_capacity(stem.len() + 32);
    name.push(b'.');
    name.extend_from_slice(stem);
    name.extend_from_slice(format!("{MARKER}{bits:016x}.tmp").as_bytes());
    OsString::from_vec(name)
}

/// Creates a new file in `dir` under a fresh name from `next_name`
/// (`O_CREAT | O_EXCL | O_NOFOLLOW`, permission bits `mode` less the umask):
/// a name someone planted (a file, a link) is never opened, the next one is
/// tried, up to [`ATTEMPTS`] names.
pub(crate) fn create_unique(
    dir: BorrowedFd<'_>,
    mode: u32,
    mut next_name: impl FnMut() -> OsString,
) -> rustix::io::Result<(OsString, OwnedFd)> {
    let flags = OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut last = Errno::EXIST;
    for _ in 0..ATTEMPTS {
        let name = next_name();
        match rustix::fs::openat(dir, &name, flags, Mode::from_raw_mode(mode & 0o7777)) {
            Ok(fd) => return Ok((name, fd)),
            Err(Errno::EXIST) => last = Errno::EXIST,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

/// Creates the link `name` in `dir` pointing at `target` under a fresh temp
/// name, then renames it over `name` (a link cannot be created over an
/// existing entry). The temp link is removed when the rename fails.
pub(crate) fn replace_with_symlink(
    dir: &OwnedFd,
    target: &Path,
    name: &OsStr,
) -> rustix::io::Result<()> {
    let mut last = Errno::EXIST;
    for _ in 0..ATTEMPTS {
        let tmp = temp_name(name);
        match rustix::fs::symlinkat(target, dir, &tmp) {
            Ok(()) => {
                return rustix::fs::renameat(dir, &tmp, dir, name).inspect_err(|_| {
                    let _ = rustix::fs::unlinkat(dir, &tmp, AtFlags::empty());
                });
            }
            Err(Errno::EXIST) => last = Errno::EXIST,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

/// 64 random bits from the kernel; a clock-derived fallback keeps names
/// unique where getrandom is unavailable (`O_EXCL` keeps them safe).
fn random_u64() -> u64 {
    let mut buf = [0u8; 8];
    match rustix::rand::getrandom(&mut buf, rustix::rand::GetRandomFlags::NONBLOCK) {
        Ok(8) => u64::from_ne_bytes(buf),
        _ => {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            t ^ (u64::from(std::process::id()) << 32)
        }
    }
}
