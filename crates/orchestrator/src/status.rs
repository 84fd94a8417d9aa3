//! What a tool is doing: status, richer state, events.

use serde::{Deserialize, Serialize};

/// The seed's status of a tool. Exactly one variant holds at any time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "status", content = "pid", rename_all = "lowercase")]
pub enum ToolStatus {
    /// Not running.
    Stopped,
    /// Spawned, waiting for readiness.
    Starting,
    /// Running with the given PID (no health check, or not checked yet).
    Running(u32),
    /// Running and its health check passes.
    Healthy,
    /// Failed to start, failed its health check, or out of restarts.
    Degraded,
}

impl ToolStatus {
    /// Every status name, in declaration order: the index is [`index`](Self::index)
    /// (and the C binding's `dxforge_tool_status` value).
    pub const NAMES: [&'static str; 5] = ["stopped", "starting", "running", "healthy", "degraded"];

    /// Position of the variant in declaration order (`Stopped` is 0, `Degraded` 4).
    pub fn index(&self) -> usize {
        match self {
            ToolStatus::Stopped => 0,
            ToolStatus::Starting => 1,
            ToolStatus::Running(_) => 2,
            ToolStatus::Healthy => 3,
            ToolStatus::Degraded => 4,
        }
    }

    /// Lower-case name of the variant (`"running"`, …), stable for bindings and JSON.
    pub fn as_str(&self) -> &'static str {
        Self::NAMES[self.index()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_are_the_serde_names() {
        for status in [
            ToolStatus::Stopped,
            ToolStatus::Starting,
            ToolStatus::Running(7),
            ToolStatus::Healthy,
            ToolStatus::Degraded,
        ] {
            let json = serde_json::to_value(status).unwrap();
            assert_eq!(json["status"], status.as_str(), "{status:?}");
            assert_eq!(ToolStatus::NAMES[status.index()], status.as_str());
        }
    }
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExitStatus {
    /// Exited with this code.
    Code(i32),
    /// Killed by this signal number.
    Signal(i32),
}

/// Everything known about one tool: the status plus details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ToolState {
    /// Tool name.
    pub name: String,
    /// Current status.
    pub status: ToolStatus,
    /// PID of the tool's process while it runs (also for `Healthy`/`Starting`).
    pub pid: Option<u32>,
    /// Restarts since the last explicit start.
    pub restarts: u32,
    /// How the last run ended.
    pub last_exit: Option<ExitStatus>,
    /// Why the tool is `Degraded`, or the last start failure.
    pub last_error: Option<String>,
}

/// A status change, published to subscribers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolEvent {
    /// Tool name.
    pub tool: String,
    /// Status before the change.
    pub old: ToolStatus,
    /// Status after the change.
    pub new: ToolStatus,
    /// PID at the time of the change, if any.
    pub pid: Option<u32>,
    /// Short reason, e.g. `"exited with code 1"`.
    pub reason: Option<String>,
}

/// Result of [`execute_tool`](crate::Orchestrator::execute_tool): a non-zero exit is a result, not an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ExecOutput {
    /// Exit code; `None` when killed by a signal (see `signal`).
    pub exit_code: Option<i32>,
    /// Signal that ended the process, if any.
    pub signal: Option<i32>,
    /// Captured standard output.
    pub stdout: Vec<u8>,
    /// Captured standard error.
    pub stderr: Vec<u8>,
    /// Wall time from spawn to exit.
    pub duration_ms: u64,
}

/// One captured line of a tool's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// `"stdout"` or `"stderr"`.
    pub stream: &'static str,
    /// The line without its trailing newline (lossy UTF-8).
    pub line: String,
    /// When it was captured, in milliseconds since the Unix epoch (what
    /// `dxforge logs --since` filters on; 0 when the clock was unreadable).
    #[serde(default)]
    pub at_ms: u64,
}

/// Milliseconds since the Unix epoch now (0 if the clock is before it).
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
