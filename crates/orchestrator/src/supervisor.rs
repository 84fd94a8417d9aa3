//! The real-process side of the lifecycle: the registry of tools, the one
//! spawn preparation shared by supervised starts and `execute_tool`, and
//! the [`Launcher`]/[`ChildProcess`] implementations over the reaper shim.
//! The lifecycle logic itself is in [`crate::lifecycle`].

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use globset::GlobSet;
use parking_lot::RwLock;
use tokio::sync::broadcast;

use crate::definition::DxToolDefinition;
use crate::error::{OrchestratorError, Result};
use crate::lifecycle::{self, ChildProcess, Claim, Launcher, Policy, Remote, Signal, Tool};
use crate::logs::{ToolLog, capture};
use crate::orchestrator::OrchestratorConfig;
use crate::spawn::{
    ShimHandle, SpawnSpec, ToolProcess, exit_of, kill_all_signal, resolve_binary, spawn_tool,
};
use crate::{ExitStatus, LogLine, ToolEvent, ToolStatus, health};

/// First restart delay; doubles per restart.
const BACKOFF_START: Duration = Duration::from_millis(100);
/// Cap of the restart delay.
const BACKOFF_CAP: Duration = Duration::from_secs(30);
/// How long the shim gets to SIGKILL the tree before the shim itself is killed.
const KILL_ALL_GRACE: Duration = Duration::from_secs(5);

/// State shared by all clones of an `Orchestrator`.
pub(crate) struct Inner {
    pub config: OrchestratorConfig,
    pub registry: RwLock<Registry>,
    pub events: broadcast::Sender<ToolEvent>,
    pub log_tx: broadcast::Sender<(String, LogLine)>,
    pub shut_down: Arc<AtomicBool>,
    /// Keeps a shim pair parked for the next start.
    pub spawner: Arc<crate::armed::Spawner>,
}

/// Registered tools and their start order.
#[derive(Default)]
pub(crate) struct Registry {
    pub tools: HashMap<String, Arc<ToolEntry>>,
    pub order: Vec<String>,
    pub logs: HashMap<String, Arc<ToolLog>>,
    pub next_seq: u64,
}

impl Registry {
    /// The entry of a registered tool; unknown names are an error naming them.
    pub fn entry(&self, name: &str) -> crate::error::Result<Arc<ToolEntry>> {
        self.tools
            .get(name)
            .cloned()
            .ok_or_else(|| crate::error::OrchestratorError::UnknownTool {
                name: name.to_owned(),
            })
    }

    /// Dependencies of a registered tool (empty when unknown).
    pub fn deps_of(&self, name: &str) -> Vec<String> {
        self.tools
            .get(name)
            .map(|e| e.def.dependencies.clone())
            .unwrap_or_default()
    }
}

/// One registered tool. Re-registration replaces the entry (the old one is
/// retired: [`lifecycle::Life::Retired`]).
pub(crate) struct ToolEntry {
    pub def: DxToolDefinition,
    pub seq: u64,
    pub watch: Option<GlobSet>,
    pub log: Arc<ToolLog>,
    /// Lifecycle state and the channel to the supervising task.
    pub tool: Arc<Tool>,
}

/// The lifecycle policy of a definition.
pub(crate) fn policy_of(def: &DxToolDefinition, stop_signal: libc::c_int) -> Policy {
    Policy {
        restart: def.restart,
        max_restarts: def.max_restarts,
        backoff_start: BACKOFF_START,
        backoff_cap: BACKOFF_CAP,
        stop_signal,
        stop_timeout: Duration::from_millis(def.stop_timeout_ms),
        kill_grace: KILL_ALL_GRACE,
        has_health: def.health.is_some(),
        health_interval: Duration::from_millis(def.health_interval_ms),
        startup_timeout: Duration::from_millis(def.startup_timeout_ms),
    }
}

/// A tool's working directory.
fn cwd_of(inner: &Inner, def: &DxToolDefinition) -> PathBuf {
    let root = &inner.config.root;
    def.cwd
        .as_ref()
        .map_or_else(|| root.clone(), |c| root.join(c))
}

/// The one spawn preparation (binary resolution, directory, spec) shared by
/// supervised starts and `execute_tool`. Returns the process and the
/// resolved program. A spawn that raced a shutdown is killed and refused.
pub(crate) fn spawn_prepared(
    inner: &Inner,
    def: &DxToolDefinition,
    args: &[String],
) -> Result<(ToolProcess, PathBuf)> {
    if inner.shut_down.load(Ordering::SeqCst) {
        return Err(OrchestratorError::ShutDown);
    }
    let program = resolve_binary(&def.name, &def.binary_path, &inner.config.root)?;
    let cwd = cwd_of(inner, def);
    let (env, args) = crate::environment::resolve(
        def,
        &inner.config.root,
        inner.config.env_file.as_deref(),
        args,
    )?;
    let spec = SpawnSpec {
        tool: &def.name,
        program: &program,
        args: &args,
        cwd: &cwd,
        env: &env,
        leftover_grace_ms: def.stop_timeout_ms,
    };
    let proc = spawn_tool(&spec, &inner.config.runtime, &inner.spawner)?;
    if inner.shut_down.load(Ordering::SeqCst) {
        proc.shim.signal(kill_all_signal());
        return Err(OrchestratorError::ShutDown);
    }
    Ok((proc, program))
}

