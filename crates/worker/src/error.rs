//! The Shadow Worker's one error type.

use std::path::PathBuf;
use std::time::Duration;

use crate::state::TaskId;

/// Everything that can go wrong in the Shadow Worker.
///
/// Every variant names the thing it is about (task, path, snapshot id, bucket, key) so a
/// message is actionable without a backtrace. Credentials never appear in any variant.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    /// `wait` gave up before the task reached a final state.
    #[error("task {id} did not finish within {waited:?}")]
    Timeout {
        /// The task waited for.
        id: TaskId,
        /// How long `wait` waited.
        waited: Duration,
    },
    /// The task id was never issued by this worker, or its final state was forgotten
    /// (only the most recent final states are kept).
    #[error("unknown task {id} (never enqueued here, or its final state was forgotten)")]
    UnknownTask {
        /// The task id asked for.
        id: TaskId,
    },
    /// A file system operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done ("read", "write", "create directory", ...).
        op: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// No snapshot with this id exists locally.
    #[error("snapshot {id:?} not found (no {path})")]
    SnapshotNotFound {
        /// The id asked for.
        id: String,
        /// Where its manifest would be.
        path: PathBuf,
    },
    /// The snapshot id is not of the form `YYYYMMDDTHHMMSSZ-xxxxxxxx`.
    #[error("invalid snapshot id {id:?}: {reason}")]
    InvalidSnapshotId {
        /// The id given.
        id: String,
        /// Why it is rejected.
        reason: &'static str,
    },
    /// A manifest (local or pulled) is malformed or unsafe.
    #[error("invalid snapshot manifest {path}: {reason}")]
    InvalidManifest {
        /// The manifest file or remote key.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A stored object's content does not hash to its name.
    #[error("object {hash} is corrupted: {path} hashes to {actual}")]
    CorruptObject {
        /// The expected hash (the object's name).
        hash: String,
        /// The object file.
        path: PathBuf,
        /// What the content actually hashes to.
        actual: String,
    },
    /// An object a manifest refers to is not in the local store.
    #[error("object {hash} is missing from the snapshot store ({path})")]
    MissingObject {
        /// The missing object's hash.
        hash: String,
        /// Where it should be.
        path: PathBuf,
    },
    /// Restore would have to destroy something it must not touch.
    #[error("cannot restore {path}: {reason}")]
    RestoreConflict {
        /// The project-relative path in the way.
        path: String,
        /// Why it cannot be replaced.
        reason: &'static str,
    },
    /// The restore journal (`.dxforge/snapshots/restore.journal`) is malformed or was not
    /// written for this project's snapshot store. It is left in place.
    #[error(
        "invalid restore journal {path}: {reason}. It records a restore that was interrupted; \
         if no `dxforge restore` was killed in this project, delete the file, otherwise run \
         `dxforge restore` with the snapshot you wanted again"
    )]
    InvalidRestoreJournal {
        /// The journal file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A restore a killed process left unfinished could not be finished; its journal is
    /// kept, and every operation that takes the project lock fails until it is.
    #[error(
        "a restore of snapshot {target} was interrupted and could not be finished: {source}. \
         Fix that, or run `dxforge restore {target}` (or `dxforge restore {safety}` for the \
         tree before it) to replace it"
    )]
    RestoreUnfinished {
        /// The snapshot that was being restored.
        target: String,
        /// The snapshot of the tree before it.
        safety: String,
        /// Why finishing it failed.
        #[source]
        source: Box<WorkerError>,
    },
    /// `dxforge.toml` has no `[remote]` section.
    #[error(
        "no [remote] configured: add a [remote] section (endpoint, bucket, prefix, region) to dxforge.toml to sync snapshots"
    )]
    RemoteNotConfigured,
    /// A `[remote]` value is unusable.
    #[error("invalid [remote] {key}: {reason}")]
    InvalidRemoteConfig {
        /// The key in `[remote]`.
        key: &'static str,
        /// Why it is rejected.
        reason: String,
    },
    /// Neither the dxforge nor the AWS credential variables are set.
    #[error(
        "S3 credentials missing: set {missing} (or DXFORGE_S3_ACCESS_KEY_ID/DXFORGE_S3_SECRET_ACCESS_KEY, falling back to AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)"
    )]
    CredentialsMissing {
        /// The variable(s) that are not set.
        missing: &'static str,
    },
    /// The server refused the credentials (HTTP 401/403).
    #[error("{endpoint} rejected the credentials for bucket {bucket:?}: {message}")]
    RemoteAuth {
        /// The endpoint (or "AWS S3").
        endpoint: String,
        /// The bucket.
        bucket: String,
        /// The server's explanation.
        message: String,
    },
    /// The server could not be reached (connection refused, DNS, timeout) after retries.
    #[error("{endpoint} is unreachable: {message}")]
    RemoteUnreachable {
        /// The endpoint (or "AWS S3").
        endpoint: String,
        /// The transport error.
        message: String,
    },
    /// The bucket does not exist on the server.
    #[error("bucket {bucket:?} does not exist at {endpoint}")]
    BucketNotFound {
        /// The endpoint (or "AWS S3").
        endpoint: String,
        /// The bucket.
        bucket: String,
    },
    /// The remote has no snapshot with this id.
    #[error("snapshot {id:?} not found in bucket {bucket:?} (key {key})")]
    RemoteSnapshotNotFound {
        /// The id asked for.
        id: String,
        /// The bucket.
        bucket: String,
        /// The manifest key looked up.
        key: String,
    },
    /// Any other failure of a remote operation.
    #[error("remote {op} of {key} failed: {message}")]
    Remote {
        /// "put", "get", "list", ...
        op: &'static str,
        /// The object key.
        key: String,
        /// The error.
        message: String,
    },
    /// A downloaded object does not hash to its name; it was not stored.
    #[error("remote object {key} is corrupted: content hashes to {actual}")]
    RemoteObjectCorrupt {
        /// The remote key.
        key: String,
        /// What the content hashes to.
        actual: String,
    },
    /// No package registry is available to this worker.
    #[error("no package registry: {reason}")]
    RegistryUnavailable {
        /// Why (not configured, or the traffic manager's error).
        reason: String,
    },
    /// A Traffic Branching operation failed (its error keeps its kind).
    #[error("package operation failed: {source}")]
    Traffic {
        /// The traffic manager's error.
        #[source]
        source: dxforge_traffic::TrafficError,
    },
    /// A feature this worker delegates to is not built yet.
    #[error("{feature} is not built yet")]
    NotBuiltYet {
        /// The missing feature.
        feature: &'static str,
    },
    /// Another operation holds the project lock (`.dxforge/lock`) and did not release it
    /// within the worker's lock wait.
    #[error("busy: {holder} holds the project lock {}", lock.display())]
    Busy {
        /// The lock file.
        lock: PathBuf,
        /// Who holds it ("add (pid 42)").
        holder: String,
    },
    /// A path was refused because reaching it would follow a symbolic link, enter `.git`
    /// or `.dxforge`, or leave the root.
    #[error("refusing {}: {reason}", path.display())]
    UnsafePath {
        /// The path refused.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A state file is larger than this worker reads.
    #[error("{} is larger than the limit of {limit} bytes", path.display())]
    TooLarge {
        /// The file (or remote key).
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },
    /// The project has more entries than one snapshot may hold.
    #[error("{} has more than {limit} entries to snapshot; ignore some in .gitignore", path.display())]
    TooManyEntries {
        /// The project root.
        path: PathBuf,
        /// The limit.
        limit: u64,
    },
    /// The snapshot stat cache is malformed (it is then ignored: every file is re-hashed).
    #[error("invalid snapshot stat cache: {reason}")]
    InvalidIndex {
        /// What is wrong with it.
        reason: String,
    },
    /// The worker was shut down.
    #[error("the background worker is shut down")]
    ShutDown,
    /// A task panicked; the panic was contained.
    #[error("{what} panicked: {message}")]
    Panicked {
        /// What panicked.
        what: &'static str,
        /// The panic payload, if it was a string.
        message: String,
    },
}

