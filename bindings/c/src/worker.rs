//! Shadow Worker calls: enqueue (never blocks), task state, wait, counters,
//! snapshots and restore, remote sync, analysis, prefetch.
//!
//! `dxforge_enqueue` returns at once. `dxforge_wait`, `dxforge_push` and
//! `dxforge_pull` block the calling thread on the core's runtime; snapshot,
//! restore, gc, analyze and prefetch do blocking file-system work on it.
//! Reports come back as JSON strings (the CLI's `--json` shapes).

use std::ffi::{CString, c_char, c_int};
use std::sync::OnceLock;
use std::time::Duration;

use dxforge_core::dxforge_worker::{TaskArgError, TaskId, TaskKind, TaskState, WorkerError};
use dxforge_core::runtime::block_on;
use dxforge_core::{BackgroundTask, Error, Result};

use crate::convert::dxforge_string_list;
use crate::convert::{
    c_names, c_string, opt_str_arg, out_arg, str_arg, string_list_out, string_out,
};
use crate::error::{guard, guard_value, invalid};
use crate::forge::{DxForge, forge_ref};

/// The seed's background tasks (`dxforge_enqueue`'s `kind`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum dxforge_task_kind {
    /// Snapshot the project tree for rollback.
    CacheCurrentState = 0,
    /// Upload snapshots to the `[remote]` S3-compatible bucket.
    SyncToCloudflareR2 = 1,
    /// Resolve a package spec (`name@req`, the `arg`) into the local cache.
    PrefetchPackage = 2,
    /// Walk the codebase and write `.dxforge/analysis.json`.
    AnalyzeCodebasePatterns = 3,
}

/// Where a task is in its life. `SUCCEEDED`, `FAILED` and `DROPPED` are final.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum dxforge_task_status {
    /// Waiting in the queue.
    Queued = 0,
    /// A consumer is working on it.
    Running = 1,
    /// Done; its report is in the state's JSON.
    Succeeded = 2,
    /// Done with an error (the state's error message).
    Failed = 3,
    /// Evicted from a full queue (oldest first) or discarded at shutdown; never ran.
    Dropped = 4,
}

/// Queue counters (filled by `dxforge_counters`). `queued` and `running` are current
/// values, the others totals since the worker started.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct dxforge_queue_counters {
    /// Tasks ever enqueued.
    pub enqueued: u64,
    /// Tasks waiting now.
    pub queued: u64,
    /// Tasks running now.
    pub running: u64,
    /// Tasks finished successfully.
    pub succeeded: u64,
    /// Tasks finished with an error.
    pub failed: u64,
    /// Tasks dropped (evicted from a full queue, or discarded at shutdown).
    pub dropped: u64,
}

/// The state of one task (opaque). Read it with the `dxforge_task_state_*`
/// accessors; free it with `dxforge_task_state_free`.
pub struct dxforge_task_state {
    status: dxforge_task_status,
    error: Option<CString>,
    json: CString,
}

impl dxforge_task_state {
    fn new(state: &TaskState) -> Result<Box<Self>> {
        let (status, error) = match state {
            TaskState::Queued => (dxforge_task_status::Queued, None),
            TaskState::Running => (dxforge_task_status::Running, None),
            TaskState::Succeeded(_) => (dxforge_task_status::Succeeded, None),
            TaskState::Failed(message) => (
                dxforge_task_status::Failed,
                Some(c_string(message.as_str())),
            ),
            TaskState::Dropped => (dxforge_task_status::Dropped, None),
        };
        Ok(Box::new(Self {
            status,
            error,
            json: c_string(crate::json::to_string(state)?),
        }))
    }
}

