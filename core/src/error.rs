//! The error type of the core and the stable kinds every binding maps from.

use std::any::Any;
use std::path::PathBuf;

use dxforge_fs::FsError;
use dxforge_orchestrator::OrchestratorError;
use dxforge_traffic::TrafficError;
use dxforge_worker::WorkerError;

use crate::config::ConfigError;

/// Any error of dxforge. Subsystem errors keep their structure inside.
///
/// Bindings convert it once, by [`Error::kind`] and [`Error::code`]: C gets a
/// negative `dxforge_error_code`, Python a `DxForgeError` subclass, Node an
/// `Error` whose `code` is [`Error::code`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `dxforge.toml` is missing a piece or is malformed.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Sovereign Orchestrator error.
    #[error(transparent)]
    Orchestrator(#[from] OrchestratorError),
    /// Shadow Worker error.
    #[error(transparent)]
    Worker(#[from] WorkerError),
    /// Traffic Branching error.
    #[error(transparent)]
    Traffic(#[from] TrafficError),
    /// The filesystem layer refused or failed (a link, a reserved name, a
    /// file over its size limit, the project lock held by another command).
    #[error(transparent)]
    Fs(#[from] FsError),
    /// A pipeline command string could not be parsed.
    #[error("{message}")]
    Usage {
        /// Clap's message, with usage.
        message: String,
    },
    /// An argument is invalid (empty name, NUL byte, wrong shape…).
    #[error("invalid argument `{name}`: {reason}")]
    InvalidArgument {
        /// Parameter name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// File-system error with the path involved.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Another process holds a lock this operation needs.
    #[error("{what} is busy: {detail}")]
    Busy {
        /// What is locked (e.g. `dxforge up` of a project).
        what: String,
        /// Who holds it, where known.
        detail: String,
    },
    /// The control socket of a running `dxforge up` failed.
    #[error("control socket {}: {message}", path.display())]
    Control {
        /// Socket path.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// An error reported by the `dxforge up` serving the control socket.
    #[error("{message}")]
    Relayed {
        /// Its kind on the supervisor's side.
        kind: ErrorKind,
        /// Its message.
        message: String,
    },
    /// The runtime could not be created or was used wrongly.
    #[error("{message}")]
    Runtime {
        /// What went wrong.
        message: String,
    },
    /// The handle was closed (`shutdown`, `close()`, `dxforge_free`).
    #[error("this DxForge handle has been closed")]
    Closed,
    /// The handle was created in a parent process before `fork()`.
    #[error(
        "this DxForge handle was created in another process (before fork); open a new one in this process"
    )]
    Forked,
    /// A command that acts on the tools of a running `dxforge up` found none
    /// serving the project.
    #[error(
        "no `dxforge up` is running for this project: `{command}` acts on the tools it supervises; start them with `dxforge up`"
    )]
    NotRunning {
        /// The command, e.g. `restart`.
        command: String,
    },
    /// The feature exists in the contract but is not built yet.
    #[error("{feature} is not built yet")]
    NotImplemented {
        /// The feature.
        feature: String,
    },
    /// A panic was caught at an API boundary (a bug; please report it).
    #[error("internal error: {message}")]
    Internal {
        /// Panic payload.
        message: String,
    },
}

/// Result alias of the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Stable category of an [`Error`], shared by every language binding.
///
/// The numeric value (`as i32`, negated) is the C `dxforge_error_code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[repr(i32)]
pub enum ErrorKind {
    /// Catch-all for errors without a more precise kind.
    Other = 1,
    /// A command string or CLI arguments were malformed.
    Usage = 2,
    /// An argument is invalid (NULL, bad UTF-8, empty, unsafe name).
    InvalidArgument = 3,
    /// The named thing (tool, package, snapshot, task) does not exist.
    NotFound = 4,
    /// `dxforge.toml`, `dxpkg.toml` or another config is malformed.
    Config = 5,
    /// Unknown dependency or dependency cycle.
    Dependency = 6,
    /// A tool could not be started or never became ready.
    ToolFailed = 7,
    /// An I/O error.
    Io = 8,
    /// A lock is held by another process.
    Busy = 9,
    /// A path would escape the project root.
    UnsafePath = 10,
    /// Remote object storage failed (unreachable, credentials, server error).
    Remote = 11,
    /// Stored data failed its hash check.
    Integrity = 12,
    /// A wait ran out of time.
    Timeout = 13,
    /// The handle was closed.
    Closed = 14,
    /// The handle was created before `fork()`.
    Forked = 15,
    /// Not built yet.
    NotImplemented = 16,
    /// Internal error (a caught panic).
    Internal = 17,
}

impl ErrorKind {
    /// Stable upper-case code, e.g. `"NOT_FOUND"`; Node's `error.code`.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::Other => "OTHER",
            ErrorKind::Usage => "USAGE",
            ErrorKind::InvalidArgument => "INVALID_ARGUMENT",
            ErrorKind::NotFound => "NOT_FOUND",
            ErrorKind::Config => "CONFIG",
            ErrorKind::Dependency => "DEPENDENCY",
            ErrorKind::ToolFailed => "TOOL_FAILED",
            ErrorKind::Io => "IO",
            ErrorKind::Busy => "BUSY",
            ErrorKind::UnsafePath => "UNSAFE_PATH",
            ErrorKind::Remote => "REMOTE",
            ErrorKind::Integrity => "INTEGRITY",
            ErrorKind::Timeout => "TIMEOUT",
            ErrorKind::Closed => "CLOSED",
            ErrorKind::Forked => "FORKED",
            ErrorKind::NotImplemented => "NOT_IMPLEMENTED",
            ErrorKind::Internal => "INTERNAL",
        }
    }

    /// The kind with this [`code`](Self::code), if any.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }

    /// Every kind, in numeric order (for bindings that build tables).
    pub const ALL: [ErrorKind; 17] = [
        ErrorKind::Other,
        ErrorKind::Usage,
        ErrorKind::InvalidArgument,
        ErrorKind::NotFound,
        ErrorKind::Config,
        ErrorKind::Dependency,
        ErrorKind::ToolFailed,
        ErrorKind::Io,
        ErrorKind::Busy,
        ErrorKind::UnsafePath,
        ErrorKind::Remote,
        ErrorKind::Integrity,
        ErrorKind::Timeout,
        ErrorKind::Closed,
        ErrorKind::Forked,
        ErrorKind::NotImplemented,
        ErrorKind::Internal,
    ];
}

