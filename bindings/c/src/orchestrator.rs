//! Sovereign Orchestrator calls: register, start, query, execute, stop, logs, watch.
//!
//! Calls that wait (`ensure_running`, `execute_tool`, `stop`, …) block the
//! calling thread on the process-wide runtime; they must not be made from a
//! thread of that runtime (they fail with `DXFORGE_ERROR_OTHER` instead of
//! deadlocking). Status callbacks run on their own threads and may call them.

use std::ffi::{CString, c_char, c_int};
use std::sync::OnceLock;
use std::time::Duration;

use dxforge_core::ToolStatus;
use dxforge_core::runtime::block_on;

use crate::convert::dxforge_string_list;
use crate::convert::{c_names, out_arg, str_arg, str_array_arg, string_list_out, string_out};
use crate::error::{guard, guard_value};
use crate::forge::{DxForge, forge_arg, forge_ref};
use crate::tool_options::{definition_from, dxforge_tool_options};
use crate::tool_results::{
    dxforge_exec_result, dxforge_log_lines, dxforge_tool_state, dxforge_tool_status,
    exec_result_out, log_lines_out, status_of, tool_state_out,
};

/// Registers a tool. Its dependencies must be registered already; the name
/// must be new. Nothing is started.
///
/// Ownership: `opts` and everything it points to are borrowed for the call.
/// Errors: `DXFORGE_ERROR_INVALID_ARGUMENT` (NULL/non-UTF-8 field, wrong
/// `opts->version`, bad enum value, duplicate or empty name, a number outside
/// its range, a TCP target that is not `host:port` or an HTTP target that is
/// not an `http://` URL; the message names the tool and the field),
/// `DXFORGE_ERROR_DEPENDENCY` (unknown dependency or cycle), `DXFORGE_ERROR_CLOSED`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_register_tool(
    forge: *mut DxForge,
    opts: *const dxforge_tool_options,
) -> c_int {
    guard(|| {
        // SAFETY: per the header's contract, `forge` is NULL or a live handle and `opts` is NULL or
        // a readable `dxforge_tool_options` (pointers likewise), each valid for this call; the
        // helpers check for NULL first.
        let (forge, def) = unsafe { (forge_arg(forge)?, definition_from(opts)?) };
        forge.inner.register_tool(def)
    })
}

/// The current status of tool `name`; `*out_pid` (may be NULL) receives its
/// PID while it runs, else 0. This is the cheap query: no allocation.
/// Errors: `DXFORGE_ERROR_NOT_FOUND` for an unknown tool.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_status(
    forge: Option<&DxForge>,
    name: *const c_char,
    out_status: *mut dxforge_tool_status,
    out_pid: *mut u32,
) -> c_int {
    guard(|| {
        let out_status =
            // SAFETY: per the header's contract, `out_status` is NULL or writable; `out_arg` checks
            // for NULL.
            unsafe { out_arg(out_status, "out_status", dxforge_tool_status::Stopped) }?;
        let forge = forge_ref(forge)?;
        // SAFETY: per the header's contract, `name` is NULL or a NUL-terminated string, valid for
        // this call; `str_arg` checks for NULL.
        let name = unsafe { str_arg(name, "name") }?;
        let status = forge.inner.status(name)?;
        *out_status = status_of(status);
        if !out_pid.is_null() {
            let pid = match status {
                dxforge_core::ToolStatus::Running(pid) => pid,
                _ => forge.inner.state(name)?.pid.unwrap_or(0),
            };
            // SAFETY: non-NULL and writable per the documented contract.
            unsafe { out_pid.write(pid) };
        }
        Ok(())
    })
}

/// The lower-case name of a status (`"running"`, …), as used by the CLI,
/// JSON and the other bindings; `"unknown"` for a value that is no status.
///
/// Ownership: a static string; never free it.
#[unsafe(no_mangle)]
pub extern "C" fn dxforge_tool_status_name(status: c_int) -> *const c_char {
    static NAMES: OnceLock<Vec<CString>> = OnceLock::new();
    guard_value(c"unknown".as_ptr(), || {
        let names = c_names(&NAMES, &ToolStatus::NAMES);
        usize::try_from(status)
            .ok()
            .and_then(|i| names.get(i))
            .map_or(c"unknown".as_ptr(), |name| name.as_ptr())
    })
}

