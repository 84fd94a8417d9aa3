//! `DxForge` methods of the Shadow Worker and the `BackgroundTask` type.
//!
//! `enqueue` never blocks (and does not release the GIL: it costs less than
//! doing so). `wait`, `snapshot`, `restore`, `push`, `pull`, `analyze` and
//! `prefetch` block with the GIL released; `wait_async`, `push_async` and
//! `pull_async` are awaitable. Task states and reports are plain dicts (see
//! [`crate::reports`]): a task state is `{"state": "queued" | "running" |
//! "succeeded" | "failed" | "dropped", "detail": ...}`.

use std::time::Duration;

use dxforge::dxforge_worker::TaskId;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::asyncio::awaitable;
use crate::error::check;
use crate::forge::{PyDxForge, block_on, detached};
use crate::reports::{Report, to_py};
use crate::status::py_str;

/// A background task for `DxForge.enqueue`.
#[pyclass(module = "dxforge", frozen, eq)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackgroundTask {
    inner: dxforge::BackgroundTask,
}

#[pymethods]
impl BackgroundTask {
    /// Snapshot the project tree for rollback.
    #[staticmethod]
    fn cache_current_state() -> Self {
        Self {
            inner: dxforge::BackgroundTask::CacheCurrentState,
        }
    }

    /// Upload snapshots to the `[remote]` S3-compatible bucket.
    #[staticmethod]
    fn sync_to_cloudflare_r2() -> Self {
        Self {
            inner: dxforge::BackgroundTask::SyncToCloudflareR2,
        }
    }

    /// Resolve `spec` (`name` or `name@req`) and store the package in the local cache.
    #[staticmethod]
    fn prefetch_package(spec: String) -> Self {
        Self {
            inner: dxforge::BackgroundTask::PrefetchPackage(spec),
        }
    }

    /// Walk the codebase and write `.dxforge/analysis.json`.
    #[staticmethod]
    fn analyze_codebase_patterns() -> Self {
        Self {
            inner: dxforge::BackgroundTask::AnalyzeCodebasePatterns,
        }
    }

    /// `"cache_current_state"`, `"sync_to_cloudflare_r2"`, `"prefetch_package"` or `"analyze_codebase_patterns"`.
    #[getter]
    fn kind(&self) -> &'static str {
        self.inner.kind().as_str()
    }

    /// Pickles as the constructor call.
    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let py = slf.py();
        let constructor = slf.get_type().getattr(slf.get().kind())?;
        let args = match &slf.get().inner {
            dxforge::BackgroundTask::PrefetchPackage(spec) => PyTuple::new(py, [spec.as_str()])?,
            _ => PyTuple::empty(py),
        };
        Ok((constructor, args))
    }

    fn __repr__(&self) -> String {
        match &self.inner {
            dxforge::BackgroundTask::PrefetchPackage(spec) => {
                format!("BackgroundTask.prefetch_package({})", py_str(spec))
            }
            _ => format!("BackgroundTask.{}()", self.kind()),
        }
    }
}

/// A timeout in seconds (`None`: wait without limit). The core bounds a huge
/// timeout itself (`Duration::MAX` is "forever"), so it is not clamped here.
fn timeout(seconds: Option<f64>) -> PyResult<Duration> {
    match seconds {
        None => Ok(Duration::MAX),
        Some(s) => Duration::try_from_secs_f64(s).map_err(|_| {
            PyValueError::new_err(format!(
                "timeout: expected a number of seconds >= 0, got {s}"
            ))
        }),
    }
}

#[pymethods]
impl PyDxForge {
    /// Queues a background task and returns its id at once; never blocks.
    /// When the queue is full the oldest queued task is dropped (its state
    /// becomes `"dropped"`).
    fn enqueue(&self, py: Python<'_>, task: PyRef<'_, BackgroundTask>) -> PyResult<u64> {
        check(py, self.core()?.enqueue(task.inner.clone())).map(|id| id.0)
    }

