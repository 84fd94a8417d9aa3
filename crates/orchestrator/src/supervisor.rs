//! The life of a tool's process: start, readiness, supervision with restarts,
//! and the stop sequence.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use globset::GlobSet;
use parking_lot::{Mutex, RwLock};
use tokio::sync::{Notify, broadcast, oneshot};
use tokio::task::JoinHandle;

use crate::definition::DxToolDefinition;
use crate::error::{OrchestratorError, Result};
use crate::logs::{ToolLog, capture};
use crate::orchestrator::OrchestratorConfig;
use crate::spawn::{
    ShimChild, ShimHandle, SpawnSpec, ToolProcess, describe_exit, exit_of, kill_all_signal,
    resolve_binary, spawn_tool,
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
    pub shut_down: AtomicBool,
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
    /// Dependencies of a registered tool (empty when unknown).
    pub fn deps_of(&self, name: &str) -> Vec<String> {
        self.tools
            .get(name)
            .map(|e| e.def.dependencies.clone())
            .unwrap_or_default()
    }
}

/// One registered tool. Re-registration replaces the entry (the old one is retired).
pub(crate) struct ToolEntry {
    pub def: DxToolDefinition,
    pub seq: u64,
    pub stop_signal: libc::c_int,
    pub watch: Option<GlobSet>,
    pub log: Arc<ToolLog>,
    pub state: Mutex<RunState>,
    /// Woken on every status change.
    pub changed: Notify,
    /// Wakes the supervisor when `stop_requested` is set.
    pub stop_notify: Notify,
    /// Serialises explicit starts and stops of this tool.
    pub start_lock: tokio::sync::Mutex<()>,
}

/// Mutable state of a tool.
#[derive(Default)]
pub(crate) struct RunState {
    pub status: Option<ToolStatus>,
    pub pid: Option<u32>,
    pub restarts: u32,
    pub last_exit: Option<ExitStatus>,
    pub last_error: Option<String>,
    pub retired: bool,
    pub stop_requested: bool,
    pub shim: Option<Arc<ShimHandle>>,
    /// Present while a supervisor owns a process (running or restarting).
    pub supervisor: Option<JoinHandle<()>>,
}

impl RunState {
    pub fn status(&self) -> ToolStatus {
        self.status.unwrap_or(ToolStatus::Stopped)
    }
}

/// Running or healthy: nothing to start.
pub(crate) fn is_up(status: ToolStatus) -> bool {
    matches!(status, ToolStatus::Running(_) | ToolStatus::Healthy)
}

impl Inner {
    /// Sets the status, publishing an event and waking waiters when it changes.
    pub fn set_status(
        &self,
        name: &str,
        entry: &ToolEntry,
        st: &mut RunState,
        new: ToolStatus,
        reason: Option<String>,
    ) {
        let old = st.status();
        if old == new {
            return;
        }
        st.status = Some(new);
        let _ = self.events.send(ToolEvent {
            tool: name.to_owned(),
            old,
            new,
            pid: st.pid,
            reason,
        });
        entry.changed.notify_waiters();
    }
}

/// Outcome of waiting for readiness.
enum Readiness {
    Ready,
    Failed(String),
    Exited(ExitStatus),
    StopRequested,
}

/// Resolves and spawns the tool. Its output waits in the pipes until
/// [`after_spawn`] runs on a runtime thread.
fn begin_run(inner: &Inner, entry: &ToolEntry) -> Result<ToolProcess> {
    let def = &entry.def;
    let root = &inner.config.root;
    let program = resolve_binary(&def.name, &def.binary_path, root)?;
    let cwd = def
        .cwd
        .as_ref()
        .map_or_else(|| root.clone(), |c| root.join(c));
    let spec = SpawnSpec {
        tool: &def.name,
        program: &program,
        args: &def.args,
        cwd: &cwd,
        env: &def.env,
        leftover_grace_ms: def.stop_timeout_ms,
    };
    let proc = spawn_tool(&spec, &inner.config.runtime, &inner.spawner)?;
    if inner.shut_down.load(Ordering::SeqCst) {
        proc.shim.signal(kill_all_signal());
        return Err(OrchestratorError::ShutDown);
    }
    Ok(proc)
}