/// Detailed state of tool `name`. On success `*out` is owned by the caller:
/// free it with `dxforge_tool_state_free`.
/// Errors: `DXFORGE_ERROR_NOT_FOUND` for an unknown tool.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_state(
    forge: Option<&DxForge>,
    name: *const c_char,
    out: *mut *mut dxforge_tool_state,
) -> c_int {
    guard(|| {
        // SAFETY: per the header's contract, `out` is NULL or writable, valid for this call;
        // `out_arg` checks for NULL.
        let out = unsafe { out_arg(out, "out", std::ptr::null_mut()) }?;
        let forge = forge_ref(forge)?;
        // SAFETY: per the header's contract, `name` is NULL or a NUL-terminated string, valid for
        // this call; `str_arg` checks for NULL.
        let name = unsafe { str_arg(name, "name") }?;
        *out = tool_state_out(&forge.inner.state(name)?);
        Ok(())
    })
}

/// The names of every registered tool, in start order. On success `*out` is
/// owned by the caller: free it with `dxforge_string_list_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_tool_names(
    forge: Option<&DxForge>,
    out: *mut *mut dxforge_string_list,
) -> c_int {
    guard(|| {
        // SAFETY: per the header's contract, `out` is NULL or writable, valid for this call;
        // `out_arg` checks for NULL.
        let out = unsafe { out_arg(out, "out", std::ptr::null_mut()) }?;
        let forge = forge_ref(forge)?;
        *out = string_list_out(forge.inner.tool_names()?);
        Ok(())
    })
}

/// The definition registered under `name`, as a JSON object (the keys of a
/// `[tools.NAME]` table in `dxforge.toml`). On success `*out_json` is owned
/// by the caller: free it with `dxforge_string_free`.
/// Errors: `DXFORGE_ERROR_NOT_FOUND` for an unknown tool.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_tool_json(
    forge: Option<&DxForge>,
    name: *const c_char,
    out_json: *mut *mut c_char,
) -> c_int {
    guard(|| {
        // SAFETY: per the header's contract, `out_json` is NULL or writable, valid for this call;
        // `out_arg` checks for NULL.
        let out = unsafe { out_arg(out_json, "out_json", std::ptr::null_mut()) }?;
        let forge = forge_ref(forge)?;
        // SAFETY: per the header's contract, `name` is NULL or a NUL-terminated string, valid for
        // this call; `str_arg` checks for NULL.
        let name = unsafe { str_arg(name, "name") }?;
        *out = string_out(crate::json::to_string(&forge.inner.tool(name)?)?);
        Ok(())
    })
}

/// The states of every tool in start order, as a JSON array of objects
/// (`name`, `status`, `pid`, `restarts`, `last_exit`, `last_error`). On
/// success `*out_json` is owned by the caller: free it with `dxforge_string_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_states_json(
    forge: Option<&DxForge>,
    out_json: *mut *mut c_char,
) -> c_int {
    guard(|| {
        // SAFETY: per the header's contract, `out_json` is NULL or writable, valid for this call;
        // `out_arg` checks for NULL.
        let out = unsafe { out_arg(out_json, "out_json", std::ptr::null_mut()) }?;
        let forge = forge_ref(forge)?;
        *out = string_out(crate::json::to_string(&forge.inner.states()?)?);
        Ok(())
    })
}

/// Starts tool `name` and its dependency closure, waiting until each
/// dependency is ready; a running tool is left alone (same PID). Blocks until
/// the tool is ready or failed. `*out_status` (may be NULL) receives the
/// resulting status.
/// Errors: `DXFORGE_ERROR_NOT_FOUND`, `DXFORGE_ERROR_TOOL_FAILED` (cannot
/// spawn, exited early, not ready within its startup timeout).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_ensure_running(
    forge: *mut DxForge,
    name: *const c_char,
    out_status: *mut dxforge_tool_status,
) -> c_int {
    guard(|| {
        // SAFETY: per the header's contract, `forge` is NULL or a live handle and `name` is NULL or
        // a NUL-terminated string, each valid for this call; the helpers check for NULL first.
        let (forge, name) = unsafe { (forge_arg(forge)?, str_arg(name, "name")?) };
        let status = block_on(forge.inner.ensure_running(name))??;
        if !out_status.is_null() {
            // SAFETY: non-NULL and writable per the documented contract.
            unsafe { out_status.write(status_of(status)) };
        }
        Ok(())
    })
}

