//! What a tool is doing, as plain JavaScript objects: status, state, events,
//! captured output and `executeTool` results.

use napi::bindgen_prelude::Buffer;
use napi_derive::napi;

/// Name of a tool's status.
#[napi(string_enum = "lowercase")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolStatusKind {
    /// Not running.
    Stopped,
    /// Spawned, waiting for readiness.
    Starting,
    /// Running (no health check, or not checked yet); `pid` is set.
    Running,
    /// Running and its health check passes.
    Healthy,
    /// Failed to start, failed its health check, or out of restarts.
    Degraded,
}

/// The seed's `ToolStatus`, in the same shape as the core's JSON:
/// `{ status: 'running', pid: 1234 }`, `{ status: 'healthy' }`. `pid` is set
/// exactly when `status` is `'running'`; `state(name).pid` has the PID of a
/// starting or healthy tool too.
#[napi(object)]
#[derive(Debug, Clone, Copy)]
pub struct ToolStatus {
    /// Which status.
    pub status: ToolStatusKind,
    /// PID, for `'running'` only.
    pub pid: Option<u32>,
}

impl From<dxforge::ToolStatus> for ToolStatus {
    fn from(s: dxforge::ToolStatus) -> Self {
        let (status, pid) = match s {
            dxforge::ToolStatus::Stopped => (ToolStatusKind::Stopped, None),
            dxforge::ToolStatus::Starting => (ToolStatusKind::Starting, None),
            dxforge::ToolStatus::Running(pid) => (ToolStatusKind::Running, Some(pid)),
            dxforge::ToolStatus::Healthy => (ToolStatusKind::Healthy, None),
            dxforge::ToolStatus::Degraded => (ToolStatusKind::Degraded, None),
        };
        Self { status, pid }
    }
}

/// How a process ended: exactly one field is set.
#[napi(object)]
#[derive(Debug, Clone, Copy)]
pub struct ExitStatus {
    /// Exit code.
    pub code: Option<i32>,
    /// Number of the signal that killed it.
    pub signal: Option<i32>,
}

impl From<dxforge::ExitStatus> for ExitStatus {
    fn from(e: dxforge::ExitStatus) -> Self {
        match e {
            dxforge::ExitStatus::Code(c) => Self {
                code: Some(c),
                signal: None,
            },
            dxforge::ExitStatus::Signal(s) => Self {
                code: None,
                signal: Some(s),
            },
        }
    }
}

/// Everything known about one tool.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct ToolState {
    /// Tool name.
    pub name: String,
    /// Current status.
    pub status: ToolStatus,
    /// PID of the tool's process while it runs (also when starting or healthy).
    pub pid: Option<u32>,
    /// Restarts since the last explicit start.
    pub restarts: u32,
    /// How the last run ended.
    pub last_exit: Option<ExitStatus>,
    /// Why the tool is degraded, or the last start failure.
    pub last_error: Option<String>,
}

impl From<dxforge::ToolState> for ToolState {
    fn from(s: dxforge::ToolState) -> Self {
        Self {
            name: s.name,
            status: s.status.into(),
            pid: s.pid,
            restarts: s.restarts,
            last_exit: s.last_exit.map(Into::into),
            last_error: s.last_error,
        }
    }
}

/// A status change, delivered to `onStatusChange` callbacks.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct ToolEvent {
    /// Tool name.
    pub tool: String,
    /// Status before the change.
    pub old: ToolStatus,
    /// Status after the change.
    pub new: ToolStatus,
    /// PID at the time of the change, if any.
    pub pid: Option<u32>,
    /// Short reason, e.g. `'exited with code 1'`.
    pub reason: Option<String>,
}

impl From<&dxforge::ToolEvent> for ToolEvent {
    fn from(e: &dxforge::ToolEvent) -> Self {
        Self {
            tool: e.tool.clone(),
            old: e.old.into(),
            new: e.new.into(),
            pid: e.pid,
            reason: e.reason.clone(),
        }
    }
}

/// Result of `executeTool`: a non-zero exit is a result, not an error.
#[napi(object)]
pub struct ExecOutput {
    /// Exit code; absent when the process was killed by a signal.
    pub exit_code: Option<i32>,
    /// Number of the signal that ended the process, if any.
    pub signal: Option<i32>,
    /// Captured standard output.
    pub stdout: Buffer,
    /// Captured standard error.
    pub stderr: Buffer,
    /// Wall time from spawn to exit, in milliseconds.
    pub duration_ms: f64,
}

impl From<dxforge::ExecOutput> for ExecOutput {
    fn from(o: dxforge::ExecOutput) -> Self {
        Self {
            exit_code: o.exit_code,
            signal: o.signal,
            stdout: o.stdout.into(),
            stderr: o.stderr.into(),
            // Exact below 2^53 ms; a precision loss is impossible in practice.
            duration_ms: o.duration_ms as f64,
        }
    }
}

/// One captured line of a tool's output.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct LogLine {
    /// `'stdout'` or `'stderr'`.
    pub stream: String,
    /// The line without its trailing newline (lossy UTF-8).
    pub line: String,
}

impl From<dxforge::LogLine> for LogLine {
    fn from(l: dxforge::LogLine) -> Self {
        Self {
            stream: l.stream.to_owned(),
            line: l.line,
        }
    }
}
