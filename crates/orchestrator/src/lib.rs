//! Sovereign Orchestrator: starts developer tools in dependency order, waits
//! until they are ready, supervises them and stops whole process trees.
//!
//! Part of dxforge; hosts normally use it through `dxforge::DxForge`.
//!
//! # Theory of Operation
//!
//! ## States
//!
//! Every registered tool is in exactly one [`ToolStatus`]:
//!
//! ```text
//! Stopped ──ensure_running──▶ Starting ──ready──▶ Running(pid)   (no health check)
//!                                │       └──────▶ Healthy        (health check passed)
//!                                └─spawn/health failure, early exit──▶ Degraded
//! Running/Healthy ──exit──▶ Starting (restart n/max, after backoff) ──▶ Running/Healthy
//!                      └──▶ Degraded (out of restarts, or a failure with restart = "never")
//!                      └──▶ Stopped  (exit code 0 with restart = "on-failure"/"never")
//! any ──stop──▶ Stopped
//! ```
//!
//! Without a health check a tool is ready as soon as it has been spawned; a
//! tool that then exits at once is handled as a crash (restart policy, then
//! `Degraded`). With a health check, an exit before the check passes is a
//! start failure (`Degraded` at once). `ensure_running` on a `Degraded` tool
//! starts it afresh (the restart counter resets).
//!
//! ## Spawning: the reaper shim
//!
//! A library lives inside someone else's process (Python, Node, a C program),
//! so it must not reap children it did not spawn (`waitpid(-1)`) nor make the
//! host a child subreaper. Yet PID 1 on the target machines does not reap
//! orphans, and a tool's grandchild may double-fork out of the tool's process
//! group. The orchestrator therefore puts a tiny *shim* process between
//! itself and each tool, without any extra binary: the tool is spawned with
//! `std`/tokio's `Command` plus a `pre_exec` hook that, in the forked child,
//! blocks all signals, calls `setsid()`, sets `PR_SET_PDEATHSIG` and
//! `PR_SET_CHILD_SUBREAPER` and forks again:
//!
//! * the grandchild becomes the tool: its own process group, default signal
//!   dispositions, an empty signal mask, `PDEATHSIG = SIGKILL`; it returns
//!   from the hook and std execs the binary (so exec errors still reach the
//!   caller through std's error pipe);
//! * the middle process is the shim: it writes the tool's PID into a pipe
//!   created before the spawn (that is the PID reported as `Running(pid)`),
//!   closes every descriptor >= 3 (so std sees the exec), and then loops:
//!   `waitpid(-1, WNOHANG)` reaps the tool and every orphan reparented to it;
//!   `sigtimedwait` receives signals. A stop signal is forwarded to the
//!   tool's process group and to every descendant that left it (found by
//!   scanning `/proc` with raw `getdents64`/`open`/`read` on stack buffers);
//!   a private real-time signal (`SIGRTMIN+4`, also its own parent-death
//!   signal) means "SIGKILL the whole tree". When the tool exits on its own,
//!   leftover descendants get SIGTERM, then SIGKILL after the tool's
//!   `stop_timeout_ms`. Once the tool has exited and no child is left, the
//!   shim exits with the tool's exit code, or re-raises the tool's fatal
//!   signal, so the library sees the tool's real exit status.
//!
//! The shim code runs after `fork` in a multi-threaded host, so it only makes
//! async-signal-safe calls: no allocation, no locks, no panics. The library
//! itself only ever waits for its own children (the shims, through tokio) and
//! holds a pidfd per shim, so signals never hit a recycled PID.
//!
//! ## Stop sequence
//!
//! `stop(name)` stops running dependents first (reverse start order), then
//! the tool: its `stop_signal` goes to the shim, which forwards it to the
//! whole tree; after `stop_timeout_ms` the library sends the kill-all signal;
//! if the shim is still there 5 s later it is SIGKILLed (the tool then dies by
//! its parent-death signal). No zombies are left: the shim reaps the tree and
//! the library reaps the shim. Stopping a tool that is not running is a no-op.
//!
//! ## Drop and shutdown
//!
//! Dropping an `Orchestrator` does nothing by itself (clones share the state
//! and supervision tasks keep it alive). Hosts call
//! [`Orchestrator::shutdown_blocking`] (dxforge's `DxForge` does so on drop),
//! which stops every tool with plain blocking syscalls. If the host process
//! dies, each shim gets its parent-death signal and kills its tree.
//!
//! ## Threading caveats
//!
//! * All work runs on the runtime given in [`OrchestratorConfig::runtime`];
//!   the async methods can be awaited from any executor.
//! * `PR_SET_PDEATHSIG` fires when the *thread* that spawned the shim exits.
//!   Spawns therefore happen on runtime worker threads, which live as long as
//!   the runtime: use a multi-thread runtime that outlives the orchestrator
//!   (a current-thread runtime driven by a short-lived thread would kill the
//!   tools when that thread ends).
//! * The library installs no signal handlers of its own; tokio's process
//!   support may register its `SIGCHLD` handling in the host.
//! * Linux only (pidfd, `PR_SET_CHILD_SUBREAPER`, `/proc`).
#![warn(missing_docs)]

mod definition;
mod error;
mod graph;
mod health;
mod logs;
mod shim;
mod spawn;
mod status;
mod supervisor;
mod sys;
mod watch;

pub use definition::{DxToolDefinition, HealthCheck, RestartPolicy};
pub use error::{OrchestratorError, Result};
pub use status::{ExecOutput, ExitStatus, LogLine, ToolEvent, ToolState, ToolStatus};

mod orchestrator;
pub use orchestrator::{Orchestrator, OrchestratorConfig, WatchHandle};

// The handle is shared across threads and language bindings.
const _: () = {
    const fn assert_send_sync_clone<T: Send + Sync + Clone>() {}
    assert_send_sync_clone::<Orchestrator>();
};
