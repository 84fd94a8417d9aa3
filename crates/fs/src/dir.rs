//! [`Dir`]: one directory beneath a [`Root`], resolved by the kernel once,
//! in which many files are then staged, inspected and renamed by name.
//!
//! A batch of writes (an install of a thousand files) would otherwise
//! resolve each file's directory two or three times (`openat2` per temp
//! file, per rename side). The confinement is the same: the directory is
//! opened with [`Root`]'s `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`
//! (or the `O_NOFOLLOW` walk), and every operation below names a single
//! checked component relative to its descriptor, which no link can
//! redirect (`O_NOFOLLOW`, `renameat` and `fstatat(AT_SYMLINK_NOFOLLOW)`
//! never follow the last component).

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;

use crate::rel::check;
use crate::root::{Meta, Root};
use crate::temp::{MARKER, MAX_STEM, random_u64};
use crate::{FsError, Result};

/// Names tried before giving up on a free temp name.
const ATTEMPTS: usize = 16;

/// A directory beneath a [`Root`], opened once (see the module docs).
/// `Sync`: threads may stage into one `Dir` at the same time.
#[derive(Debug)]
pub struct Dir {
    root: Root,
    fd: OwnedFd,
    rel: PathBuf,
    /// Temp names are `seed + n`: one `getrandom` per directory, not per
    /// file; `O_EXCL` keeps a guessed name harmless, a taken one is skipped.
    seed: u64,
    next: AtomicU64,
}

impl Root {
    /// Opens the existing directory `rel` (empty: the root itself) for
    /// batched operations by name. Never follows a link; under
    /// [`crate::Policy::Project`] `.git` and `.dxforge` are refused.
    pub fn open_dir(&self, rel: impl AsRef<Path>) -> Result<Dir> {
        let rel = rel.as_ref();
        check(rel, self.policy(), true)?;
        let fd = crate::resolve::open_beneath(
            self.fd(),
            rel,
            OFlags::RDONLY | OFlags::DIRECTORY,
            Mode::empty(),
            &self.join(rel),
        )?;
        Ok(Dir {
            root: self.clone(),
            fd,
            rel: rel.to_path_buf(),
            seed: random_u64(),
            next: AtomicU64::new(0),
        })
    }
}

impl Dir {
    /// The directory's path relative to its root.
    pub fn rel(&self) -> &Path {
        &self.rel
    }

    /// `name` checked as one component of this directory (no `/`, not `.`
    /// or `..`, not reserved under the root's policy).
    fn name<'a>(&self, name: &'a OsStr) -> Result<&'a OsStr> {
        let as_path = Path::new(name);
        check(as_path, self.root.policy(), false)?;
        if name.as_bytes().contains(&b'/') {
            return Err(FsError::NotBeneath {
                path: self.shown(name),
                reason: "not a single path component",
            });
        }
        Ok(name)
    }

    fn shown(&self, name: &OsStr) -> PathBuf {
        self.root.join(self.rel.join(name))
    }

    /// Writes `data` to a new temporary file (`O_CREAT | O_EXCL |
    /// O_NOFOLLOW`, named like [`crate::TempFile`]'s after `target`) in this
    /// directory and returns its name. The file stays (it is meant to be
    /// renamed later, e.g. by a journal); it is removed when writing fails.
    /// Nothing is fsynced: the caller flushes the batch (e.g. [`Root::syncfs`]).
    pub fn stage(&self, target: &OsStr, data: &[u8]) -> Result<OsString> {
        let target = self.name(target)?;
        let flags =
            OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let mut last = Errno::EXIST;
        for _ in 0..ATTEMPTS {
            let bits = self
                .seed
                .wrapping_add(self.next.fetch_add(1, Ordering::Relaxed));
            let name = temp_name_with(target, bits);
            match rustix::fs::openat(&self.fd, &name, flags, Mode::from_raw_mode(0o666)) {
                Ok(fd) => {
                    let mut file = File::from(fd);
                    if let Err(e) = file.write_all(data) {
                        drop(file);
                        let _ = rustix::fs::unlinkat(&self.fd, &name, AtFlags::empty());
                        return Err(FsError::io("write", self.shown(&name), e));
                    }
                    return Ok(name);
                }
                Err(Errno::EXIST) => last = Errno::EXIST,
                Err(e) => {
                    last = e;
                    break;
                }
            }
        }
        Err(FsError::io(
            "create a temporary file in",
            self.root.join(&self.rel),
            last.into(),
        ))
    }

    /// Renames the entry `from` to `to`, both in this directory; the entry
    /// at `to` (not a directory) is replaced, never followed.
    pub fn rename(&self, from: &OsStr, to: &OsStr) -> Result<()> {
        let (from, to) = (self.name(from)?, self.name(to)?);
        rustix::fs::renameat(&self.fd, from, &self.fd, to)
            .map_err(|e| FsError::io("rename", self.shown(to), e.into()))
    }

    /// `lstat` of the entry `name`; `None` when it does not exist.
    pub fn metadata(&self, name: &OsStr) -> Result<Option<Meta>> {
        let name = self.name(name)?;
        match rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(Meta::of(&st))),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(FsError::io("inspect", self.shown(name), e.into())),
        }
    }
}

/// `.<target>.dxforge-<16 hex>.tmp` with the given bits (the format
/// [`crate::is_temp_name`] recognises, so sweeps and rollbacks find it).
fn temp_name_with(target: &OsStr, bits: u64) -> OsString {
    let stem = &target.as_bytes()[..target.len().min(MAX_STEM)];
    let mut name = Vec::with_capacity(stem.len() + 32);
    name.push(b'.');
    name.extend_from_slice(stem);
    name.extend_from_slice(format!("{MARKER}{bits:016x}.tmp").as_bytes());
    OsString::from_vec(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Policy, is_temp_name};

    #[test]
    fn stages_renames_and_inspects_by_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let root = Root::open(dir.path(), Policy::Project).unwrap();
        let d = root.open_dir("sub").unwrap();
        let a = d.stage(OsStr::new("a.txt"), b"one").unwrap();
        let b = d.stage(OsStr::new("a.txt"), b"two").unwrap();
        assert_ne!(a, b);
        assert!(is_temp_name(a.to_str().unwrap()));
        d.rename(&a, OsStr::new("a.txt")).unwrap();
        assert_eq!(std::fs::read(dir.path().join("sub/a.txt")).unwrap(), b"one");
        assert_eq!(d.metadata(OsStr::new("a.txt")).unwrap().unwrap().len, 3);
        assert!(d.metadata(&a).unwrap().is_none());
        assert!(d.metadata(&b).unwrap().is_some());
    }

    #[test]
    fn refuses_links_reserved_names_and_paths() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).unwrap();
        let root = Root::open(dir.path(), Policy::Project).unwrap();
        assert!(root.open_dir("link").is_err());
        assert!(root.open_dir(".git").is_err());
        let d = root.open_dir("").unwrap();
        assert!(d.stage(OsStr::new("x/y"), b"").is_err());
        assert!(d.stage(OsStr::new(".dxforge"), b"").is_err());
        assert!(d.stage(OsStr::new(".."), b"").is_err());
        assert!(d.rename(OsStr::new("a"), OsStr::new("../b")).is_err());
        // A link at the target is replaced, not followed.
        let t = d.stage(OsStr::new("link"), b"data").unwrap();
        d.rename(&t, OsStr::new("link")).unwrap();
        assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());
        assert_eq!(std::fs::read(dir.path().join("link")).unwrap(), b"data");
    }
}