/// Queues a background task and returns its id in `*out_task_id` at once:
/// never blocks and never waits on the runtime. When the queue is full the
/// oldest queued task is dropped (state `DROPPED`, counted).
///
/// `kind` is a `dxforge_task_kind`; `arg` is the package spec (`name` or
/// `name@req`) for `DXFORGE_TASK_KIND_PREFETCH_PACKAGE` and must be NULL otherwise.
/// Errors: `DXFORGE_ERROR_INVALID_ARGUMENT` (unknown kind, missing or extra `arg`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_enqueue(
    forge: Option<&DxForge>,
    kind: u32,
    arg: *const c_char,
    out_task_id: *mut u64,
) -> c_int {
    guard(|| {
        // SAFETY: per the header's contract, `out_task_id` is NULL or writable, valid for this
        // call; `out_arg` checks for NULL.
        let out = unsafe { out_arg(out_task_id, "out_task_id", 0) }?;
        let forge = forge_ref(forge)?;
        // SAFETY: per the header's contract, `arg` is NULL or a NUL-terminated string, valid for
        // this call; `opt_str_arg` checks for NULL.
        let arg = unsafe { opt_str_arg(arg, "arg") }?;
        // `dxforge_task_kind`'s values are the positions in the core's table.
        let kind = usize::try_from(kind)
            .ok()
            .and_then(|i| TaskKind::ALL.get(i).copied())
            .ok_or_else(|| invalid("kind", format!("{kind} is not a dxforge_task_kind (0..=3)")))?;
        let task =
            BackgroundTask::from_kind(kind, arg.map(str::to_owned)).map_err(|e| match e {
                TaskArgError::Missing => {
                    invalid("arg", "is NULL; PREFETCH_PACKAGE needs a package spec")
                }
                TaskArgError::Unexpected => invalid("arg", "must be NULL for this task kind"),
            })?;
        *out = forge.inner.enqueue(task)?.0;
        Ok(())
    })
}

/// The current state of task `task_id`. On success `*out` is owned by the
/// caller: free it with `dxforge_task_state_free`.
/// Errors: `DXFORGE_ERROR_NOT_FOUND` for an id never issued by this handle
/// (or whose final state was forgotten).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_task(
    forge: Option<&DxForge>,
    task_id: u64,
    out: *mut *mut dxforge_task_state,
) -> c_int {
    guard(|| {
        // SAFETY: per the header's contract, `out` is NULL or writable, valid for this call;
        // `out_arg` checks for NULL.
        let out = unsafe { out_arg(out, "out", std::ptr::null_mut()) }?;
        let forge = forge_ref(forge)?;
        let state =
            forge
                .inner
                .task(TaskId(task_id))?
                .ok_or(Error::Worker(WorkerError::UnknownTask {
                    id: TaskId(task_id),
                }))?;
        *out = Box::into_raw(dxforge_task_state::new(&state)?);
        Ok(())
    })
}

/// Waits at most `timeout_ms` for task `task_id` to reach a final state
/// (blocks the calling thread). On success `*out` is owned by the caller:
/// free it with `dxforge_task_state_free`.
/// Errors: `DXFORGE_ERROR_TIMEOUT`, `DXFORGE_ERROR_NOT_FOUND`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_wait(
    forge: Option<&DxForge>,
    task_id: u64,
    timeout_ms: u64,
    out: *mut *mut dxforge_task_state,
) -> c_int {
    guard(|| {
        // SAFETY: per the header's contract, `out` is NULL or writable, valid for this call;
        // `out_arg` checks for NULL.
        let out = unsafe { out_arg(out, "out", std::ptr::null_mut()) }?;
        let forge = forge_ref(forge)?;
        let state = block_on(
            forge
                .inner
                .wait(TaskId(task_id), Duration::from_millis(timeout_ms)),
        )??;
        *out = Box::into_raw(dxforge_task_state::new(&state)?);
        Ok(())
    })
}

