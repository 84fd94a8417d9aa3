//! Outputs of the orchestrator calls: status, state, exec result, log lines.
//!
//! Each library-allocated output is a public struct placed first in a private
//! box that owns its storage, so its `_free` function releases exactly what
//! was allocated even if the caller scribbled on the public fields.

use std::ffi::{CString, c_char};

use dxforge_core::{ExecOutput, ExitStatus, LogLine, ToolState, ToolStatus};

use crate::convert::c_string;
use crate::error::guard_value;

/// The status of a tool. Exactly one holds at any time.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum dxforge_tool_status {
    /// Not running.
    Stopped = 0,
    /// Spawned, waiting for readiness.
    Starting = 1,
    /// Running (no health check); the PID is reported beside the status.
    Running = 2,
    /// Running and its health check passes.
    Healthy = 3,
    /// Failed to start, failed its health check, or out of restarts.
    Degraded = 4,
}

pub(crate) fn status_of(status: ToolStatus) -> dxforge_tool_status {
    match status {
        ToolStatus::Stopped => dxforge_tool_status::Stopped,
        ToolStatus::Starting => dxforge_tool_status::Starting,
        ToolStatus::Running(_) => dxforge_tool_status::Running,
        ToolStatus::Healthy => dxforge_tool_status::Healthy,
        ToolStatus::Degraded => dxforge_tool_status::Degraded,
    }
}

/// How the last run of a tool ended (`dxforge_tool_state.last_exit_kind`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum dxforge_exit_kind {
    /// It has not ended (or never ran).
    None = 0,
    /// It exited; `last_exit_value` is the exit code.
    Code = 1,
    /// It was killed; `last_exit_value` is the signal number.
    Signal = 2,
}

/// Everything known about one tool. Read-only; free with `dxforge_tool_state_free`.
#[repr(C)]
pub struct dxforge_tool_state {
    /// Tool name.
    pub name: *const c_char,
    /// Current status.
    pub status: dxforge_tool_status,
    /// PID of the tool's process while it runs, 0 otherwise.
    pub pid: u32,
    /// Restarts since the last explicit start.
    pub restarts: u32,
    /// How the last run ended.
    pub last_exit_kind: dxforge_exit_kind,
    /// Exit code or signal number, per `last_exit_kind` (0 for none).
    pub last_exit_value: i32,
    /// Why the tool is degraded, or the last start failure; NULL if none.
    pub last_error: *const c_char,
}

#[repr(C)]
struct ToolStateBox {
    public: dxforge_tool_state,
    name: CString,
    last_error: Option<CString>,
}

pub(crate) fn tool_state_out(state: &ToolState) -> *mut dxforge_tool_state {
    let (last_exit_kind, last_exit_value) = match state.last_exit {
        None => (dxforge_exit_kind::None, 0),
        Some(ExitStatus::Code(c)) => (dxforge_exit_kind::Code, c),
        Some(ExitStatus::Signal(s)) => (dxforge_exit_kind::Signal, s),
    };
    let name = c_string(state.name.as_str());
    let last_error = state.last_error.as_deref().map(c_string);
    let public = dxforge_tool_state {
        name: name.as_ptr(),
        status: status_of(state.status),
        pid: state.pid.unwrap_or(0),
        restarts: state.restarts,
        last_exit_kind,
        last_exit_value,
        last_error: last_error.as_ref().map_or(std::ptr::null(), |e| e.as_ptr()),
    };
    // Moving a CString does not move its heap buffer, so the pointers stay valid.
    Box::into_raw(Box::new(ToolStateBox {
        public,
        name,
        last_error,
    }))
    .cast()
}

/// Frees a state returned by `dxforge_state`. NULL is a no-op.
///
/// Ownership: takes ownership of `state` and its strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_tool_state_free(state: *mut dxforge_tool_state) {
    if !state.is_null() {
        guard_value((), || {
            // SAFETY: the first field of a `ToolStateBox` from `tool_state_out`.
            drop(unsafe { Box::from_raw(state.cast::<ToolStateBox>()) })
        });
    }
}

