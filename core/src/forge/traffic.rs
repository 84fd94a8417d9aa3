//! `DxForge` methods of Traffic Branching: thin delegation to `dxforge_traffic`.
//!
//! OWNER: the Traffic Branching engineer. How to wire it:
//! - `TrafficPart` is built once in `DxForge::open` by `TrafficPart::new(root, config)`;
//!   put the `TrafficManager` inside it (registry dir: `config.registry_dir(root)`;
//!   `[dependencies]`: `config.dependencies`).
//! - Methods reach it through `self.live()?.traffic` (which also checks the handle
//!   is open and in the right process).
//! - Add `Traffic(#[from] dxforge_traffic::TrafficError)` to `crate::Error`
//!   (core/src/error.rs) and map it in `Error::kind` (NotFound, Config,
//!   UnsafePath, Busy, Integrity, Io, InvalidArgument…).
//! - Until it is wired, every method returns `Error::NotImplemented`.

use std::path::Path;

use crate::config::ProjectConfig;

/// Traffic Branching state held by a `DxForge`.
pub(crate) struct TrafficPart {}

impl TrafficPart {
    pub(crate) fn new(_root: &Path, _config: &ProjectConfig) -> Self {
        Self {}
    }
}
