//! `run_pipeline`: the command line's commands as one call.

use pyo3::prelude::*;

use crate::asyncio::awaitable;
use crate::forge::{PyDxForge, block_on};
use crate::reports::to_py;
use crate::status::py_str;

/// What a command produced. A command that ran but reports a problem (a Red
/// file, a tool exiting non-zero) has a non-zero `exit_code`; it is not raised.
#[pyclass(module = "dxforge", frozen)]
pub struct PipelineOutcome {
    exit_code: i32,
    text: String,
    json: Py<PyAny>,
}

impl PipelineOutcome {
    fn convert(py: Python<'_>, outcome: dxforge::PipelineOutcome) -> PyResult<Self> {
        let json = to_py(py, &outcome.json)?.unbind();
        Ok(Self {
            exit_code: outcome.exit_code,
            text: outcome.text,
            json,
        })
    }
}

/// Converts the core outcome once the GIL is held (for the async variant).
struct OutcomeOut(dxforge::PipelineOutcome);

impl<'py> IntoPyObject<'py> for OutcomeOut {
    type Target = PipelineOutcome;
    type Output = Bound<'py, PipelineOutcome>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Self::Output> {
        Bound::new(py, PipelineOutcome::convert(py, self.0)?)
    }
}

#[pymethods]
impl PipelineOutcome {
    /// The exit code the command line would use (0, 3 for a Red file, a tool's own code for `run`).
    #[getter]
    fn exit_code(&self) -> i32 {
        self.exit_code
    }

    /// Human-readable output.
    #[getter]
    fn text(&self) -> &str {
        &self.text
    }

    /// The same result as plain Python data (what `--json` prints).
    #[getter]
    fn json(&self, py: Python<'_>) -> Py<PyAny> {
        self.json.clone_ref(py)
    }

    fn __repr__(&self) -> String {
        format!(
            "PipelineOutcome(exit_code={}, text={})",
            self.exit_code,
            py_str(&self.text)
        )
    }
}

#[pymethods]
impl PyDxForge {
    /// Runs one command string as the `dxforge` command line would, e.g.
    /// `"status"`, `"run lint -- --fix"` or `"add button@^1.2 --dry-run"`.
    /// `up` starts the tools and returns (they run until `stop` or `close`).
    fn run_pipeline(&self, py: Python<'_>, command: &str) -> PyResult<PipelineOutcome> {
        let core = self.core()?;
        let outcome = block_on(py, core.run_pipeline(command))?;
        PipelineOutcome::convert(py, outcome)
    }

    /// Awaitable `run_pipeline`.
    fn run_pipeline_async<'py>(
        &self,
        py: Python<'py>,
        command: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let core = self.core_owned()?;
        awaitable(py, async move {
            core.run_pipeline(&command).await.map(OutcomeOut)
        })
    }
}