/// Runtime-side follow-up of a spawn, kept off the spawning thread: wires
/// the tool's output into its log and has the spawner park the next pair.
fn after_spawn(inner: &Inner, entry: &ToolEntry, proc: &mut ToolProcess) {
    let pipes = [
        ("stdout", proc.child.stdout.take()),
        ("stderr", proc.child.stderr.take()),
    ];
    for (stream, fd) in pipes {
        if let Some(fd) = fd {
            inner.config.runtime.spawn(capture(
                fd,
                stream,
                entry.log.clone(),
                inner.log_tx.clone(),
            ));
        }
    }
    inner.spawner.refill(&inner.config.runtime);
}

/// Whether a stop was really asked for (a `Notify` permit can be stale).
fn stop_asked(entry: &ToolEntry) -> bool {
    entry.state.lock().stop_requested
}

async fn wait_ready(inner: &Inner, entry: &ToolEntry, proc: &mut ToolProcess) -> Readiness {
    let def = &entry.def;
    let Some(check) = &def.health else {
        return Readiness::Ready;
    };
    let interval = Duration::from_millis(def.health_interval_ms);
    let deadline = Instant::now() + Duration::from_millis(def.startup_timeout_ms);
    let per_check = (interval * 2).clamp(Duration::from_millis(200), Duration::from_secs(5));
    let cwd = def
        .cwd
        .as_ref()
        .map_or_else(|| inner.config.root.clone(), |c| inner.config.root.join(c));
    loop {
        if let Ok(Some(status)) = proc.child.try_wait() {
            return Readiness::Exited(exit_of(status));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let last = match health::check(
            check,
            &cwd,
            per_check.min(left.max(Duration::from_millis(1))),
        )
        .await
        {
            Ok(()) => return Readiness::Ready,
            Err(why) => why,
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Readiness::Failed(format!(
                "health check did not pass within startup_timeout_ms = {}: {last}",
                def.startup_timeout_ms
            ));
        }
        tokio::select! {
            _ = tokio::time::sleep(interval.min(left)) => {}
            status = proc.child.wait() => {
                return match status {
                    Ok(s) => Readiness::Exited(exit_of(s)),
                    Err(e) => Readiness::Failed(format!("lost track of the process: {e}")),
                };
            }
            _ = entry.stop_notify.notified() => {
                if stop_asked(entry) {
                    return Readiness::StopRequested;
                }
            }
        }
    }
}

/// The stop sequence: `stop_signal` to the tree (through the shim), then
/// SIGKILL to the tree after `stop_timeout_ms`, then SIGKILL to the shim.
async fn terminate(inner: &Inner, entry: &ToolEntry, proc: &mut ToolProcess) -> ExitStatus {
    async fn wait(
        limit: Duration,
        child: &mut ShimChild,
    ) -> std::result::Result<std::io::Result<std::process::ExitStatus>, tokio::time::error::Elapsed>
    {
        tokio::time::timeout(limit, child.wait()).await
    }
    let stop_timeout = Duration::from_millis(entry.def.stop_timeout_ms);
    if inner.shut_down.load(Ordering::SeqCst) {
        // `shutdown_blocking` sends the stop signal and escalates after the
        // tool's grace period; only reap here, or the grace would be cut short.
        if let Ok(done) = wait(stop_timeout + KILL_ALL_GRACE * 2, &mut proc.child).await {
            return done.map(exit_of).unwrap_or(ExitStatus::Code(-1));
        }
    } else {
        let first = if entry.stop_signal == libc::SIGKILL {
            kill_all_signal()
        } else {
            entry.stop_signal
        };
        proc.shim.signal(first);
        if let Ok(done) = wait(stop_timeout, &mut proc.child).await {
            return done.map(exit_of).unwrap_or(ExitStatus::Code(-1));
        }
    }
    proc.shim.signal(kill_all_signal());
    if let Ok(done) = wait(KILL_ALL_GRACE, &mut proc.child).await {
        return done.map(exit_of).unwrap_or(ExitStatus::Code(-1));
    }
    proc.shim.signal(libc::SIGKILL);
    proc.child
        .wait()
        .await
        .map(exit_of)
        .unwrap_or(ExitStatus::Code(-1))
}

/// Ends a supervision: final status and cleared run fields, atomically.
fn finish(inner: &Inner, entry: &ToolEntry, status: ToolStatus, reason: String, error: bool) {
    let mut st = entry.state.lock();
    st.pid = None;
    st.shim = None;
    st.supervisor = None;
    if error {
        st.last_error = Some(reason.clone());
    }
    let unchanged = st.status() == status;
    inner.set_status(&entry.def.name, entry, &mut st, status, Some(reason));
    if unchanged {
        // `start_one` also waits for the supervisor to be gone, which is a
        // change even when the status is not (`shutdown_blocking` already set
        // Stopped); `set_status` only wakes on a status change.
        entry.changed.notify_waiters();
    }
}

fn ready_status(entry: &ToolEntry, pid: u32) -> ToolStatus {
    if entry.def.health.is_some() {
        ToolStatus::Healthy
    } else {
        ToolStatus::Running(pid)
    }
}

/// Starts one tool whose dependencies are up. Idempotent; waits for a
/// restart in progress instead of spawning a second process.
/// `Ok(None)` means the entry was replaced by a re-registration: look it up again.
pub(crate) async fn start_one(
    inner: &Arc<Inner>,
    entry: &Arc<ToolEntry>,
) -> Result<Option<ToolStatus>> {
    let name = entry.def.name.as_str();
    let _guard = entry.start_lock.lock().await;
    loop {
        let notified = entry.changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        {
            let mut st = entry.state.lock();
            if st.retired {
                return Ok(None);
            }
            if is_up(st.status()) {
                return Ok(Some(st.status()));
            }
            // Checked before waiting on a supervisor: after a shutdown
            // nothing may start, and nothing is worth waiting for.
            if inner.shut_down.load(Ordering::SeqCst) {
                return Err(OrchestratorError::ShutDown);
            }
            if st.supervisor.is_none() {
                st.restarts = 0;
                st.last_error = None;
                st.stop_requested = false;
                inner.set_status(
                    name,
                    entry,
                    &mut st,
                    ToolStatus::Starting,
                    Some("starting".into()),
                );
                break;
            }
        }
        // A supervisor is restarting the tool: wait for its outcome.
        notified.await;
    }
    let mut proc = match begin_run(inner, entry) {
        Ok(mut p) => {
            if entry.def.health.is_some() {
                // On a runtime thread: the output must flow while we wait.
                after_spawn(inner, entry, &mut p);
            }
            p
        }
        Err(OrchestratorError::ShutDown) => {
            finish(inner, entry, ToolStatus::Stopped, "shut down".into(), false);
            return Err(OrchestratorError::ShutDown);
        }
        Err(e) => {
            finish(inner, entry, ToolStatus::Degraded, e.to_string(), true);
            return Err(e);
        }
    };
    {
        let mut st = entry.state.lock();
        st.pid = Some(proc.tool_pid);
        st.shim = Some(proc.shim.clone());
    }
    let failure = match wait_ready(inner, entry, &mut proc).await {
        Readiness::Ready => None,
        Readiness::Failed(reason) => {
            let exit = terminate(inner, entry, &mut proc).await;
            entry.state.lock().last_exit = Some(exit);
            Some(reason)
        }
        Readiness::Exited(exit) => {
            entry.state.lock().last_exit = Some(exit);
            Some(format!("{} while starting", describe_exit(exit)))
        }
        Readiness::StopRequested => {
            terminate(inner, entry, &mut proc).await;
            finish(
                inner,
                entry,
                ToolStatus::Stopped,
                "stopped while starting".into(),
                false,
            );
            return Err(OrchestratorError::ShutDown);
        }
    };
    if let Some(reason) = failure {
        if inner.shut_down.load(Ordering::SeqCst) {
            finish(
                inner,
                entry,
                ToolStatus::Stopped,
                "shut down while starting".into(),
                false,
            );
            return Err(OrchestratorError::ShutDown);
        }
        finish(inner, entry, ToolStatus::Degraded, reason.clone(), true);
        return Err(OrchestratorError::StartupFailed {
            tool: name.to_owned(),
            reason,
        });
    }
    let (go_tx, go_rx) = oneshot::channel();
    let status = ready_status(entry, proc.tool_pid);
    {
        let mut st = entry.state.lock();
        let task = inner
            .config
            .runtime
            .spawn(supervise(inner.clone(), entry.clone(), proc, go_rx));
        st.supervisor = Some(task);
        let reason = format!("started, pid {}", st.pid.unwrap_or(0));
        inner.set_status(name, entry, &mut st, status, Some(reason));
    }
    let _ = go_tx.send(());
    Ok(Some(status))
}

/// Watches one run: stop requests, exits, restarts with backoff.
async fn supervise(
    inner: Arc<Inner>,
    entry: Arc<ToolEntry>,
    mut proc: ToolProcess,
    go: oneshot::Receiver<()>,
) {
    after_spawn(&inner, &entry, &mut proc);
    let _ = go.await;
    let def = &entry.def;
    let name = def.name.as_str();
    loop {
        // Running: wait for an exit or a stop request.
        let mut exit = loop {
            tokio::select! {
                status = proc.child.wait() => break status.map(exit_of).unwrap_or(ExitStatus::Code(-1)),
                _ = entry.stop_notify.notified() => {
                    if stop_asked(&entry) {
                        let exit = terminate(&inner, &entry, &mut proc).await;
                        entry.state.lock().last_exit = Some(exit);
                        finish(&inner, &entry, ToolStatus::Stopped, "stopped".into(), false);
                        return;
                    }
                }
            }
        };
        // Exited on its own: restart policy, possibly several times if restarts die while starting.
        loop {
            entry.state.lock().last_exit = Some(exit);
            let what = describe_exit(exit);
            if stop_asked(&entry) || inner.shut_down.load(Ordering::SeqCst) {
                finish(
                    &inner,
                    &entry,
                    ToolStatus::Stopped,
                    format!("stopped ({what})"),
                    false,
                );
                return;
            }
            let failed = exit != ExitStatus::Code(0);
            let wanted = match def.restart {
                crate::RestartPolicy::Never => false,
                crate::RestartPolicy::OnFailure => failed,
                crate::RestartPolicy::Always => true,
            };
            if !wanted {
                let status = if failed {
                    ToolStatus::Degraded
                } else {
                    ToolStatus::Stopped
                };
                finish(&inner, &entry, status, what, failed);
                return;
            }
            let restarts = {
                let mut st = entry.state.lock();
                if st.restarts >= def.max_restarts {
                    drop(st);
                    let reason = format!(
                        "{what}; gave up after max_restarts = {} restarts",
                        def.max_restarts
                    );
                    finish(&inner, &entry, ToolStatus::Degraded, reason, true);
                    return;
                }
                st.restarts += 1;
                st.pid = None;
                st.shim = None;
                let reason = format!("{what}; restart {}/{}", st.restarts, def.max_restarts);
                inner.set_status(name, &entry, &mut st, ToolStatus::Starting, Some(reason));
                st.restarts
            };
            let backoff = BACKOFF_START
                .saturating_mul(1u32 << (restarts - 1).min(20))
                .min(BACKOFF_CAP);
            let wake = Instant::now() + backoff;
            while Instant::now() < wake {
                tokio::select! {
                    _ = tokio::time::sleep_until(wake.into()) => {}
                    _ = entry.stop_notify.notified() => {
                        if stop_asked(&entry) {
                            finish(&inner, &entry, ToolStatus::Stopped, "stopped while waiting to restart".into(), false);
                            return;
                        }
                    }
                }
            }
            proc = match begin_run(&inner, &entry) {
                Ok(mut p) => {
                    after_spawn(&inner, &entry, &mut p);
                    p
                }
                Err(e) => {
                    finish(&inner, &entry, ToolStatus::Degraded, e.to_string(), true);
                    return;
                }
            };
            {
                let mut st = entry.state.lock();
                st.pid = Some(proc.tool_pid);
                st.shim = Some(proc.shim.clone());
            }
            match wait_ready(&inner, &entry, &mut proc).await {
                Readiness::Ready => {
                    let mut st = entry.state.lock();
                    let reason = format!("restarted, pid {}", proc.tool_pid);
                    inner.set_status(
                        name,
                        &entry,
                        &mut st,
                        ready_status(&entry, proc.tool_pid),
                        Some(reason),
                    );
                    break;
                }
                Readiness::Exited(e) => exit = e,
                Readiness::Failed(reason) => {
                    let exit = terminate(&inner, &entry, &mut proc).await;
                    entry.state.lock().last_exit = Some(exit);
                    finish(&inner, &entry, ToolStatus::Degraded, reason, true);
                    return;
                }
                Readiness::StopRequested => {
                    let exit = terminate(&inner, &entry, &mut proc).await;
                    entry.state.lock().last_exit = Some(exit);
                    finish(
                        &inner,
                        &entry,
                        ToolStatus::Stopped,
                        "stopped while restarting".into(),
                        false,
                    );
                    return;
                }
            }
        }
    }
}

/// Stops one tool (not its dependents); a no-op when it is not running.
pub(crate) async fn stop_one(inner: &Inner, entry: &ToolEntry) {
    let _guard = entry.start_lock.lock().await;
    let task = {
        let mut st = entry.state.lock();
        match st.supervisor.take() {
            Some(task) => {
                st.stop_requested = true;
                Some(task)
            }
            None => {
                // Not running. A Degraded tool that is explicitly stopped becomes Stopped.
                if st.status() == ToolStatus::Degraded {
                    inner.set_status(
                        &entry.def.name,
                        entry,
                        &mut st,
                        ToolStatus::Stopped,
                        Some("stopped".into()),
                    );
                }
                None
            }
        }
    };
    if let Some(task) = task {
        entry.stop_notify.notify_one();
        let _ = task.await;
    }
}

/// Blocking stop of one tool with plain syscalls (no runtime needed).
pub(crate) fn stop_blocking(inner: &Inner, entry: &ToolEntry) {
    let shim = {
        let mut st = entry.state.lock();
        st.stop_requested = true;
        st.shim.clone()
    };
    entry.stop_notify.notify_one();
    if let Some(shim) = shim {
        let first = if entry.stop_signal == libc::SIGKILL {
            kill_all_signal()
        } else {
            entry.stop_signal
        };
        if shim.signal(first)
            && !shim.wait_exit_blocking(Duration::from_millis(entry.def.stop_timeout_ms))
        {
            shim.signal(kill_all_signal());
            if !shim.wait_exit_blocking(KILL_ALL_GRACE) {
                shim.signal(libc::SIGKILL);
                shim.wait_exit_blocking(Duration::from_secs(1));
            }
        }
    }
    let mut st = entry.state.lock();
    st.pid = None;
    st.shim = None;
    inner.set_status(
        &entry.def.name,
        entry,
        &mut st,
        ToolStatus::Stopped,
        Some("shut down".into()),
    );
}
