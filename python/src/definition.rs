//! `DxToolDefinition`, `HealthCheck` and `RestartPolicy`: what a host registers.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::LazyLock;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use dxforge::config::ranges::NumberField;

use crate::error::to_pyerr;
use crate::status::py_str;

/// A Python `int` for a numeric field, converted by the core's
/// `NumberField::from_int`: a negative or out-of-range value raises
/// `InvalidArgumentError` (a `ValueError`) naming the tool and the field,
/// never an `OverflowError` or a silent wrap. Ints are taken as `i128`, which
/// holds far more than every range.
fn number(py: Python<'_>, tool: &str, field: NumberField, value: i128) -> PyResult<u64> {
    field.from_int(value).map_err(|e| {
        let err = dxforge::Error::InvalidArgument {
            name: field.name().to_owned(),
            reason: format!("tool `{tool}`: {e}"),
        };
        to_pyerr(py, &err)
    })
}

/// Dependency conditions from Python strings (`"started"`, `"healthy"`,
/// `"completed_successfully"`); another string raises
/// `InvalidArgumentError` naming the tool and the dependency.
fn conditions(
    py: Python<'_>,
    tool: &str,
    raw: BTreeMap<String, String>,
) -> PyResult<BTreeMap<String, dxforge::DependencyCondition>> {
    raw.into_iter()
        .map(|(dep, c)| {
            c.parse()
                .map(|c| (dep.clone(), c))
                .map_err(|reason: String| {
                    let err = dxforge::Error::InvalidArgument {
                        name: format!("dependency_conditions[{dep:?}]"),
                        reason: format!("tool `{tool}`: {reason}"),
                    };
                    to_pyerr(py, &err)
                })
        })
        .collect()
}

/// How a tool is restarted when it exits on its own.
#[pyclass(module = "dxforge", eq, hash, frozen, from_py_object)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RestartPolicy {
    /// Never restart.
    #[pyo3(name = "NEVER")]
    Never,
    /// Restart after a non-zero exit or a signal (the default).
    #[pyo3(name = "ON_FAILURE")]
    OnFailure,
    /// Restart after any exit.
    #[pyo3(name = "ALWAYS")]
    Always,
}

#[pymethods]
impl RestartPolicy {
    /// The name used in `dxforge.toml`: `"never"`, `"on-failure"`, `"always"`.
    #[getter]
    fn value(&self) -> &'static str {
        dxforge::RestartPolicy::from(*self).as_str()
    }

    /// Pickles as the member itself.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<EnumReduce<'py>> {
        let name = slf.get().value().replace('-', "_").to_uppercase();
        enum_reduce(slf.as_any(), name)
    }
}

/// What `__reduce__` of an enum member returns: `(getattr, (Class, "MEMBER"))`.
pub(crate) type EnumReduce<'py> = (Bound<'py, PyAny>, (Bound<'py, PyAny>, String));

/// `__reduce__` of a simple enum member: `getattr(Class, "MEMBER")`, so
/// unpickling gives back the member itself.
pub(crate) fn enum_reduce<'py>(
    member: &Bound<'py, PyAny>,
    name: String,
) -> PyResult<EnumReduce<'py>> {
    let getattr = member.py().import("builtins")?.getattr("getattr")?;
    Ok((getattr, (member.get_type().into_any(), name)))
}

impl From<RestartPolicy> for dxforge::RestartPolicy {
    fn from(p: RestartPolicy) -> Self {
        match p {
            RestartPolicy::Never => dxforge::RestartPolicy::Never,
            RestartPolicy::OnFailure => dxforge::RestartPolicy::OnFailure,
            RestartPolicy::Always => dxforge::RestartPolicy::Always,
        }
    }
}

impl From<dxforge::RestartPolicy> for RestartPolicy {
    fn from(p: dxforge::RestartPolicy) -> Self {
        match p {
            dxforge::RestartPolicy::Never => RestartPolicy::Never,
            dxforge::RestartPolicy::OnFailure => RestartPolicy::OnFailure,
            dxforge::RestartPolicy::Always => RestartPolicy::Always,
        }
    }
}

