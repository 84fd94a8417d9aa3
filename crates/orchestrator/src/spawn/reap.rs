//! The host's hold on a shim: its pidfd (signalling, polling), reaping it
//! and reporting the tool's real status, and the tool's output pipes.
#![deny(
    clippy::undocumented_unsafe_blocks,
    clippy::multiple_unsafe_ops_per_block
)]

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::ExitStatusExt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use libc::c_int;
use rustix::event::{PollFd, PollFlags};
use rustix::fd::AsFd;
use rustix::process::{WaitId, WaitIdOptions};
use rustix::time::Timespec;
use tokio::io::unix::AsyncFd;

use crate::armed::ShimMemory;
use crate::shim::NO_STATUS;

/// A pidfd on a shim process.
#[derive(Debug)]
pub(crate) struct ShimHandle {
    fd: OwnedFd,
}

impl AsRawFd for ShimHandle {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl ShimHandle {
    pub(crate) fn from_fd(fd: OwnedFd) -> Self {
        Self { fd }
    }

    /// Sends a signal to the shim; false when it is gone.
    pub fn signal(&self, sig: c_int) -> bool {
        crate::sys::signal_of(sig)
            .is_some_and(|sig| rustix::process::pidfd_send_signal(&self.fd, sig).is_ok())
    }

    /// Blocks (plain poll, no runtime needed) until the shim exits or the
    /// timeout passes; true when it has exited. Does not reap it.
    pub fn wait_exit_blocking(&self, timeout: Duration) -> bool {
        let mut fds = [PollFd::new(&self.fd, PollFlags::IN)];
        let timeout = Timespec::try_from(timeout).unwrap_or(Timespec {
            tv_sec: i64::MAX,
            tv_nsec: 0,
        });
        // EINTR counts as "not yet": every caller looks again or gives up.
        rustix::event::poll(&mut fds, Some(&timeout)).is_ok_and(|n| n > 0)
    }
}

/// A shim not reaped yet, with the memory it runs on.
pub(crate) struct ShimReaper {
    handle: Arc<ShimHandle>,
    /// `None` once reaped (the mapping then goes back for reuse).
    memory: Option<ShimMemory>,
}

impl ShimReaper {
    pub(crate) fn new(handle: Arc<ShimHandle>, memory: ShimMemory) -> Self {
        Self {
            handle,
            memory: Some(memory),
        }
    }

    /// Reaps the shim if it has exited; its status is the tool's (from the
    /// control block), or the shim's own when it was killed first. `None`
    /// while it runs (and once it has been reaped).
    pub(crate) fn try_reap(&mut self) -> std::io::Result<Option<std::process::ExitStatus>> {
        let Some(memory) = &self.memory else {
            return Ok(None);
        };
        // __WALL: the shim's exit signal is 0 (no SIGCHLD for the host).
        let options = WaitIdOptions::EXITED
            | WaitIdOptions::NOHANG
            | WaitIdOptions::from_bits_retain(libc::__WALL as u32);
        let Some(status) = rustix::process::waitid(WaitId::PidFd(self.handle.fd.as_fd()), options)?
        else {
            return Ok(None);
        };
        let (code, status) = match (status.exit_status(), status.terminating_signal()) {
            (Some(code), _) => (libc::CLD_EXITED, code),
            (None, Some(sig)) => (libc::CLD_KILLED, sig),
            (None, None) => (libc::CLD_EXITED, 0),
        };
        let raw = match memory.control().tool_status.load(Ordering::Acquire) {
            NO_STATUS if code == libc::CLD_EXITED => (status & 0xff) << 8,
            NO_STATUS => status & 0x7f,
            tool => tool,
        };
        self.memory = None;
        Ok(Some(std::process::ExitStatus::from_raw(raw)))
    }

    /// Waits (`ready` is the shim's registered pidfd) and reaps. Cancel-safe.
    async fn wait(
        &mut self,
        ready: &AsyncFd<Arc<ShimHandle>>,
    ) -> std::io::Result<std::process::ExitStatus> {
        loop {
            if self.memory.is_none() {
                return Err(std::io::Error::other("the shim was reaped already"));
            }
            if let Some(status) = self.try_reap()? {
                return Ok(status);
            }
            // Cleared before the next look, so an exit in between is seen.
            ready.readable().await?.clear_ready();
        }
    }
}

impl Drop for ShimReaper {
    /// Never unmaps memory a running shim may use: leaked instead.
    fn drop(&mut self) {
        if self.memory.is_some() && !matches!(self.try_reap(), Ok(Some(_))) {
            std::mem::forget(self.memory.take());
        }
    }
}

/// The host's side of a shim: waiting for it and the tool's output pipes.
/// Nothing is registered with the runtime until it is waited on or read, so
/// making one costs the spawning thread nothing.
pub(crate) struct ShimChild {
    pub(super) reaper: ShimReaper,
    /// The shim's pidfd, registered with the runtime on the first `wait`.
    pub(super) ready: Option<AsyncFd<Arc<ShimHandle>>>,
    pub(super) status: Option<std::process::ExitStatus>,
    pub(super) runtime: tokio::runtime::Handle,
    /// Read ends of the tool's stdout and stderr (see [`receiver`]).
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
}

/// A tool's output pipe as an async reader; call on a runtime thread.
pub(crate) fn receiver(fd: OwnedFd) -> std::io::Result<tokio::net::unix::pipe::Receiver> {
    tokio::net::unix::pipe::Receiver::from_owned_fd(fd)
}

impl ShimChild {
    /// The exit status if the shim has exited (reaping it), else `None`.
    pub fn try_wait(&mut self) -> std::io::Result<Option<std::process::ExitStatus>> {
        if self.status.is_none() {
            self.status = self.reaper.try_reap()?;
        }
        Ok(self.status)
    }

    /// Waits for the shim to exit and reaps it. Cancel-safe.
    pub async fn wait(&mut self) -> std::io::Result<std::process::ExitStatus> {
        if let Some(status) = self.status {
            return Ok(status);
        }
        let ready = match &mut self.ready {
            Some(ready) => ready,
            slot => {
                let _enter = self.runtime.enter();
                slot.insert(watch(self.reaper.handle.clone())?)
            }
        };
        let status = self.reaper.wait(ready).await?;
        self.status = Some(status);
        Ok(status)
    }
}

impl Drop for ShimChild {
    fn drop(&mut self) {
        if matches!(self.try_wait(), Ok(Some(_))) {
            return;
        }
        // Still running: reap it in the background (if the runtime is gone,
        // the reaper's drop leaks the memory instead of unmapping it).
        let mut reaper = ShimReaper {
            handle: self.reaper.handle.clone(),
            memory: self.reaper.memory.take(),
        };
        self.runtime.spawn(async move {
            if let Ok(ready) = watch(reaper.handle.clone()) {
                let _ = reaper.wait(&ready).await;
            }
        });
    }
}

/// Registers a shim's pidfd with the runtime (readable once it exits).
fn watch(handle: Arc<ShimHandle>) -> std::io::Result<AsyncFd<Arc<ShimHandle>>> {
    // SAFETY: the `Arc` keeps the pidfd open and unchanged for as long as the
    // `AsyncFd` holds it.
    unsafe { AsyncFd::register_with_interest(handle, tokio::io::Interest::READABLE) }
        .map_err(|e| e.into_parts().1)
}
