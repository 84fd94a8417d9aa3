//! The asyncio bridge: awaitables backed by futures on the core's runtime.
//!
//! `pyo3_async_runtimes` is initialised lazily, on the first `*_async` call,
//! with the core's own runtime (one runtime per process). It keeps that
//! runtime for the life of the process, so in a child made by `os.fork()`
//! after the parent used an async method it would point at the parent's
//! runtime, whose threads do not exist in the child: awaiting would hang.
//! That case raises `ForkedError` instead; synchronous methods keep working
//! in the child (with a `DxForge` opened there).

use std::future::Future;

use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use pyo3::BoundObject;
use pyo3::prelude::*;

use crate::error::{raise, to_pyerr};

/// Makes sure the bridge runs on this process's core runtime.
fn ensure_bridge(py: Python<'_>) -> PyResult<()> {
    let ours = dxforge::runtime::runtime().map_err(|e| to_pyerr(py, &e))?;
    if pyo3_async_runtimes::tokio::init_with_runtime(ours).is_ok() {
        return Ok(());
    }
    // Already initialised: by this process (fine), or by the parent before fork.
    if std::ptr::eq(pyo3_async_runtimes::tokio::get_runtime(), ours) {
        Ok(())
    } else {
        Err(raise(
            py,
            dxforge::ErrorKind::Forked as i32,
            "the asyncio bridge of dxforge was started in the parent process before fork() and cannot run in \
             this child; use the synchronous methods here, or start workers with the 'spawn' or 'forkserver' \
             multiprocessing start method",
            None,
        ))
    }
}

/// Wraps a core future as a Python awaitable (an `asyncio.Future` of the
/// running event loop); the core error becomes its `DxForgeError`.
///
/// The future runs on a runtime thread without the GIL; the result (or the
/// error) is converted later, by the bridge, on a blocking thread that holds
/// the GIL. Cancelling the awaitable drops the core future (for
/// `execute_tool_async` that kills the run's process tree).
pub(crate) fn awaitable<'py, F, T>(py: Python<'py>, future: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = dxforge::Result<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    ensure_bridge(py)?;
    pyo3_async_runtimes::tokio::future_into_py(py, async move {
        // A panic in the core future becomes InternalError, not a PanicException.
        let result = AssertUnwindSafe(future).catch_unwind().await;
        Ok(Deferred(result.unwrap_or_else(|panic| {
            Err(dxforge::Error::from_panic(&*panic))
        })))
    })
}

/// A core result converted only when the bridge holds the GIL.
struct Deferred<T>(dxforge::Result<T>);

impl<'py, T: IntoPyObject<'py>> IntoPyObject<'py> for Deferred<T> {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Self::Output> {
        match self.0 {
            Ok(value) => Ok(value
                .into_pyobject(py)
                .map_err(Into::into)?
                .into_any()
                .into_bound()),
            Err(e) => Err(to_pyerr(py, &e)),
        }
    }
}
