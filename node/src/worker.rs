//! `DxForge` methods of the Shadow Worker: convert and delegate.
//!
//! `enqueue`, `task` and `counters` are synchronous and O(1): `enqueue` never
//! blocks and never waits on the runtime; when the queue is full the oldest
//! queued task is dropped (state `dropped`). Snapshots, restore, gc, analysis
//! and prefetch do file-system work on the core runtime's blocking pool;
//! `wait`, `push` and `pull` are async in the core. All of those return
//! Promises. Task ids are positive integers (`number`), issued in order.

use std::time::Duration;

use dxforge::BackgroundTask;
use dxforge::dxforge_worker::{TaskArgError, TaskId, TaskKind};
use napi::bindgen_prelude::PromiseRaw;
use napi::{Env, Result};
use napi_derive::napi;

use crate::error::{ErrorCode, invalid_argument, sync};
use crate::forge::DxForge;
use crate::promise::{promise, promise_blocking};
use crate::worker_types::{
    AnalysisReport, BackgroundTaskKind, Counters, GcReport, PrefetchReport, RestoreReport,
    SnapshotSummary, SyncReport, TaskState,
};

/// The core's task for `kind`; the core decides which kind takes a spec.
fn background_task(
    kind: BackgroundTaskKind,
    package_spec: Option<String>,
) -> dxforge::Result<BackgroundTask> {
    let kind = match kind {
        BackgroundTaskKind::CacheCurrentState => TaskKind::CacheCurrentState,
        BackgroundTaskKind::SyncToCloudflareR2 => TaskKind::SyncToCloudflareR2,
        BackgroundTaskKind::PrefetchPackage => TaskKind::PrefetchPackage,
        BackgroundTaskKind::AnalyzeCodebasePatterns => TaskKind::AnalyzeCodebasePatterns,
    };
    BackgroundTask::from_kind(kind, package_spec).map_err(|e| match e {
        TaskArgError::Missing => {
            invalid_argument("packageSpec", "PrefetchPackage needs a `name@req` spec")
        }
        TaskArgError::Unexpected => {
            invalid_argument("packageSpec", "only PrefetchPackage takes a package spec")
        }
    })
}

fn task_id(id: i64) -> dxforge::Result<TaskId> {
    u64::try_from(id)
        .map(TaskId)
        .map_err(|_| invalid_argument("id", format!("task ids are positive, got {id}")))
}

fn js_task_id(id: TaskId) -> dxforge::Result<i64> {
    i64::try_from(id.0).map_err(|_| dxforge::Error::Internal {
        message: format!("task id {} out of range", id.0),
    })
}

#[napi]
impl DxForge {
    /// Queues a background task and returns its id at once; never blocks.
    /// `packageSpec` (`name@req`) is required for `'PrefetchPackage'` and
    /// refused for the other kinds. When the queue is full the oldest queued
    /// task is dropped.
    #[napi]
    pub fn enqueue(
        &self,
        task: BackgroundTaskKind,
        package_spec: Option<String>,
    ) -> Result<i64, ErrorCode> {
        sync(|| {
            let task = background_task(task, package_spec)?;
            js_task_id(self.forge()?.enqueue(task)?)
        })
    }

    /// A task's state, or `null` for an id never issued (or long forgotten).
    #[napi]
    pub fn task(&self, id: i64) -> Result<Option<TaskState>, ErrorCode> {
        sync(|| self.forge()?.task(task_id(id)?)).map(|s| s.map(TaskState::from))
    }

    /// Resolves with the task's final state (`succeeded`, `failed` or
    /// `dropped`); rejects with `TIMEOUT` after `timeoutMs` (default: no
    /// practical limit, about 49 days) or `NOT_FOUND` for an unknown id.
    #[napi]
    pub fn wait<'env>(
        &self,
        env: &'env Env,
        id: i64,
        timeout_ms: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, TaskState>> {
        let forge = self.forge_owned();
        let timeout = Duration::from_millis(timeout_ms.unwrap_or(u32::MAX).into());
        promise(
            env,
            async move { forge?.wait(task_id(id)?, timeout).await },
            TaskState::from,
        )
    }

    /// Queue counters (enqueued, queued, running, succeeded, failed, dropped).
    #[napi]
    pub fn counters(&self) -> Result<Counters, ErrorCode> {
        sync(|| self.forge()?.counters()).map(Counters::from)
    }

    /// Takes a snapshot of the project tree now (content-addressed, honours
    /// `.gitignore`, skips `.dxforge/`).
    #[napi]
    pub fn snapshot<'env>(
        &self,
        env: &'env Env,
    ) -> napi::Result<PromiseRaw<'env, SnapshotSummary>> {
        let forge = self.forge_owned();
        promise_blocking(env, move || forge?.snapshot(), SnapshotSummary::from)
    }

    /// Local snapshots, oldest first.
    #[napi]
    pub fn snapshots<'env>(
        &self,
        env: &'env Env,
    ) -> napi::Result<PromiseRaw<'env, Vec<SnapshotSummary>>> {
        let forge = self.forge_owned();
        promise_blocking(
            env,
            move || forge?.snapshots(),
            |v| v.into_iter().map(SnapshotSummary::from).collect(),
        )
    }

    /// Rolls the tree back to snapshot `id`; a safety snapshot of the current
    /// tree is taken first (`safetySnapshot`, restore it to undo).
    #[napi]
    pub fn restore<'env>(
        &self,
        env: &'env Env,
        id: String,
    ) -> napi::Result<PromiseRaw<'env, RestoreReport>> {
        let forge = self.forge_owned();
        promise_blocking(env, move || forge?.restore(&id), RestoreReport::from)
    }

    /// Deletes snapshot objects no snapshot refers to.
    #[napi]
    pub fn gc_snapshots<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, GcReport>> {
        let forge = self.forge_owned();
        promise_blocking(env, move || forge?.gc_snapshots(), GcReport::from)
    }

    /// Uploads snapshots to `[remote]` (only objects it lacks). Rejects with
    /// `CONFIG` without `[remote]` and `REMOTE` when the server refuses.
    #[napi]
    pub fn push<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, SyncReport>> {
        let forge = self.forge_owned();
        promise(env, async move { forge?.push().await }, SyncReport::from)
    }

    /// Fetches snapshot `id` from `[remote]` (every object's hash verified)
    /// and restores it.
    #[napi]
    pub fn pull<'env>(
        &self,
        env: &'env Env,
        id: String,
    ) -> napi::Result<PromiseRaw<'env, SyncReport>> {
        let forge = self.forge_owned();
        promise(env, async move { forge?.pull(&id).await }, SyncReport::from)
    }

    /// Analyses the codebase and writes `.dxforge/analysis.json`.
    #[napi]
    pub fn analyze<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, AnalysisReport>> {
        let forge = self.forge_owned();
        promise_blocking(env, move || forge?.analyze(), AnalysisReport::from)
    }

    /// Caches a package (`name@req` or `name`) and its dependencies from the
    /// registry, hashes verified, so a later install works without it.
    #[napi]
    pub fn prefetch<'env>(
        &self,
        env: &'env Env,
        spec: String,
    ) -> napi::Result<PromiseRaw<'env, PrefetchReport>> {
        let forge = self.forge_owned();
        promise_blocking(env, move || forge?.prefetch(&spec), PrefetchReport::from)
    }
}