impl WorkerError {
    /// Helper: wrap an I/O error with what was done and to which path.
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        WorkerError::Io {
            op,
            path: path.into(),
            source,
        }
    }
}

/// The filesystem layer's errors, converted once: OS errors stay [`WorkerError::Io`],
/// refusals become [`WorkerError::UnsafePath`], the project lock's refusal
/// [`WorkerError::Busy`].
impl From<dxforge_fs::FsError> for WorkerError {
    fn from(e: dxforge_fs::FsError) -> Self {
        use dxforge_fs::FsError;
        match e {
            FsError::Io { op, path, source } => WorkerError::Io { op, path, source },
            FsError::Busy { lock, holder } => WorkerError::Busy { lock, holder },
            FsError::TooLarge { path, limit } => WorkerError::TooLarge { path, limit },
            FsError::Symlink { path } => WorkerError::UnsafePath {
                path,
                reason: "it is (or goes through) a symbolic link, which is never followed"
                    .to_owned(),
            },
            FsError::Reserved { path } => WorkerError::UnsafePath {
                path,
                reason: "`.git` and `.dxforge` are out of reach".to_owned(),
            },
            FsError::NotBeneath { path, reason } => WorkerError::UnsafePath {
                path,
                reason: reason.to_owned(),
            },
            other => WorkerError::Io {
                op: "access",
                path: other.path().to_path_buf(),
                source: std::io::Error::other(other.to_string()),
            },
        }
    }
}

/// Shorthand used throughout the crate.
pub type Result<T, E = WorkerError> = std::result::Result<T, E>;
