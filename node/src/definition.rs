//! `DxToolDefinition` as a plain JavaScript object, converted both ways.
//!
//! Only `name` and `binaryPath` are required; every other field takes the
//! core's default (`DxToolDefinition::default()`) when absent. Durations are
//! whole milliseconds (`u32`, up to about 49 days).

use std::collections::HashMap;
use std::path::PathBuf;

use napi_derive::napi;

use crate::error::invalid_argument;

/// A developer tool the orchestrator can start: a local binary plus how to
/// run, check and stop it. `tool(name)` returns every field filled in.
#[napi(object)]
#[derive(Debug, Clone, Default)]
pub struct DxToolDefinition {
    /// Unique name of the tool within one `DxForge`.
    pub name: String,
    /// Absolute path; relative to the project root if it contains `/`; else
    /// looked up on `PATH` when the tool starts.
    pub binary_path: String,
    /// Arguments passed to the binary by `ensureRunning`.
    pub args: Option<Vec<String>>,
    /// Lower starts first (and stops last) among tools not ordered by dependencies. Default 0.
    pub priority: Option<u32>,
    /// Names of tools that must be running (or healthy) before this one starts;
    /// they must be registered first.
    pub dependencies: Option<Vec<String>>,
    /// Working directory, relative to the project root.
    pub cwd: Option<String>,
    /// Extra environment variables.
    pub env: Option<HashMap<String, String>>,
    /// Readiness check; without one a tool is ready once it is running.
    pub health: Option<HealthCheck>,
    /// How often the health check runs while waiting for readiness. Default 500.
    pub health_interval_ms: Option<u32>,
    /// How long a tool may take to become ready before it is `degraded`. Default 30000.
    pub startup_timeout_ms: Option<u32>,
    /// What to do when the tool exits on its own. Default `'on-failure'`.
    pub restart: Option<RestartPolicy>,
    /// Restarts allowed (with exponential backoff) before the tool is `degraded`. Default 5.
    pub max_restarts: Option<u32>,
    /// Signal sent to the whole process tree on stop. Default `'SIGTERM'`.
    pub stop_signal: Option<String>,
    /// Grace period after `stopSignal`, then SIGKILL to the whole tree. Default 5000.
    pub stop_timeout_ms: Option<u32>,
    /// Globs (relative to the project root); in watch mode a change to a
    /// matching file restarts the tool.
    pub watch: Option<Vec<String>>,
}

/// Readiness check: set exactly one of the fields.
#[napi(object)]
#[derive(Debug, Clone, Default)]
pub struct HealthCheck {
    /// Ready when a TCP connection to `host:port` succeeds.
    pub tcp: Option<String>,
    /// Ready when `GET url` answers 2xx (plain `http://` only).
    pub http: Option<String>,
    /// Ready when this command (program plus arguments) exits with status 0.
    pub command: Option<Vec<String>>,
}

/// Restart policy applied when a tool exits without being asked to stop.
#[napi(string_enum)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartPolicy {
    /// Never restart.
    #[napi(value = "never")]
    Never,
    /// Restart after a non-zero exit or a signal.
    #[napi(value = "on-failure")]
    OnFailure,
    /// Restart after any exit.
    #[napi(value = "always")]
    Always,
}

impl From<RestartPolicy> for dxforge::RestartPolicy {
    fn from(p: RestartPolicy) -> Self {
        match p {
            RestartPolicy::Never => Self::Never,
            RestartPolicy::OnFailure => Self::OnFailure,
            RestartPolicy::Always => Self::Always,
        }
    }
}

impl From<dxforge::RestartPolicy> for RestartPolicy {
    fn from(p: dxforge::RestartPolicy) -> Self {
        match p {
            dxforge::RestartPolicy::Never => Self::Never,
            dxforge::RestartPolicy::OnFailure => Self::OnFailure,
            dxforge::RestartPolicy::Always => Self::Always,
        }
    }
}

impl TryFrom<HealthCheck> for dxforge::HealthCheck {
    type Error = dxforge::Error;

    fn try_from(h: HealthCheck) -> dxforge::Result<Self> {
        match (h.tcp, h.http, h.command) {
            (Some(addr), None, None) => Ok(Self::Tcp(addr)),
            (None, Some(url), None) => Ok(Self::Http(url)),
            (None, None, Some(cmd)) => Ok(Self::Command(cmd)),
            _ => Err(invalid_argument(
                "health",
                "set exactly one of `tcp`, `http` or `command`",
            )),
        }
    }
}

impl From<dxforge::HealthCheck> for HealthCheck {
    fn from(h: dxforge::HealthCheck) -> Self {
        match h {
            dxforge::HealthCheck::Tcp(a) => Self {
                tcp: Some(a),
                ..Self::default()
            },
            dxforge::HealthCheck::Http(u) => Self {
                http: Some(u),
                ..Self::default()
            },
            dxforge::HealthCheck::Command(c) => Self {
                command: Some(c),
                ..Self::default()
            },
        }
    }
}

