//! The `Orchestrator` handle: registration, start, status, stop, logs, events.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::RwLock;
use tokio::io::AsyncReadExt;
use tokio::sync::broadcast;

use crate::graph::{Node, check_definition, dependents_in_order, start_order};
use crate::lifecycle::{Life, Tool, control::panic_message, is_up};
use crate::logs::ToolLog;
use crate::spawn::{exit_of, kill_all_signal, receiver};
use crate::starting::{dependency_order, start_in_order, waits_for_completion};
use crate::supervisor::{
    Inner, Registry, ToolEntry, policy_of, spawn_prepared, stop_blocking, stop_one,
};
use crate::{
    DxToolDefinition, ExecOutput, ExitStatus, LogLine, OrchestratorError, Result, ToolEvent,
    ToolState, ToolStatus,
};

pub use crate::watch::WatchHandle;

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
    /// The project's dotenv file (relative to `root`), read for every tool
    /// as it starts, below the tool's own `env_file` and `env`.
    pub env_file: Option<String>,
}

/// Starts, supervises and stops tools. Cheap to clone; all clones share state.
///
/// See the [crate docs](crate) for the theory of operation.
#[derive(Clone)]
pub struct Orchestrator {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Orchestrator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Orchestrator")
            .field("root", &self.inner.config.root)
            .field("tools", &self.tool_names())
            .finish()
    }
}

/// Kills an `execute_tool` run whose caller went away.
struct KillOnDrop(Option<Arc<crate::spawn::ShimHandle>>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(shim) = self.0.take() {
            shim.signal(kill_all_signal());
        }
    }
}

impl Orchestrator {
    /// Creates an orchestrator with no tools.
    pub fn new(config: OrchestratorConfig) -> Self {
        let (events, _) = broadcast::channel(1024);
        let (log_tx, _) = broadcast::channel(4096);
        Self {
            inner: Arc::new(Inner {
                config,
                registry: RwLock::new(Registry::default()),
                events,
                log_tx,
                shut_down: Arc::new(AtomicBool::new(false)),
                spawner: Default::default(),
            }),
        }
    }

    /// The configuration this orchestrator was created with.
    pub fn config(&self) -> &OrchestratorConfig {
        &self.inner.config
    }

    /// Registers one tool; its dependencies must already be registered.
    ///
    /// Re-registering a stopped (or degraded) tool replaces its definition;
    /// re-registering a running tool is [`OrchestratorError::ToolRunning`].
    pub fn register_tool(&self, def: DxToolDefinition) -> Result<()> {
        self.register_tools(vec![def])
    }

    /// Registers a set of tools at once, validating dependencies and cycles
    /// over the whole set. On error nothing is registered.
    pub fn register_tools(&self, defs: Vec<DxToolDefinition>) -> Result<()> {
        let mut checked = Vec::with_capacity(defs.len());
        let mut names = HashSet::new();
        for def in &defs {
            let c = check_definition(def)?;
            if !names.insert(def.name.as_str()) {
                return Err(OrchestratorError::InvalidDefinition {
                    tool: def.name.clone(),
                    reason: "defined twice in the same registration".into(),
                });
            }
            checked.push(c);
        }
        let mut reg = self.inner.registry.write();
        for def in &defs {
            if let Some(old) = reg.tools.get(&def.name)
                && !old.tool.life().is_idle()
            {
                return Err(OrchestratorError::ToolRunning {
                    tool: def.name.clone(),
                });
            }
        }
        let mut seqs = Vec::with_capacity(defs.len());
        let mut next_seq = reg.next_seq;
        for def in &defs {
            seqs.push(reg.tools.get(&def.name).map(|e| e.seq).unwrap_or_else(|| {
                next_seq += 1;
                next_seq
            }));
        }
        let order = {
            let mut nodes: Vec<Node<'_>> = reg
                .tools
                .values()
                .filter(|e| !names.contains(e.def.name.as_str()))
                .map(|e| Node {
                    name: &e.def.name,
                    deps: &e.def.dependencies,
                    priority: e.def.priority,
                    seq: e.seq,
                })
                .collect();
            nodes.extend(defs.iter().zip(&seqs).map(|(d, &seq)| Node {
                name: &d.name,
                deps: &d.dependencies,
                priority: d.priority,
                seq,
            }));
            nodes.sort_by_key(|n| n.seq);
            start_order(&nodes)?
        };
        for def in &defs {
            let lookup = |dep: &str| {
                defs.iter()
                    .find(|d| d.name == dep)
                    .or_else(|| reg.tools.get(dep).map(|e| &e.def))
            };
            crate::starting::check_conditions(def, lookup)?;
        }
        // Validated: commit.
        let cfg = &self.inner.config;
        for ((def, c), seq) in defs.into_iter().zip(checked).zip(seqs) {
            if let Some(old) = reg.tools.get(&def.name) {
                old.tool.set(Life::Retired, "registered again", |_| {});
            }
            let log = reg
                .logs
                .entry(def.name.clone())
                .or_insert_with(|| {
                    Arc::new(ToolLog::new(
                        &def.name,
                        &cfg.log_dir,
                        cfg.log_max_bytes,
                        cfg.recent_lines,
                    ))
                })
                .clone();
            let tool = Arc::new(Tool::new(
                def.name.clone(),
                policy_of(&def, c.stop_signal),
                self.inner.events.clone(),
                self.inner.shut_down.clone(),
            ));
            let entry = Arc::new(ToolEntry {
                seq,
                watch: c.watch,
                log,
                tool,
                def,
            });
            reg.tools.insert(entry.def.name.clone(), entry);
        }
        reg.next_seq = next_seq;
        reg.order = order;
        Ok(())
    }