/// Starts every registered tool in dependency order (blocks until all are
/// ready or one failed).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_ensure_all_running(forge: *mut DxForge) -> c_int {
    guard(|| {
        // SAFETY: per the header's contract, `forge` is NULL or a live handle, valid for this call;
        // `forge_arg` checks for NULL.
        let forge = unsafe { forge_arg(forge) }?;
        block_on(forge.inner.ensure_all_running())?
    })
}

/// Ensures the dependencies of tool `name` run, then runs `name` to
/// completion with `args` (replacing its registered arguments), capturing
/// its output. A non-zero exit is a result, not an error.
///
/// Ownership: `args` is borrowed (may be NULL when `args_count` is 0). On
/// success `*out` is owned by the caller: free it with `dxforge_exec_result_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_execute_tool(
    forge: *mut DxForge,
    name: *const c_char,
    args: *const *const c_char,
    args_count: usize,
    out: *mut *mut dxforge_exec_result,
) -> c_int {
    guard(|| {
        // SAFETY: per the header's contract, `out` is NULL or writable, `forge` is NULL or a live
        // handle, `name` is NULL or a NUL-terminated string and `args` is NULL or points to
        // `args_count` such strings, each valid for this call; the helpers check for NULL (and
        // counts) first.
        let (out, forge, name, args) = unsafe {
            (
                out_arg(out, "out", std::ptr::null_mut())?,
                forge_arg(forge)?,
                str_arg(name, "name")?,
                str_array_arg(args, args_count, "args")?,
            )
        };
        *out = exec_result_out(block_on(forge.inner.execute_tool(name, &args))??);
        Ok(())
    })
}

/// Stops tool `name` (its running dependents first): the stop signal to the
/// whole process tree, SIGKILL after its stop timeout. Stopping a tool that
/// is not running succeeds and changes nothing.
/// Errors: `DXFORGE_ERROR_NOT_FOUND` for an unknown tool.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_stop(forge: *mut DxForge, name: *const c_char) -> c_int {
    guard(|| {
        // SAFETY: per the header's contract, `forge` is NULL or a live handle and `name` is NULL or
        // a NUL-terminated string, each valid for this call; the helpers check for NULL first.
        let (forge, name) = unsafe { (forge_arg(forge)?, str_arg(name, "name")?) };
        block_on(forge.inner.stop(name))?
    })
}

/// Stops every tool, dependents first.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_stop_all(forge: *mut DxForge) -> c_int {
    guard(|| {
        // SAFETY: per the header's contract, `forge` is NULL or a live handle, valid for this call;
        // `forge_arg` checks for NULL.
        let forge = unsafe { forge_arg(forge) }?;
        block_on(forge.inner.stop_all())?
    })
}

/// The last `n` captured output lines of tool `name` (fewer if there are
/// fewer). On success `*out` is owned by the caller: free it with
/// `dxforge_log_lines_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_logs(
    forge: Option<&DxForge>,
    name: *const c_char,
    n: usize,
    out: *mut *mut dxforge_log_lines,
) -> c_int {
    guard(|| {
        // SAFETY: per the header's contract, `out` is NULL or writable, valid for this call;
        // `out_arg` checks for NULL.
        let out = unsafe { out_arg(out, "out", std::ptr::null_mut()) }?;
        let forge = forge_ref(forge)?;
        // SAFETY: per the header's contract, `name` is NULL or a NUL-terminated string, valid for
        // this call; `str_arg` checks for NULL.
        let name = unsafe { str_arg(name, "name") }?;
        *out = log_lines_out(forge.inner.logs(name, n)?);
        Ok(())
    })
}

/// Turns watch mode on: running tools whose `watch` globs match a changed
/// file are restarted, after `debounce_ms` of quiet. Lasts until
/// `dxforge_unwatch` or close.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_watch(forge: *mut DxForge, debounce_ms: u64) -> c_int {
    guard(|| {
        // SAFETY: per the header's contract, `forge` is NULL or a live handle, valid for this call;
        // `forge_arg` checks for NULL.
        let forge = unsafe { forge_arg(forge) }?;
        forge.inner.watch(Duration::from_millis(debounce_ms))
    })
}

/// Turns watch mode off (tools keep running).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_unwatch(forge: *mut DxForge) -> c_int {
    guard(|| {
        // SAFETY: per the header's contract, `forge` is NULL or a live handle, valid for this call;
        // `forge_arg` checks for NULL.
        let forge = unsafe { forge_arg(forge) }?;
        forge.inner.unwatch()
    })
}