impl TryFrom<DxToolDefinition> for dxforge::DxToolDefinition {
    type Error = dxforge::Error;

    fn try_from(js: DxToolDefinition) -> dxforge::Result<Self> {
        let mut def = dxforge::DxToolDefinition::new(js.name, js.binary_path);
        if let Some(v) = js.args {
            def.args = v;
        }
        if let Some(v) = js.priority {
            def.priority = v;
        }
        if let Some(v) = js.dependencies {
            def.dependencies = v;
        }
        def.cwd = js.cwd.map(PathBuf::from);
        if let Some(v) = js.env {
            def.env = v.into_iter().collect();
        }
        def.health = js.health.map(TryInto::try_into).transpose()?;
        if let Some(v) = js.health_interval_ms {
            def.health_interval_ms = v.into();
        }
        if let Some(v) = js.startup_timeout_ms {
            def.startup_timeout_ms = v.into();
        }
        if let Some(v) = js.restart {
            def.restart = v.into();
        }
        if let Some(v) = js.max_restarts {
            def.max_restarts = v;
        }
        if let Some(v) = js.stop_signal {
            def.stop_signal = v;
        }
        if let Some(v) = js.stop_timeout_ms {
            def.stop_timeout_ms = v.into();
        }
        if let Some(v) = js.watch {
            def.watch = v;
        }
        Ok(def)
    }
}

/// Milliseconds the core stores as `u64`; values above `u32::MAX` only arise
/// from `dxforge.toml` and are clamped for JavaScript.
fn ms(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

impl TryFrom<dxforge::DxToolDefinition> for DxToolDefinition {
    type Error = dxforge::Error;

    fn try_from(def: dxforge::DxToolDefinition) -> dxforge::Result<Self> {
        let cwd = def
            .cwd
            .map(|p| {
                p.into_os_string().into_string().map_err(|p| {
                    invalid_argument(
                        "cwd",
                        format!("{} is not valid UTF-8", PathBuf::from(p).display()),
                    )
                })
            })
            .transpose()?;
        Ok(Self {
            name: def.name,
            binary_path: def.binary_path,
            args: Some(def.args),
            priority: Some(def.priority),
            dependencies: Some(def.dependencies),
            cwd,
            env: Some(def.env.into_iter().collect()),
            health: def.health.map(Into::into),
            health_interval_ms: Some(ms(def.health_interval_ms)),
            startup_timeout_ms: Some(ms(def.startup_timeout_ms)),
            restart: Some(def.restart.into()),
            max_restarts: Some(def.max_restarts),
            stop_signal: Some(def.stop_signal),
            stop_timeout_ms: Some(ms(def.stop_timeout_ms)),
            watch: Some(def.watch),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_fields_take_the_core_defaults() {
        let js = DxToolDefinition {
            name: "web".into(),
            binary_path: "bin/web".into(),
            ..Default::default()
        };
        let def = dxforge::DxToolDefinition::try_from(js).unwrap();
        assert_eq!(def, dxforge::DxToolDefinition::new("web", "bin/web"));
    }

    #[test]
    fn every_field_round_trips_through_the_js_shape() {
        let mut def = dxforge::DxToolDefinition::new("db", "/usr/bin/db");
        def.args = vec!["--port".into(), "5432".into()];
        def.priority = 3;
        def.dependencies = vec!["net".into()];
        def.cwd = Some("data".into());
        def.env.insert("A".into(), "1".into());
        def.health = Some(dxforge::HealthCheck::Command(vec!["pg_isready".into()]));
        def.health_interval_ms = 70;
        def.startup_timeout_ms = 9000;
        def.restart = dxforge::RestartPolicy::Always;
        def.max_restarts = 2;
        def.stop_signal = "SIGINT".into();
        def.stop_timeout_ms = 1500;
        def.watch = vec!["src/**".into()];
        let js = DxToolDefinition::try_from(def.clone()).unwrap();
        assert_eq!(dxforge::DxToolDefinition::try_from(js).unwrap(), def);
    }

    #[test]
    fn health_check_needs_exactly_one_kind() {
        let none = HealthCheck::default();
        let two = HealthCheck {
            tcp: Some("127.0.0.1:1".into()),
            http: Some("http://x/".into()),
            command: None,
        };
        for bad in [none, two] {
            let err = dxforge::HealthCheck::try_from(bad).unwrap_err();
            assert_eq!(err.code(), "INVALID_ARGUMENT");
            assert!(err.to_string().contains("health"), "{err}");
        }
    }
}