    /// Parks a shim pair for the next start now, on a runtime blocking
    /// thread, so that even the first start is a wake-up and an `exec`
    /// (every later start parks the next pair by itself). Call it when a
    /// start is coming; until then an orchestrator makes no process. Does
    /// nothing after shutdown or when a pair is ready or being made.
    pub fn prepare_start(&self) {
        if !self.inner.shut_down.load(Ordering::Acquire) {
            self.inner.spawner.refill(&self.inner.config.runtime);
        }
    }

    /// The registered definition of a tool (identical to what was registered).
    pub fn definition(&self, name: &str) -> Result<DxToolDefinition> {
        Ok(self.entry(name)?.def.clone())
    }

    /// Names of registered tools in start order (topological, priority breaking ties).
    pub fn tool_names(&self) -> Vec<String> {
        self.inner.registry.read().order.clone()
    }

    pub(crate) fn entry(&self, name: &str) -> Result<Arc<ToolEntry>> {
        self.inner.registry.read().entry(name)
    }

    /// Starts the tool and its dependency closure; idempotent.
    ///
    /// Dependencies start first (topological order, priority breaking ties),
    /// each waited on until `Healthy` (with a health check) or `Running`.
    /// On a running tool this changes nothing and returns at once. Concurrent
    /// calls spawn exactly one process. This future can be polled by any
    /// executor. Dropping it never leaves a tool half-started: a start that
    /// waits for a health check runs as a task on the configured runtime and
    /// goes on without the caller; otherwise the tool is spawned on the
    /// polling thread, which blocks about as long as a
    /// `std::process::Command::spawn` does (until the tool has exec'd).
    pub async fn ensure_running(&self, name: &str) -> Result<ToolStatus> {
        // Fast path: a read lock and a status check, no allocation.
        {
            let reg = self.inner.registry.read();
            let Some(entry) = reg.tools.get(name) else {
                return Err(OrchestratorError::UnknownTool {
                    name: name.to_owned(),
                });
            };
            let status = entry.tool.status();
            if is_up(status) {
                return Ok(status);
            }
        }
        let order = dependency_order(&self.inner, name)?;
        if self.starts_without_waiting(&order) {
            // No await below suspends between a spawn and the hand-over of
            // the process to its supervisor task, so this is cancel-safe, and
            // it saves the hop to a runtime thread and back.
            return start_in_order(&self.inner, name, &order, true)
                .await?
                .ok_or(OrchestratorError::ShutDown);
        }
        let inner = self.inner.clone();
        let name = name.to_owned();
        self.on_runtime(&name.clone(), async move {
            start_in_order(&inner, &name, &order, true)
                .await?
                .ok_or(OrchestratorError::ShutDown)
        })
        .await
    }

    /// Whether starting `order` needs no health check: no tool in it that is
    /// not up yet has one.
    fn starts_without_waiting(&self, order: &[String]) -> bool {
        if waits_for_completion(&self.inner, order) {
            return false;
        }
        let reg = self.inner.registry.read();
        order.iter().all(|n| {
            reg.tools
                .get(n)
                .is_some_and(|e| e.def.health.is_none() || is_up(e.tool.status()))
        })
    }

