//! [`Root`]: a directory handle through which every path is resolved.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

use crate::rel::{check, is_reserved, split};
use crate::resolve::open_beneath;
use crate::temp::{TempFile, is_temp_name};
use crate::{Durability, FsError, Policy, Result, WriteOptions};

/// Deepest directory tree [`Root::sweep_temps`] descends into.
const MAX_SWEEP_DEPTH: usize = 256;

/// A directory through which paths are resolved without following links out
/// of it (see the crate docs). Cheap to clone; the descriptor closes when the
/// last clone drops. Moving or renaming the directory afterwards does not
/// move the handle: it keeps pointing at the directory it opened.
#[derive(Debug, Clone)]
pub struct Root {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    fd: OwnedFd,
    path: PathBuf,
    policy: Policy,
}

/// What kind of entry a path names (never looking through a link).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// A FIFO, socket or device.
    Other,
}

impl Kind {
    fn of(t: FileType) -> Kind {
        match t {
            FileType::RegularFile => Kind::File,
            FileType::Directory => Kind::Dir,
            FileType::Symlink => Kind::Symlink,
            _ => Kind::Other,
        }
    }
}

/// `lstat` of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// What it is.
    pub kind: Kind,
    /// Size in bytes.
    pub len: u64,
    /// Permission bits (`st_mode & 0o7777`).
    pub mode: u32,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
    /// Status-change time, nanoseconds since the Unix epoch.
    pub ctime_ns: i64,
    /// Inode number.
    pub ino: u64,
    /// Device number.
    pub dev: u64,
}

impl Meta {
    pub(crate) fn of(st: &rustix::fs::Stat) -> Meta {
        Meta {
            kind: Kind::of(FileType::from_raw_mode(st.st_mode)),
            len: u64::try_from(st.st_size).unwrap_or(0),
            mode: st.st_mode & 0o7777,
            mtime_ns: st.st_mtime.saturating_mul(1_000_000_000) + st.st_mtime_nsec as i64,
            ctime_ns: st.st_ctime.saturating_mul(1_000_000_000) + st.st_ctime_nsec as i64,
            ino: st.st_ino,
            dev: st.st_dev,
        }
    }
}