/// The status of a task state (`DXFORGE_TASK_STATUS_QUEUED` for NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_task_state_status(
    state: *const dxforge_task_state,
) -> dxforge_task_status {
    guard_value(dxforge_task_status::Queued, || {
        // SAFETY: per the header's contract, `state` is NULL or a live one this library returned.
        unsafe { state.as_ref() }.map_or(dxforge_task_status::Queued, |s| s.status)
    })
}

/// The error message of a `FAILED` task, else NULL. Borrowed from `state`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_task_state_error(
    state: *const dxforge_task_state,
) -> *const c_char {
    guard_value(std::ptr::null(), || {
        // SAFETY: as above.
        unsafe { state.as_ref() }
            .and_then(|s| s.error.as_ref())
            .map_or(std::ptr::null(), |e| e.as_ptr())
    })
}

/// The state as JSON, e.g. `{"state":"succeeded","detail":{"snapshot":{…}}}`
/// (the report of a succeeded task). Borrowed from `state`; NULL for NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_task_state_json(
    state: *const dxforge_task_state,
) -> *const c_char {
    guard_value(std::ptr::null(), || {
        // SAFETY: per the header's contract, `state` is NULL or a live one this library returned.
        unsafe { state.as_ref() }.map_or(std::ptr::null(), |s| s.json.as_ptr())
    })
}

/// Frees a task state. NULL is a no-op.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_task_state_free(state: *mut dxforge_task_state) {
    if !state.is_null() {
        // SAFETY: from `Box::into_raw` in `dxforge_task` / `dxforge_wait`.
        guard_value((), || drop(unsafe { Box::from_raw(state) }));
    }
}

/// The name of a task status (`"queued"`, `"running"`, `"succeeded"`,
/// `"failed"`, `"dropped"`; `"unknown"` otherwise), as in the state's JSON.
/// A static string.
#[unsafe(no_mangle)]
pub extern "C" fn dxforge_task_status_name(status: c_int) -> *const c_char {
    static NAMES: OnceLock<Vec<CString>> = OnceLock::new();
    guard_value(c"unknown".as_ptr(), || {
        let names = c_names(&NAMES, &TaskState::NAMES);
        usize::try_from(status)
            .ok()
            .and_then(|i| names.get(i))
            .map_or(c"unknown".as_ptr(), |name| name.as_ptr())
    })
}

/// Writes the queue counters into `*out` (caller-allocated; nothing to free).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_counters(
    forge: Option<&DxForge>,
    out: *mut dxforge_queue_counters,
) -> c_int {
    guard(|| {
        // SAFETY: per the header's contract, `out` is NULL or writable, valid for this call;
        // `out_arg` checks for NULL.
        let out = unsafe { out_arg(out, "out", dxforge_queue_counters::default()) }?;
        let forge = forge_ref(forge)?;
        let c = forge.inner.counters()?;
        *out = dxforge_queue_counters {
            enqueued: c.enqueued,
            queued: c.queued,
            running: c.running,
            succeeded: c.succeeded,
            failed: c.failed,
            dropped: c.dropped,
        };
        Ok(())
    })
}

/// An optional `char **` output for a JSON string (NULL: the caller does not
/// want it). Creating it sets the output to NULL, so a failure leaves NULL.
struct JsonOut<'a>(Option<&'a mut *mut c_char>);

impl<'a> JsonOut<'a> {
    /// Clears `out` (if given) and keeps it for [`JsonOut::set`].
    ///
    /// # Safety
    /// `out` is NULL or valid for writes of a `char *` for `'a`.
    unsafe fn new(out: *mut *mut c_char) -> Self {
        // SAFETY: NULL or writable for `'a` per the caller's contract.
        let mut out = unsafe { out.as_mut() };
        if let Some(slot) = out.as_deref_mut() {
            *slot = std::ptr::null_mut();
        }
        JsonOut(out)
    }

    /// Sets the output (if the caller wants it) to `value` as a JSON string.
    fn set<T: serde::Serialize>(self, value: &T) -> Result<()> {
        if let Some(slot) = self.0 {
            *slot = string_out(crate::json::to_string(value)?);
        }
        Ok(())
    }
}