/// A `RestartPolicy` or its `dxforge.toml` name.
#[derive(FromPyObject)]
enum RestartArg {
    Policy(RestartPolicy),
    Name(String),
}

impl RestartArg {
    fn into_core(self) -> PyResult<dxforge::RestartPolicy> {
        match self {
            RestartArg::Policy(p) => Ok(p.into()),
            RestartArg::Name(name) => name
                .parse()
                .map_err(|e| PyValueError::new_err(format!("restart: {e}"))),
        }
    }
}

/// How readiness of a tool is checked: `HealthCheck.tcp("127.0.0.1:5432")`,
/// `HealthCheck.http("http://127.0.0.1:8080/health")` or
/// `HealthCheck.command(["pg_isready"])`.
#[pyclass(module = "dxforge", eq, frozen, from_py_object)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    pub(crate) inner: dxforge::HealthCheck,
}

#[pymethods]
impl HealthCheck {
    /// Ready when a TCP connection to `address` (`host:port`) succeeds.
    #[staticmethod]
    fn tcp(address: String) -> Self {
        Self {
            inner: dxforge::HealthCheck::Tcp(address),
        }
    }

    /// Ready when `GET url` answers 2xx (plain `http://` only).
    #[staticmethod]
    fn http(url: String) -> Self {
        Self {
            inner: dxforge::HealthCheck::Http(url),
        }
    }

    /// Ready when the command (program plus arguments) exits with status 0.
    #[staticmethod]
    fn command(argv: Vec<String>) -> Self {
        Self {
            inner: dxforge::HealthCheck::Command(argv),
        }
    }

    /// `"tcp"`, `"http"` or `"command"`.
    #[getter]
    fn kind(&self) -> &'static str {
        match self.inner {
            dxforge::HealthCheck::Tcp(_) => "tcp",
            dxforge::HealthCheck::Http(_) => "http",
            dxforge::HealthCheck::Command(_) => "command",
        }
    }

    /// The address (tcp), URL (http) or argv (command).
    #[getter]
    fn target<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match &self.inner {
            dxforge::HealthCheck::Tcp(s) | dxforge::HealthCheck::Http(s) => {
                Ok(s.into_pyobject(py)?.into_any())
            }
            dxforge::HealthCheck::Command(argv) => argv.into_pyobject(py),
        }
    }

    /// Pickles as the constructor call (`HealthCheck.tcp(address)`, ...).
    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
    ) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyAny>,))> {
        let this = slf.get();
        let constructor = slf.get_type().getattr(this.kind())?;
        Ok((constructor, (this.target(slf.py())?,)))
    }

    fn __repr__(&self) -> String {
        match &self.inner {
            dxforge::HealthCheck::Tcp(s) => format!("HealthCheck.tcp({})", py_str(s)),
            dxforge::HealthCheck::Http(s) => format!("HealthCheck.http({})", py_str(s)),
            dxforge::HealthCheck::Command(argv) => {
                let items: Vec<String> = argv.iter().map(|a| py_str(a)).collect();
                format!("HealthCheck.command([{}])", items.join(", "))
            }
        }
    }
}

/// The core's defaults for every field a keyword argument may leave out: the
/// orchestrator holds them once (`DxToolDefinition::new`), this glue only
/// reads them. The `.pyi` repeats them for type checkers; a test compares.
static DEFAULTS: LazyLock<dxforge::DxToolDefinition> =
    LazyLock::new(|| dxforge::DxToolDefinition::new("", ""));

/// A developer tool: a local binary plus how to run, check and stop it.
///
/// Every field has the same meaning and default as `[tools.NAME]` in
/// `dxforge.toml`; fields can be read and assigned after construction.
#[pyclass(module = "dxforge", eq, from_py_object)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DxToolDefinition {
    pub(crate) inner: dxforge::DxToolDefinition,
}