impl Error {
    /// The stable kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Config(_) => ErrorKind::Config,
            Error::Orchestrator(e) => orchestrator_kind(e),
            Error::Worker(e) => worker_kind(e),
            Error::Traffic(e) => traffic_kind(e),
            Error::Fs(e) => fs_kind(e),
            Error::Usage { .. } => ErrorKind::Usage,
            Error::InvalidArgument { .. } => ErrorKind::InvalidArgument,
            Error::Io { .. } => ErrorKind::Io,
            Error::Busy { .. } => ErrorKind::Busy,
            Error::Control { .. } => ErrorKind::Io,
            Error::Relayed { kind, .. } => *kind,
            Error::Runtime { .. } | Error::NotRunning { .. } => ErrorKind::Other,
            Error::Closed => ErrorKind::Closed,
            Error::Forked => ErrorKind::Forked,
            Error::NotImplemented { .. } => ErrorKind::NotImplemented,
            Error::Internal { .. } => ErrorKind::Internal,
        }
    }

    /// Stable code string of [`kind`](Self::kind).
    pub fn code(&self) -> &'static str {
        self.kind().code()
    }

    /// The OS error number behind an I/O error, where there is one (Python
    /// uses it to pick the matching `OSError` subclass).
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Error::Io { source, .. } => source.raw_os_error(),
            Error::Fs(FsError::Io { source, .. }) => source.raw_os_error(),
            Error::Orchestrator(OrchestratorError::Io { source, .. }) => source.raw_os_error(),
            Error::Orchestrator(OrchestratorError::SpawnFailed { source, .. }) => {
                source.raw_os_error()
            }
            Error::Worker(WorkerError::Io { source, .. }) => source.raw_os_error(),
            Error::Traffic(TrafficError::Io { source, .. }) => source.raw_os_error(),
            _ => None,
        }
    }

    /// The error a panic caught at an API boundary is reported as:
    /// [`Error::Internal`] with the panic's message. Every binding keeps its
    /// own `catch_unwind` (that is glue) and converts the payload here.
    #[cold]
    pub fn from_panic(payload: &(dyn Any + Send)) -> Self {
        let message = if let Some(s) = payload.downcast_ref::<&str>() {
            (*s).to_owned()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "a panic without a message".to_owned()
        };
        Error::Internal { message }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

fn fs_kind(e: &FsError) -> ErrorKind {
    match e {
        FsError::Busy { .. } => ErrorKind::Busy,
        FsError::Symlink { .. } | FsError::Reserved { .. } | FsError::NotBeneath { .. } => {
            ErrorKind::UnsafePath
        }
        _ => ErrorKind::Io,
    }
}

fn orchestrator_kind(e: &OrchestratorError) -> ErrorKind {
    match e {
        OrchestratorError::UnknownTool { .. } => ErrorKind::NotFound,
        OrchestratorError::UnknownDependency { .. } | OrchestratorError::DependencyCycle { .. } => {
            ErrorKind::Dependency
        }
        OrchestratorError::InvalidDefinition { .. } => ErrorKind::InvalidArgument,
        OrchestratorError::EnvFile { .. } | OrchestratorError::Expansion { .. } => {
            ErrorKind::Config
        }
        OrchestratorError::BinaryNotFound { .. }
        | OrchestratorError::NotExecutable { .. }
        | OrchestratorError::SpawnFailed { .. }
        | OrchestratorError::StartupFailed { .. }
        | OrchestratorError::DependencyFailed { .. }
        | OrchestratorError::DependencyNotCompleted { .. } => ErrorKind::ToolFailed,
        OrchestratorError::Io { .. } => ErrorKind::Io,
        OrchestratorError::ShutDown => ErrorKind::Closed,
        OrchestratorError::Internal { .. } => ErrorKind::Internal,
        _ => ErrorKind::Other,
    }
}

fn worker_kind(e: &WorkerError) -> ErrorKind {
    match e {
        WorkerError::Timeout { .. } => ErrorKind::Timeout,
        WorkerError::UnknownTask { .. }
        | WorkerError::SnapshotNotFound { .. }
        | WorkerError::RemoteSnapshotNotFound { .. }
        | WorkerError::BucketNotFound { .. } => ErrorKind::NotFound,
        WorkerError::InvalidSnapshotId { .. } => ErrorKind::InvalidArgument,
        WorkerError::InvalidManifest { .. }
        | WorkerError::InvalidRestoreJournal { .. }
        | WorkerError::CorruptObject { .. }
        | WorkerError::MissingObject { .. }
        | WorkerError::RemoteObjectCorrupt { .. } => ErrorKind::Integrity,
        WorkerError::RemoteNotConfigured
        | WorkerError::InvalidRemoteConfig { .. }
        | WorkerError::CredentialsMissing { .. }
        | WorkerError::RegistryUnavailable { .. } => ErrorKind::Config,
        WorkerError::RemoteAuth { .. }
        | WorkerError::RemoteUnreachable { .. }
        | WorkerError::Remote { .. } => ErrorKind::Remote,
        WorkerError::Io { .. } | WorkerError::RestoreConflict { .. } => ErrorKind::Io,
        WorkerError::Busy { .. } => ErrorKind::Busy,
        WorkerError::UnsafePath { .. } => ErrorKind::UnsafePath,
        WorkerError::TooLarge { .. } | WorkerError::InvalidIndex { .. } => ErrorKind::Integrity,
        WorkerError::NotBuiltYet { .. } => ErrorKind::NotImplemented,
        WorkerError::ShutDown => ErrorKind::Closed,
        WorkerError::Panicked { .. } => ErrorKind::Internal,
        WorkerError::Traffic { source } => traffic_kind(source),
        WorkerError::RestoreUnfinished { source, .. } => worker_kind(source),
        _ => ErrorKind::Other,
    }
}

fn traffic_kind(e: &TrafficError) -> ErrorKind {
    match e {
        TrafficError::Io { .. } => ErrorKind::Io,
        TrafficError::Manifest { .. } | TrafficError::NoRegistry => ErrorKind::Config,
        TrafficError::InvalidName { .. } | TrafficError::InvalidVersion { .. } => {
            ErrorKind::InvalidArgument
        }
        TrafficError::PackageNotFound { .. } | TrafficError::NotInstalled { .. } => {
            ErrorKind::NotFound
        }
        TrafficError::NoMatchingVersion { .. }
        | TrafficError::DependencyCycle { .. }
        | TrafficError::Required { .. }
        | TrafficError::FileClash { .. } => ErrorKind::Dependency,
        TrafficError::UnsafePath { .. } | TrafficError::OutsideRoot { .. } => ErrorKind::UnsafePath,
        // Local state or package content that fails validation (malformed,
        // over a documented limit) is refused like data failing its hash.
        TrafficError::HashMismatch { .. }
        | TrafficError::Journal { .. }
        | TrafficError::Corrupt { .. }
        | TrafficError::Limit { .. } => ErrorKind::Integrity,
        TrafficError::Busy { .. } => ErrorKind::Busy,
        // A registry that cannot be reached or answers garbage.
        TrafficError::Registry { .. } => ErrorKind::Remote,
        _ => ErrorKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_payload_becomes_internal_with_its_message() {
        let err = Error::from_panic(&"static message");
        assert_eq!(err.kind(), ErrorKind::Internal);
        assert_eq!(err.to_string(), "internal error: static message");
        let err = Error::from_panic(&format!("formatted {}", 42));
        assert_eq!(err.to_string(), "internal error: formatted 42");
        let err = Error::from_panic(&17_u8);
        assert_eq!(err.to_string(), "internal error: a panic without a message");
        let caught = std::panic::catch_unwind(|| panic!("boom {}", 1)).unwrap_err();
        assert_eq!(
            Error::from_panic(&*caught).to_string(),
            "internal error: boom 1"
        );
    }
}