/// Takes a snapshot of the project tree now (blocking; respects
/// `.gitignore`, skips `.dxforge/`). `*out_id` receives its id; `out_json`
/// (may be NULL) its summary. Both strings are owned by the caller: free them
/// with `dxforge_string_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_snapshot(
    forge: Option<&DxForge>,
    out_id: *mut *mut c_char,
    out_json: *mut *mut c_char,
) -> c_int {
    guard(|| {
        // SAFETY: per the header's contract, `out_json` is NULL or writable for this call.
        let json = unsafe { JsonOut::new(out_json) };
        // SAFETY: per the header's contract, `out_id` is NULL or writable, valid for this call;
        // `out_arg` checks for NULL.
        let out_id = unsafe { out_arg(out_id, "out_id", std::ptr::null_mut()) }?;
        let forge = forge_ref(forge)?;
        let summary = forge.inner.snapshot()?;
        json.set(&summary)?;
        *out_id = string_out(summary.id);
        Ok(())
    })
}

/// The ids of the local snapshots, oldest first. On success `*out` is owned
/// by the caller: free it with `dxforge_string_list_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_snapshots(
    forge: Option<&DxForge>,
    out: *mut *mut dxforge_string_list,
) -> c_int {
    guard(|| {
        // SAFETY: per the header's contract, `out` is NULL or writable, valid for this call;
        // `out_arg` checks for NULL.
        let out = unsafe { out_arg(out, "out", std::ptr::null_mut()) }?;
        let forge = forge_ref(forge)?;
        *out = string_list_out(forge.inner.snapshots()?.into_iter().map(|s| s.id));
        Ok(())
    })
}

/// The local snapshots with their summaries (id, created, reason, files,
/// bytes, …) as a JSON array, oldest first. Free `*out_json` with `dxforge_string_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_snapshots_json(
    forge: Option<&DxForge>,
    out_json: *mut *mut c_char,
) -> c_int {
    guard(|| {
        // SAFETY: per the header's contract, `out_json` is NULL or writable, valid for this call;
        // `out_arg` checks for NULL.
        let out = unsafe { out_arg(out_json, "out_json", std::ptr::null_mut()) }?;
        let forge = forge_ref(forge)?;
        *out = string_out(crate::json::to_string(&forge.inner.snapshots()?)?);
        Ok(())
    })
}

/// Rolls the project tree back to snapshot `id`; a safety snapshot of the
/// current tree is taken first (its id is in the report: restore it to undo).
/// `out_json` (may be NULL) receives the report, owned by the caller
/// (`dxforge_string_free`).
/// Errors: `DXFORGE_ERROR_NOT_FOUND` (unknown id), `DXFORGE_ERROR_INTEGRITY`
/// (a stored object failed its hash check; nothing restored).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_restore(
    forge: Option<&DxForge>,
    id: *const c_char,
    out_json: *mut *mut c_char,
) -> c_int {
    guard(|| {
        // SAFETY: per the header's contract, `out_json` is NULL or writable for this call.
        let json = unsafe { JsonOut::new(out_json) };
        let forge = forge_ref(forge)?;
        // SAFETY: per the header's contract, `id` is NULL or a NUL-terminated string, valid for
        // this call; `str_arg` checks for NULL.
        let id = unsafe { str_arg(id, "id") }?;
        let report = forge.inner.restore(id)?;
        json.set(&report)
    })
}

/// Deletes snapshot objects no snapshot refers to. `out_json` (may be NULL)
/// receives the report (`dxforge_string_free`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_gc_snapshots(
    forge: Option<&DxForge>,
    out_json: *mut *mut c_char,
) -> c_int {
    guard(|| {
        // SAFETY: per the header's contract, `out_json` is NULL or writable for this call.
        let json = unsafe { JsonOut::new(out_json) };
        let forge = forge_ref(forge)?;
        let report = forge.inner.gc_snapshots()?;
        json.set(&report)
    })
}

