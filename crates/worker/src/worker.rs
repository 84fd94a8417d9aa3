//! `BackgroundWorker`: the queue, its consumers, and the direct operations.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use dxforge_traffic::TrafficManager;
use futures::FutureExt;

use crate::BackgroundTask;
use crate::analyze::{self, AnalysisReport};
use crate::error::{Result, WorkerError};
use crate::prefetch::{self, PrefetchReport};
use crate::queue::TaskQueue;
use crate::remote::{self, ProgressFn, RemoteConfig, SyncReport};
use crate::snapshot::{
    GcReport, PruneReport, PruneRule, RestoreReport, SnapshotStore, SnapshotSummary,
};
use crate::state::{Counters, TaskId, TaskReport, TaskState};

/// Default queue capacity.
pub const DEFAULT_CAPACITY: usize = 1024;
/// Default number of tasks run at once.
pub const DEFAULT_CONCURRENCY: usize = 2;

/// How to build a [`BackgroundWorker`].
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The project root (the directory holding `dxforge.toml`).
    pub root: PathBuf,
    /// Queue capacity; when full the oldest queued task is dropped. Default 1024.
    pub capacity: usize,
    /// Tasks run at once. Default 2.
    pub concurrency: usize,
    /// `[remote]`, for sync; `None` makes sync fail with [`WorkerError::RemoteNotConfigured`].
    pub remote: Option<RemoteConfig>,
    /// The runtime consumers and async operations run on.
    pub runtime: tokio::runtime::Handle,
    /// The package manager, for prefetch and the package half of the analysis; `None`
    /// makes prefetch fail with [`WorkerError::RegistryUnavailable`] and leaves
    /// `packages` out of the analysis.
    pub traffic: Option<Arc<TrafficManager>>,
    /// How long snapshot, restore, pull and gc (direct calls and background tasks alike)
    /// wait for the project lock when another command holds it, before failing with
    /// [`WorkerError::Busy`] naming the holder. Default [`crate::DEFAULT_LOCK_WAIT`]
    /// (30 s).
    pub lock_wait: Duration,
}

impl WorkerConfig {
    /// Defaults for `root` on `runtime`: capacity 1024, concurrency 2, no remote.
    pub fn new(root: impl Into<PathBuf>, runtime: tokio::runtime::Handle) -> WorkerConfig {
        WorkerConfig {
            root: root.into(),
            capacity: DEFAULT_CAPACITY,
            concurrency: DEFAULT_CONCURRENCY,
            remote: None,
            runtime,
            traffic: None,
            lock_wait: crate::limits::DEFAULT_LOCK_WAIT,
        }
    }
}

/// Shared by the handles and the consumers.
struct Inner {
    queue: TaskQueue,
    store: SnapshotStore,
    remote: Option<RemoteConfig>,
    runtime: tokio::runtime::Handle,
    traffic: Option<Arc<TrafficManager>>,
}

impl Inner {
    fn analyze(&self) -> Result<AnalysisReport> {
        let facts = prefetch::package_facts(self.traffic.as_deref())?;
        analyze::analyze(self.store.root(), facts)
    }
}

/// Shuts the worker down when the last user handle goes (consumers hold only `Inner`).
struct ShutdownOnDrop(Arc<Inner>);

impl Drop for ShutdownOnDrop {
    fn drop(&mut self) {
        shutdown(&self.0);
    }
}

/// The Shadow Worker. Cheap to clone; every clone is the same worker. Dropping the last
/// clone shuts it down (queued tasks become `Dropped`, running ones finish).
#[derive(Clone)]
pub struct BackgroundWorker {
    inner: Arc<Inner>,
    _owner: Arc<ShutdownOnDrop>,
}

impl std::fmt::Debug for BackgroundWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackgroundWorker")
            .field("root", &self.inner.store.root())
            .field("remote", &self.inner.remote)
            .field("counters", &self.inner.queue.counters())
            .finish()
    }
}

