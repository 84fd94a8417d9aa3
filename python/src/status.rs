//! What tools are doing: `ToolStatus`, `ToolState`, `ToolEvent`, `ExecResult`, `LogLine`.
//!
//! `ToolStatus` is a plain enum (`ToolStatus.RUNNING`, ...): the PID the core
//! carries in `Running(pid)` is on `ToolState.pid` and `ToolEvent.pid`.
//! Status values returned by `DxForge` are the enum's own members, so both
//! `==` and `is` work.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyBytes;

/// The status of a tool. Exactly one holds at any time.
#[pyclass(module = "dxforge", eq, hash, frozen, from_py_object)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ToolStatus {
    /// Not running.
    #[pyo3(name = "STOPPED")]
    Stopped,
    /// Spawned, waiting for readiness.
    #[pyo3(name = "STARTING")]
    Starting,
    /// Running (no health check, or not checked yet); see `ToolState.pid`.
    #[pyo3(name = "RUNNING")]
    Running,
    /// Running and its health check passes.
    #[pyo3(name = "HEALTHY")]
    Healthy,
    /// Failed to start, failed its health check, or out of restarts.
    #[pyo3(name = "DEGRADED")]
    Degraded,
}

#[pymethods]
impl ToolStatus {
    /// Lower-case name, as the command line and JSON print it (`"running"`).
    #[getter]
    fn value(&self) -> &'static str {
        self.core_name()
    }

    fn __str__(&self) -> &'static str {
        self.core_name()
    }

    /// Pickles as the member itself.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<crate::definition::EnumReduce<'py>> {
        crate::definition::enum_reduce(slf.as_any(), slf.get().core_name().to_uppercase())
    }
}

/// The enum members, fetched once from the class so returned values are the
/// members themselves (and no object is allocated per call).
static MEMBERS: PyOnceLock<[Py<ToolStatus>; 5]> = PyOnceLock::new();

impl ToolStatus {
    fn core_name(self) -> &'static str {
        // Declaration order is the core's (`ToolStatus::NAMES`).
        dxforge::ToolStatus::NAMES[self as usize]
    }

    /// The Python member for a core status.
    pub(crate) fn member<'py>(
        py: Python<'py>,
        status: dxforge::ToolStatus,
    ) -> PyResult<Bound<'py, ToolStatus>> {
        let members = MEMBERS.get_or_try_init(py, || -> PyResult<_> {
            let class = py.get_type::<ToolStatus>();
            let get = |name: &str| -> PyResult<Py<ToolStatus>> {
                Ok(class.getattr(name)?.cast_into()?.unbind())
            };
            Ok([
                get("STOPPED")?,
                get("STARTING")?,
                get("RUNNING")?,
                get("HEALTHY")?,
                get("DEGRADED")?,
            ])
        })?;
        let index = status.index();
        Ok(members[index].bind(py).clone())
    }
}

/// Everything known about one tool.
#[pyclass(module = "dxforge", frozen, eq)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolState {
    inner: dxforge::ToolState,
}

impl From<dxforge::ToolState> for ToolState {
    fn from(inner: dxforge::ToolState) -> Self {
        Self { inner }
    }
}

#[pymethods]
impl ToolState {
    /// Tool name.
    #[getter]
    fn name(&self) -> &str {
        &self.inner.name
    }

    /// Current status.
    #[getter]
    fn status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, ToolStatus>> {
        ToolStatus::member(py, self.inner.status)
    }

    /// PID of the tool's process while it runs (also while starting or healthy).
    #[getter]
    fn pid(&self) -> Option<u32> {
        self.inner.pid
    }

    /// Restarts since the last explicit start.
    #[getter]
    fn restarts(&self) -> u32 {
        self.inner.restarts
    }

    /// Exit code of the last run, if it exited normally.
    #[getter]
    fn last_exit_code(&self) -> Option<i32> {
        match self.inner.last_exit {
            Some(dxforge::ExitStatus::Code(c)) => Some(c),
            _ => None,
        }
    }

    /// Signal that ended the last run, if any.
    #[getter]
    fn last_exit_signal(&self) -> Option<i32> {
        match self.inner.last_exit {
            Some(dxforge::ExitStatus::Signal(s)) => Some(s),
            _ => None,
        }
    }

    /// Why the tool is degraded, or the last start failure.
    #[getter]
    fn last_error(&self) -> Option<&str> {
        self.inner.last_error.as_deref()
    }

