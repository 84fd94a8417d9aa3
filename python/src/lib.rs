//! The native module `dxforge._dxforge` of the Python package `dxforge`.
//!
//! A thin layer over the Rust core: every class wraps a core value and every
//! method converts its arguments, delegates, and converts the result or the
//! error (once, by `ErrorKind`, in [`error`]). Users import the public package
//! `dxforge`, which re-exports these classes next to the exception hierarchy.
//!
//! The files mirror the core: [`forge`] (the handle), [`orchestrator`],
//! [`events`], [`pipeline`], [`traffic`], [`worker`], [`definition`] and
//! [`status`] (value types), [`reports`] (dict conversion),
//! [`asyncio`] (the awaitable bridge on the core's runtime), [`error`].
#![warn(missing_docs)]

pub mod asyncio;
pub mod definition;
pub mod error;
pub mod events;
pub mod forge;
pub mod orchestrator;
pub mod pipeline;
pub mod reports;
pub mod status;
pub mod traffic;
pub mod worker;

use pyo3::prelude::*;

/// The `dxforge._dxforge` module.
#[pymodule]
fn _dxforge(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<forge::PyDxForge>()?;
    m.add_class::<definition::DxToolDefinition>()?;
    m.add_class::<definition::HealthCheck>()?;
    m.add_class::<definition::RestartPolicy>()?;
    m.add_class::<status::ToolStatus>()?;
    m.add_class::<status::ToolState>()?;
    m.add_class::<status::ToolEvent>()?;
    m.add_class::<status::ExecResult>()?;
    m.add_class::<status::LogLine>()?;
    m.add_class::<pipeline::PipelineOutcome>()?;
    m.add_class::<traffic::TrafficLight>()?;
    m.add_class::<worker::BackgroundTask>()?;
    m.add_function(wrap_pyfunction!(error::_error_kinds, m)?)?;
    Ok(())
}
