//! What a tool is: the definition a host registers.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// A developer tool the orchestrator can start: a local binary plus how to run,
/// check and stop it.
///
/// `dxforge.toml`'s `[tools.NAME]` tables deserialize into this type (the table
/// key becomes [`name`](Self::name)); unknown keys are rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
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
    /// Names of tools that must be running (or healthy) before this one starts.
    pub dependencies: Vec<String>,
    /// Working directory, relative to the project root.
    pub cwd: Option<PathBuf>,
    /// Extra environment variables.
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
            cwd: None,
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