impl DxToolDefinition {
    /// Sets a numeric field after the core's conversion.
    fn set_number(&mut self, py: Python<'_>, field: NumberField, v: i128) -> PyResult<()> {
        let v = number(py, &self.inner.name, field, v)?;
        field.set(&mut self.inner, v);
        Ok(())
    }
}

#[pymethods]
impl DxToolDefinition {
    #[new]
    #[pyo3(signature = (
        name, binary_path, *, args = Vec::new(), priority = DEFAULTS.priority.into(),
        dependencies = Vec::new(), dependency_conditions = BTreeMap::new(), cwd = None,
        env_file = None, env = BTreeMap::new(), health = None,
        health_interval_ms = DEFAULTS.health_interval_ms.into(),
        startup_timeout_ms = DEFAULTS.startup_timeout_ms.into(), restart = None,
        max_restarts = DEFAULTS.max_restarts.into(), stop_signal = DEFAULTS.stop_signal.as_str(),
        stop_timeout_ms = DEFAULTS.stop_timeout_ms.into(), watch = Vec::new(),
    ))]
    // Only for `inspect.signature` (pyo3 shows a computed default as `...`):
    // stubtest checks it against the `.pyi`, and a test checks the `.pyi`
    // against the core, so a drifted default fails the suite.
    #[pyo3(
        text_signature = "(name, binary_path, *, args=..., priority=0, dependencies=..., dependency_conditions=..., cwd=None, env_file=None, env=..., health=None, health_interval_ms=500, startup_timeout_ms=30000, restart=None, max_restarts=5, stop_signal=\"SIGTERM\", stop_timeout_ms=5000, watch=...)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        name: String,
        binary_path: String,
        args: Vec<String>,
        priority: i128,
        dependencies: Vec<String>,
        dependency_conditions: BTreeMap<String, String>,
        cwd: Option<PathBuf>,
        env_file: Option<String>,
        env: BTreeMap<String, String>,
        health: Option<HealthCheck>,
        health_interval_ms: i128,
        startup_timeout_ms: i128,
        restart: Option<RestartArg>,
        max_restarts: i128,
        stop_signal: &str,
        stop_timeout_ms: i128,
        watch: Vec<String>,
    ) -> PyResult<Self> {
        let restart = match restart {
            Some(r) => r.into_core()?,
            None => DEFAULTS.restart,
        };
        let dependency_conditions = conditions(py, &name, dependency_conditions)?;
        let mut inner = dxforge::DxToolDefinition {
            name,
            binary_path,
            args,
            dependencies,
            dependency_conditions,
            cwd,
            env_file,
            env,
            health: health.map(|h| h.inner),
            restart,
            stop_signal: stop_signal.to_owned(),
            watch,
            ..dxforge::DxToolDefinition::new("", "")
        };
        for (field, value) in [
            (NumberField::Priority, priority),
            (NumberField::HealthIntervalMs, health_interval_ms),
            (NumberField::StartupTimeoutMs, startup_timeout_ms),
            (NumberField::MaxRestarts, max_restarts),
            (NumberField::StopTimeoutMs, stop_timeout_ms),
        ] {
            let v = number(py, &inner.name, field, value)?;
            field.set(&mut inner, v);
        }
        Ok(Self { inner })
    }

    /// Unique name of the tool within one `DxForge`.
    #[getter]
    fn name(&self) -> &str {
        &self.inner.name
    }
    #[setter]
    fn set_name(&mut self, v: String) {
        self.inner.name = v;
    }

    /// Absolute path; relative to the project root if it contains `/`; else looked up on `PATH`.
    #[getter]
    fn binary_path(&self) -> &str {
        &self.inner.binary_path
    }
    #[setter]
    fn set_binary_path(&mut self, v: String) {
        self.inner.binary_path = v;
    }

    /// Arguments passed to the binary by `ensure_running`.
    #[getter]
    fn args(&self) -> Vec<String> {
        self.inner.args.clone()
    }
    #[setter]
    fn set_args(&mut self, v: Vec<String>) {
        self.inner.args = v;
    }

    /// Lower starts first among tools not ordered by dependencies.
    #[getter]
    fn priority(&self) -> u32 {
        self.inner.priority
    }
    #[setter]
    fn set_priority(&mut self, py: Python<'_>, v: i128) -> PyResult<()> {
        self.set_number(py, NumberField::Priority, v)
    }

    /// Names of tools that must be running (or healthy) before this one starts.
    #[getter]
    fn dependencies(&self) -> Vec<String> {
        self.inner.dependencies.clone()
    }
    #[setter]
    fn set_dependencies(&mut self, v: Vec<String>) {
        self.inner.dependencies = v;
    }

    /// Condition per dependency: `"started"`, `"healthy"` or
    /// `"completed_successfully"` (a dependency without one waits until it
    /// is healthy, or running when it has no health check).
    #[getter]
    fn dependency_conditions(&self) -> BTreeMap<String, String> {
        self.inner
            .dependency_conditions
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().to_owned()))
            .collect()
    }
    #[setter]
    fn set_dependency_conditions(
        &mut self,
        py: Python<'_>,
        v: BTreeMap<String, String>,
    ) -> PyResult<()> {
        self.inner.dependency_conditions = conditions(py, &self.inner.name, v)?;
        Ok(())
    }

    /// A dotenv file (relative to the project root) read when the tool starts.
    #[getter]
    fn env_file(&self) -> Option<String> {
        self.inner.env_file.clone()
    }
    #[setter]
    fn set_env_file(&mut self, v: Option<String>) {
        self.inner.env_file = v;
    }

    /// Working directory, relative to the project root.
    #[getter]
    fn cwd(&self) -> Option<PathBuf> {
        self.inner.cwd.clone()
    }
    #[setter]
    fn set_cwd(&mut self, v: Option<PathBuf>) {
        self.inner.cwd = v;
    }

    /// Extra environment variables.
    #[getter]
    fn env(&self) -> BTreeMap<String, String> {
        self.inner.env.clone()
    }
    #[setter]
    fn set_env(&mut self, v: BTreeMap<String, String>) {
        self.inner.env = v;
    }

    /// Readiness check; without one a tool is ready once it is running.
    #[getter]
    fn health(&self) -> Option<HealthCheck> {
        self.inner.health.clone().map(|inner| HealthCheck { inner })
    }
    #[setter]
    fn set_health(&mut self, v: Option<HealthCheck>) {
        self.inner.health = v.map(|h| h.inner);
    }

    /// How often the health check runs while waiting for readiness.
    #[getter]
    fn health_interval_ms(&self) -> u64 {
        self.inner.health_interval_ms
    }
    #[setter]
    fn set_health_interval_ms(&mut self, py: Python<'_>, v: i128) -> PyResult<()> {
        self.set_number(py, NumberField::HealthIntervalMs, v)
    }

    /// How long a tool may take to become ready before it is degraded.
    #[getter]
    fn startup_timeout_ms(&self) -> u64 {
        self.inner.startup_timeout_ms
    }
    #[setter]
    fn set_startup_timeout_ms(&mut self, py: Python<'_>, v: i128) -> PyResult<()> {
        self.set_number(py, NumberField::StartupTimeoutMs, v)
    }

    /// What to do when the tool exits on its own.
    #[getter]
    fn restart(&self) -> RestartPolicy {
        self.inner.restart.into()
    }
    #[setter]
    fn set_restart(&mut self, v: RestartArg) -> PyResult<()> {
        self.inner.restart = v.into_core()?;
        Ok(())
    }

    /// Restarts allowed (with exponential backoff) before the tool is degraded.
    #[getter]
    fn max_restarts(&self) -> u32 {
        self.inner.max_restarts
    }
    #[setter]
    fn set_max_restarts(&mut self, py: Python<'_>, v: i128) -> PyResult<()> {
        self.set_number(py, NumberField::MaxRestarts, v)
    }

    /// Signal sent to the whole process tree on stop, e.g. `"SIGTERM"`.
    #[getter]
    fn stop_signal(&self) -> &str {
        &self.inner.stop_signal
    }
    #[setter]
    fn set_stop_signal(&mut self, v: String) {
        self.inner.stop_signal = v;
    }

    /// Grace period after `stop_signal`, then `SIGKILL` to the whole tree.
    #[getter]
    fn stop_timeout_ms(&self) -> u64 {
        self.inner.stop_timeout_ms
    }
    #[setter]
    fn set_stop_timeout_ms(&mut self, py: Python<'_>, v: i128) -> PyResult<()> {
        self.set_number(py, NumberField::StopTimeoutMs, v)
    }

    /// Globs (relative to the project root) that restart the tool in watch mode.
    #[getter]
    fn watch(&self) -> Vec<String> {
        self.inner.watch.clone()
    }
    #[setter]
    fn set_watch(&mut self, v: Vec<String>) {
        self.inner.watch = v;
    }

    /// Pickling and `copy` support: the constructor's arguments.
    fn __getnewargs_ex__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<((String, String), Bound<'py, PyDict>)> {
        let d = &self.inner;
        let kwargs = PyDict::new(py);
        kwargs.set_item("args", &d.args)?;
        kwargs.set_item("priority", d.priority)?;
        kwargs.set_item("dependencies", &d.dependencies)?;
        kwargs.set_item("dependency_conditions", self.dependency_conditions())?;
        kwargs.set_item("cwd", d.cwd.as_deref())?;
        kwargs.set_item("env_file", d.env_file.as_deref())?;
        kwargs.set_item("env", &d.env)?;
        kwargs.set_item("health", self.health())?;
        kwargs.set_item("health_interval_ms", d.health_interval_ms)?;
        kwargs.set_item("startup_timeout_ms", d.startup_timeout_ms)?;
        kwargs.set_item("restart", self.restart())?;
        kwargs.set_item("max_restarts", d.max_restarts)?;
        kwargs.set_item("stop_signal", &d.stop_signal)?;
        kwargs.set_item("stop_timeout_ms", d.stop_timeout_ms)?;
        kwargs.set_item("watch", &d.watch)?;
        Ok(((d.name.clone(), d.binary_path.clone()), kwargs))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let d = &self.inner;
        let fields: [(&str, Bound<'_, PyAny>); 17] = [
            ("name", d.name.as_str().into_pyobject(py)?.into_any()),
            (
                "binary_path",
                d.binary_path.as_str().into_pyobject(py)?.into_any(),
            ),
            ("args", d.args.as_slice().into_pyobject(py)?),
            ("priority", d.priority.into_pyobject(py)?.into_any()),
            ("dependencies", d.dependencies.as_slice().into_pyobject(py)?),
            (
                "dependency_conditions",
                self.dependency_conditions().into_pyobject(py)?.into_any(),
            ),
            (
                "cwd",
                d.cwd
                    .as_deref()
                    .map(|c| c.display().to_string())
                    .into_pyobject(py)?,
            ),
            ("env_file", d.env_file.as_deref().into_pyobject(py)?),
            ("env", (&d.env).into_pyobject(py)?.into_any()),
            ("health", self.health().into_pyobject(py)?),
            (
                "health_interval_ms",
                d.health_interval_ms.into_pyobject(py)?.into_any(),
            ),
            (
                "startup_timeout_ms",
                d.startup_timeout_ms.into_pyobject(py)?.into_any(),
            ),
            ("restart", self.restart().into_pyobject(py)?.into_any()),
            ("max_restarts", d.max_restarts.into_pyobject(py)?.into_any()),
            (
                "stop_signal",
                d.stop_signal.as_str().into_pyobject(py)?.into_any(),
            ),
            (
                "stop_timeout_ms",
                d.stop_timeout_ms.into_pyobject(py)?.into_any(),
            ),
            ("watch", d.watch.as_slice().into_pyobject(py)?),
        ];
        let parts: PyResult<Vec<String>> = fields
            .iter()
            .map(|(k, v)| Ok(format!("{k}={}", v.repr()?.to_str()?)))
            .collect();
        Ok(format!("DxToolDefinition({})", parts?.join(", ")))
    }
}
