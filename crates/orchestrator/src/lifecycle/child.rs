//! What the lifecycle needs from a process, so that it runs the same
//! against real tools and against a scripted mock in unit tests.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::ExitStatus;
use crate::error::Result;

/// A signal the lifecycle sends to a tool's process tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    /// The tool's configured stop signal, to the whole tree.
    Stop(libc::c_int),
    /// SIGKILL to the whole tree.
    KillTree,
    /// SIGKILL to the supervising process itself (last resort).
    KillHard,
}

/// The signalling side of a live process, usable from any thread without a
/// runtime (the blocking shutdown path holds one).
pub(crate) trait Remote: Send + Sync {
    /// Sends `sig`; false when the process is already gone.
    fn signal(&self, sig: Signal) -> bool;
    /// Blocks until the process has exited or `limit` passed; true if it exited.
    fn wait_exit_blocking(&self, limit: Duration) -> bool;
}

/// One spawned process, owned by its supervising task.
pub(crate) trait ChildProcess: Send + 'static {
    /// PID shown to hosts.
    fn pid(&self) -> u32;
    /// Runtime-side follow-up of a spawn (output capture and the like), run
    /// by the supervising task, never by the spawning thread.
    fn attach(&mut self);
    /// Waits for the exit. Must be cancel-safe: the lifecycle polls it in
    /// `select!` loops.
    fn wait(&mut self) -> impl Future<Output = ExitStatus> + Send;
    /// Signalling handle, shared with the blocking stop path.
    fn remote(&self) -> Arc<dyn Remote>;
}

/// Creates a tool's processes and checks its health.
pub(crate) trait Launcher: Send + Sync + 'static {
    type Child: ChildProcess;
    /// Spawns the tool; returns once it has exec'd.
    fn launch(&self) -> Result<Self::Child>;
    /// One health check, bounded by `limit`; `Err` says why it failed.
    fn check(&self, limit: Duration) -> impl Future<Output = Result<(), String>> + Send;
}
