//! Root-confined, crash-safe file operations: the one filesystem layer of
//! dxforge.
//!
//! dxforge writes into people's source trees, and almost nothing it reads is
//! trusted: package content, a registry's layout, files already in the
//! project, `.dxforge/` state a cloned repository may carry. This crate is
//! where that distrust is enforced, once, for every crate.
//!
//! # Theory of operation
//!
//! A [`Root`] is an open handle (an `O_PATH` directory descriptor) on a
//! directory: a project, its `.dxforge/` state, a registry, a store. Every
//! operation names a path *relative to that root* and the kernel resolves it
//! beneath the handle:
//!
//! - `openat2(2)` with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
//!   RESOLVE_NO_MAGICLINKS` where the kernel has it (Linux 5.6+), otherwise
//!   a walk that opens one component at a time with `O_NOFOLLOW`. Either way
//!   no symbolic link is ever followed, not even one that stays inside the
//!   root: a link is refused with [`FsError::Symlink`] naming it. (A link
//!   inside the project can point into `.git/hooks`; following "safe" links
//!   would need the same resolution done twice, and nothing dxforge does
//!   needs to write through a link.)
//! - Paths are checked before the kernel sees them: only normal components
//!   (no absolute paths, `..`, `.` or empty components, no NUL).
//!   [`Policy::Project`] also refuses `.git` and `.dxforge` at any depth, so
//!   neither a package nor a planted journal can reach git's hooks or
//!   dxforge's own state through the project root.
//! - Writes go to a fresh temporary file next to the target, created with
//!   `O_CREAT | O_EXCL | O_NOFOLLOW` under a random name
//!   (`.<name>.dxforge-<16 hex>.tmp`), then renamed over the target with
//!   `renameat(2)` on the directory handle. A link planted where the temp
//!   file or the target would be is replaced, never written through.
//! - [`Durability`] says what a write promises after a crash: `Durable`
//!   fsyncs the file before the rename and the directory after it; `Atomic`
//!   only promises old-or-new content and leaves flushing to one
//!   [`Root::syncfs`] by the caller (a batch of thousands of files is made
//!   durable with one call instead of thousands).
//! - [`ProjectLock`] is the one lock of a project (`.dxforge/lock`): every
//!   command that changes the project or `.dxforge/` holds it.
//!
//! Reads that come from disk are bounded: [`Root::read`] and
//! [`read_bounded`] refuse a file larger than the caller's limit with
//! [`FsError::TooLarge`] instead of allocating whatever the file claims.
//!
//! # Example
//!
//! ```
//! use dxforge_fs::{Durability, Policy, Root, WriteOptions};
//!
//! let dir = tempfile::tempdir()?;
//! let project = Root::open(dir.path(), Policy::Project)?;
//! project.write_atomic("src/app.txt", b"hello\n", WriteOptions::durable())?;
//! assert_eq!(project.read("src/app.txt", 1 << 20)?.as_deref(), Some(&b"hello\n"[..]));
//!
//! // `.git` is out of reach, whatever the path looks like.
//! assert!(project.write_atomic("vendor/.git/hooks/pre-commit", b"x", WriteOptions::default()).is_err());
//!
//! // A link inside the project is refused, not followed.
//! std::os::unix::fs::symlink(dir.path().join("src"), dir.path().join("link"))?;
//! assert!(project.read("link/app.txt", 1 << 20).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod here;
mod lock;
mod rel;
mod resolve;
mod root;
mod temp;

pub use error::{FsError, Result};
pub use here::start_writeback_of;
pub use lock::{LockMode, ProjectLock};
pub use rel::check_relative;
#[doc(hidden)]
pub use resolve::force_component_walk;
pub use root::{Kind, Meta, Root};
pub use temp::{TempFile, is_temp_name};

use std::path::Path;

/// What a write promises when the machine crashes right after it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Old or new content, never a mix, but the new content may be lost on a
    /// power cut until the caller flushes (for example with [`Root::syncfs`]).
    #[default]
    Atomic,
    /// The new content survives a power cut once the call returns: the file is
    /// fsynced before the rename and its directory after it.
    Durable,
}

/// How [`Root::write_atomic`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriteOptions {
    /// Permission bits of the new file; `None` keeps the default (0o666 less the umask).
    pub mode: Option<u32>,
    /// What the write promises after a crash.
    pub durability: Durability,
}

impl WriteOptions {
    /// Durable, default permissions.
    pub fn durable() -> Self {
        WriteOptions {
            mode: None,
            durability: Durability::Durable,
        }
    }

    /// The same options with these permission bits.
    pub fn with_mode(self, mode: u32) -> Self {
        WriteOptions {
            mode: Some(mode),
            ..self
        }
    }
}

/// How a root treats names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// A user's project: `.git` and `.dxforge` components are refused at any
    /// depth (open `.dxforge` itself with [`Root::subroot`]).
    Project,
    /// dxforge's own trees (state, stores, registries, caches): only links are refused.
    Plain,
}

/// Reads the file at `path`, refusing one larger than `limit` bytes; `None`
/// when it does not exist. The directory holding `path` is trusted (it is
/// opened normally); the file itself is never read through a link.
pub fn read_bounded(path: &Path, limit: u64) -> Result<Option<Vec<u8>>> {
    let (dir, name) = split_absolute(path)?;
    match Root::open(dir, Policy::Plain) {
        Ok(root) => root.read(name, limit),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Writes `data` to `path` atomically (a fresh temporary file beside it, then
/// a rename). The directory holding `path` is trusted and must exist; the
/// file itself is replaced, never written through a link.
pub fn write_atomic(path: &Path, data: &[u8], options: WriteOptions) -> Result<()> {
    let (dir, name) = split_absolute(path)?;
    Root::open(dir, Policy::Plain)?.write_atomic(name, data, options)
}

fn split_absolute(path: &Path) -> Result<(&Path, &Path)> {
    let name = path.file_name().ok_or_else(|| FsError::NotBeneath {
        path: path.to_path_buf(),
        reason: "has no file name",
    })?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    Ok((dir, Path::new(name)))
}
