//! Conversion of [`dxforge::Error`] into the `dxforge.DxForgeError` hierarchy.
//!
//! The exception classes are plain Python classes in `dxforge/_errors.py` (so
//! that I/O kinds can also subclass the matching `OSError` by multiple
//! inheritance). The conversion happens once, here, from the error's stable
//! [`ErrorKind`](dxforge::ErrorKind), its message and its OS error number.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

/// `dxforge._errors._from_native(kind, message, errno)`, looked up once.
static FROM_NATIVE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Builds the Python exception for a core error.
pub(crate) fn to_pyerr(py: Python<'_>, err: &dxforge::Error) -> PyErr {
    raise(py, err.kind() as i32, &err.to_string(), err.raw_os_error())
}

/// Builds the Python exception of kind `kind` (the `ErrorKind` number).
pub(crate) fn raise(py: Python<'_>, kind: i32, message: &str, errno: Option<i32>) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let factory = FROM_NATIVE.import(py, "dxforge._errors", "_from_native")?;
        let exc = factory.call1((kind, message, errno))?;
        Ok(PyErr::from_value(exc))
    };
    // If the factory itself fails (the package is broken), raise that error
    // instead: it says what is wrong with the package.
    build().unwrap_or_else(|e| e)
}

/// Converts a core result; the error becomes its Python exception.
pub(crate) fn check<T>(py: Python<'_>, result: dxforge::Result<T>) -> PyResult<T> {
    result.map_err(|e| to_pyerr(py, &e))
}

/// The `ErrorKind` table of the core: `(number, code)` for every kind, so the
/// Python side can check its classes against it.
#[pyfunction]
pub(crate) fn _error_kinds() -> Vec<(i32, &'static str)> {
    dxforge::ErrorKind::ALL
        .iter()
        .map(|k| (*k as i32, k.code()))
        .collect()
}
