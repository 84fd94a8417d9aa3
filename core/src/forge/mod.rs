//! The `DxForge` handle: one per project, shared by every subsystem.
//!
//! `DxForge` is cheap to clone (an `Arc` inside) and `Send + Sync`. When the
//! last clone is dropped, or [`DxForge::shutdown`] is called, every tool it
//! started is stopped (stop signal to the whole tree, then `SIGKILL` after the
//! tool's `stop_timeout_ms`); dropping therefore may block for up to the
//! longest stop timeout. A handle used in a process other than the one that
//! opened it (after `fork()`) returns [`Error::Forked`] and stops nothing.

mod cleanup;
mod events;
mod orchestrator;
mod settle;
mod traffic;
mod worker;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use dxforge_orchestrator::{Orchestrator, OrchestratorConfig};

pub use cleanup::GcSummary;
pub use events::SubscriptionId;

use crate::config::ProjectConfig;
use crate::{Error, Result, runtime};

/// Directory of local state inside the project root.
pub const STATE_DIR: &str = ".dxforge";

/// The engine for one project. See the [module docs](self) for lifetime rules.
#[derive(Clone)]
pub struct DxForge {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    root: PathBuf,
    config: ProjectConfig,
    /// Fork generation at open: a handle never works across `fork()`.
    generation: u64,
    closed: AtomicBool,
    orchestrator: Orchestrator,
    events: events::Subscriptions,
    traffic: traffic::TrafficPart,
    worker: worker::WorkerPart,
}

impl std::fmt::Debug for DxForge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DxForge")
            .field("root", &self.inner.root)
            .finish_non_exhaustive()
    }
}

impl DxForge {
    /// Opens the project at `root`: reads `dxforge.toml` (if any) and registers
    /// its tools. Nothing is started.
    pub fn open(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref();
        let root = std::fs::canonicalize(root).map_err(|e| Error::io(root, e))?;
        if !root.is_dir() {
            return Err(Error::io(
                &root,
                // With the errno, so Python raises NotADirectoryError.
                std::io::Error::from_raw_os_error(libc::ENOTDIR),
            ));
        }
        let config = ProjectConfig::load(&root)?;
        Self::with_config(root, config)
    }

    /// Opens the project in the current directory.
    pub fn new() -> Result<Self> {
        let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
        Self::open(cwd)
    }

    fn with_config(root: PathBuf, config: ProjectConfig) -> Result<Self> {
        let runtime = runtime::handle()?;
        let orchestrator = Orchestrator::new(OrchestratorConfig {
            root: root.clone(),
            log_dir: root.join(STATE_DIR).join("logs"),
            log_max_bytes: 10 * 1024 * 1024,
            recent_lines: 1000,
            runtime: runtime.clone(),
            env_file: config.project.env_file.clone(),
        });
        orchestrator
            .register_tools(config.tool_definitions())
            .map_err(|e| crate::config::ConfigError::Invalid {
                path: root.join(crate::config::CONFIG_FILE),
                key: "tools".to_owned(),
                message: e.to_string(),
            })?;
        let traffic = traffic::TrafficPart::new(&root, &config)?;
        let worker = worker::WorkerPart::new(&root, &config, runtime);
        Ok(Self {
            inner: Arc::new(Inner {
                events: events::Subscriptions::new(orchestrator.clone()),
                root,
                config,
                generation: runtime::fork_generation(),
                closed: AtomicBool::new(false),
                orchestrator,
                traffic,
                worker,
            }),
        })
    }

    /// The project root (canonical, absolute).
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// The configuration read at open.
    pub fn config(&self) -> &ProjectConfig {
        &self.inner.config
    }

    /// Stops every tool this handle started and closes it; later calls on
    /// any clone return [`Error::Closed`]. Idempotent. Blocks up to the
    /// longest `stop_timeout_ms`.
    pub fn shutdown(&self) -> Result<()> {
        self.inner.check_pid()?;
        if !self.inner.closed.swap(true, Ordering::AcqRel) {
            self.inner.close_all();
        }
        Ok(())
    }

    /// `true` once [`shutdown`](Self::shutdown) ran.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    /// Checks the handle is usable in this process and not closed.
    pub(crate) fn live(&self) -> Result<&Inner> {
        self.inner.check_pid()?;
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        Ok(&self.inner)
    }
}

impl Inner {
    fn check_pid(&self) -> Result<()> {
        if runtime::fork_generation() != self.generation {
            Err(Error::Forked)
        } else {
            Ok(())
        }
    }

    fn close_all(&self) {
        self.events.clear();
        self.worker.shutdown();
        self.orchestrator.shutdown_blocking();
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // A forked child owns none of the parent's processes: leave them alone.
        if self.check_pid().is_ok() && !self.closed.swap(true, Ordering::AcqRel) {
            self.close_all();
        }
    }
}
