//! `DxForge` methods of the Shadow Worker: thin delegation to `dxforge_worker`.
//!
//! OWNER: the Shadow Worker engineer. How to wire it:
//! - `WorkerPart` is built once in `DxForge::open` by `WorkerPart::new(root, config, runtime)`;
//!   build the `BackgroundWorker` lazily inside it (e.g. `OnceLock`) so that opening a
//!   project costs nothing until the first task (`config.worker`, `config.remote`).
//! - `WorkerPart::shutdown` is called when the handle closes: give every task a final state.
//! - Methods reach it through `self.live()?.worker`.
//! - Add `Worker(#[from] dxforge_worker::WorkerError)` to `crate::Error`
//!   (core/src/error.rs) and map it in `Error::kind`.
//! - Until it is wired, every method returns `Error::NotImplemented`.

use std::path::Path;

use tokio::runtime::Handle;

use crate::config::ProjectConfig;

/// Shadow Worker state held by a `DxForge`.
pub(crate) struct WorkerPart {}

impl WorkerPart {
    pub(crate) fn new(_root: &Path, _config: &ProjectConfig, _runtime: Handle) -> Self {
        Self {}
    }

    pub(crate) fn shutdown(&self) {}
}