impl BackgroundWorker {
    /// Creates the worker and starts `concurrency` consumers on the runtime.
    pub fn new(config: WorkerConfig) -> BackgroundWorker {
        let inner = Arc::new(Inner {
            queue: TaskQueue::new(config.capacity),
            store: SnapshotStore::new(&config.root, config.lock_wait),
            remote: config.remote,
            runtime: config.runtime,
            traffic: config.traffic,
        });
        for _ in 0..config.concurrency.max(1) {
            inner.runtime.spawn(consume(Arc::clone(&inner)));
        }
        BackgroundWorker {
            _owner: Arc::new(ShutdownOnDrop(Arc::clone(&inner))),
            inner,
        }
    }

    /// Queues a task and returns at once: it never waits for a consumer, for
    /// running work or for the runtime, and may be called from any thread,
    /// inside or outside a runtime. When the queue is full the oldest queued
    /// task is dropped (marked `Dropped`, counted, logged as a warning).
    ///
    /// It takes two locks whose critical sections are O(1) (the task-state
    /// table and the consumers' wake-up list); under contention it can wait
    /// for another thread to leave one of them, which is why the guarantee is
    /// "returns within microseconds", not "lock-free" (p99 410 ns measured).
    pub fn enqueue(&self, task: BackgroundTask) -> TaskId {
        self.inner.queue.enqueue(task)
    }

    /// The task's state, or `None` for an id never issued (or long forgotten).
    pub fn task(&self, id: TaskId) -> Option<TaskState> {
        self.inner.queue.state(id)
    }

    /// Waits until the task reaches a final state; [`WorkerError::Timeout`] after `timeout`.
    pub async fn wait(&self, id: TaskId, timeout: Duration) -> Result<TaskState> {
        self.inner.queue.wait(id, timeout).await
    }

    /// Queue counters.
    pub fn counters(&self) -> Counters {
        self.inner.queue.counters()
    }

    /// Stops accepting tasks: queued ones become `Dropped`, later `enqueue`s are `Dropped`
    /// at once, running ones finish and consumers then exit.
    pub fn shutdown(&self) {
        shutdown(&self.inner);
    }

    /// The project root.
    pub fn root(&self) -> &std::path::Path {
        self.inner.store.root()
    }

    /// Takes a snapshot now (blocking).
    pub fn snapshot(&self) -> Result<SnapshotSummary> {
        self.inner.store.snapshot("manual")
    }

    /// Every local snapshot, oldest first.
    pub fn snapshots(&self) -> Result<Vec<SnapshotSummary>> {
        self.inner.store.list()
    }

    /// Rolls the tree back to snapshot `id`, taking a safety snapshot first (blocking).
    pub fn restore(&self, id: &str) -> Result<RestoreReport> {
        self.inner.store.restore(id)
    }

    /// Deletes objects no snapshot refers to (blocking).
    pub fn gc(&self) -> Result<GcReport> {
        self.inner.store.gc(false)
    }

    /// [`gc`](Self::gc), or with `dry_run` only what it would delete (blocking).
    pub fn gc_with(&self, dry_run: bool) -> Result<GcReport> {
        self.inner.store.gc(dry_run)
    }

    /// Deletes the snapshots `rule` lets go (manifests first), then the objects only
    /// they referred to; with `dry_run` only reports what it would delete (blocking).
    pub fn prune(&self, rule: PruneRule, dry_run: bool) -> Result<PruneReport> {
        self.inner
            .store
            .prune(rule, crate::time::now_unix_ms(), dry_run)
    }

    /// Uploads every local snapshot's missing objects and manifests to `[remote]`.
    pub async fn push(&self) -> Result<SyncReport> {
        self.push_with_progress(None).await
    }

    /// [`push`](Self::push) reporting progress to `progress`.
    pub async fn push_with_progress(&self, progress: Option<ProgressFn>) -> Result<SyncReport> {
        let remote = self
            .inner
            .remote
            .as_ref()
            .ok_or(WorkerError::RemoteNotConfigured)?;
        remote::push(&self.inner.store, remote, progress).await
    }

