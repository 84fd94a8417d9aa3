//! `DxForge` methods of the Sovereign Orchestrator: thin delegation.

use dxforge_orchestrator::{
    DxToolDefinition, ExecOutput, LogLine, ToolEvent, ToolState, ToolStatus,
};
use tokio::sync::broadcast;

use super::DxForge;
use crate::Result;

impl DxForge {
    /// Registers a tool; its dependencies must be registered already.
    ///
    /// A host registers a tool to start it, so this also begins parking the
    /// process pair the first start will use, in the background (tools read
    /// from `dxforge.toml` at open do not: a handle opened for `status` or
    /// `logs` makes no process).
    pub fn register_tool(&self, def: DxToolDefinition) -> Result<()> {
        let live = self.live()?;
        live.orchestrator.register_tool(def)?;
        live.orchestrator.prepare_start();
        Ok(())
    }

    /// The definition registered under `name` (identical to what was registered).
    pub fn tool(&self, name: &str) -> Result<DxToolDefinition> {
        Ok(self.live()?.orchestrator.definition(name)?)
    }

    /// Registered tool names in start order.
    pub fn tool_names(&self) -> Result<Vec<String>> {
        Ok(self.live()?.orchestrator.tool_names())
    }

    /// Starts `name` and its dependency closure, waiting for each dependency
    /// to be ready; a running tool is left alone (same PID).
    pub async fn ensure_running(&self, name: &str) -> Result<ToolStatus> {
        let orchestrator = self.live()?.orchestrator.clone();
        Ok(orchestrator.ensure_running(name).await?)
    }

    /// Starts every registered tool.
    pub async fn ensure_all_running(&self) -> Result<()> {
        let orchestrator = self.live()?.orchestrator.clone();
        Ok(orchestrator.ensure_all_running().await?)
    }

    /// Ensures `name`'s dependencies run, then runs `name` to completion with
    /// `args`. A non-zero exit is a result, not an error.
    pub async fn execute_tool(&self, name: &str, args: &[String]) -> Result<ExecOutput> {
        let orchestrator = self.live()?.orchestrator.clone();
        Ok(orchestrator.execute_tool(name, args).await?)
    }

    /// Current status of a tool.
    pub fn status(&self, name: &str) -> Result<ToolStatus> {
        Ok(self.live()?.orchestrator.status(name)?)
    }

    /// Detailed state of a tool.
    pub fn state(&self, name: &str) -> Result<ToolState> {
        Ok(self.live()?.orchestrator.state(name)?)
    }

    /// States of every tool in start order.
    pub fn states(&self) -> Result<Vec<ToolState>> {
        Ok(self.live()?.orchestrator.states())
    }

    /// Stops a tool (its running dependents first). Stopping a tool that is
    /// not running succeeds and changes nothing.
    pub async fn stop(&self, name: &str) -> Result<()> {
        let orchestrator = self.live()?.orchestrator.clone();
        Ok(orchestrator.stop(name).await?)
    }

    /// Stops `name` and starts it again; dependents that were running are
    /// stopped first and started again once `name` is ready. A tool that was
    /// not running is started (as pm2 does). Returns `name`'s new status.
    pub async fn restart(&self, name: &str) -> Result<ToolStatus> {
        let orchestrator = self.live()?.orchestrator.clone();
        Ok(orchestrator.restart(name).await?)
    }

    /// Stops every tool, dependents first.
    pub async fn stop_all(&self) -> Result<()> {
        let orchestrator = self.live()?.orchestrator.clone();
        Ok(orchestrator.stop_all().await?)
    }

    /// The last `n` captured output lines of a tool.
    pub fn logs(&self, name: &str, n: usize) -> Result<Vec<LogLine>> {
        Ok(self.live()?.orchestrator.recent_logs(name, n)?)
    }

    /// A receiver of every status change (for async Rust hosts; bindings use
    /// [`on_status_change`](Self::on_status_change)).
    pub fn subscribe(&self) -> Result<broadcast::Receiver<ToolEvent>> {
        Ok(self.live()?.orchestrator.subscribe())
    }

    /// A receiver of every captured output line, as `(tool, line)`.
    pub fn subscribe_logs(&self) -> Result<broadcast::Receiver<(String, LogLine)>> {
        Ok(self.live()?.orchestrator.subscribe_logs())
    }

    /// Starts watch mode: running tools whose `watch` globs match a changed
    /// file are restarted (debounced; `.dxforge/` ignored). Watching lasts
    /// until [`unwatch`](Self::unwatch) or the handle closes.
    pub fn watch(&self, debounce: std::time::Duration) -> Result<()> {
        let inner = self.live()?;
        let handle = inner.orchestrator.watch(debounce)?;
        *inner.events.watch.lock() = Some(handle);
        Ok(())
    }

    /// Stops watch mode (tools keep running).
    pub fn unwatch(&self) -> Result<()> {
        self.live()?.events.watch.lock().take();
        Ok(())
    }
}
