//! `DxForge` methods of the Sovereign Orchestrator, sync and asyncio.
//!
//! Synchronous methods that wait (start, stop, execute) release the GIL while
//! they block; cheap queries (`status`, `state`, `tool_names`...) do not, as
//! releasing it would cost more than the query.

use pyo3::prelude::*;

use crate::asyncio::awaitable;
use crate::definition::DxToolDefinition;
use crate::error::check;
use crate::forge::{PyDxForge, block_on, detached};
use crate::status::{ExecResult, LogLine, ToolState, ToolStatus};

/// A core status converted to its Python member once the GIL is held.
struct StatusOut(dxforge::ToolStatus);

impl<'py> IntoPyObject<'py> for StatusOut {
    type Target = ToolStatus;
    type Output = Bound<'py, ToolStatus>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Self::Output> {
        ToolStatus::member(py, self.0)
    }
}

#[pymethods]
impl PyDxForge {
    /// Registers a tool; its dependencies must be registered already.
    fn register_tool(
        &self,
        py: Python<'_>,
        definition: PyRef<'_, DxToolDefinition>,
    ) -> PyResult<()> {
        let def = definition.inner.clone();
        check(py, self.core()?.register_tool(def))
    }

    /// The definition registered under `name`.
    fn tool(&self, py: Python<'_>, name: &str) -> PyResult<DxToolDefinition> {
        check(py, self.core()?.tool(name)).map(|inner| DxToolDefinition { inner })
    }

    /// Registered tool names in start order.
    fn tool_names(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        check(py, self.core()?.tool_names())
    }

    /// Current status of a tool.
    fn status<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, ToolStatus>> {
        let status = check(py, self.core()?.status(name))?;
        ToolStatus::member(py, status)
    }

    /// Detailed state of a tool (status, pid, restarts, last exit, last error).
    fn state(&self, py: Python<'_>, name: &str) -> PyResult<ToolState> {
        check(py, self.core()?.state(name)).map(ToolState::from)
    }

    /// States of every tool in start order.
    fn states(&self, py: Python<'_>) -> PyResult<Vec<ToolState>> {
        check(py, self.core()?.states()).map(|v| v.into_iter().map(ToolState::from).collect())
    }

    /// The last `n` captured output lines of a tool.
    #[pyo3(signature = (name, n = 100))]
    fn logs(&self, py: Python<'_>, name: &str, n: usize) -> PyResult<Vec<LogLine>> {
        check(py, self.core()?.logs(name, n)).map(|v| v.into_iter().map(LogLine::from).collect())
    }

    /// Starts `name` and its dependencies (each waited for until ready); a
    /// running tool is left alone. Returns the tool's status.
    fn ensure_running<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, ToolStatus>> {
        let core = self.core()?;
        let status = block_on(py, core.ensure_running(name))?;
        ToolStatus::member(py, status)
    }

    /// Starts every registered tool in dependency order.
    fn ensure_all_running(&self, py: Python<'_>) -> PyResult<()> {
        let core = self.core()?;
        block_on(py, core.ensure_all_running())
    }

    /// Runs `name` to completion with `args` (instead of the definition's
    /// args), after its dependencies are running; returns its exit code and
    /// captured output. A non-zero exit is a result, not an exception.
    #[pyo3(signature = (name, args = Vec::new()))]
    fn execute_tool(&self, py: Python<'_>, name: &str, args: Vec<String>) -> PyResult<ExecResult> {
        let core = self.core()?;
        block_on(py, core.execute_tool(name, &args)).map(ExecResult::from)
    }

    /// Stops a tool (its running dependents first). A stopped tool is left alone.
    fn stop(&self, py: Python<'_>, name: &str) -> PyResult<()> {
        let core = self.core()?;
        block_on(py, core.stop(name))
    }

    /// Stops every tool, dependents first.
    fn stop_all(&self, py: Python<'_>) -> PyResult<()> {
        let core = self.core()?;
        block_on(py, core.stop_all())
    }

    /// Turns watch mode on: running tools whose `watch` globs match a changed
    /// file are restarted after `debounce_ms` of quiet.
    #[pyo3(signature = (debounce_ms = 200))]
    fn watch(&self, py: Python<'_>, debounce_ms: u64) -> PyResult<()> {
        let core = self.core()?;
        detached(py, || {
            core.watch(std::time::Duration::from_millis(debounce_ms))
        })
    }

    /// Turns watch mode off (tools keep running).
    fn unwatch(&self, py: Python<'_>) -> PyResult<()> {
        check(py, self.core()?.unwatch())
    }

    /// Awaitable `ensure_running`.
    fn ensure_running_async<'py>(
        &self,
        py: Python<'py>,
        name: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let core = self.core_owned()?;
        awaitable(py, async move {
            core.ensure_running(&name).await.map(StatusOut)
        })
    }

    /// Awaitable `ensure_all_running`.
    fn ensure_all_running_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let core = self.core_owned()?;
        awaitable(py, async move { core.ensure_all_running().await })
    }

    /// Awaitable `execute_tool`.
    #[pyo3(signature = (name, args = Vec::new()))]
    fn execute_tool_async<'py>(
        &self,
        py: Python<'py>,
        name: String,
        args: Vec<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let core = self.core_owned()?;
        awaitable(py, async move {
            core.execute_tool(&name, &args).await.map(ExecResult::from)
        })
    }

    /// Awaitable `stop`.
    fn stop_async<'py>(&self, py: Python<'py>, name: String) -> PyResult<Bound<'py, PyAny>> {
        let core = self.core_owned()?;
        awaitable(py, async move { core.stop(&name).await })
    }

    /// Awaitable `stop_all`.
    fn stop_all_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let core = self.core_owned()?;
        awaitable(py, async move { core.stop_all().await })
    }
}
