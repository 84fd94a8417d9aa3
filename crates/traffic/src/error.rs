//! The one error type of the Traffic Branching subsystem.

use std::path::PathBuf;

use dxforge_fs::FsError;

/// Everything that can stop a Traffic Branching operation.
///
/// Merge conflicts are *not* errors: they are Red files in a report. Every
/// variant that is returned from a mutating operation means nothing in the
/// project was changed by that operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrafficError {
    /// A file could not be read or written.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done ("read", "write", "rename", ...).
        op: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A TOML file (`dxpkg.toml`, `dxforge.lock`, `dxforge.toml`) is malformed.
    #[error("{file}:{line}: invalid key `{key}`: {message}")]
    Manifest {
        /// The file.
        file: PathBuf,
        /// 1-based line of the problem (0 when unknown).
        line: usize,
        /// The offending key, or the closest text the parser pointed at.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// A package name is not `[a-z0-9][a-z0-9._-]*`.
    #[error(
        "invalid package name `{name}`: names are [a-z0-9][a-z0-9._-]* with at most 64 characters"
    )]
    InvalidName {
        /// The rejected name.
        name: String,
    },
    /// A version or version requirement does not parse as semver.
    #[error("invalid version `{version}` for package `{package}`: {message}")]
    InvalidVersion {
        /// The package concerned.
        package: String,
        /// The rejected text.
        version: String,
        /// The parser's explanation.
        message: String,
    },
    /// No registry is configured and no cached copy exists.
    #[error("no package registry configured (set [registry] path in dxforge.toml)")]
    NoRegistry,
    /// The package does not exist in the registry (or local cache).
    #[error("package `{name}` not found in registry {registry}")]
    PackageNotFound {
        /// The package.
        name: String,
        /// The registry directory searched.
        registry: PathBuf,
    },
    /// No version of the package matches the requirement(s).
    #[error("no version of `{name}` matches `{requirement}` (available: {available})")]
    NoMatchingVersion {
        /// The package.
        name: String,
        /// All requirements that had to be met, comma separated.
        requirement: String,
        /// Versions found, comma separated.
        available: String,
    },
    /// Package dependencies form a cycle.
    #[error("dependency cycle: {cycle}")]
    DependencyCycle {
        /// The cycle, e.g. `a -> b -> a`.
        cycle: String,
    },
    /// A path is refused: a package file would be written outside the project,
    /// through a symlink or into `.git`/`.dxforge`; a registry package's tree
    /// holds a symlink; a lock file or journal names such a path.
    #[error("unsafe path `{path}`{}: {reason}", in_package(.package))]
    UnsafePath {
        /// The package concerned (empty when none: a path given by the caller
        /// or found in local state).
        package: String,
        /// The path as written in the package (or as found).
        path: String,
        /// Why it is refused.
        reason: String,
    },
    /// A path given to `check`/`analyze_traffic_safety` is outside the project.
    #[error("path {path} is outside the project root {root}")]
    OutsideRoot {
        /// The path given.
        path: PathBuf,
        /// The project root.
        root: PathBuf,
    },
    /// Two packages would install the same file.
    #[error("file `{path}` is shipped by both `{first}` and `{second}`")]
    FileClash {
        /// Project-relative path.
        path: String,
        /// One package.
        first: String,
        /// The other package.
        second: String,
    },
    /// The package is not installed.
    #[error("package `{name}` is not installed")]
    NotInstalled {
        /// The package.
        name: String,
    },
    /// Another installed package still depends on this one.
    #[error("package `{name}` is required by `{required_by}`")]
    Required {
        /// The package to remove.
        name: String,
        /// The installed package that depends on it.
        required_by: String,
    },
    /// A cached or registry file does not have the recorded BLAKE3 hash.
    #[error("hash mismatch for {path}: expected {expected}, found {actual}")]
    HashMismatch {
        /// The file.
        path: PathBuf,
        /// The recorded hash.
        expected: String,
        /// The hash of the content found.
        actual: String,
    },
    /// Another dxforge command holds the project lock (`.dxforge/lock`).
    #[error("busy: {holder} holds the project lock {}", lock.display())]
    Busy {
        /// The lock file.
        lock: PathBuf,
        /// Who holds it, as its holder recorded it ("restore (pid 42)").
        holder: String,
    },
    /// The journal of an interrupted transaction fails validation. It is left
    /// in place and nothing is executed.
    #[error(
        "refusing the interrupted-transaction journal {}: {message}; nothing was changed and the \
         journal was left in place: inspect it, delete it, then run `dxforge install`",
        journal.display()
    )]
    Journal {
        /// The journal file.
        journal: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A file of dxforge's local state (a pack index, a cached package's
    /// `hashes.json`) is malformed.
    #[error("{}: malformed: {message}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A file or a count is beyond one of the documented limits (see [`crate::limits`]).
    #[error("{}: {message}", path.display())]
    Limit {
        /// The file (or directory) concerned.
        path: PathBuf,
        /// Which limit, and by how much.
        message: String,
    },
    /// A remote registry (or registry-item file) could not be used: unreachable,
    /// an HTTP error, an oversized or malformed answer, an item that breaks the
    /// path rules. Nothing was written. Never contains header values.
    #[error("registry {url}: {message}")]
    Registry {
        /// The URL (or file) concerned.
        url: String,
        /// What went wrong.
        message: String,
    },
}

