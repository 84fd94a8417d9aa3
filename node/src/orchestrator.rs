//! `DxForge` methods of the Sovereign Orchestrator: convert and delegate.
//!
//! Starting, stopping and executing return Promises that run on the core
//! runtime; queries are synchronous and cheap (a lock and a copy).

use napi::Env;
use napi::Result;
use napi::bindgen_prelude::PromiseRaw;
use napi_derive::napi;

use crate::definition::{DxToolDefinition, Refused};
use crate::error::{ErrorCode, invalid_argument, sync, throw_range_error};
use crate::forge::DxForge;
use crate::promise::promise;
use crate::status::{ExecOutput, LogLine, ToolState, ToolStatus};

/// Lines returned by `logs` when `n` is not given.
const DEFAULT_LOG_LINES: u32 = 100;

#[napi]
impl DxForge {
    /// Registers a tool; its dependencies must be registered already.
    /// Errors: `INVALID_ARGUMENT` (bad definition; a `RangeError` for a
    /// number that is negative, fractional, `NaN`, infinite or out of its
    /// range), `DEPENDENCY` (unknown dependency or cycle); a tool of the same
    /// name is replaced only while it is stopped.
    #[napi]
    pub fn register_tool(&self, env: &Env, def: DxToolDefinition) -> Result<(), ErrorCode> {
        let def = match dxforge::DxToolDefinition::try_from(def) {
            Ok(def) => def,
            Err(Refused::Range(e)) => return Err(throw_range_error(env, &e)),
            Err(Refused::Other(e)) => return sync(|| Err(e)),
        };
        sync(|| self.forge()?.register_tool(def))
    }

    /// The definition registered under `name`, every field filled in.
    #[napi]
    pub fn tool(&self, name: String) -> Result<DxToolDefinition, ErrorCode> {
        sync(|| self.forge()?.tool(&name)?.try_into())
    }

    /// Registered tool names in start order.
    #[napi]
    pub fn tool_names(&self) -> Result<Vec<String>, ErrorCode> {
        sync(|| self.forge()?.tool_names())
    }

    /// Starts `name` and its dependency closure, waiting for each dependency
    /// to be ready; resolves with the tool's status. A running tool is left
    /// alone (same PID).
    #[napi]
    pub fn ensure_running<'env>(
        &self,
        env: &'env Env,
        name: String,
    ) -> napi::Result<PromiseRaw<'env, ToolStatus>> {
        let forge = self.forge_owned();
        promise(
            env,
            async move { forge?.ensure_running(&name).await },
            ToolStatus::from,
        )
    }

    /// Starts every registered tool in dependency order.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn ensure_all_running<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        let forge = self.forge_owned();
        promise(
            env,
            async move { forge?.ensure_all_running().await },
            |()| (),
        )
    }

    /// Ensures `name`'s dependencies run, then runs `name` to completion with
    /// `args` (instead of its registered args). A non-zero exit is a result.
    #[napi]
    pub fn execute_tool<'env>(
        &self,
        env: &'env Env,
        name: String,
        args: Option<Vec<String>>,
    ) -> napi::Result<PromiseRaw<'env, ExecOutput>> {
        let forge = self.forge_owned();
        let args = args.unwrap_or_default();
        promise(
            env,
            async move { forge?.execute_tool(&name, &args).await },
            ExecOutput::from,
        )
    }

    /// Current status of a tool, e.g. `{ status: 'running', pid: 4242 }` or
    /// `{ status: 'healthy' }`. Throws `NOT_FOUND` for an unknown tool.
    #[napi]
    pub fn status(&self, name: String) -> Result<ToolStatus, ErrorCode> {
        sync(|| self.forge()?.status(&name)).map(ToolStatus::from)
    }

    /// Detailed state of a tool (PID, restarts, last exit, last error).
    #[napi]
    pub fn state(&self, name: String) -> Result<ToolState, ErrorCode> {
        sync(|| self.forge()?.state(&name)).map(ToolState::from)
    }

    /// States of every tool in start order.
    #[napi]
    pub fn states(&self) -> Result<Vec<ToolState>, ErrorCode> {
        sync(|| self.forge()?.states()).map(|v| v.into_iter().map(ToolState::from).collect())
    }

    /// Stops a tool, its running dependents first. Stopping a tool that is
    /// not running succeeds and changes nothing.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn stop<'env>(&self, env: &'env Env, name: String) -> napi::Result<PromiseRaw<'env, ()>> {
        let forge = self.forge_owned();
        promise(env, async move { forge?.stop(&name).await }, |()| ())
    }

    /// Stops every tool, dependents first.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn stop_all<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        let forge = self.forge_owned();
        promise(env, async move { forge?.stop_all().await }, |()| ())
    }

    /// The last `n` (default 100) captured output lines of a tool, oldest first.
    #[napi]
    pub fn logs(&self, name: String, n: Option<u32>) -> Result<Vec<LogLine>, ErrorCode> {
        sync(|| {
            let n = usize::try_from(n.unwrap_or(DEFAULT_LOG_LINES))
                .map_err(|_| invalid_argument("n", "too large for this platform"))?;
            self.forge()?.logs(&name, n)
        })
        .map(|v| v.into_iter().map(LogLine::from).collect())
    }
}
