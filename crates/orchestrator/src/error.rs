//! Errors of the orchestrator.

use std::path::PathBuf;

/// Everything that can go wrong in the orchestrator. Non-zero exits of tools are
/// results ([`ExecOutput`](crate::ExecOutput)), not errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OrchestratorError {
    /// No tool with this name is registered.
    #[error("unknown tool `{name}`")]
    UnknownTool {
        /// The name asked for.
        name: String,
    },
    /// A tool depends on a tool that is not registered.
    #[error("tool `{tool}` depends on unknown tool `{dependency}`")]
    UnknownDependency {
        /// The tool with the dependency.
        tool: String,
        /// The missing dependency.
        dependency: String,
    },
    /// Dependencies form a cycle; `cycle` lists it, first tool repeated at the end.
    #[error("dependency cycle: {}", cycle.join(" -> "))]
    DependencyCycle {
        /// The tools in the cycle, e.g. `["a", "b", "a"]`.
        cycle: Vec<String>,
    },
    /// The definition itself is invalid (empty name or binary, bad signal name, bad glob, …).
    #[error("invalid definition of tool `{tool}`: {reason}")]
    InvalidDefinition {
        /// Tool name.
        tool: String,
        /// What is wrong.
        reason: String,
    },
    /// The binary does not exist (or was not found on `PATH`).
    #[error("tool `{tool}`: binary not found: {}", path.display())]
    BinaryNotFound {
        /// Tool name.
        tool: String,
        /// The path tried.
        path: PathBuf,
    },
    /// The binary exists but is not executable.
    #[error("tool `{tool}`: binary is not executable: {}", path.display())]
    NotExecutable {
        /// Tool name.
        tool: String,
        /// The path tried.
        path: PathBuf,
    },
    /// Spawning failed for another reason.
    #[error("tool `{tool}`: failed to spawn {}: {source}", path.display())]
    SpawnFailed {
        /// Tool name.
        tool: String,
        /// The binary.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The tool did not become ready in time, or exited while starting.
    #[error("tool `{tool}` did not become ready: {reason}")]
    StartupFailed {
        /// Tool name.
        tool: String,
        /// Why (timeout, health check failure, early exit).
        reason: String,
    },
    /// A dependency failed to start, so its dependent was not started.
    #[error("tool `{tool}` not started: dependency `{dependency}` failed: {reason}")]
    DependencyFailed {
        /// The tool that was not started.
        tool: String,
        /// The dependency that failed.
        dependency: String,
        /// Its failure.
        reason: String,
    },
    /// An env file (`env_file`) is missing, unreadable or not dotenv syntax.
    #[error("tool `{tool}`: env_file {}: {reason}", path.display())]
    EnvFile {
        /// Tool name.
        tool: String,
        /// The env file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A `${VAR}` reference in `args` or `env` could not be expanded.
    #[error("tool `{tool}`: key `{key}`: {reason}")]
    Expansion {
        /// Tool name.
        tool: String,
        /// The key, e.g. `args[1]` or `env.DATABASE_URL`.
        key: String,
        /// What is wrong (the undefined variable, a malformed reference).
        reason: String,
    },
    /// A dependency with the condition `completed_successfully` did not
    /// exit with status 0, so its dependent was not started.
    #[error(
        "tool `{tool}` not started: dependency `{dependency}` did not complete successfully: {outcome}"
    )]
    DependencyNotCompleted {
        /// The tool that was not started.
        tool: String,
        /// The dependency.
        dependency: String,
        /// How it ended (exit code, signal, still running after its timeout).
        outcome: String,
    },
    /// File-system or OS error with the path involved.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The tool is running (or starting), so it cannot be re-registered; stop it first.
    #[error("tool `{tool}` is running; stop it before registering it again")]
    ToolRunning {
        /// Tool name.
        tool: String,
    },
    /// Watch mode could not be set up.
    #[error("cannot watch {}: {reason}", path.display())]
    Watch {
        /// The directory that was to be watched.
        path: PathBuf,
        /// The watcher's error.
        reason: String,
    },
    /// A bug in the orchestrator: a supervising task panicked. The tool's
    /// process tree was killed and the tool is `Degraded`.
    #[error("internal error supervising tool `{tool}`: {message}")]
    Internal {
        /// Tool name.
        tool: String,
        /// The panic message.
        message: String,
    },
    /// The orchestrator was shut down.
    #[error("the orchestrator has been shut down")]
    ShutDown,
}

/// Result alias of this crate.
pub type Result<T, E = OrchestratorError> = std::result::Result<T, E>;