    fn __repr__(&self) -> String {
        let s = &self.inner;
        format!(
            "ToolState(name={}, status=ToolStatus.{}, pid={}, restarts={}, last_exit_code={}, last_exit_signal={}, last_error={})",
            py_str(&s.name),
            s.status.as_str().to_uppercase(),
            py_opt(s.pid),
            s.restarts,
            py_opt(self.last_exit_code()),
            py_opt(self.last_exit_signal()),
            s.last_error
                .as_deref()
                .map_or_else(|| "None".to_owned(), py_str),
        )
    }
}

/// A status change delivered to `on_status_change` callbacks.
#[pyclass(module = "dxforge", frozen, eq)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolEvent {
    inner: dxforge::ToolEvent,
}

impl From<dxforge::ToolEvent> for ToolEvent {
    fn from(inner: dxforge::ToolEvent) -> Self {
        Self { inner }
    }
}

#[pymethods]
impl ToolEvent {
    /// Tool name.
    #[getter]
    fn tool(&self) -> &str {
        &self.inner.tool
    }

    /// Status before the change.
    #[getter]
    fn old<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, ToolStatus>> {
        ToolStatus::member(py, self.inner.old)
    }

    /// Status after the change.
    #[getter(new)]
    fn new_status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, ToolStatus>> {
        ToolStatus::member(py, self.inner.new)
    }

    /// PID at the time of the change, if any.
    #[getter]
    fn pid(&self) -> Option<u32> {
        self.inner.pid
    }

    /// Short reason, e.g. `"exited with code 1"`.
    #[getter]
    fn reason(&self) -> Option<&str> {
        self.inner.reason.as_deref()
    }

    fn __repr__(&self) -> String {
        let e = &self.inner;
        format!(
            "ToolEvent(tool={}, old=ToolStatus.{}, new=ToolStatus.{}, pid={}, reason={})",
            py_str(&e.tool),
            e.old.as_str().to_uppercase(),
            e.new.as_str().to_uppercase(),
            py_opt(e.pid),
            e.reason
                .as_deref()
                .map_or_else(|| "None".to_owned(), py_str),
        )
    }
}

/// Result of `execute_tool`: a non-zero exit is a result, not an error.
#[pyclass(module = "dxforge", frozen, eq)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecResult {
    inner: dxforge::ExecOutput,
}

impl From<dxforge::ExecOutput> for ExecResult {
    fn from(inner: dxforge::ExecOutput) -> Self {
        Self { inner }
    }
}

#[pymethods]
impl ExecResult {
    /// Exit code; `None` when the process was killed by a signal.
    #[getter]
    fn exit_code(&self) -> Option<i32> {
        self.inner.exit_code
    }

    /// Signal that ended the process, if any.
    #[getter]
    fn signal(&self) -> Option<i32> {
        self.inner.signal
    }

    /// Captured standard output.
    #[getter]
    fn stdout<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.stdout)
    }

    /// Captured standard error.
    #[getter]
    fn stderr<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.stderr)
    }

    /// Wall time from spawn to exit, in milliseconds.
    #[getter]
    fn duration_ms(&self) -> u64 {
        self.inner.duration_ms
    }

    /// Wall time from spawn to exit, in seconds.
    #[getter]
    fn duration(&self) -> f64 {
        self.inner.duration_ms as f64 / 1000.0
    }

    fn __repr__(&self) -> String {
        let o = &self.inner;
        format!(
            "ExecResult(exit_code={}, signal={}, stdout=<{} bytes>, stderr=<{} bytes>, duration_ms={})",
            py_opt(o.exit_code),
            py_opt(o.signal),
            o.stdout.len(),
            o.stderr.len(),
            o.duration_ms
        )
    }
}

/// One captured line of a tool's output.
#[pyclass(module = "dxforge", frozen, eq)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    inner: dxforge::LogLine,
}

impl From<dxforge::LogLine> for LogLine {
    fn from(inner: dxforge::LogLine) -> Self {
        Self { inner }
    }
}

#[pymethods]
impl LogLine {
    /// `"stdout"` or `"stderr"`.
    #[getter]
    fn stream(&self) -> &'static str {
        self.inner.stream
    }

    /// The line without its trailing newline (invalid UTF-8 replaced).
    #[getter]
    fn line(&self) -> &str {
        &self.inner.line
    }

    fn __repr__(&self) -> String {
        format!(
            "LogLine(stream={}, line={})",
            py_str(self.inner.stream),
            py_str(&self.inner.line)
        )
    }
}

/// A Python-style repr of a string (single quotes unless the text has one).
pub(crate) fn py_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

fn py_opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "None".to_owned(), |v| v.to_string())
}
