//! The `Orchestrator` handle. (API skeleton: bodies are being written.)

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::broadcast;

use crate::{DxToolDefinition, ExecOutput, LogLine, Result, ToolEvent, ToolState, ToolStatus};

/// Settings of an [`Orchestrator`].
#[derive(Debug, Clone)]
pub struct OrchestratorConfig {
    /// Project root: relative binary paths, `cwd` and `watch` globs resolve against it.
    pub root: PathBuf,
    /// Where `<tool>.log` files go (normally `<root>/.dxforge/logs`).
    pub log_dir: PathBuf,
    /// Rotate a log file when it grows past this many bytes.
    pub log_max_bytes: u64,
    /// Lines kept per tool in the in-memory recent-lines buffer.
    pub recent_lines: usize,
    /// Runtime on which supervision tasks run.
    pub runtime: tokio::runtime::Handle,
}

/// Handle to a running watch mode; dropping it stops watching (tools keep running).
#[derive(Debug)]
pub struct WatchHandle {
    _private: (),
}

/// Starts, supervises and stops tools. Cheap to clone; all clones share state.
#[derive(Debug, Clone)]
pub struct Orchestrator {
    _private: (),
}

impl Orchestrator {
    /// Creates an orchestrator with no tools.
    pub fn new(_config: OrchestratorConfig) -> Self {
        todo!()
    }
    /// Registers one tool; its dependencies must already be registered.
    pub fn register_tool(&self, _def: DxToolDefinition) -> Result<()> {
        todo!()
    }
    /// Registers a set of tools at once, validating dependencies and cycles over the whole set.
    pub fn register_tools(&self, _defs: Vec<DxToolDefinition>) -> Result<()> {
        todo!()
    }
    /// The registered definition of a tool.
    pub fn definition(&self, _name: &str) -> Result<DxToolDefinition> {
        todo!()
    }
    /// Names of registered tools in start order (topological, priority breaking ties).
    pub fn tool_names(&self) -> Vec<String> {
        todo!()
    }
    /// Starts the tool and its dependency closure; idempotent.
    pub async fn ensure_running(&self, _name: &str) -> Result<ToolStatus> {
        todo!()
    }
    /// Starts every registered tool.
    pub async fn ensure_all_running(&self) -> Result<()> {
        todo!()
    }
    /// Ensures dependencies, then runs the tool to completion with `args`.
    pub async fn execute_tool(&self, _name: &str, _args: &[String]) -> Result<ExecOutput> {
        todo!()
    }
    /// Current status.
    pub fn status(&self, _name: &str) -> Result<ToolStatus> {
        todo!()
    }
    /// Current detailed state.
    pub fn state(&self, _name: &str) -> Result<ToolState> {
        todo!()
    }
    /// States of all tools, in start order.
    pub fn states(&self) -> Vec<ToolState> {
        todo!()
    }
    /// Stops the tool and (first) its running dependents.
    pub async fn stop(&self, _name: &str) -> Result<()> {
        todo!()
    }
    /// Stops every tool, dependents first.
    pub async fn stop_all(&self) -> Result<()> {
        todo!()
    }
    /// Synchronous best-effort stop of everything (used from `Drop`); never blocks longer than the stop timeouts.
    pub fn shutdown_blocking(&self) {
        todo!()
    }
    /// The last `n` captured lines of a tool's output.
    pub fn recent_logs(&self, _name: &str, _n: usize) -> Result<Vec<LogLine>> {
        todo!()
    }
    /// Subscribes to status changes.
    pub fn subscribe(&self) -> broadcast::Receiver<ToolEvent> {
        todo!()
    }
    /// Subscribes to captured output lines of every tool, as `(tool, line)`.
    pub fn subscribe_logs(&self) -> broadcast::Receiver<(String, LogLine)> {
        todo!()
    }
    /// Starts watch mode with the given debounce.
    pub fn watch(&self, _debounce: Duration) -> Result<WatchHandle> {
        todo!()
    }
}