    /// The state of task `id` as a dict, or `None` for an id never issued.
    fn task<'py>(&self, py: Python<'py>, id: u64) -> PyResult<Option<Bound<'py, PyAny>>> {
        let state = check(py, self.core()?.task(TaskId(id)))?;
        state.map(|s| to_py(py, &s)).transpose()
    }

    /// Waits until task `id` reaches a final state (at most `timeout` seconds;
    /// `None`: no limit) and returns it. Raises `TimeoutError` on timeout and
    /// `NotFoundError` for an unknown id.
    #[pyo3(signature = (id, timeout = None))]
    fn wait<'py>(
        &self,
        py: Python<'py>,
        id: u64,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let limit = self::timeout(timeout)?;
        let core = self.core()?;
        let state = block_on(py, core.wait(TaskId(id), limit))?;
        to_py(py, &state)
    }

    /// Awaitable `wait`.
    #[pyo3(signature = (id, timeout = None))]
    fn wait_async<'py>(
        &self,
        py: Python<'py>,
        id: u64,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let limit = self::timeout(timeout)?;
        let core = self.core_owned()?;
        awaitable(
            py,
            async move { core.wait(TaskId(id), limit).await.map(Report) },
        )
    }

    /// Queue counters: enqueued, queued, running, succeeded, failed, dropped.
    fn counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let counters = check(py, self.core()?.counters())?;
        to_py(py, &counters)
    }

    /// Takes a snapshot of the project tree now (respecting `.gitignore`).
    fn snapshot<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let core = self.core()?;
        let summary = detached(py, || core.snapshot())?;
        to_py(py, &summary)
    }

    /// Local snapshots, oldest first.
    fn snapshots<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let core = self.core()?;
        let list = detached(py, || core.snapshots())?;
        to_py(py, &list)
    }

    /// Rolls the tree back to snapshot `id`; a safety snapshot of the current
    /// tree is taken first (its id is in the report, to undo).
    fn restore<'py>(&self, py: Python<'py>, id: &str) -> PyResult<Bound<'py, PyAny>> {
        let core = self.core()?;
        let report = detached(py, || core.restore(id))?;
        to_py(py, &report)
    }

    /// Deletes snapshot objects no snapshot refers to.
    fn gc_snapshots<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let core = self.core()?;
        let report = detached(py, || core.gc_snapshots())?;
        to_py(py, &report)
    }

    /// Uploads local snapshots to `[remote]` (only missing objects).
    fn push<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let core = self.core()?;
        let report = block_on(py, core.push())?;
        to_py(py, &report)
    }

    /// Awaitable `push`.
    fn push_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let core = self.core_owned()?;
        awaitable(py, async move { core.push().await.map(Report) })
    }

    /// Fetches snapshot `id` from `[remote]` (every object's hash verified)
    /// and restores it.
    fn pull<'py>(&self, py: Python<'py>, id: &str) -> PyResult<Bound<'py, PyAny>> {
        let core = self.core()?;
        let report = block_on(py, core.pull(id))?;
        to_py(py, &report)
    }

    /// Awaitable `pull`.
    fn pull_async<'py>(&self, py: Python<'py>, id: String) -> PyResult<Bound<'py, PyAny>> {
        let core = self.core_owned()?;
        awaitable(py, async move { core.pull(&id).await.map(Report) })
    }

    /// Analyses the codebase (languages, lines, package usage) and writes
    /// `.dxforge/analysis.json`; returns the report.
    fn analyze<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let core = self.core()?;
        let report = detached(py, || core.analyze())?;
        to_py(py, &report)
    }

    /// Caches package `spec` (`name` or `name@req`) and its dependencies from
    /// the registry, hashes verified.
    fn prefetch<'py>(&self, py: Python<'py>, spec: &str) -> PyResult<Bound<'py, PyAny>> {
        let core = self.core()?;
        let report = detached(py, || core.prefetch(spec))?;
        to_py(py, &report)
    }
}
