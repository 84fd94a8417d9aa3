//! The one error type of the filesystem layer.

use std::io;
use std::path::{Path, PathBuf};

/// Result of this crate.
pub type Result<T, E = FsError> = std::result::Result<T, E>;

/// Why a filesystem operation was refused or failed. Every variant names the
/// path (absolute: the root's path joined with the relative one).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FsError {
    /// The operating system refused.
    #[error("cannot {op} {}: {source}", path.display())]
    Io {
        /// What was being done ("open", "rename", …).
        op: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A component of the path is a symbolic link; dxforge never follows one.
    #[error("refusing to follow the symbolic link {}", path.display())]
    Symlink {
        /// The link.
        path: PathBuf,
    },
    /// The path reaches `.git` or `.dxforge` through the project root.
    #[error("refusing {}: `.git` and `.dxforge` are out of reach", path.display())]
    Reserved {
        /// The path as asked.
        path: PathBuf,
    },
    /// The path is not a plain relative path beneath the root.
    #[error("refusing {}: {reason}", path.display())]
    NotBeneath {
        /// The path as asked.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The file is larger than the caller accepts.
    #[error("{} is larger than the limit of {limit} bytes", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },
    /// Another operation holds the project lock.
    #[error("busy: {holder} holds the project lock {}", lock.display())]
    Busy {
        /// The lock file.
        lock: PathBuf,
        /// Who holds it, as recorded in the lock file ("add (pid 42)").
        holder: String,
    },
}

impl FsError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> FsError {
        FsError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// The path the error is about.
    pub fn path(&self) -> &Path {
        match self {
            FsError::Io { path, .. }
            | FsError::Symlink { path }
            | FsError::Reserved { path }
            | FsError::NotBeneath { path, .. }
            | FsError::TooLarge { path, .. } => path,
            FsError::Busy { lock, .. } => lock,
        }
    }

    /// The OS error kind, for `Io` errors.
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            FsError::Io { source, .. } => Some(source.kind()),
            _ => None,
        }
    }

    /// Whether the error is "no such file or directory".
    pub fn is_not_found(&self) -> bool {
        self.io_kind() == Some(io::ErrorKind::NotFound)
    }

    /// Whether the path was refused for safety (a link, a reserved name, a
    /// path leaving the root) rather than failing in the OS.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            FsError::Symlink { .. } | FsError::Reserved { .. } | FsError::NotBeneath { .. }
        )
    }
}

impl From<FsError> for io::Error {
    fn from(e: FsError) -> io::Error {
        let kind = match &e {
            FsError::Io { source, .. } => source.kind(),
            FsError::TooLarge { .. } => io::ErrorKind::InvalidData,
            FsError::Busy { .. } => io::ErrorKind::WouldBlock,
            _ => io::ErrorKind::PermissionDenied,
        };
        io::Error::new(kind, e)
    }
}