/// Spawns a registered tool's real processes and runs its health checks.
struct RealLauncher {
    inner: Arc<Inner>,
    entry: Arc<ToolEntry>,
    cwd: PathBuf,
}

impl Launcher for RealLauncher {
    type Child = RealChild;

    fn launch(&self) -> Result<RealChild> {
        let (proc, _) = spawn_prepared(&self.inner, &self.entry.def, &self.entry.def.args)?;
        Ok(RealChild {
            proc,
            inner: self.inner.clone(),
            log: self.entry.log.clone(),
        })
    }

    async fn check(&self, limit: Duration) -> std::result::Result<(), String> {
        match &self.entry.def.health {
            Some(check) => health::check(check, &self.cwd, limit).await,
            None => Ok(()),
        }
    }
}

/// A tool's process behind its reaper shim.
struct RealChild {
    proc: ToolProcess,
    inner: Arc<Inner>,
    log: Arc<ToolLog>,
}

impl ChildProcess for RealChild {
    fn pid(&self) -> u32 {
        self.proc.tool_pid
    }

    /// Wires the output into the log and parks the next shim pair, on a
    /// runtime thread rather than the spawning one.
    fn attach(&mut self) {
        let pipes = [
            ("stdout", self.proc.child.stdout.take()),
            ("stderr", self.proc.child.stderr.take()),
        ];
        for (stream, fd) in pipes {
            if let Some(fd) = fd {
                self.inner.config.runtime.spawn(capture(
                    fd,
                    stream,
                    self.log.clone(),
                    self.inner.log_tx.clone(),
                ));
            }
        }
        self.inner.spawner.refill(&self.inner.config.runtime);
    }

    async fn wait(&mut self) -> ExitStatus {
        self.proc
            .child
            .wait()
            .await
            .map(exit_of)
            .unwrap_or(ExitStatus::Code(-1))
    }

    fn remote(&self) -> Arc<dyn Remote> {
        self.proc.shim.clone()
    }
}

impl Remote for ShimHandle {
    fn signal(&self, sig: Signal) -> bool {
        let raw = match sig {
            Signal::Stop(s) => s,
            Signal::KillTree => kill_all_signal(),
            Signal::KillHard => libc::SIGKILL,
        };
        ShimHandle::signal(self, raw)
    }

    fn wait_exit_blocking(&self, limit: Duration) -> bool {
        ShimHandle::wait_exit_blocking(self, limit)
    }
}

/// Starts one tool whose dependencies are up. Idempotent; waits for a
/// restart in progress instead of spawning a second process. Without
/// `ready`, returns once the process is spawned (or being started by
/// another caller) instead of waiting for its health check.
/// `Ok(None)` means the entry was replaced by a re-registration: look it up again.
pub(crate) async fn start_one(
    inner: &Arc<Inner>,
    entry: &Arc<ToolEntry>,
    ready: bool,
) -> Result<Option<ToolStatus>> {
    let tool = &entry.tool;
    if !ready && tool.life().pid().is_some() {
        return Ok(Some(tool.status()));
    }
    {
        let _gate = tool.gate.lock().await;
        match lifecycle::claim(tool).await? {
            Claim::Retired => return Ok(None),
            Claim::Up(status) => return Ok(Some(status)),
            Claim::Claimed => {
                let launcher = Arc::new(RealLauncher {
                    inner: inner.clone(),
                    entry: entry.clone(),
                    cwd: cwd_of(inner, &entry.def),
                });
                let launched = lifecycle::launch_claimed(tool, launcher, &inner.config.runtime)?;
                if let Some(status) = launched {
                    return Ok(Some(status));
                }
                if !ready {
                    return Ok(Some(tool.status()));
                }
            }
        }
    }
    lifecycle::settle(tool).await.map(Some)
}

/// Stops one tool (not its dependents); a no-op when it is not running.
pub(crate) async fn stop_one(entry: &ToolEntry) -> Result<()> {
    let _gate = entry.tool.gate.lock().await;
    lifecycle::stop(&entry.tool).await
}

/// Blocking stop of one tool with plain syscalls (no runtime needed).
pub(crate) fn stop_blocking(entry: &ToolEntry) {
    lifecycle::stop_blocking(&entry.tool);
}
