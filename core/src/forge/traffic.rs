//! `DxForge` methods of Traffic Branching: thin delegation to a
//! [`TrafficManager`] for the project root, the `[registry]` directory and
//! the `[registries]` read when the handle was opened.
//!
//! These methods do blocking file-system work on the calling thread: call
//! them from a plain thread (bindings release the GIL / use a worker thread),
//! not from inside an async task. `[dependencies]` is re-read from
//! `dxforge.toml` on every call, so `add` followed by `install` sees the
//! dependency `add` recorded. `prefetch` lives with the Shadow Worker
//! (`forge/worker.rs`), which delegates to the same [`TrafficManager`].

use std::collections::BTreeMap;
use std::path::Path;

use dxforge_traffic::{
    FileReport, InstallOptions, InstallReport, Recovery, RemoveReport, TrafficLight, TrafficManager,
};

use crate::config::ProjectConfig;
use crate::{DxForge, Result};

/// Traffic Branching state held by a `DxForge`.
pub(crate) struct TrafficPart {
    manager: TrafficManager,
    /// `[dependencies]` as read at open (fallback when the file vanished since).
    dependencies: BTreeMap<String, String>,
}

impl TrafficPart {
    pub(crate) fn new(root: &Path, config: &ProjectConfig) -> Result<Self> {
        let sources = config.registry_sources(root)?;
        Ok(Self {
            manager: TrafficManager::new(root.to_path_buf(), config.registry_dir(root))
                .with_sources(sources),
            dependencies: config.dependencies.clone(),
        })
    }

    /// `[dependencies]` as the file says now.
    fn dependencies(&self, root: &Path) -> Result<BTreeMap<String, String>> {
        if !root.join(crate::config::CONFIG_FILE).exists() {
            return Ok(self.dependencies.clone());
        }
        Ok(ProjectConfig::load(root)?.dependencies)
    }
}

impl DxForge {
    /// The traffic part, once a restore a killed command left unfinished is
    /// finished: every package call sees the old or the restored tree, never a mix.
    fn traffic(&self) -> Result<&TrafficPart> {
        let part = &self.live()?.traffic;
        super::settle::finish_restore(self.root())?;
        Ok(part)
    }

    /// The seed's query: the traffic light of replacing `path` (project-relative,
    /// or absolute inside the root) with `new_content`. Reads only.
    pub fn analyze_traffic_safety(
        &self,
        path: impl AsRef<Path>,
        new_content: &[u8],
    ) -> Result<TrafficLight> {
        Ok(self
            .traffic()?
            .manager
            .analyze_traffic_safety(path.as_ref(), new_content)?)
    }

    /// Full verdict (light, reason, conflicting regions) of replacing `path` with `new_content`.
    pub fn check(&self, path: impl AsRef<Path>, new_content: &[u8]) -> Result<FileReport> {
        Ok(self.traffic()?.manager.check(path.as_ref(), new_content)?)
    }

    /// Installs `name` at the highest version matching `version_req` (`""` = any) with its
    /// dependencies, and records it in `[dependencies]`. With `dry_run`, returns the plan only.
    pub fn install_package(
        &self,
        name: &str,
        version_req: &str,
        opts: &InstallOptions,
    ) -> Result<InstallReport> {
        Ok(self
            .traffic()?
            .manager
            .install_package(name, version_req, opts)?)
    }

    /// Installs every package of `[dependencies]`.
    pub fn install_all_dependencies(&self, opts: &InstallOptions) -> Result<InstallReport> {
        let part = self.traffic()?;
        let deps = part.dependencies(self.root())?;
        Ok(part.manager.install_all(&deps, opts)?)
    }

    /// Upgrades `name` (or every package) to the newest versions `[dependencies]` allows.
    pub fn update(&self, name: Option<&str>, opts: &InstallOptions) -> Result<InstallReport> {
        let part = self.traffic()?;
        let deps = part.dependencies(self.root())?;
        Ok(part.manager.update(name, &deps, opts)?)
    }

    /// Removes a package: unmodified files are deleted, modified ones kept and reported.
    pub fn remove_package(&self, name: &str, opts: &InstallOptions) -> Result<RemoveReport> {
        Ok(self.traffic()?.manager.remove_package(name, opts)?)
    }

    /// The plan `update` would apply; writes nothing.
    pub fn diff(&self, name: Option<&str>) -> Result<InstallReport> {
        let part = self.traffic()?;
        let deps = part.dependencies(self.root())?;
        Ok(part.manager.diff(name, &deps)?)
    }

    /// Finishes or undoes an install that a killed process left half-done.
    pub fn recover_traffic(&self) -> Result<Recovery> {
        Ok(self.traffic()?.manager.recover()?)
    }

    /// The Traffic Branching manager of this project.
    pub fn traffic_manager(&self) -> Result<&TrafficManager> {
        Ok(&self.traffic()?.manager)
    }
}