    /// Fetches snapshot `id` from `[remote]` (every hash verified) and restores the tree to
    /// it, taking a safety snapshot first.
    pub async fn pull(&self, id: &str) -> Result<SyncReport> {
        self.pull_with_progress(id, None).await
    }

    /// [`pull`](Self::pull) reporting progress to `progress`.
    pub async fn pull_with_progress(
        &self,
        id: &str,
        progress: Option<ProgressFn>,
    ) -> Result<SyncReport> {
        let remote = self
            .inner
            .remote
            .as_ref()
            .ok_or(WorkerError::RemoteNotConfigured)?;
        remote::pull(&self.inner.store, remote, id, progress).await
    }

    /// Prefetches a package (`name@req`) into the local package cache (blocking).
    pub fn prefetch(&self, spec: &str) -> Result<PrefetchReport> {
        prefetch::prefetch(self.inner.traffic.as_deref(), spec)
    }

    /// Analyses the codebase and writes `.dxforge/analysis.json` (blocking).
    pub fn analyze(&self) -> Result<AnalysisReport> {
        self.inner.analyze()
    }
}

fn shutdown(inner: &Inner) {
    if inner.queue.is_closed() {
        return;
    }
    let dropped = inner.queue.close();
    if dropped > 0 {
        tracing::warn!(dropped, "background worker shut down; queued tasks dropped");
    }
}

/// One consumer: drains the queue after every wake-up, exits once closed.
async fn consume(inner: Arc<Inner>) {
    loop {
        let woken = inner.queue.woken();
        tokio::pin!(woken);
        // Registered before looking, so neither a push nor close() can slip past us.
        woken.as_mut().enable();
        if inner.queue.is_closed() {
            return;
        }
        while let Some(next) = inner.queue.pop() {
            if !inner.queue.is_empty() {
                inner.queue.wake_one(); // more work: let an idle consumer help
            }
            let state = match run(&inner, next.task).await {
                Ok(report) => TaskState::Succeeded(report),
                Err(err) => {
                    tracing::warn!(task = %next.id, error = %err, "background task failed");
                    TaskState::Failed(err.to_string())
                }
            };
            inner.queue.complete(next.id, state);
            if inner.queue.is_closed() {
                return;
            }
        }
        woken.await;
    }
}

/// Runs one task; blocking work goes to the blocking pool, panics become errors.
async fn run(inner: &Arc<Inner>, task: BackgroundTask) -> Result<TaskReport> {
    let what = match &task {
        BackgroundTask::CacheCurrentState => "snapshot task",
        BackgroundTask::SyncToCloudflareR2 => "sync task",
        BackgroundTask::PrefetchPackage(_) => "prefetch task",
        BackgroundTask::AnalyzeCodebasePatterns => "analysis task",
    };
    let panicked = |message: String| WorkerError::Panicked { what, message };
    let inner2 = Arc::clone(inner);
    match task {
        BackgroundTask::SyncToCloudflareR2 => {
            let remote = inner
                .remote
                .clone()
                .ok_or(WorkerError::RemoteNotConfigured)?;
            std::panic::AssertUnwindSafe(remote::push(&inner.store, &remote, None))
                .catch_unwind()
                .await
                .map_err(|p| panicked(panic_message(p)))?
                .map(TaskReport::Sync)
        }
        BackgroundTask::CacheCurrentState => {
            tokio::task::spawn_blocking(move || inner2.store.snapshot("background task"))
                .await
                .map_err(|e| panicked(e.to_string()))?
                .map(TaskReport::Snapshot)
        }
        BackgroundTask::PrefetchPackage(spec) => tokio::task::spawn_blocking(move || {
            prefetch::prefetch(inner2.traffic.as_deref(), &spec)
        })
        .await
        .map_err(|e| panicked(e.to_string()))?
        .map(TaskReport::Prefetch),
        BackgroundTask::AnalyzeCodebasePatterns => tokio::task::spawn_blocking(move || {
            let path = analyze::report_path(inner2.store.root());
            inner2.analyze().map(|r| r.summary(&path))
        })
        .await
        .map_err(|e| panicked(e.to_string()))?
        .map(TaskReport::Analysis),
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned())
}
