//! `DxForge` methods of the Shadow Worker: thin delegation to `dxforge_worker`.
//!
//! The `BackgroundWorker` is built on first use, so opening a project costs nothing until
//! the first task or snapshot. Its consumers run on the core's runtime.
//!
//! Blocking methods (`snapshot`, `snapshots`, `restore`, `gc`, `analyze`, `prefetch`) do
//! file-system work on the calling thread: call them from a plain thread (bindings release
//! the GIL / use a worker thread), not from an async task.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use dxforge_traffic::TrafficManager;
use dxforge_worker::{
    AnalysisReport, BackgroundTask, BackgroundWorker, Counters, GcReport, PrefetchReport,
    ProgressFn, RemoteConfig, RestoreReport, SnapshotSummary, SyncReport, TaskId, TaskState,
    WorkerConfig,
};
use tokio::runtime::Handle;

use crate::config::ProjectConfig;
use crate::{DxForge, Result};

/// Shadow Worker state held by a `DxForge`.
pub(crate) struct WorkerPart {
    config: WorkerConfig,
    worker: OnceLock<BackgroundWorker>,
}

impl WorkerPart {
    pub(crate) fn new(root: &Path, config: &ProjectConfig, runtime: Handle) -> Self {
        let remote = config.remote.as_ref().map(|r| RemoteConfig {
            endpoint: r.endpoint.clone(),
            bucket: r.bucket.clone(),
            prefix: r.prefix.clone(),
            region: r.region.clone(),
            connect_timeout_ms: r.connect_timeout_ms,
            request_timeout_ms: r.request_timeout_ms,
        });
        let traffic = TrafficManager::new(root.to_path_buf(), config.registry_dir(root));
        let mut worker_config = WorkerConfig::new(PathBuf::from(root), runtime);
        worker_config.capacity = config.worker.queue_capacity;
        worker_config.concurrency = config.worker.concurrency;
        worker_config.remote = remote;
        worker_config.traffic = Some(Arc::new(traffic));
        Self {
            config: worker_config,
            worker: OnceLock::new(),
        }
    }

    fn get(&self) -> &BackgroundWorker {
        self.worker
            .get_or_init(|| BackgroundWorker::new(self.config.clone()))
    }

    /// Every queued task gets its final state (`Dropped`); running ones
    /// finish, and closing the handle waits for them (up to
    /// [`RUNNING_TASK_GRACE`]) so nothing writes under `.dxforge/` after
    /// `close()` returns. Inside an async runtime it cannot block, so it
    /// does not wait there.
    pub(crate) fn shutdown(&self) {
        let Some(worker) = self.worker.get() else {
            return;
        };
        worker.shutdown();
        if tokio::runtime::Handle::try_current().is_ok() {
            return;
        }
        let deadline = std::time::Instant::now() + RUNNING_TASK_GRACE;
        while worker.counters().running > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}

/// Longest wait of `close()` for background tasks already running.
pub(crate) const RUNNING_TASK_GRACE: std::time::Duration = std::time::Duration::from_secs(60);

impl DxForge {
    pub(super) fn worker(&self) -> Result<&BackgroundWorker> {
        Ok(self.live()?.worker.get())
    }

    /// Queues a background task and returns its id at once (never blocks). When the queue
    /// is full the oldest queued task is dropped.
    pub fn enqueue(&self, task: BackgroundTask) -> Result<TaskId> {
        Ok(self.worker()?.enqueue(task))
    }

    /// A task's state; `None` for an id never issued (or long forgotten).
    pub fn task(&self, id: TaskId) -> Result<Option<TaskState>> {
        Ok(self.worker()?.task(id))
    }

    /// Waits for a task's final state, at most `timeout`.
    pub async fn wait(&self, id: TaskId, timeout: Duration) -> Result<TaskState> {
        Ok(self.worker()?.wait(id, timeout).await?)
    }

    /// Queue counters (queued, running, succeeded, failed, dropped).
    pub fn counters(&self) -> Result<Counters> {
        Ok(self.worker()?.counters())
    }

    /// Takes a snapshot of the project tree now (blocking). An install a
    /// killed process left half-done is finished or undone first.
    pub fn snapshot(&self) -> Result<SnapshotSummary> {
        super::settle::recover_traffic(self.traffic_manager()?)?;
        Ok(self.worker()?.snapshot()?)
    }

    /// Local snapshots, oldest first.
    pub fn snapshots(&self) -> Result<Vec<SnapshotSummary>> {
        Ok(self.worker()?.snapshots()?)
    }

    /// Rolls the tree back to a snapshot; a safety snapshot is taken first (blocking).
    /// Leftovers of killed commands (a half-done install, a killed restore's
    /// temporary files) are cleared first.
    pub fn restore(&self, id: &str) -> Result<RestoreReport> {
        self.settle_before_restore()?;
        Ok(self.worker()?.restore(id)?)
    }

    fn settle_before_restore(&self) -> Result<()> {
        super::settle::recover_traffic(self.traffic_manager()?)?;
        super::settle::sweep_project_temps(self.root())?;
        Ok(())
    }

    /// Deletes snapshot objects no snapshot refers to (blocking).
    pub fn gc_snapshots(&self) -> Result<GcReport> {
        Ok(self.worker()?.gc()?)
    }

    /// Uploads snapshots to `[remote]` (only missing objects).
    pub async fn push(&self) -> Result<SyncReport> {
        self.push_with_progress(None).await
    }

    /// [`push`](Self::push) with a progress callback.
    pub async fn push_with_progress(&self, progress: Option<ProgressFn>) -> Result<SyncReport> {
        Ok(self.worker()?.push_with_progress(progress).await?)
    }

    /// Fetches snapshot `id` from `[remote]` (hashes verified) and restores it.
    pub async fn pull(&self, id: &str) -> Result<SyncReport> {
        self.pull_with_progress(id, None).await
    }

    /// [`pull`](Self::pull) with a progress callback.
    pub async fn pull_with_progress(
        &self,
        id: &str,
        progress: Option<ProgressFn>,
    ) -> Result<SyncReport> {
        let forge = self.clone();
        tokio::task::spawn_blocking(move || forge.settle_before_restore())
            .await
            .map_err(|e| crate::Error::Internal {
                message: format!("settling the project before a pull panicked: {e}"),
            })??;
        Ok(self.worker()?.pull_with_progress(id, progress).await?)
    }

    /// Analyses the codebase; writes `.dxforge/analysis.json` (blocking).
    pub fn analyze(&self) -> Result<AnalysisReport> {
        Ok(self.worker()?.analyze()?)
    }

    /// Caches a package (`name@req`) from the registry, hashes verified (blocking).
    pub fn prefetch(&self, spec: &str) -> Result<PrefetchReport> {
        Ok(self.worker()?.prefetch(spec)?)
    }
}
