//! `dxforge_run_pipeline`: the CLI's commands as a library call.

use std::ffi::{CString, c_char, c_int};

use dxforge_core::PipelineOutcome;
use dxforge_core::runtime::block_on;

use crate::convert::{c_string, out_arg, str_arg};
use crate::error::{guard, guard_value};
use crate::forge::{DxForge, forge_arg};

/// What a command produced (opaque). Read it with the
/// `dxforge_pipeline_outcome_*` accessors; free it with
/// `dxforge_pipeline_outcome_free`.
pub struct dxforge_pipeline_outcome {
    exit_code: c_int,
    text: CString,
    json: CString,
}

/// Runs one command string with the CLI's syntax and semantics (no leading
/// `dxforge`; shell quoting), e.g. `"status"`, `"up web"`,
/// `"add button@^1.2 --dry-run"`, `"run lint -- --fix"`. Blocks until done.
/// A command that ran but reports a problem (a Red file, a tool exiting
/// non-zero) succeeds with a non-zero exit code in the outcome.
///
/// On success `*out` is owned by the caller: free it with
/// `dxforge_pipeline_outcome_free`.
/// Errors: `DXFORGE_ERROR_USAGE` (unknown command or bad arguments; the
/// message carries the usage text), and the errors of the command itself.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_run_pipeline(
    forge: *mut DxForge,
    command: *const c_char,
    out: *mut *mut dxforge_pipeline_outcome,
) -> c_int {
    guard(|| {
        // SAFETY: per the header's contract, `out` is NULL or writable, `forge` is NULL or a live
        // handle and `command` is NULL or a NUL-terminated string, each valid for this call; the
        // helpers check for NULL first.
        let (out, forge, command) = unsafe {
            (
                out_arg(out, "out", std::ptr::null_mut())?,
                forge_arg(forge)?,
                str_arg(command, "command")?,
            )
        };
        let outcome: PipelineOutcome = block_on(forge.inner.run_pipeline(command))??;
        *out = Box::into_raw(Box::new(dxforge_pipeline_outcome {
            exit_code: outcome.exit_code,
            text: c_string(outcome.text),
            json: c_string(crate::json::to_string(&outcome.json)?),
        }));
        Ok(())
    })
}

/// The exit code the CLI would use (0 success, 3 a Red file, a tool's own
/// code for `run`); 0 for NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_pipeline_outcome_exit_code(
    outcome: *const dxforge_pipeline_outcome,
) -> c_int {
    // SAFETY: NULL or a live outcome per the documented contract.
    guard_value(0, || unsafe { outcome.as_ref() }.map_or(0, |o| o.exit_code))
}

/// The human-readable output (what the CLI prints); NULL for NULL.
///
/// Ownership: borrowed from `outcome`; valid until it is freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_pipeline_outcome_text(
    outcome: *const dxforge_pipeline_outcome,
) -> *const c_char {
    guard_value(std::ptr::null(), || {
        // SAFETY: per the header's contract, `outcome` is NULL or a live one this library returned.
        unsafe { outcome.as_ref() }.map_or(std::ptr::null(), |o| o.text.as_ptr())
    })
}

/// The same result as one JSON document (what `--json` prints); NULL for NULL.
///
/// Ownership: borrowed from `outcome`; valid until it is freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_pipeline_outcome_json(
    outcome: *const dxforge_pipeline_outcome,
) -> *const c_char {
    guard_value(std::ptr::null(), || {
        // SAFETY: per the header's contract, `outcome` is NULL or a live one this library returned.
        unsafe { outcome.as_ref() }.map_or(std::ptr::null(), |o| o.json.as_ptr())
    })
}

/// Frees an outcome. NULL is a no-op.
///
/// Ownership: takes ownership of `outcome` and the strings read from it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_pipeline_outcome_free(outcome: *mut dxforge_pipeline_outcome) {
    if !outcome.is_null() {
        // SAFETY: from `Box::into_raw` in `dxforge_run_pipeline`.
        guard_value((), || drop(unsafe { Box::from_raw(outcome) }));
    }
}