/// Uploads the local snapshots to `[remote]` (only missing objects; blocks).
/// `out_json` (may be NULL) receives the report (`dxforge_string_free`).
/// Errors: `DXFORGE_ERROR_CONFIG` (no `[remote]`, credentials missing),
/// `DXFORGE_ERROR_REMOTE` (unreachable, wrong credentials, server error).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_push(
    forge: Option<&DxForge>,
    out_json: *mut *mut c_char,
) -> c_int {
    guard(|| {
        // SAFETY: per the header's contract, `out_json` is NULL or writable for this call.
        let json = unsafe { JsonOut::new(out_json) };
        let forge = forge_ref(forge)?;
        let report = block_on(forge.inner.push())??;
        json.set(&report)
    })
}

/// Fetches snapshot `id` from `[remote]` (every object's hash verified) and
/// restores it (blocks). `out_json` (may be NULL) receives the report
/// (`dxforge_string_free`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_pull(
    forge: Option<&DxForge>,
    id: *const c_char,
    out_json: *mut *mut c_char,
) -> c_int {
    guard(|| {
        // SAFETY: per the header's contract, `out_json` is NULL or writable for this call.
        let json = unsafe { JsonOut::new(out_json) };
        let forge = forge_ref(forge)?;
        // SAFETY: per the header's contract, `id` is NULL or a NUL-terminated string, valid for
        // this call; `str_arg` checks for NULL.
        let id = unsafe { str_arg(id, "id") }?;
        let report = block_on(forge.inner.pull(id))??;
        json.set(&report)
    })
}

/// Analyses the codebase now (blocking) and writes `.dxforge/analysis.json`.
/// `out_json` (may be NULL) receives the report (`dxforge_string_free`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_analyze(
    forge: Option<&DxForge>,
    out_json: *mut *mut c_char,
) -> c_int {
    guard(|| {
        // SAFETY: per the header's contract, `out_json` is NULL or writable for this call.
        let json = unsafe { JsonOut::new(out_json) };
        let forge = forge_ref(forge)?;
        let report = forge.inner.analyze()?;
        json.set(&report)
    })
}

/// Caches package `spec` (`name` or `name@req`) and its dependencies from the
/// registry, hashes verified (blocking); a later install works with the
/// registry gone. `out_json` (may be NULL) receives the report (`dxforge_string_free`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_prefetch(
    forge: Option<&DxForge>,
    spec: *const c_char,
    out_json: *mut *mut c_char,
) -> c_int {
    guard(|| {
        // SAFETY: per the header's contract, `out_json` is NULL or writable for this call.
        let json = unsafe { JsonOut::new(out_json) };
        let forge = forge_ref(forge)?;
        // SAFETY: per the header's contract, `spec` is NULL or a NUL-terminated string, valid for
        // this call; `str_arg` checks for NULL.
        let spec = unsafe { str_arg(spec, "spec") }?;
        let report = forge.inner.prefetch(spec)?;
        json.set(&report)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_c_task_kind_is_its_position_in_the_core_table() {
        for (c_kind, kind) in [
            (
                dxforge_task_kind::CacheCurrentState,
                TaskKind::CacheCurrentState,
            ),
            (
                dxforge_task_kind::SyncToCloudflareR2,
                TaskKind::SyncToCloudflareR2,
            ),
            (
                dxforge_task_kind::PrefetchPackage,
                TaskKind::PrefetchPackage,
            ),
            (
                dxforge_task_kind::AnalyzeCodebasePatterns,
                TaskKind::AnalyzeCodebasePatterns,
            ),
        ] {
            assert_eq!(TaskKind::ALL[c_kind as usize], kind);
        }
        assert_eq!(TaskKind::ALL.len(), 4, "dxforge_task_kind lists every kind");
    }
}
