//! Structured reports of the worker and Traffic Branching as plain Python data.
//!
//! Reports (install plans, snapshots, task states, analyses...) are returned
//! as dicts and lists in the same shape as the core's serde form (the shape of
//! the command line's `--json` documents); `dxforge/reports.py` describes each
//! one as a `TypedDict` for type checkers.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use serde::Serialize;

use crate::error::raise;

static JSON_LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Converts a serialisable core value into dicts/lists/str/int/float/bool/None.
pub(crate) fn to_py<'py, T: Serialize + ?Sized>(
    py: Python<'py>,
    value: &T,
) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(value).map_err(|e| {
        raise(
            py,
            dxforge::ErrorKind::Internal as i32,
            &format!("cannot serialise a report: {e}"),
            None,
        )
    })?;
    JSON_LOADS.import(py, "json", "loads")?.call1((text,))
}

/// A report converted once the GIL is held (for awaitables).
pub(crate) struct Report<T>(pub(crate) T);

impl<'py, T: Serialize> IntoPyObject<'py> for Report<T> {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Self::Output> {
        to_py(py, &self.0)
    }
}