impl Root {
    /// Opens the directory at `path` (which the caller trusts: it is opened
    /// normally, links included) as a root.
    pub fn open(path: impl AsRef<Path>, policy: Policy) -> Result<Root> {
        let path = path.as_ref();
        let fd = rustix::fs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| FsError::io("open directory", path, e.into()))?;
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        Ok(Root {
            inner: Arc::new(Inner { fd, path, policy }),
        })
    }

    /// A directory beneath this root as a root of its own, created (with its
    /// parents) when `create` is set; the empty path is the root itself (a
    /// clone of this handle under the same policy). Under [`Policy::Project`],
    /// `.dxforge` itself may be opened this way: it is how state is reached.
    pub fn subroot(&self, rel: impl AsRef<Path>, policy: Policy, create: bool) -> Result<Root> {
        let rel = rel.as_ref();
        let check_policy = if is_reserved(rel.as_os_str()) {
            Policy::Plain
        } else {
            self.inner.policy
        };
        check(rel, check_policy, true)?;
        if rel.as_os_str().is_empty() && policy == self.inner.policy {
            return Ok(self.clone());
        }
        let fd = if rel.as_os_str().is_empty() {
            // The root itself, seen under another policy.
            rustix::fs::openat(
                self.fd(),
                ".",
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| FsError::io("open directory", self.path(), e.into()))?
        } else {
            if create {
                self.mkdirs(rel)?;
            }
            self.open_raw(rel, OFlags::PATH | OFlags::DIRECTORY, Mode::empty())?
        };
        Ok(Root {
            inner: Arc::new(Inner {
                fd,
                path: self.join(rel),
                policy,
            }),
        })
    }

    /// The root's absolute path, for messages. Operations never use it.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The policy the root was opened with.
    pub fn policy(&self) -> Policy {
        self.inner.policy
    }

    /// `<root>/<rel>`, for messages.
    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        let rel = rel.as_ref();
        if rel.as_os_str().is_empty() {
            self.inner.path.clone()
        } else {
            self.inner.path.join(rel)
        }
    }

    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.inner.fd.as_fd()
    }

    fn checked<'a>(&self, rel: &'a Path, allow_empty: bool) -> Result<&'a Path> {
        check(rel, self.inner.policy, allow_empty)?;
        Ok(rel)
    }

    pub(crate) fn open_raw(&self, rel: &Path, flags: OFlags, mode: Mode) -> Result<OwnedFd> {
        open_beneath(self.fd(), rel, flags, mode, &self.join(rel))
    }

    /// The directory holding `rel` and `rel`'s last component.
    pub(crate) fn parent<'a>(
        &self,
        rel: &'a Path,
        create: bool,
    ) -> Result<(OwnedFd, &'a OsStr, &'a Path)> {
        let rel = self.checked(rel, false)?;
        let (dir, name) = split(rel);
        if create && !dir.as_os_str().is_empty() {
            self.mkdirs(dir)?;
        }
        let fd = self.open_raw(dir, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty())?;
        Ok((fd, name, dir))
    }

    /// Reads the file `rel`; `None` when it does not exist; a file larger
    /// than `limit` bytes is refused without being read.
    pub fn read(&self, rel: impl AsRef<Path>, limit: u64) -> Result<Option<Vec<u8>>> {
        let rel = self.checked(rel.as_ref(), false)?;
        let file = match self.open_file(rel) {
            Ok(f) => f,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let shown = || self.join(rel);
        let len = file
            .metadata()
            .map_err(|e| FsError::io("inspect", shown(), e))?
            .len();
        if len > limit {
            return Err(FsError::TooLarge {
                path: shown(),
                limit,
            });
        }
        let mut data = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        // `take`: the file may grow between the stat and the read.
        file.take(limit.saturating_add(1))
            .read_to_end(&mut data)
            .map_err(|e| FsError::io("read", shown(), e))?;
        if data.len() as u64 > limit {
            return Err(FsError::TooLarge {
                path: shown(),
                limit,
            });
        }
        Ok(Some(data))
    }

    /// Opens the regular file `rel` for reading.
    pub fn open_file(&self, rel: impl AsRef<Path>) -> Result<File> {
        let rel = self.checked(rel.as_ref(), false)?;
        let fd = self.open_raw(rel, OFlags::RDONLY | OFlags::NONBLOCK, Mode::empty())?;
        let file = File::from(fd);
        // A FIFO or device must not block or stream forever.
        let kind = file
            .metadata()
            .map_err(|e| FsError::io("inspect", self.join(rel), e))?
            .file_type();
        if !kind.is_file() {
            return Err(FsError::io(
                "read",
                self.join(rel),
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"),
            ));
        }
        // O_NONBLOCK stays set: it has no effect on regular files.
        Ok(file)
    }

    /// `lstat` of `rel`; `None` when it does not exist. An empty path is the root itself.
    pub fn metadata(&self, rel: impl AsRef<Path>) -> Result<Option<Meta>> {
        let rel = self.checked(rel.as_ref(), true)?;
        if rel.as_os_str().is_empty() {
            let st = rustix::fs::fstat(self.fd())
                .map_err(|e| FsError::io("inspect", self.join(rel), e.into()))?;
            return Ok(Some(Meta::of(&st)));
        }
        let (dir, name, _) = match self.parent(rel, false) {
            Ok(p) => p,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        match rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(Meta::of(&st))),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(FsError::io("inspect", self.join(rel), e.into())),
        }
    }

    /// Replaces `rel` with `data` through a fresh temporary file and a
    /// rename, creating missing parent directories. A link at `rel` is
    /// replaced, not followed; a directory there is an error.
    pub fn write_atomic(
        &self,
        rel: impl AsRef<Path>,
        data: &[u8],
        options: WriteOptions,
    ) -> Result<()> {
        let rel = rel.as_ref();
        let (_, _, dir) = self.parent(rel, true)?;
        let mut tmp = self.temp_file_for(dir, rel)?;
        tmp.write_all(data)
            .map_err(|e| FsError::io("write", self.join(tmp.rel()), e))?;
        if let Some(mode) = options.mode {
            tmp.set_mode(mode)?;
        }
        tmp.persist(rel, options.durability)
    }

    /// A new temporary file in the directory `dir_rel` (created if missing),
    /// named after nothing in particular. See [`TempFile`].
    pub fn temp_file(&self, dir_rel: impl AsRef<Path>) -> Result<TempFile> {
        let dir = self.checked(dir_rel.as_ref(), true)?;
        if !dir.as_os_str().is_empty() {
            self.mkdirs(dir)?;
        }
        TempFile::create(self.clone(), dir, OsStr::new("tmp"))
    }

    fn temp_file_for(&self, dir: &Path, rel: &Path) -> Result<TempFile> {
        let (_, name) = split(rel);
        TempFile::create(self.clone(), dir, name)
    }

    /// Creates the directory `rel` and its missing parents, never through a link.
    pub fn create_dir_all(&self, rel: impl AsRef<Path>) -> Result<()> {
        let rel = self.checked(rel.as_ref(), true)?;
        self.mkdirs(rel)
    }

    fn mkdirs(&self, rel: &Path) -> Result<()> {
        // Fast path: it usually exists already.
        match self.open_raw(rel, OFlags::PATH | OFlags::DIRECTORY, Mode::empty()) {
            Ok(_) => return Ok(()),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
        let mut prefix = PathBuf::new();
        for part in rel.as_os_str().as_bytes().split(|b| *b == b'/') {
            let (dir, name) = (prefix.clone(), OsStr::from_bytes(part));
            prefix.push(name);
            let at = self.open_raw(&dir, OFlags::PATH | OFlags::DIRECTORY, Mode::empty())?;
            match rustix::fs::mkdirat(&at, name, Mode::from_raw_mode(0o777)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => {
                    return Err(FsError::io(
                        "create directory",
                        self.join(&prefix),
                        e.into(),
                    ));
                }
            }
        }
        // Whatever now sits there must be a real directory, not a link.
        self.open_raw(rel, OFlags::PATH | OFlags::DIRECTORY, Mode::empty())
            .map(drop)
    }

    /// Removes the file (or link) `rel`; `false` when it did not exist.
    pub fn remove_file(&self, rel: impl AsRef<Path>) -> Result<bool> {
        self.unlink(rel.as_ref(), AtFlags::empty(), "remove")
    }

    /// Removes the empty directory `rel`; `false` when it did not exist or is not empty.
    pub fn remove_dir(&self, rel: impl AsRef<Path>) -> Result<bool> {
        match self.unlink(rel.as_ref(), AtFlags::REMOVEDIR, "remove directory") {
            Err(FsError::Io { source, .. })
                if source.raw_os_error() == Some(Errno::NOTEMPTY.raw_os_error()) =>
            {
                Ok(false)
            }
            other => other,
        }
    }

    fn unlink(&self, rel: &Path, flags: AtFlags, op: &'static str) -> Result<bool> {
        let (dir, name, _) = match self.parent(rel, false) {
            Ok(p) => p,
            Err(e) if e.is_not_found() => return Ok(false),
            Err(e) => return Err(e),
        };
        match rustix::fs::unlinkat(&dir, name, flags) {
            Ok(()) => Ok(true),
            Err(Errno::NOENT) => Ok(false),
            Err(e) => Err(FsError::io(op, self.join(rel), e.into())),
        }
    }

    /// Renames `from` to `to`, both beneath this root (`to`'s parent must exist).
    pub fn rename(&self, from: impl AsRef<Path>, to: impl AsRef<Path>) -> Result<()> {
        let (from, to) = (from.as_ref(), to.as_ref());
        let (from_dir, from_name, _) = self.parent(from, false)?;
        let (to_dir, to_name, _) = self.parent(to, false)?;
        rustix::fs::renameat(&from_dir, from_name, &to_dir, to_name)
            .map_err(|e| FsError::io("rename", self.join(to), e.into()))
    }

    /// Creates the link `rel` pointing at `target` (the link itself is the
    /// new entry; nothing is followed).
    pub fn symlink(&self, target: impl AsRef<Path>, rel: impl AsRef<Path>) -> Result<()> {
        let rel = rel.as_ref();
        let (dir, name, _) = self.parent(rel, true)?;
        rustix::fs::symlinkat(target.as_ref(), &dir, name)
            .map_err(|e| FsError::io("create link", self.join(rel), e.into()))
    }

    /// Makes `rel` a link pointing at `target`, replacing whatever entry
    /// (not a directory) is there: the link is made under a fresh temp name
    /// and renamed into place, so the old entry is never followed or torn.
    pub fn replace_with_symlink(
        &self,
        target: impl AsRef<Path>,
        rel: impl AsRef<Path>,
    ) -> Result<()> {
        let rel = rel.as_ref();
        let (dir, name, _) = self.parent(rel, false)?;
        crate::temp::replace_with_symlink(&dir, target.as_ref(), name)
            .map_err(|e| FsError::io("create link", self.join(rel), e.into()))
    }

    /// The target of the link `rel`.
    pub fn read_link(&self, rel: impl AsRef<Path>) -> Result<PathBuf> {
        let rel = rel.as_ref();
        let (dir, name, _) = self.parent(rel, false)?;
        rustix::fs::readlinkat(&dir, name, Vec::new())
            .map(|t| PathBuf::from(OsString::from_vec(t.into_bytes())))
            .map_err(|e| FsError::io("read link", self.join(rel), e.into()))
    }

    /// Entries of the directory `rel` (empty: the root), without `.` and `..`.
    pub fn read_dir(&self, rel: impl AsRef<Path>) -> Result<Vec<(OsString, Kind)>> {
        let rel = self.checked(rel.as_ref(), true)?;
        let fd = self.open_raw(rel, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty())?;
        list(fd, &self.join(rel))
    }

    /// fsyncs the directory `rel` (empty: the root), so renames in it survive a power cut.
    pub fn sync_dir(&self, rel: impl AsRef<Path>) -> Result<()> {
        let rel = self.checked(rel.as_ref(), true)?;
        let fd = self.open_raw(rel, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty())?;
        rustix::fs::fsync(&fd).map_err(|e| FsError::io("fsync", self.join(rel), e.into()))
    }

    /// Flushes every pending write of the file system holding the root: one
    /// call makes a batch of [`Durability::Atomic`] writes durable.
    pub fn syncfs(&self) -> Result<()> {
        let fd = self.open_raw(
            Path::new(""),
            OFlags::RDONLY | OFlags::DIRECTORY,
            Mode::empty(),
        )?;
        rustix::fs::syncfs(&fd).map_err(|e| FsError::io("syncfs", self.path(), e.into()))
    }

    /// Removes every dxforge temporary file under the directory `rel`
    /// (empty: the root), descending into subdirectories but never through
    /// a link (nor, under [`Policy::Project`], into `.git` or `.dxforge`). Returns how many were removed. Call it with the project lock
    /// held: a temp file of a running operation would be removed too.
    pub fn sweep_temps(&self, rel: impl AsRef<Path>) -> Result<usize> {
        let rel = self.checked(rel.as_ref(), true)?;
        let fd = match self.open_raw(rel, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()) {
            Ok(fd) => fd,
            Err(e) if e.is_not_found() => return Ok(0),
            Err(e) => return Err(e),
        };
        sweep(fd, &self.join(rel), self.inner.policy, 0)
    }
}

