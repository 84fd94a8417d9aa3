//! The `dxforge.DxForge` handle: open, close, context manager, fork rules.
//!
//! A `DxForge` wraps one core [`dxforge::DxForge`]. Blocking calls release the
//! GIL (`py.detach`) and run on the core's single runtime. Closing (`close()`,
//! leaving a `with` block, or the object being freed) stops every tool the
//! handle started; that may block up to the longest `stop_timeout_ms`, always
//! with the GIL released. `async with` / `close_async()` do the same on a
//! blocking thread of the core runtime without blocking the event loop.
//!
//! After `os.fork()`, a handle inherited from the parent raises `ForkedError`
//! on every call in the child (the tools belong to the parent); open a new
//! `DxForge` in the child instead.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;

use pyo3::prelude::*;

use crate::asyncio::awaitable;
use crate::error::{check, to_pyerr};
use crate::status::py_str;

/// The dxforge engine for one project directory.
#[pyclass(name = "DxForge", module = "dxforge", frozen)]
pub struct PyDxForge {
    // `None` only while being dropped (see `Drop`).
    inner: Option<dxforge::DxForge>,
}

impl PyDxForge {
    /// The core handle. Always present outside `Drop`.
    pub(crate) fn core(&self) -> PyResult<&dxforge::DxForge> {
        match &self.inner {
            Some(inner) => Ok(inner),
            None => Python::attach(|py| Err(to_pyerr(py, &dxforge::Error::Closed))),
        }
    }

    /// A clone of the core handle for a future that outlives this call.
    pub(crate) fn core_owned(&self) -> PyResult<dxforge::DxForge> {
        self.core().cloned()
    }
}

/// Runs a core call with the GIL released; a panic in it becomes
/// `InternalError` instead of crossing into Python.
pub(crate) fn detached<T, F>(py: Python<'_>, call: F) -> PyResult<T>
where
    F: FnOnce() -> dxforge::Result<T> + Send,
    T: Send,
{
    check(py, py.detach(|| catch_panic(call)))
}

/// Runs `call`, turning a panic into [`dxforge::Error::Internal`].
pub(crate) fn catch_panic<T>(call: impl FnOnce() -> dxforge::Result<T>) -> dxforge::Result<T> {
    std::panic::catch_unwind(AssertUnwindSafe(call))
        .unwrap_or_else(|panic| Err(dxforge::Error::from_panic(&*panic)))
}

/// Runs a core future to completion on the core runtime with the GIL released.
pub(crate) fn block_on<F, T>(py: Python<'_>, future: F) -> PyResult<T>
where
    F: Future<Output = dxforge::Result<T>> + Send,
    T: Send,
{
    detached(py, || {
        dxforge::runtime::block_on(future).and_then(|inner| inner)
    })
}

#[pymethods]
impl PyDxForge {
    /// Opens the project at `root` (default: the current directory), reading
    /// its `dxforge.toml` if there is one. Nothing is started.
    #[new]
    #[pyo3(signature = (root = None))]
    fn new(py: Python<'_>, root: Option<PathBuf>) -> PyResult<Self> {
        let opened = detached(py, || match root {
            Some(root) => dxforge::DxForge::open(root),
            None => dxforge::DxForge::new(),
        });
        Ok(Self {
            inner: Some(opened?),
        })
    }

    /// The project root (canonical, absolute).
    #[getter]
    fn root(&self) -> PyResult<PathBuf> {
        Ok(self.core()?.root().to_path_buf())
    }

    /// `True` once `close()` ran (on this handle or in a `with` block).
    #[getter]
    fn closed(&self) -> PyResult<bool> {
        Ok(self.core()?.is_closed())
    }

    /// Stops every tool this handle started and closes it. Idempotent; later
    /// calls raise `ClosedError`. In a forked child, raises `ForkedError`.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let core = self.core()?;
        detached(py, || core.shutdown())
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Closes the handle (stopping its tools); exceptions propagate.
    #[pyo3(signature = (_exc_type = None, _exc = None, _tb = None))]
    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: Option<Bound<'_, PyAny>>,
        _exc: Option<Bound<'_, PyAny>>,
        _tb: Option<Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    /// Awaitable `close()`: stops the tools on a blocking thread of the core
    /// runtime, so the event loop keeps running meanwhile.
    fn close_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let core = self.core_owned()?;
        awaitable(py, async move {
            match tokio::task::spawn_blocking(move || core.shutdown()).await {
                Ok(result) => result,
                Err(e) => Err(dxforge::Error::Internal {
                    message: format!("close_async: {e}"),
                }),
            }
        })
    }

    fn __aenter__<'py>(slf: Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let handle = slf.unbind();
        awaitable(py, async move { Ok(handle) })
    }

    /// `async with` exit: awaits `close_async()`; exceptions propagate.
    #[pyo3(signature = (_exc_type = None, _exc = None, _tb = None))]
    fn __aexit__<'py>(
        &self,
        py: Python<'py>,
        _exc_type: Option<Bound<'_, PyAny>>,
        _exc: Option<Bound<'_, PyAny>>,
        _tb: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let core = self.core_owned()?;
        awaitable(py, async move {
            match tokio::task::spawn_blocking(move || core.shutdown()).await {
                Ok(result) => result.map(|()| false),
                Err(e) => Err(dxforge::Error::Internal {
                    message: format!("__aexit__: {e}"),
                }),
            }
        })
    }

    fn __repr__(&self) -> String {
        match &self.inner {
            Some(core) => {
                let state = if core.is_closed() { " closed" } else { "" };
                format!(
                    "<DxForge root={}{state}>",
                    py_str(&core.root().display().to_string())
                )
            }
            None => "<DxForge>".to_owned(),
        }
    }
}

impl Drop for PyDxForge {
    fn drop(&mut self) {
        // The last clone of the core handle stops its tools, which can take
        // seconds: never do that while holding the GIL (an event callback
        // thread may be waiting for it).
        if let Some(inner) = self.inner.take() {
            Python::attach(|py| py.detach(move || drop(inner)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_in_a_core_call_becomes_an_internal_error() {
        let err = catch_panic(|| -> dxforge::Result<()> { panic!("boom {}", 42) }).unwrap_err();
        assert_eq!(err.kind(), dxforge::ErrorKind::Internal);
        assert!(err.to_string().contains("boom 42"), "{err}");
        let err = catch_panic(|| -> dxforge::Result<()> { panic!("static") }).unwrap_err();
        assert!(err.to_string().contains("static"), "{err}");
        assert_eq!(catch_panic(|| Ok(7)).unwrap(), 7);
    }
}