/// The result of `dxforge_execute_tool`. A non-zero exit is a result, not an
/// error. Read-only; free with `dxforge_exec_result_free`.
#[repr(C)]
pub struct dxforge_exec_result {
    /// 1 when the process exited (see `exit_code`), 0 when a signal killed it.
    pub exited: bool,
    /// Exit code when `exited`, else 0.
    pub exit_code: i32,
    /// Signal that killed the process, 0 if none.
    pub signal: i32,
    /// Captured standard output (`stdout_len` bytes, followed by a NUL;
    /// may contain NUL bytes of its own).
    pub stdout_data: *const c_char,
    /// Length of `stdout_data` without the final NUL.
    pub stdout_len: usize,
    /// Captured standard error, as `stdout_data`.
    pub stderr_data: *const c_char,
    /// Length of `stderr_data` without the final NUL.
    pub stderr_len: usize,
    /// Wall time from spawn to exit, in milliseconds.
    pub duration_ms: u64,
}

#[repr(C)]
struct ExecResultBox {
    public: dxforge_exec_result,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

fn nul_terminated(mut bytes: Vec<u8>) -> Vec<u8> {
    bytes.push(0);
    bytes
}

pub(crate) fn exec_result_out(out: ExecOutput) -> *mut dxforge_exec_result {
    let stdout = nul_terminated(out.stdout);
    let stderr = nul_terminated(out.stderr);
    let public = dxforge_exec_result {
        exited: out.exit_code.is_some(),
        exit_code: out.exit_code.unwrap_or(0),
        signal: out.signal.unwrap_or(0),
        stdout_data: stdout.as_ptr().cast(),
        stdout_len: stdout.len() - 1,
        stderr_data: stderr.as_ptr().cast(),
        stderr_len: stderr.len() - 1,
        duration_ms: out.duration_ms,
    };
    Box::into_raw(Box::new(ExecResultBox {
        public,
        stdout,
        stderr,
    }))
    .cast()
}

/// Frees a result returned by `dxforge_execute_tool`. NULL is a no-op.
///
/// Ownership: takes ownership of `result` and its buffers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_exec_result_free(result: *mut dxforge_exec_result) {
    if !result.is_null() {
        guard_value((), || {
            // SAFETY: the first field of an `ExecResultBox` from `exec_result_out`.
            drop(unsafe { Box::from_raw(result.cast::<ExecResultBox>()) })
        });
    }
}

/// One captured output line of a tool.
#[repr(C)]
pub struct dxforge_log_line {
    /// `"stdout"` or `"stderr"`.
    pub stream: *const c_char,
    /// The line without its newline (invalid UTF-8 replaced).
    pub line: *const c_char,
}

/// Captured output lines, oldest first. Read-only; free with `dxforge_log_lines_free`.
#[repr(C)]
pub struct dxforge_log_lines {
    /// Number of lines.
    pub count: usize,
    /// `count` lines.
    pub lines: *const dxforge_log_line,
}

#[repr(C)]
struct LogLinesBox {
    public: dxforge_log_lines,
    entries: Vec<dxforge_log_line>,
    strings: Vec<(CString, CString)>,
}

pub(crate) fn log_lines_out(lines: Vec<LogLine>) -> *mut dxforge_log_lines {
    let strings: Vec<(CString, CString)> = lines
        .into_iter()
        .map(|l| (c_string(l.stream), c_string(l.line)))
        .collect();
    let entries: Vec<dxforge_log_line> = strings
        .iter()
        .map(|(s, l)| dxforge_log_line {
            stream: s.as_ptr(),
            line: l.as_ptr(),
        })
        .collect();
    let public = dxforge_log_lines {
        count: entries.len(),
        lines: entries.as_ptr(),
    };
    Box::into_raw(Box::new(LogLinesBox {
        public,
        entries,
        strings,
    }))
    .cast()
}

/// Frees lines returned by `dxforge_logs`. NULL is a no-op.
///
/// Ownership: takes ownership of `lines` and every string in it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_log_lines_free(lines: *mut dxforge_log_lines) {
    if !lines.is_null() {
        guard_value((), || {
            // SAFETY: the first field of a `LogLinesBox` from `log_lines_out`.
            drop(unsafe { Box::from_raw(lines.cast::<LogLinesBox>()) })
        });
    }
}
