//! The exec gate: how a start waits until the tool's `exec` is committed.
#![deny(
    clippy::undocumented_unsafe_blocks,
    clippy::multiple_unsafe_ops_per_block
)]

use std::sync::atomic::Ordering;
use std::time::Duration;

use rustix::thread::futex;
use rustix::time::Timespec;

use crate::shim::ShimControl;
use crate::spawn::ShimHandle;

/// How long a wait for a tool's exec spins before it sleeps.
const EXEC_SPIN: Duration = Duration::from_millis(1);

/// How often a wait for a tool's exec checks on the shim.
const SHIM_CHECK: Duration = Duration::from_millis(10);

/// Longest wait for a tool's exec (an exec can block on a slow file system;
/// past this the start is given up and the shim killed).
const EXEC_LIMIT: Duration = Duration::from_secs(30);

/// Waits until the tool's exec gate opens (see [`ShimControl::exec_gate`]),
/// up to [`EXEC_LIMIT`]: spinning for up to [`EXEC_SPIN`] (yielding the CPU
/// each round), then sleeping on the gate's futex. Spinning keeps the
/// caller's CPU its own while the tool execs elsewhere, and sees the gate
/// open without a wake-up. Looks every [`SHIM_CHECK`] whether the shim died
/// before it could make the tool (then nobody would open the gate).
pub(super) fn wait_for_exec(control: &ShimControl, shim: &ShimHandle) -> std::io::Result<()> {
    let start = std::time::Instant::now();
    while control.exec_gate.load(Ordering::Acquire) != 0 {
        let waited = start.elapsed();
        if waited < EXEC_SPIN {
            std::thread::yield_now();
            continue;
        }
        if waited >= EXEC_LIMIT {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("the tool did not exec within {} s", EXEC_LIMIT.as_secs()),
            ));
        }
        if waited >= SHIM_CHECK && shim.wait_exit_blocking(Duration::ZERO) {
            return Err(std::io::Error::other(
                "the shim ended before its tool's exec",
            ));
        }
        let timeout = Timespec::try_from(SHIM_CHECK).unwrap_or(Timespec {
            tv_sec: 0,
            tv_nsec: 10_000_000,
        });
        // Not private, to match the kernel's wake on `CLONE_CHILD_CLEARTID`.
        // Returns at once if the gate opened meanwhile; EINTR, timeouts and
        // spurious wakes loop.
        let _ = futex::wait(&control.exec_gate, futex::Flags::empty(), 1, Some(&timeout));
    }
    Ok(())
}
