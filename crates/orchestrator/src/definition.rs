//! What a tool is: the definition a host registers.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// A developer tool the orchestrator can start: a local binary plus how to run,
/// check and stop it.
///
/// `dxforge.toml`'s `[tools.NAME]` tables deserialize into this type (the table
/// key becomes [`name`](Self::name)); unknown keys are rejected. In that form
/// a dependency with a condition is a table in `dependencies`
/// (`{ name = "migrate", condition = "completed_successfully" }`), which
/// fills [`dependency_conditions`](Self::dependency_conditions).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    try_from = "crate::definition_toml::ToolTable",
    into = "crate::definition_toml::ToolTable"
)]
pub struct DxToolDefinition {
    /// Unique name of the tool within one `DxForge`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Absolute path; relative to the project root if it contains `/`; else
    /// looked up on `PATH` when the tool starts.
    pub binary_path: String,
    /// Arguments passed to the binary by `ensure_running`.
    pub args: Vec<String>,
    /// Lower starts first (and stops last) among tools not ordered by dependencies.
    pub priority: u32,
    /// Names of tools that must be up before this one starts (see
    /// [`dependency_conditions`](Self::dependency_conditions) for what "up" means).
    pub dependencies: Vec<String>,
    /// The condition of a dependency, by name; a dependency without an entry
    /// waits for [`DependencyCondition::Healthy`] when it has a health check,
    /// else [`DependencyCondition::Started`]. Every key must be in
    /// [`dependencies`](Self::dependencies).
    pub dependency_conditions: BTreeMap<String, DependencyCondition>,
    /// Working directory, relative to the project root.
    pub cwd: Option<PathBuf>,
    /// A dotenv file (relative to the project root, read beneath it when the
    /// tool starts) whose variables the tool gets; [`env`](Self::env) wins
    /// over it.
    pub env_file: Option<String>,
    /// Extra environment variables. Values (and [`args`](Self::args)) may
    /// use `${VAR}` and `${VAR:-default}`, taken from the process
    /// environment and the env files; `$$` is a literal `$`.
    pub env: BTreeMap<String, String>,
    /// Readiness check; without one a tool is ready once it is `Running`.
    pub health: Option<HealthCheck>,
    /// How often the health check runs while waiting for readiness.
    pub health_interval_ms: u64,
    /// How long a tool may take to become ready before it is `Degraded`.
    pub startup_timeout_ms: u64,
    /// What to do when the tool exits on its own.
    pub restart: RestartPolicy,
    /// Restarts allowed (with exponential backoff) before the tool is `Degraded`.
    pub max_restarts: u32,
    /// Signal sent to the whole process tree on stop, e.g. `"SIGTERM"`.
    pub stop_signal: String,
    /// Grace period after `stop_signal`, then `SIGKILL` to the whole tree.
    pub stop_timeout_ms: u64,
    /// Globs (relative to the project root); in watch mode a change to a
    /// matching file restarts the tool.
    pub watch: Vec<String>,
}

impl Default for DxToolDefinition {
    fn default() -> Self {
        Self {
            name: String::new(),
            binary_path: String::new(),
            args: Vec::new(),
            priority: 0,
            dependencies: Vec::new(),
            dependency_conditions: BTreeMap::new(),
            cwd: None,
            env_file: None,
            env: BTreeMap::new(),
            health: None,
            health_interval_ms: 500,
            startup_timeout_ms: 30_000,
            restart: RestartPolicy::OnFailure,
            max_restarts: 5,
            stop_signal: "SIGTERM".to_owned(),
            stop_timeout_ms: 5_000,
            watch: Vec::new(),
        }
    }
}

impl DxToolDefinition {
    /// A definition with the given name and binary and every other field at its default.
    pub fn new(name: impl Into<String>, binary_path: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            binary_path: binary_path.into(),
            ..Self::default()
        }
    }
}

/// When a dependent may start, in terms of one of its dependencies (as in
/// process-compose).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DependencyCondition {
    /// The dependency's process has been spawned (`Running`).
    Started,
    /// The dependency's health check passed (`Healthy`); needs a health check.
    Healthy,
    /// The dependency ran to completion and exited with status 0 (it must
    /// not use `restart = "always"`); a non-zero exit fails the dependent's start.
    CompletedSuccessfully,
}

impl DependencyCondition {
    /// Every condition, in declaration order (the C binding's value).
    pub const ALL: [DependencyCondition; 3] = [
        DependencyCondition::Started,
        DependencyCondition::Healthy,
        DependencyCondition::CompletedSuccessfully,
    ];

    /// The name used in `dxforge.toml`, e.g. `"completed_successfully"`.
    pub fn as_str(self) -> &'static str {
        match self {
            DependencyCondition::Started => "started",
            DependencyCondition::Healthy => "healthy",
            DependencyCondition::CompletedSuccessfully => "completed_successfully",
        }
    }
}

impl std::fmt::Display for DependencyCondition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for DependencyCondition {
    type Err = String;

    /// The condition named `name` (exactly as in `dxforge.toml`).
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == name)
            .ok_or_else(|| {
                format!(
                    "unknown condition {name:?} (expected \"started\", \"healthy\" or \"completed_successfully\")"
                )
            })
    }
}

/// How readiness of a tool is checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum HealthCheck {
    /// Ready when a TCP connection to `host:port` succeeds.
    Tcp(String),
    /// Ready when `GET url` answers with a 2xx status (plain `http://` only).
    Http(String),
    /// Ready when the command (program plus arguments) exits with status 0.
    Command(Vec<String>),
}

/// Restart policy applied when a tool exits without being asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    /// Never restart.
    Never,
    /// Restart after a non-zero exit or a signal.
    #[default]
    OnFailure,
    /// Restart after any exit.
    Always,
}

impl RestartPolicy {
    /// Every policy, in declaration order (the C binding's `dxforge_restart_policy` value).
    pub const ALL: [RestartPolicy; 3] = [
        RestartPolicy::Never,
        RestartPolicy::OnFailure,
        RestartPolicy::Always,
    ];

    /// The name used in `dxforge.toml`: `"never"`, `"on-failure"` or `"always"`.
    pub fn as_str(self) -> &'static str {
        match self {
            RestartPolicy::Never => "never",
            RestartPolicy::OnFailure => "on-failure",
            RestartPolicy::Always => "always",
        }
    }
}

impl std::fmt::Display for RestartPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A restart-policy name that is none of [`RestartPolicy::as_str`]'s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownRestartPolicy(pub String);

impl std::fmt::Display for UnknownRestartPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "unknown policy {:?} (expected \"never\", \"on-failure\" or \"always\")",
            self.0
        )
    }
}

impl std::error::Error for UnknownRestartPolicy {}

impl std::str::FromStr for RestartPolicy {
    type Err = UnknownRestartPolicy;

    /// The policy named `name` (exactly as in `dxforge.toml`).
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == name)
            .ok_or_else(|| UnknownRestartPolicy(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_policy_names_parse_back_and_match_serde() {
        for policy in RestartPolicy::ALL {
            assert_eq!(policy.as_str().parse::<RestartPolicy>(), Ok(policy));
            let json = serde_json::to_value(policy).unwrap();
            assert_eq!(json, policy.as_str());
        }
        let err = "sometimes".parse::<RestartPolicy>().unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"unknown policy "sometimes" (expected "never", "on-failure" or "always")"#
        );
    }
}
