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
//! ## The lifecycle state machine
//!
//! Internally (module `lifecycle`) a tool's state is one finer enum, of
//! which `ToolStatus` is a view: `Stopped`, `Spawning{attempt}`,
//! `Starting{attempt, pid}` (waiting for the health check),
//! `Running{pid}`, `Healthy{pid}`, `Backoff{until, restarts}`,
//! `Stopping{deadline, pid}` (shows the status it had), `Degraded{reason}`,
//! `Broken{message}` (an internal error, shown as `Degraded`) and `Retired`
//! (replaced by a re-registration). It lives with the restart counter and
//! the last exit in a `watch` channel: every transition goes through one
//! function that publishes the [`ToolEvent`] and wakes every waiter; the
//! visible status is mirrored in one atomic word, all that
//! `ensure_running`'s warm path reads besides the registry.
//!
//! A start is *claimed* (idle → `Spawning`) under the tool's start gate;
//! the claimant spawns the process on its own thread, then hands it to a
//! new *supervising task* on the runtime, with a typed control channel
//! (`Control::Stop`). That task alone owns the process: it waits for
//! readiness, then for an exit or a command, applies the restart policy
//! and backoff, and runs the stop escalation (stop signal → tree kill after
//! `stop_timeout_ms` → SIGKILL of the shim 5 s later). It ends in an idle
//! state (`Stopped`, `Degraded`), so a tool has a supervising task exactly
//! while it owns a process or waits to restart. The logic is written
//! against a child-process trait (spawn, wait, signal, pid) and a health
//! check, implemented by the shim below and by a scripted mock in the unit
//! tests. A panic in a supervising task is caught: the tool's tree is
//! killed, the tool is `Broken`, and the caller waiting for it (or the
//! `stop` during which it happened) gets [`OrchestratorError::Internal`]
//! with the panic message.
//!
//! A command health check runs in a process group of its own, SIGKILLed
//! whole when the check ends (exit, per-check timeout, or a stop of the
//! tool), so nothing it started outlives it.
//!
//! ## Spawning: the reaper shim
//!
//! A library lives inside someone else's process (Python, Node, a C program),
//! so it must not reap children it did not spawn (`waitpid(-1)`) nor make the
//! host a child subreaper. Yet PID 1 on the target machines does not reap
//! orphans, and a tool's grandchild may double-fork out of the tool's process
//! group. The orchestrator therefore puts a tiny *shim* process between
//! itself and each tool, without any extra binary and without copying the
//! host's memory:
//!
//! * the host creates the shim with `clone(CLONE_VM | CLONE_PIDFD)` on a
//!   stack of its own (every signal blocked around the call): a separate
//!   process that shares the host's memory, so no page tables are copied
//!   (a `fork` of a large host costs about 0.5 ms on the reference machine;
//!   this costs tens of microseconds). Its exit signal is 0, so a host that
//!   reaps with `waitpid(-1)` never takes it;
//! * the shim calls `setsid()` and `PR_SET_CHILD_SUBREAPER` and creates the
//!   tool the same way (`CLONE_VM`, the kernel writing the tool's PID into
//!   shared memory before the tool runs), then closes every descriptor it
//!   inherited except a pidfd of the host;
//! * the tool, on its own stack, does everything that does not depend on
//!   what it will run: joins its own process group, sets
//!   `PDEATHSIG = SIGKILL`, redirects stdio, closes every other descriptor
//!   (a tool inherits stdin, stdout and stderr only, like Python's
//!   `close_fds=True`), resets every signal disposition. Then it *parks* on
//!   a futex in shared memory until the host fills in the request (path,
//!   argv, envp, directory), changes directory, unblocks signals and
//!   `execve`s. A failure at any step is written into shared memory with its
//!   `errno`;
//! * each orchestrator keeps one such pair parked for its next cold start
//!   (`ps` shows `dxforge-shim` and `dxforge-parked`): a cold start fills in
//!   the request and wakes the parked tool, so its critical path holds one
//!   wake-up and the `exec`, not two process creations. After each start
//!   (and on [`Orchestrator::prepare_start`], so that a first start finds one
//!   too) a runtime blocking thread parks the next pair. A start while none
//!   is parked yet makes its pair on the spot, request filled in before the
//!   clone. A parked pair holds no descriptor of the host but
//!   its own pipes and the host's pidfd; it dies with the host and is
//!   cancelled by [`Orchestrator::shutdown_blocking`] or when the
//!   orchestrator is dropped. A child of a `fork`ed host never uses its
//!   parent's pair;
//! * the host waits on an *exec gate*: the tool is created with
//!   `CLONE_CHILD_CLEARTID`, so the kernel zeroes a word in shared memory
//!   and wakes its futex when the tool's `exec` has passed the point of no
//!   return (it lets go of the host's memory), or when the tool exits. That
//!   is the moment `vfork` resumes its parent. So `ensure_running` returns,
//!   like `std`'s `spawn`, once the exec is committed, with exec errors
//!   reported (`BinaryNotFound`, `NotExecutable`, `SpawnFailed` naming the
//!   binary or the directory). The caller spins on the gate, yielding the
//!   CPU, for up to 1 ms, then sleeps on its futex; it gives up after 30 s,
//!   or within 10 ms when the shim died before it could make the tool. A
//!   parked tool is woken with the caller's CPU taken out of its mask (given
//!   back once the gate opens), so that the caller never ends up queued
//!   behind the new program's start-up on one CPU;
//! * everything else that follows a spawn (registering the shim's pidfd
//!   and the output pipes with the runtime, log capture, parking the next
//!   pair) runs in the tool's supervision task, not on the calling thread;
//! * the shim then loops: `wait4(-1, WNOHANG)` reaps the tool and every
//!   orphan reparented to it; a `signalfd` and the host's pidfd wake it
//!   (with nothing pending it sleeps without a timeout; a kill it has to
//!   repeat backs off from 10 ms to 1 s, so it never spins). A stop signal
//!   is forwarded to the tool's process group and to every descendant that
//!   left it; a private real-time signal (`SIGRTMIN+4`) means "SIGKILL the
//!   whole tree", and so does the host's death (its pidfd becomes
//!   readable). When the tool exits on its own, leftover descendants get
//!   SIGTERM, then SIGKILL after the tool's `stop_timeout_ms`. Once no
//!   child is left, the shim removes the tool's cgroup leaf, stores the
//!   tool's wait status in shared memory and exits; the host reaps it
//!   through its pidfd and reports the tool's real status (exit code or
//!   signal);
//! * descendants are found in a way that does not depend on how many
//!   processes the machine has. Where the host allows it (cgroup2 mounted,
//!   our cgroup writable, Linux 5.14+), each tool gets a cgroup v2 leaf
//!   under the host's own cgroup, and the shim creates the tool inside it
//!   (`clone3` with `CLONE_INTO_CGROUP`): its whole tree is born inside, a
//!   kill is one write to `cgroup.kill`, other signals go to the PIDs in
//!   `cgroup.procs`. Leaves are kept with the shim memory and reused (one
//!   that was killed is replaced); an orphaned shim removes its leaf, an
//!   `atexit` hook the spare ones, and a new host those of dead hosts.
//!   Otherwise (or with `DXFORGE_CGROUP=off`) the shim scans every `/proc`
//!   entry on every pass, through a fixed buffer, remembering only
//!   descendants.
//!
//! Code that runs in the shim and in the tool before `exec` touches only its
//! own stack and memory the host keeps mapped until the shim is reaped, and
//! makes system calls through rustix's raw Linux backend or the few raw
//! ones in `sys` (libc would write `errno` into a host thread's storage):
//! no allocation, no locks, no panics. Those modules deny undocumented or
//! multi-operation `unsafe` blocks, unchecked arithmetic and indexing. The library only
//! ever waits for its own shims, through their pidfds, so signals never hit
//! a recycled PID.
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
//! dies, each shim sees it through the host's pidfd and kills its tree.
//!
//! ## Threading caveats
//!
//! * Supervision, health checks and output capture run on the runtime given
//!   in [`OrchestratorConfig::runtime`]; use a multi-thread runtime that
//!   outlives the orchestrator. The async methods can be awaited from any
//!   executor.
//! * A start with no health check to wait for spawns on the thread that
//!   polls `ensure_running`, which blocks for about as long as
//!   `std::process::Command::spawn` would (until the exec is committed),
//!   spinning for the first millisecond of it. A tool does not
//!   depend on that thread: it keeps running when the thread ends.
//! * The shims are clone children with no exit signal, so the host gets no
//!   `SIGCHLD` for them. The library installs no signal handlers of its own;
//!   tokio's process support registers its `SIGCHLD` handling once a
//!   command health check has run.
//! * Linux 5.4 or later (pidfds, `CLONE_PIDFD`, `PR_SET_CHILD_SUBREAPER`,
//!   `/proc`), on x86_64 or aarch64.
//!
//! ## Validation at registration
//!
//! Every definition passes [`validate::validate`] before it is registered
//! (`register_tool(s)`; `dxforge.toml`'s loader calls it too): numbers within
//! [`limits`], TCP targets `host:port`, HTTP targets plain `http://` URLs,
//! names, env keys, signal and globs. On any error nothing of the set is
//! registered, so supervision never meets a value it would fail on later.
//! Bindings convert host numbers through [`limits::NumberField`], so they are
//! refused, not wrapped.

mod armed;
mod cgroup;
mod definition;
mod definition_toml;
mod environment;
mod error;
mod graph;
mod health;
mod lifecycle;
pub mod limits;
mod logs;
mod procscan;
mod shim;
mod spawn;
mod starting;
mod status;
mod supervisor;
mod sys;
pub mod validate;
mod watch;

pub use definition::{
    DependencyCondition, DxToolDefinition, HealthCheck, RestartPolicy, UnknownRestartPolicy,
};
pub use error::{OrchestratorError, Result};
pub use status::{ExecOutput, ExitStatus, LogLine, ToolEvent, ToolState, ToolStatus};

mod orchestrator;
pub use orchestrator::{Orchestrator, OrchestratorConfig, WatchHandle};

// The handle is shared across threads and language bindings.
const _: () = {
    const fn assert_send_sync_clone<T: Send + Sync + Clone>() {}
    assert_send_sync_clone::<Orchestrator>();
};