fn list(fd: OwnedFd, shown: &Path) -> Result<Vec<(OsString, Kind)>> {
    let dir = rustix::fs::Dir::new(fd).map_err(|e| FsError::io("list", shown, e.into()))?;
    let mut out = Vec::new();
    for entry in dir {
        let entry = entry.map_err(|e| FsError::io("list", shown, e.into()))?;
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        out.push((
            OsString::from_vec(name.to_vec()),
            Kind::of(entry.file_type()),
        ));
    }
    Ok(out)
}

fn sweep(fd: OwnedFd, shown: &Path, policy: Policy, depth: usize) -> Result<usize> {
    if depth > MAX_SWEEP_DEPTH {
        return Ok(0);
    }
    let dup = fd.try_clone().map_err(|e| FsError::io("open", shown, e))?;
    let mut removed = 0;
    for (name, kind) in list(dup, shown)? {
        match kind {
            // Under a project root, `.git` and `.dxforge` are not ours to sweep.
            Kind::Dir if policy == Policy::Project && is_reserved(&name) => {}
            Kind::Dir => {
                let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
                if let Ok(sub) = rustix::fs::openat(&fd, &name, flags, Mode::empty()) {
                    removed += sweep(sub, &shown.join(&name), policy, depth + 1)?;
                }
            }
            Kind::File if is_temp_name(&name.to_string_lossy()) => {
                match rustix::fs::unlinkat(&fd, &name, AtFlags::empty()) {
                    Ok(()) => removed += 1,
                    Err(Errno::NOENT) => {}
                    Err(e) => return Err(FsError::io("remove", shown.join(&name), e.into())),
                }
            }
            _ => {}
        }
    }
    Ok(removed)
}

impl Durability {
    pub(crate) fn syncs(self) -> bool {
        self == Durability::Durable
    }
}