    /// Runs `fut` as a task on the configured runtime, so that it goes on if
    /// the caller stops polling.
    async fn on_runtime<T: Send + 'static>(
        &self,
        tool: &str,
        fut: impl std::future::Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        let joined = self.inner.config.runtime.spawn(fut).await;
        joined.unwrap_or_else(|e| Err(join_error(tool, e)))
    }

    /// Like [`on_runtime`](Self::on_runtime), but dropping the returned
    /// future aborts the task (whose own drop guards then clean up).
    async fn on_runtime_abortable<T: Send + 'static>(
        &self,
        tool: &str,
        fut: impl std::future::Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);
        impl<T> Drop for AbortOnDrop<T> {
            fn drop(&mut self) {
                self.0.abort();
            }
        }
        let mut task = AbortOnDrop(self.inner.config.runtime.spawn(fut));
        let joined = (&mut task.0).await;
        joined.unwrap_or_else(|e| Err(join_error(tool, e)))
    }

    /// Starts every registered tool, in start order.
    pub async fn ensure_all_running(&self) -> Result<()> {
        for name in self.tool_names() {
            self.ensure_running(&name).await?;
        }
        Ok(())
    }

    /// Ensures dependencies, then runs the tool to completion with `args`
    /// (instead of the definition's args). A non-zero exit is a result.
    /// Dropping the future kills the run's whole process tree.
    pub async fn execute_tool(&self, name: &str, args: &[String]) -> Result<ExecOutput> {
        let entry = self.entry(name)?;
        let inner = self.inner.clone();
        let args = args.to_vec();
        let name = name.to_owned();
        self.on_runtime_abortable(&name.clone(), async move {
            let deps = dependency_order(&inner, &name)?;
            start_in_order(&inner, &name, &deps, false).await?;
            let started = Instant::now();
            let (mut proc, program) = spawn_prepared(&inner, &entry.def, &args)?;
            let mut guard = KillOnDrop(Some(proc.shim.clone()));
            inner.spawner.refill(&inner.config.runtime);
            let read_all = |pipe: Option<std::os::fd::OwnedFd>| async move {
                let mut buf = Vec::new();
                if let Some(Ok(mut s)) = pipe.map(receiver) {
                    let _ = s.read_to_end(&mut buf).await;
                }
                buf
            };
            let out = read_all(proc.child.stdout.take());
            let err = read_all(proc.child.stderr.take());
            let (stdout, stderr) = tokio::join!(out, err);
            let status = proc
                .child
                .wait()
                .await
                .map_err(|source| OrchestratorError::Io {
                    path: program.clone(),
                    source,
                })?;
            guard.0 = None;
            let (exit_code, signal) = match exit_of(status) {
                ExitStatus::Code(c) => (Some(c), None),
                ExitStatus::Signal(s) => (None, Some(s)),
            };
            Ok(ExecOutput {
                exit_code,
                signal,
                stdout,
                stderr,
                duration_ms: started.elapsed().as_millis() as u64,
            })
        })
        .await
    }

    /// Current status.
    pub fn status(&self, name: &str) -> Result<ToolStatus> {
        let reg = self.inner.registry.read();
        let entry = reg
            .tools
            .get(name)
            .ok_or_else(|| OrchestratorError::UnknownTool {
                name: name.to_owned(),
            })?;
        Ok(entry.tool.status())
    }

    /// Current detailed state.
    pub fn state(&self, name: &str) -> Result<ToolState> {
        Ok(state_of(&*self.entry(name)?))
    }

    /// States of all tools, in start order.
    pub fn states(&self) -> Vec<ToolState> {
        let reg = self.inner.registry.read();
        reg.order
            .iter()
            .filter_map(|n| reg.tools.get(n))
            .map(|e| state_of(e))
            .collect()
    }

    /// Stops the tool and (first) its running dependents, in reverse start
    /// order. Stopping a tool that is not running is a no-op (`Ok`); a
    /// `Degraded` tool becomes `Stopped`.
    pub async fn stop(&self, name: &str) -> Result<()> {
        let (dependents, entry) = {
            let reg = self.inner.registry.read();
            let entry =
                reg.tools
                    .get(name)
                    .cloned()
                    .ok_or_else(|| OrchestratorError::UnknownTool {
                        name: name.to_owned(),
                    })?;
            let deps: Vec<Arc<ToolEntry>> =
                dependents_in_order(name, &reg.order, |n| reg.deps_of(n))
                    .iter()
                    .rev()
                    .filter_map(|n| reg.tools.get(n).cloned())
                    .collect();
            (deps, entry)
        };
        for dep in dependents {
            stop_one(&dep).await?;
        }
        stop_one(&entry).await
    }

    /// Stops and starts the tool again; its dependents that were running are
    /// stopped first and started again afterwards.
    pub async fn restart(&self, name: &str) -> Result<ToolStatus> {
        let running_dependents: Vec<String> = {
            let reg = self.inner.registry.read();
            dependents_in_order(name, &reg.order, |n| reg.deps_of(n))
                .into_iter()
                .filter(|n| reg.tools.get(n).is_some_and(|e| is_up(e.tool.status())))
                .collect()
        };
        self.stop(name).await?;
        let status = self.ensure_running(name).await?;
        for dep in running_dependents {
            self.ensure_running(&dep).await?;
        }
        Ok(status)
    }

    /// Stops every tool, dependents first (reverse start order).
    pub async fn stop_all(&self) -> Result<()> {
        let entries = self.entries_reverse();
        // Every tool is stopped even when one supervisor failed; the first
        // failure is reported.
        let mut first = Ok(());
        for entry in entries {
            let result = stop_one(&entry).await;
            if first.is_ok() {
                first = result;
            }
        }
        first
    }

    fn entries_reverse(&self) -> Vec<Arc<ToolEntry>> {
        let reg = self.inner.registry.read();
        reg.order
            .iter()
            .rev()
            .filter_map(|n| reg.tools.get(n).cloned())
            .collect()
    }

    /// Synchronous stop of everything, in reverse start order (used from
    /// `Drop`). Uses plain blocking syscalls, so it works from any thread,
    /// inside or outside a runtime, without deadlocking. Each tool takes at
    /// most its `stop_timeout_ms` plus a few seconds. Afterwards the
    /// orchestrator refuses to start tools ([`OrchestratorError::ShutDown`]).
    pub fn shutdown_blocking(&self) {
        self.inner.shut_down.store(true, Ordering::SeqCst);
        self.inner.spawner.close();
        for entry in self.entries_reverse() {
            stop_blocking(&entry);
        }
    }

    /// The last `n` captured lines of a tool's output, oldest first.
    pub fn recent_logs(&self, name: &str, n: usize) -> Result<Vec<LogLine>> {
        Ok(self.entry(name)?.log.recent(n))
    }

    /// Path of a tool's log file (`<log_dir>/<tool>.log`).
    pub fn log_path(&self, name: &str) -> Result<PathBuf> {
        let entry = self.entry(name)?;
        Ok(self
            .inner
            .config
            .log_dir
            .join(format!("{}.log", entry.def.name)))
    }

    /// Subscribes to status changes (one event per change).
    pub fn subscribe(&self) -> broadcast::Receiver<ToolEvent> {
        self.inner.events.subscribe()
    }

    /// Subscribes to captured output lines of every tool, as `(tool, line)`.
    pub fn subscribe_logs(&self) -> broadcast::Receiver<(String, LogLine)> {
        self.inner.log_tx.subscribe()
    }

    /// Starts watch mode with the given debounce; see [`WatchHandle`].
    ///
    /// Returns once every directory under the root is watched (the kernel
    /// watches are added before this returns), so a change made after it
    /// returns is seen: callers and tests need not wait for the watcher.
    pub fn watch(&self, debounce: Duration) -> Result<WatchHandle> {
        crate::watch::start(self.clone(), debounce)
    }
}

fn state_of(entry: &ToolEntry) -> ToolState {
    let rec = entry.tool.state.borrow();
    ToolState {
        name: entry.def.name.clone(),
        status: rec.life.status(),
        pid: rec.pid,
        restarts: rec.restarts,
        last_exit: rec.last_exit,
        last_error: rec.last_error.clone(),
    }
}

/// A task that did not finish: a panic is an internal error with its
/// message; a cancellation means the runtime is shutting down.
fn join_error(tool: &str, e: tokio::task::JoinError) -> OrchestratorError {
    match e.try_into_panic() {
        Ok(payload) => OrchestratorError::Internal {
            tool: tool.to_owned(),
            message: panic_message(payload.as_ref()),
        },
        Err(_) => OrchestratorError::ShutDown,
    }
}
