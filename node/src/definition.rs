//! `DxToolDefinition` as a plain JavaScript object, converted both ways.
//!
//! Only `name` and `binaryPath` are required; every other field takes the
//! core's default (`DxToolDefinition::default()`) when absent. Numbers arrive
//! as JavaScript `number`s (`f64`) and are converted by the core's
//! `NumberField::from_f64`: a negative, fractional, `NaN`, infinite or
//! out-of-range value is a `RangeError` naming the field, never a silent wrap
//! (a `u32` parameter turned `-1` into 4294967295 and `NaN` into 0).

use std::collections::HashMap;
use std::path::PathBuf;

use napi_derive::napi;

use dxforge::config::ranges::NumberField;

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
    pub priority: Option<f64>,
    /// Names of tools that must be running (or healthy) before this one starts;
    /// they must be registered first.
    pub dependencies: Option<Vec<String>>,
    /// Condition per dependency; a dependency without one waits until it is
    /// healthy (running when it has no health check).
    pub dependency_conditions: Option<HashMap<String, DependencyCondition>>,
    /// Working directory, relative to the project root.
    pub cwd: Option<String>,
    /// A dotenv file (relative to the project root) read when the tool
    /// starts; `env` wins over it.
    pub env_file: Option<String>,
    /// Extra environment variables; values (and `args`) may use `${VAR}`
    /// and `${VAR:-default}`.
    pub env: Option<HashMap<String, String>>,
    /// Readiness check; without one a tool is ready once it is running.
    pub health: Option<HealthCheck>,
    /// How often the health check runs while waiting for readiness. Default 500.
    pub health_interval_ms: Option<f64>,
    /// How long a tool may take to become ready before it is `degraded`. Default 30000.
    pub startup_timeout_ms: Option<f64>,
    /// What to do when the tool exits on its own. Default `'on-failure'`.
    pub restart: Option<RestartPolicy>,
    /// Restarts allowed (with exponential backoff) before the tool is `degraded`. Default 5.
    pub max_restarts: Option<f64>,
    /// Signal sent to the whole process tree on stop. Default `'SIGTERM'`.
    pub stop_signal: Option<String>,
    /// Grace period after `stopSignal`, then SIGKILL to the whole tree. Default 5000.
    pub stop_timeout_ms: Option<f64>,
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

/// When a dependent may start, in terms of one of its dependencies.
#[napi(string_enum)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DependencyCondition {
    /// The dependency's process has been spawned.
    #[napi(value = "started")]
    Started,
    /// The dependency's health check passed.
    #[napi(value = "healthy")]
    Healthy,
    /// The dependency ran to completion and exited with status 0.
    #[napi(value = "completed_successfully")]
    CompletedSuccessfully,
}

impl From<DependencyCondition> for dxforge::DependencyCondition {
    fn from(c: DependencyCondition) -> Self {
        match c {
            DependencyCondition::Started => Self::Started,
            DependencyCondition::Healthy => Self::Healthy,
            DependencyCondition::CompletedSuccessfully => Self::CompletedSuccessfully,
        }
    }
}

impl From<dxforge::DependencyCondition> for DependencyCondition {
    fn from(c: dxforge::DependencyCondition) -> Self {
        match c {
            dxforge::DependencyCondition::Started => Self::Started,
            dxforge::DependencyCondition::Healthy => Self::Healthy,
            dxforge::DependencyCondition::CompletedSuccessfully => Self::CompletedSuccessfully,
        }
    }
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

/// Why a JavaScript definition could not be converted.
#[derive(Debug)]
pub enum Refused {
    /// A number is not a whole number in its range: thrown as a `RangeError`.
    Range(dxforge::Error),
    /// Any other invalid field: thrown as an `Error`.
    Other(dxforge::Error),
}

impl From<dxforge::Error> for Refused {
    fn from(e: dxforge::Error) -> Self {
        Refused::Other(e)
    }
}

#[cfg(test)]
impl Refused {
    /// The core error, whatever its JavaScript class.
    pub(crate) fn into_error(self) -> dxforge::Error {
        match self {
            Refused::Range(e) | Refused::Other(e) => e,
        }
    }
}

/// The JavaScript name of a numeric field.
fn js_name(field: NumberField) -> &'static str {
    match field {
        NumberField::Priority => "priority",
        NumberField::HealthIntervalMs => "healthIntervalMs",
        NumberField::StartupTimeoutMs => "startupTimeoutMs",
        NumberField::MaxRestarts => "maxRestarts",
        NumberField::StopTimeoutMs => "stopTimeoutMs",
        _ => field.name(),
    }
}

