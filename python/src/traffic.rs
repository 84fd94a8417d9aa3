//! `DxForge` methods of Traffic Branching and the `TrafficLight` enum.
//!
//! Every method does file-system work on the calling thread with the GIL
//! released. Reports are plain dicts (see [`crate::reports`]); in them a
//! light is its lower-case name (`"green"`, `"yellow"`, `"red"`).

use std::path::PathBuf;

use dxforge::dxforge_traffic::InstallOptions;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::forge::{PyDxForge, detached};
use crate::reports::to_py;

/// Safety of replacing a file with new upstream content.
#[pyclass(module = "dxforge", eq, hash, frozen, from_py_object)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrafficLight {
    /// The file does not exist, or is unmodified since install, or already equals the new content.
    #[pyo3(name = "GREEN")]
    Green,
    /// The user changed the file and the change merges cleanly with the new content.
    #[pyo3(name = "YELLOW")]
    Yellow,
    /// The change conflicts: the user's file is kept and `<file>.new` is written.
    #[pyo3(name = "RED")]
    Red,
}

#[pymethods]
impl TrafficLight {
    /// Lower-case name (`"green"`), as in reports.
    #[getter]
    fn value(&self) -> &'static str {
        match self {
            TrafficLight::Green => "green",
            TrafficLight::Yellow => "yellow",
            TrafficLight::Red => "red",
        }
    }

    fn __str__(&self) -> &'static str {
        self.value()
    }

    /// Pickles as the member itself.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<crate::definition::EnumReduce<'py>> {
        crate::definition::enum_reduce(slf.as_any(), slf.get().value().to_uppercase())
    }
}

impl From<dxforge::TrafficLight> for TrafficLight {
    fn from(light: dxforge::TrafficLight) -> Self {
        match light {
            dxforge::TrafficLight::Green => TrafficLight::Green,
            dxforge::TrafficLight::Yellow => TrafficLight::Yellow,
            dxforge::TrafficLight::Red => TrafficLight::Red,
        }
    }
}

/// New file content: `bytes` as is, `str` as UTF-8.
#[derive(FromPyObject)]
enum Content<'py> {
    Bytes(Bound<'py, PyBytes>),
    Text(String),
}

impl Content<'_> {
    fn to_vec(&self) -> Vec<u8> {
        match self {
            Content::Bytes(b) => b.as_bytes().to_vec(),
            Content::Text(s) => s.as_bytes().to_vec(),
        }
    }
}

#[pymethods]
impl PyDxForge {
    /// The traffic light of replacing `path` (project-relative, or absolute
    /// inside the root) with `new_content`. Reads only.
    fn analyze_traffic_safety(
        &self,
        py: Python<'_>,
        path: PathBuf,
        new_content: Content<'_>,
    ) -> PyResult<TrafficLight> {
        let core = self.core()?;
        let content = new_content.to_vec();
        detached(py, || core.analyze_traffic_safety(&path, &content)).map(TrafficLight::from)
    }

    /// The full verdict (light, reason, action, conflicting regions) of
    /// replacing `path` with `new_content`, as a `FileReport` dict. Reads only.
    fn check<'py>(
        &self,
        py: Python<'py>,
        path: PathBuf,
        new_content: Content<'_>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let core = self.core()?;
        let content = new_content.to_vec();
        let report = detached(py, || core.check(&path, &content))?;
        to_py(py, &report)
    }

    /// Installs `name` at the highest version matching `version_req` (`""`:
    /// any) with its dependencies, records it in `[dependencies]`, and
    /// returns the per-file report. With `dry_run=True`, returns the plan and
    /// writes nothing. `name` may be a registry item (`@ns/name`, an item URL,
    /// a `.json` file); with `offline=True` items come from the cache only.
    #[pyo3(signature = (name, version_req = "", *, dry_run = false, offline = false))]
    fn install_package<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        version_req: &str,
        dry_run: bool,
        offline: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let core = self.core()?;
        let opts = InstallOptions { dry_run, offline };
        let report = detached(py, || core.install_package(name, version_req, &opts))?;
        to_py(py, &report)
    }

    /// Installs every package of `[dependencies]`.
    #[pyo3(signature = (*, dry_run = false, offline = false))]
    fn install_all_dependencies<'py>(
        &self,
        py: Python<'py>,
        dry_run: bool,
        offline: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let core = self.core()?;
        let opts = InstallOptions { dry_run, offline };
        let report = detached(py, || core.install_all_dependencies(&opts))?;
        to_py(py, &report)
    }

    /// Upgrades `name` (default: every package) to the newest versions
    /// `[dependencies]` allows, keeping the user's edits (Yellow merges, Red
    /// keeps the file and writes `<file>.new`).
    #[pyo3(signature = (name = None, *, dry_run = false, offline = false))]
    fn update<'py>(
        &self,
        py: Python<'py>,
        name: Option<&str>,
        dry_run: bool,
        offline: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let core = self.core()?;
        let opts = InstallOptions { dry_run, offline };
        let report = detached(py, || core.update(name, &opts))?;
        to_py(py, &report)
    }

    /// Removes a package: unmodified files are deleted, files the user
    /// modified are kept and reported (action `"keep"`).
    #[pyo3(signature = (name, *, dry_run = false))]
    fn remove_package<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        dry_run: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let core = self.core()?;
        let opts = InstallOptions {
            dry_run,
            ..Default::default()
        };
        let report = detached(py, || core.remove_package(name, &opts))?;
        to_py(py, &report)
    }

    /// The plan `update(name)` would apply; writes nothing.
    #[pyo3(signature = (name = None))]
    fn diff<'py>(&self, py: Python<'py>, name: Option<&str>) -> PyResult<Bound<'py, PyAny>> {
        let core = self.core()?;
        let report = detached(py, || core.diff(name))?;
        to_py(py, &report)
    }

    /// Finishes or undoes an install a killed process left half-done:
    /// `"clean"`, `"rolled_back"` or `"rolled_forward"`.
    fn recover_traffic<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let core = self.core()?;
        let recovery = detached(py, || core.recover_traffic())?;
        to_py(py, &recovery)
    }
}