fn in_package(package: &str) -> String {
    if package.is_empty() {
        String::new()
    } else {
        format!(" in package `{package}`")
    }
}

impl From<FsError> for TrafficError {
    /// The filesystem layer's refusals become [`TrafficError::UnsafePath`]
    /// naming the path, its lock conflicts [`TrafficError::Busy`], its size
    /// refusals [`TrafficError::Limit`], and everything else [`TrafficError::Io`].
    fn from(e: FsError) -> Self {
        match e {
            FsError::Io { op, path, source } => TrafficError::Io { op, path, source },
            FsError::Busy { lock, holder } => TrafficError::Busy { lock, holder },
            FsError::TooLarge { path, limit } => TrafficError::Limit {
                path,
                message: format!("larger than the limit of {limit} bytes"),
            },
            FsError::Symlink { path } => TrafficError::UnsafePath {
                package: String::new(),
                path: path.display().to_string(),
                reason: "is a symbolic link; dxforge never reads or writes through one".to_string(),
            },
            FsError::Reserved { path } => TrafficError::UnsafePath {
                package: String::new(),
                path: path.display().to_string(),
                reason: "reaches `.git` or `.dxforge`".to_string(),
            },
            FsError::NotBeneath { path, reason } => TrafficError::UnsafePath {
                package: String::new(),
                path: path.display().to_string(),
                reason: reason.to_string(),
            },
            other => {
                let path = other.path().to_path_buf();
                TrafficError::Io {
                    op: "access",
                    path,
                    source: std::io::Error::other(other),
                }
            }
        }
    }
}

impl TrafficError {
    pub(crate) fn registry(url: impl Into<String>, message: impl Into<String>) -> Self {
        TrafficError::Registry {
            url: url.into(),
            message: message.into(),
        }
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TrafficError::Io {
            op,
            path: path.into(),
            source,
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = TrafficError> = std::result::Result<T, E>;

/// Build a [`TrafficError::Manifest`] from a TOML parse error, with its line and key.
pub(crate) fn toml_error(
    file: &std::path::Path,
    text: &str,
    err: &toml::de::Error,
) -> TrafficError {
    let (line, key) = match err.span() {
        Some(span) => {
            let start = span.start.min(text.len());
            // Bytes, not `str` slicing: a span off a char boundary must not panic.
            let line = text.as_bytes()[..start]
                .iter()
                .filter(|b| **b == b'\n')
                .count()
                + 1;
            let end = span.end.min(text.len()).max(start);
            let snippet = text.get(start..end).unwrap_or("").trim();
            let key = if snippet.contains('\n') || snippet.len() > 80 {
                // The span covers a whole table: name the first key-ish word of it.
                snippet
                    .split(['\n', '='])
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_string()
            } else {
                snippet.to_string()
            };
            (line, key)
        }
        None => (0, String::new()),
    };
    TrafficError::Manifest {
        file: file.to_path_buf(),
        line,
        key,
        message: err.message().trim().to_string(),
    }
}