impl TryFrom<DxToolDefinition> for dxforge::DxToolDefinition {
    type Error = Refused;

    fn try_from(js: DxToolDefinition) -> Result<Self, Refused> {
        let numbers = [
            (NumberField::Priority, js.priority),
            (NumberField::HealthIntervalMs, js.health_interval_ms),
            (NumberField::StartupTimeoutMs, js.startup_timeout_ms),
            (NumberField::MaxRestarts, js.max_restarts),
            (NumberField::StopTimeoutMs, js.stop_timeout_ms),
        ];
        let mut def = dxforge::DxToolDefinition::new(js.name, js.binary_path);
        for (field, value) in numbers {
            if let Some(v) = value {
                let v = field.from_f64(v).map_err(|e| {
                    Refused::Range(invalid_argument(
                        js_name(field),
                        format!("tool `{}`: {e}", def.name),
                    ))
                })?;
                field.set(&mut def, v);
            }
        }
        if let Some(v) = js.args {
            def.args = v;
        }
        if let Some(v) = js.dependencies {
            def.dependencies = v;
        }
        if let Some(v) = js.dependency_conditions {
            def.dependency_conditions = v.into_iter().map(|(k, c)| (k, c.into())).collect();
        }
        def.cwd = js.cwd.map(PathBuf::from);
        def.env_file = js.env_file;
        if let Some(v) = js.env {
            def.env = v.into_iter().collect();
        }
        def.health = js.health.map(TryInto::try_into).transpose()?;
        if let Some(v) = js.restart {
            def.restart = v.into();
        }
        if let Some(v) = js.stop_signal {
            def.stop_signal = v;
        }
        if let Some(v) = js.watch {
            def.watch = v;
        }
        Ok(def)
    }
}

/// A core number as a JavaScript `number`: exact, as every range ends below 2^53.
fn num(v: u64) -> f64 {
    v as f64
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
            priority: Some(num(def.priority.into())),
            dependencies: Some(def.dependencies),
            // Omitted when empty, like `cwd` and `envFile` when unset.
            dependency_conditions: (!def.dependency_conditions.is_empty()).then(|| {
                def.dependency_conditions
                    .into_iter()
                    .map(|(k, c)| (k, c.into()))
                    .collect()
            }),
            cwd,
            env_file: def.env_file,
            env: Some(def.env.into_iter().collect()),
            health: def.health.map(Into::into),
            health_interval_ms: Some(num(def.health_interval_ms)),
            startup_timeout_ms: Some(num(def.startup_timeout_ms)),
            restart: Some(def.restart.into()),
            max_restarts: Some(num(def.max_restarts.into())),
            stop_signal: Some(def.stop_signal),
            stop_timeout_ms: Some(num(def.stop_timeout_ms)),
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
    fn numbers_that_would_wrap_or_truncate_are_range_errors_naming_the_js_field() {
        for (bad, field) in [
            (-1.0, "maxRestarts"),
            (1.5, "maxRestarts"),
            (f64::NAN, "maxRestarts"),
            (1e300, "maxRestarts"),
        ] {
            let js = DxToolDefinition {
                name: "web".into(),
                binary_path: "bin/web".into(),
                max_restarts: Some(bad),
                ..Default::default()
            };
            let Err(Refused::Range(e)) = dxforge::DxToolDefinition::try_from(js) else {
                panic!("{bad} was not a range error")
            };
            assert_eq!(e.code(), "INVALID_ARGUMENT");
            assert!(e.to_string().contains(field), "{e}");
            assert!(e.to_string().contains("tool `web`"), "{e}");
        }
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
        let back = dxforge::DxToolDefinition::try_from(js).map_err(Refused::into_error);
        assert_eq!(back.unwrap(), def);
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
