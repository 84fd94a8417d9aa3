//! The kernel half of confinement: opening a checked relative path beneath a
//! directory descriptor without following any link.

use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use crate::{FsError, Result};

/// Whether `openat2` works here: 0 unknown, 1 yes, 2 no (old kernel or a
/// seccomp filter that refuses it).
static OPENAT2: AtomicU8 = AtomicU8::new(0);

/// Tests use this to run the `O_NOFOLLOW` walk on a kernel that has `openat2`.
#[doc(hidden)]
pub fn force_component_walk(on: bool) {
    OPENAT2.store(if on { 2 } else { 0 }, Ordering::SeqCst);
}

/// Opens `rel` (already checked: normal components only; empty means the
/// directory itself) beneath `dir` with `flags`, following no link.
/// `shown` is the absolute path used in errors.
pub(crate) fn open_beneath(
    dir: BorrowedFd<'_>,
    rel: &Path,
    flags: OFlags,
    mode: Mode,
    shown: &Path,
) -> Result<OwnedFd> {
    let flags = flags | OFlags::CLOEXEC | OFlags::NOFOLLOW;
    if rel.as_os_str().is_empty() {
        return rustix::fs::openat(dir, ".", flags, mode)
            .map_err(|e| FsError::io("open", shown, e.into()));
    }
    if OPENAT2.load(Ordering::Relaxed) != 2 {
        let how = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
        match rustix::fs::openat2(dir, rel, flags, mode, how) {
            Ok(fd) => {
                OPENAT2.store(1, Ordering::Relaxed);
                return Ok(fd);
            }
            // No openat2 (Linux < 5.6), or a sandbox filtering it.
            Err(Errno::NOSYS) | Err(Errno::PERM) if OPENAT2.load(Ordering::Relaxed) == 0 => {
                OPENAT2.store(2, Ordering::Relaxed);
            }
            Err(Errno::AGAIN) | Err(Errno::INTR) => return walk(dir, rel, flags, mode, shown),
            Err(e) => return Err(explain(dir, rel, e, shown)),
        }
    }
    walk(dir, rel, flags, mode, shown)
}

/// The fallback: one `openat(O_NOFOLLOW)` per component.
fn walk(
    dir: BorrowedFd<'_>,
    rel: &Path,
    flags: OFlags,
    mode: Mode,
    shown: &Path,
) -> Result<OwnedFd> {
    let bytes = rel.as_os_str().as_bytes();
    let mut parts = bytes.split(|b| *b == b'/').peekable();
    let mut cur: Option<OwnedFd> = None;
    while let Some(part) = parts.next() {
        let name = OsStr::from_bytes(part);
        let at = cur.as_ref().map_or(dir, |fd| fd.as_fd());
        let last = parts.peek().is_none();
        let (f, m) = if last {
            (flags, mode)
        } else {
            (
                OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
        };
        match rustix::fs::openat(at, name, f, m) {
            Ok(fd) => {
                // `O_PATH | O_NOFOLLOW` opens a link itself instead of failing.
                if f.contains(OFlags::PATH) && is_link(&fd) {
                    return Err(FsError::Symlink {
                        path: shown_prefix(shown, rel, part),
                    });
                }
                cur = Some(fd);
            }
            Err(e) => return Err(explain(dir, rel, e, shown)),
        }
    }
    cur.ok_or_else(|| FsError::NotBeneath {
        path: shown.to_path_buf(),
        reason: "empty path",
    })
}

fn is_link(fd: &OwnedFd) -> bool {
    rustix::fs::fstat(fd)
        .map(|st| FileType::from_raw_mode(st.st_mode) == FileType::Symlink)
        .unwrap_or(false)
}

/// Turns a failed open into an error naming the link when a link is why.
fn explain(dir: BorrowedFd<'_>, rel: &Path, e: Errno, shown: &Path) -> FsError {
    if matches!(e, Errno::LOOP | Errno::NOTDIR | Errno::XDEV)
        && let Some(link) = first_link(dir, rel)
    {
        return FsError::Symlink {
            path: strip_to(shown, rel, &link),
        };
    }
    if e == Errno::XDEV || e == Errno::LOOP {
        return FsError::Symlink {
            path: shown.to_path_buf(),
        };
    }
    FsError::io("open", shown, e.into())
}

/// The first component of `rel` that is a link, found with `lstat`s.
fn first_link(dir: BorrowedFd<'_>, rel: &Path) -> Option<PathBuf> {
    let mut prefix = PathBuf::new();
    for part in rel.as_os_str().as_bytes().split(|b| *b == b'/') {
        prefix.push(OsStr::from_bytes(part));
        let st = rustix::fs::statat(dir, &prefix, AtFlags::SYMLINK_NOFOLLOW).ok()?;
        match FileType::from_raw_mode(st.st_mode) {
            FileType::Symlink => return Some(prefix),
            FileType::Directory => {}
            _ => return None,
        }
    }
    None
}

/// `shown` is `<root>/<rel>`; returns `<root>/<prefix of rel>`.
fn strip_to(shown: &Path, rel: &Path, prefix: &Path) -> PathBuf {
    let root = root_of(shown, rel);
    root.join(prefix)
}

/// The shown path of the component `part` (a slice of `rel`'s bytes).
fn shown_prefix(shown: &Path, rel: &Path, part: &[u8]) -> PathBuf {
    let bytes = rel.as_os_str().as_bytes();
    let end = part.as_ptr() as usize - bytes.as_ptr() as usize + part.len();
    strip_to(shown, rel, Path::new(OsStr::from_bytes(&bytes[..end])))
}

fn root_of(shown: &Path, rel: &Path) -> PathBuf {
    let depth = rel.as_os_str().as_bytes().split(|b| *b == b'/').count();
    let mut root = shown.to_path_buf();
    for _ in 0..depth {
        root.pop();
    }
    root
}
