//! The per-tool reaper shim and the tool's last steps before `exec`.
//!
//! Both run in processes made with `clone(CLONE_VM)`: they share the host's
//! memory (no page tables are copied, which is what makes a spawn about as
//! cheap as `posix_spawn`) but are separate processes with their own PIDs,
//! descriptor tables, signal dispositions and child-subreaper flag. So the
//! code here only touches its own stack and data the host keeps alive, makes
//! system calls through [`crate::sys`] (never libc, whose `errno` lives in a
//! host thread's storage), never allocates, never locks, never panics (every
//! index is bounds-checked with `get`, arithmetic saturates).
//!
//! ```text
//! host ─clone(VM)─ shim (setsid, subreaper) ─clone(VM)─ tool (own process group, PDEATHSIG=SIGKILL) ─park─exec─
//!                                          └── orphans of the tool's tree (reparented here)
//! ```
//!
//! The tool does everything that does not depend on the request (process
//! group, stdio, closing descriptors, signal dispositions) and then parks on
//! a futex until the host fills in what to run (see `armed`). A pair made for
//! one start has its request filled in before the clone and never parks.
//!
//! Where the host allows it, the tool first joins a cgroup v2 leaf of its
//! own (see `cgroup`); the shim then reaches every descendant through it.
//! Otherwise it scans `/proc` (see `procscan`). The shim never spins: it
//! sleeps on its signalfd and the host's pidfd, and while it has to repeat a
//! kill it backs off from 10 ms to 1 s between passes.
//!
//! System calls go through rustix (its raw Linux backend never touches
//! `errno`), and through `crate::sys` for the few rustix lacks.
#![deny(
    clippy::undocumented_unsafe_blocks,
    clippy::multiple_unsafe_ops_per_block,
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing
)]

use std::ffi::{CStr, c_char};
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use libc::c_int;
use rustix::event::{PollFd, PollFlags};
use rustix::fd::BorrowedFd;
use rustix::process::{Pid, Signal, WaitOptions};
use rustix::thread::futex;
use rustix::time::{ClockId, Timespec};

use crate::cgroup::{self, LeafName};
use crate::procscan;
use crate::sys::{self, clone_on_stack, signal_of};

/// Value of [`ShimControl::tool_status`] until the shim knows the tool's status.
pub(crate) const NO_STATUS: i32 = i32::MIN;

/// Which step of starting the tool failed (`ShimControl::failed_step`).
pub(crate) const STEP_NONE: i32 = 0;
/// Redirecting stdin/stdout/stderr failed.
pub(crate) const STEP_STDIO: i32 = 1;
/// `chdir` to the tool's working directory failed.
pub(crate) const STEP_CHDIR: i32 = 2;
/// `execve` failed.
pub(crate) const STEP_EXEC: i32 = 3;
/// The shim could not create the tool process.
pub(crate) const STEP_CLONE: i32 = 4;
/// Resetting signal dispositions or unblocking signals failed (the tool
/// would otherwise run with a host handler or with every signal blocked).
pub(crate) const STEP_SIGNALS: i32 = 5;

/// [`ShimControl::go`] while the parked tool waits for its request.
pub(crate) const GO_WAIT: u32 = 0;
/// [`ShimControl::go`] once the request is filled in: chdir and exec.
pub(crate) const GO_RUN: u32 = 1;
/// [`ShimControl::go`] when the parked pair is not needed: exit quietly.
pub(crate) const GO_CANCEL: u32 = 2;

/// Shared by the host, the shim and the tool; lives in the shim's memory
/// block, which the host unmaps only after reaping the shim.
#[repr(C)]
pub(crate) struct ShimControl {
    /// PID of the tool, written by the kernel when the shim creates it
    /// (`CLONE_PARENT_SETTID`), so before the tool can run; 0 if it could not.
    pub tool_pid: AtomicI32,
    /// The tool's raw wait status, stored just before the shim exits.
    pub tool_status: AtomicI32,
    /// The `STEP_*` that failed before the tool's `exec`.
    pub failed_step: AtomicI32,
    /// `errno` of that failure.
    pub failed_errno: AtomicI32,
    /// `GO_*`; the futex word the parked tool sleeps on. The request fields
    /// below are written before it becomes [`GO_RUN`] (release/acquire).
    pub go: AtomicU32,
    /// The request: `execve`'s path, argv and envp, and the directory to
    /// `chdir` to (null: stay). The host keeps what they point at alive
    /// until the tool has exec'd or failed.
    pub path: AtomicUsize,
    pub argv: AtomicUsize,
    pub envp: AtomicUsize,
    pub cwd: AtomicUsize,
    /// Grace between SIGTERM and SIGKILL for descendants left behind when the
    /// tool exits on its own (read by the shim only after the tool exits).
    pub leftover_grace_ms: AtomicU64,
    /// 1 until the tool process lets go of the host's memory: the kernel
    /// zeroes it and wakes its futex (`CLONE_CHILD_CLEARTID`) when the
    /// tool's `exec` has passed the point of no return, or when it exits.
    /// This is the moment `vfork` would resume its parent.
    pub exec_gate: AtomicU32,
    /// Set just before `execve`: a gate opened with this still 0 means the
    /// tool died before it got that far.
    pub exec_tried: AtomicU32,
    /// 1 once the tool was created inside its cgroup leaf.
    pub cgroup_active: AtomicU32,
    /// 1 once the shim has written the leaf's `cgroup.kill`. Such a leaf is
    /// not reused: on some kernels (6.18 here) a child later cloned into it
    /// with `CLONE_INTO_CGROUP` is SIGKILLed at birth.
    pub cgroup_killed: AtomicU32,
}

/// What the shim and the tool need from their very start, written by the
/// host before the shim is cloned and never changed while it lives.
#[repr(C)]
pub(crate) struct ShimArgs {
    pub stdio: [c_int; 3],
    /// pidfd of the host process: readable once the host has died.
    pub host_pidfd: c_int,
    /// Signal meaning "SIGKILL the whole tree now" (a real-time signal, so it
    /// never collides with a tool's `stop_signal`).
    pub kill_all: c_int,
    /// Top of the stack the tool runs on until its `exec`, and its size.
    pub tool_stack_top: *mut u8,
    pub tool_stack_size: usize,
    /// The host's cgroup v2 directory (kept open by the shim), or -1 when
    /// the tool gets no cgroup leaf.
    pub cgroup_dir: c_int,
    /// The tool's leaf under `cgroup_dir`, NUL-terminated.
    pub cgroup_leaf: LeafName,
}

/// The last page of a shim's memory block: both of the above.
#[repr(C)]
pub(crate) struct ShimBlock {
    pub control: ShimControl,
    pub args: ShimArgs,
}

/// Ends the calling process (the shim or the tool; never a host thread).
fn exit(code: i32) -> ! {
    sys::exit_group(code)
}

/// The descriptor the host passed as `raw`, or `None` when it is -1.
fn borrowed(raw: c_int) -> Option<BorrowedFd<'static>> {
    (raw >= 0).then(|| {
        // SAFETY: the host opened this descriptor before the clone and the
        // shim keeps it open for as long as it lives (see `close_all_but`);
        // the tool uses it only before it closes its descriptors.
        unsafe { BorrowedFd::borrow_raw(raw) }
    })
}

/// Entry of the shim process (from `clone_on_stack`); `arg` is `&ShimBlock`.
pub(crate) extern "C" fn shim_entry(arg: usize) -> ! {
    // SAFETY: the block lives in memory the host unmaps only after reaping us.
    let block = unsafe { &*(arg as *const ShimBlock) };
    let args = &block.args;
    let control = &block.control;
    // Best effort: a shim that fails these still reaps and forwards (a
    // failed subreaper flag only leaves orphans to PID 1).
    let _ = rustix::thread::set_name(c"dxforge-shim");
    let _ = rustix::process::setsid();
    let _ = rustix::process::set_child_subreaper(Some(rustix::process::getpid()));
    // No CLONE_VFORK: the tool runs its last steps on its own stack while we
    // go on; the host waits for the tool's exec itself.
    let flags =
        (libc::CLONE_VM | libc::CLONE_PARENT_SETTID | libc::CLONE_CHILD_CLEARTID | libc::SIGCHLD)
            as u64;
    // Into the tool's cgroup leaf at birth where there is one (then no
    // descendant is ever outside it); a plain clone where that fails.
    let leaf = borrowed(args.cgroup_dir).and_then(|dir| cgroup::open_leaf(dir, &args.cgroup_leaf));
    let mut tool = Err(rustix::io::Errno::NOSYS);
    if let Some(leaf) = &leaf {
        use rustix::fd::{AsFd, AsRawFd};
        let clone_args = linux_raw_sys::general::clone_args {
            flags: flags & !u64::from(libc::CSIGNAL as u32)
                | linux_raw_sys::general::CLONE_INTO_CGROUP,
            pidfd: 0,
            child_tid: control.exec_gate.as_ptr() as u64,
            parent_tid: control.tool_pid.as_ptr() as u64,
            exit_signal: libc::SIGCHLD as u64,
            stack: args.tool_stack_top.wrapping_sub(args.tool_stack_size) as u64,
            stack_size: args.tool_stack_size as u64,
            tls: 0,
            set_tid: 0,
            set_tid_size: 0,
            cgroup: u64::try_from(leaf.as_fd().as_raw_fd()).unwrap_or(u64::MAX),
        };
        // SAFETY: as for `clone_on_stack` below, with the same stack (given
        // as its base and size) and the same two atomics.
        tool = unsafe { sys::clone3_on_stack(&clone_args, tool_entry, arg) };
        if tool.is_ok() {
            control.cgroup_active.store(1, Ordering::Release);
        }
    }
    drop(leaf);
    if tool.is_err() {
        // SAFETY: the tool's stack is a region of the shim memory block that
        // the host keeps mapped until this shim is reaped (the tool dies
        // before or with us); `tool_entry` touches only that stack, the
        // block and, once told to run, the request the host keeps alive
        // until the exec gate opens; both pointers are atomics in the block.
        tool = unsafe {
            clone_on_stack(
                flags,
                args.tool_stack_top,
                control.tool_pid.as_ptr(),
                control.exec_gate.as_ptr(),
                tool_entry,
                arg,
            )
        };
    }
    let tool = match tool {
        Ok(pid) => pid,
        Err(errno) => {
            control
                .failed_errno
                .store(errno.raw_os_error(), Ordering::Release);
            control.failed_step.store(STEP_CLONE, Ordering::Release);
            open_gate(control);
            exit(0)
        }
    };
    // Drop every inherited descriptor but the host's pidfd and the cgroup
    // directory: the host's pipes and sockets then close when the host
    // closes them, and its wait for the tool's exec no longer depends on us.
    sys::close_all_but(args.host_pidfd, args.cgroup_dir);
    shim_main(tool, block)
}

/// Opens the exec gate by hand (when there is no tool to do it).
fn open_gate(control: &ShimControl) {
    control.exec_gate.store(0, Ordering::Release);
    // Not private: the host waits on it with a shared futex, as the kernel's
    // `CLONE_CHILD_CLEARTID` wake requires.
    let _ = futex::wake(&control.exec_gate, futex::Flags::empty(), u32::MAX);
}

/// Records why the tool could not start, and ends it.
fn fail(control: &ShimControl, step: i32, errno: rustix::io::Errno) -> ! {
    control
        .failed_errno
        .store(errno.raw_os_error(), Ordering::Release);
    control.failed_step.store(step, Ordering::Release);
    exit(127)
}

/// A request string the host filled in.
///
/// # Safety
/// `ptr` must be null or point to a NUL-terminated string that stays alive
/// until the tool has exec'd or failed (the host guarantees this for every
/// request field, see `armed::Request`).
unsafe fn request_str<'a>(ptr: usize) -> Option<&'a CStr> {
    if ptr == 0 {
        return None;
    }
    // SAFETY: forwarded to the caller.
    Some(unsafe { CStr::from_ptr(ptr as *const c_char) })
}

/// Entry of the tool process: everything that does not depend on what will
/// run is done at once; then it parks until the host fills in the request
/// (at once, when the host filled it in before the clone), and execs.
extern "C" fn tool_entry(arg: usize) -> ! {
    // SAFETY: the block lives in memory the host unmaps only after reaping
    // the shim, which outlives us.
    let block = unsafe { &*(arg as *const ShimBlock) };
    let (args, control) = (&block.args, &block.control);
    // What `ps` shows while it is parked; `exec` names it after the tool.
    let _ = rustix::thread::set_name(c"dxforge-parked");
    // Best effort, both: the shim sets the group from its side too (and
    // reaches the tool as a descendant if neither could), and the shim
    // kills the tree when the host dies, whatever PDEATHSIG does.
    let _ = rustix::process::setpgid(None, None);
    let _ = rustix::process::set_parent_process_death_signal(Some(Signal::KILL));
    let [stdin, stdout, stderr] = args.stdio;
    for (fd, dup) in [
        (
            stdin,
            rustix::stdio::dup2_stdin::<BorrowedFd<'static>> as fn(_) -> _,
        ),
        (stdout, rustix::stdio::dup2_stdout),
        (stderr, rustix::stdio::dup2_stderr),
    ] {
        let Some(fd) = borrowed(fd) else {
            fail(control, STEP_STDIO, rustix::io::Errno::BADF)
        };
        if let Err(e) = dup(fd) {
            fail(control, STEP_STDIO, e);
        }
    }
    // A tool inherits stdin, stdout and stderr only: a parked tool must not
    // hold the host's other pipes and sockets open meanwhile.
    sys::close_all_but(-1, -1);
    // Default dispositions for everything (as `std` does), so that no host
    // handler can run here once signals are unblocked.
    for raw in 1..=64 {
        if raw == libc::SIGKILL || raw == libc::SIGSTOP {
            continue;
        }
        if let Err(e) = sys::set_default_disposition(raw) {
            fail(control, STEP_SIGNALS, e);
        }
    }
    loop {
        match control.go.load(Ordering::Acquire) {
            // Returns at once if `go` changed meanwhile (EAGAIN); EINTR loops.
            GO_WAIT => {
                let _ = futex::wait(&control.go, futex::Flags::PRIVATE, GO_WAIT, None);
            }
            GO_RUN => break,
            _ => exit(0),
        }
    }
    // SAFETY: a request field (see `request_str`).
    if let Some(cwd) = unsafe { request_str(control.cwd.load(Ordering::Acquire)) }
        && let Err(e) = rustix::process::chdir(cwd)
    {
        fail(control, STEP_CHDIR, e);
    }
    // Signals stayed blocked (the host blocked them around the clone) until
    // now, so none could interrupt the steps above.
    if let Err(e) = sys::unblock_all_signals() {
        fail(control, STEP_SIGNALS, e);
    }
    control.exec_tried.store(1, Ordering::Release);
    // SAFETY: a request field (see `request_str`).
    let Some(path) = (unsafe { request_str(control.path.load(Ordering::Acquire)) }) else {
        fail(control, STEP_EXEC, rustix::io::Errno::FAULT)
    };
    // SAFETY: argv and envp are null-terminated arrays of NUL-terminated
    // strings that the host keeps alive until the exec gate opens.
    let errno = unsafe {
        sys::execve(
            path,
            control.argv.load(Ordering::Acquire),
            control.envp.load(Ordering::Acquire),
        )
    };
    fail(control, STEP_EXEC, errno)
}

fn now_ms() -> u64 {
    let ts = rustix::time::clock_gettime(ClockId::Monotonic);
    u64::try_from(ts.tv_sec)
        .unwrap_or(0)
        .saturating_mul(1000)
        .saturating_add(u64::try_from(ts.tv_nsec).unwrap_or(0) / 1_000_000)
}

/// First pause between two kill passes, and the longest.
const KILL_BACKOFF_MIN_MS: u64 = 10;
const KILL_BACKOFF_MAX_MS: u64 = 1000;

/// How the shim reaches the tool's descendants.
struct Tree<'a> {
    me: Pid,
    tool: Pid,
    /// The tool's cgroup leaf, when it joined one.
    cgroup: Option<(BorrowedFd<'static>, &'a LeafName)>,
}

impl Tree<'_> {
    /// Sends `sig` to the tool's process group and to every descendant
    /// outside it.
    fn signal(&self, sig: Signal) {
        let _ = rustix::process::kill_process_group(self.tool, sig);
        match self.cgroup {
            Some((dir, leaf)) => {
                cgroup::signal_members(dir, leaf, sig, Some(self.tool));
            }
            None => {
                procscan::signal_descendants(self.me, sig, Some(self.tool));
            }
        }
    }

    /// SIGKILLs the whole tree; true when it did so through `cgroup.kill`.
    fn kill(&self) -> bool {
        let _ = rustix::process::kill_process_group(self.tool, Signal::KILL);
        match self.cgroup {
            Some((dir, leaf)) if cgroup::kill_all(dir, leaf) => true,
            _ => {
                procscan::signal_descendants(self.me, Signal::KILL, None);
                false
            }
        }
    }
}

/// Reaps every child that has exited; returns whether none is left, and
/// records the tool's status when it is among them.
fn reap(tool: Pid, tool_status: &mut Option<i32>) -> bool {
    // __WALL: also children whose exit signal is not SIGCHLD.
    let opts = WaitOptions::NOHANG | WaitOptions::from_bits_retain(libc::__WALL as u32);
    loop {
        match rustix::process::wait(opts) {
            Ok(Some((pid, status))) => {
                if pid == tool {
                    *tool_status = Some(status.as_raw());
                }
            }
            Ok(None) => return false,
            Err(rustix::io::Errno::INTR) => {}
            Err(rustix::io::Errno::CHILD) => return true,
            // Unexpected: treat as "children remain" and look again later.
            Err(_) => return false,
        }
    }
}

/// The shim's loop: reap everything, forward signals, record the tool's
/// status and exit once the whole tree is gone.
fn shim_main(tool: i32, block: &ShimBlock) -> ! {
    let (args, control) = (&block.args, &block.control);
    let Some(tool) = Pid::from_raw(tool) else {
        exit(0)
    };
    // Also set the group from this side, so forwarding works even if the
    // tool has not run its own setpgid yet.
    let _ = rustix::process::setpgid(Some(tool), Some(tool));
    let cgroup_dir = borrowed(args.cgroup_dir);
    let mut tree = Tree {
        me: rustix::process::getpid(),
        tool,
        cgroup: None,
    };
    let kill_all = signal_of(args.kill_all);
    // Every signal is blocked (the host blocked them around the clone); they
    // arrive here as data.
    let sfd = sys::signalfd_all();
    let mut host = borrowed(args.host_pidfd);
    let mut host_dead = false;
    let mut tool_status: Option<i32> = None;
    let mut killing = false;
    let mut leftover_deadline: Option<u64> = None;
    // When the next kill pass is due, and the pause after it.
    let mut next_kill = 0u64;
    let mut backoff = KILL_BACKOFF_MIN_MS;
    loop {
        // Read once the tool has had the chance to join (it does so before
        // anything of it can fork).
        if tree.cgroup.is_none()
            && control.cgroup_active.load(Ordering::Acquire) == 1
            && let Some(dir) = cgroup_dir
        {
            tree.cgroup = Some((dir, &args.cgroup_leaf));
        }
        let no_children = reap(tool, &mut tool_status);
        if let Some(st) = tool_status {
            if no_children {
                control.tool_status.store(st, Ordering::Release);
                // The leaf is empty now; a live host reuses it for a later
                // pair, so only an orphaned shim removes it.
                if host_dead && let Some(dir) = cgroup_dir {
                    cgroup::remove(dir, &args.cgroup_leaf);
                }
                exit(0);
            }
            if !killing && leftover_deadline.is_none() {
                // The tool is gone but left descendants: ask, then force.
                tree.signal(Signal::TERM);
                let grace = control.leftover_grace_ms.load(Ordering::Acquire);
                leftover_deadline = Some(now_ms().saturating_add(grace));
            }
        }
        let now = now_ms();
        if leftover_deadline.is_some_and(|d| now >= d) {
            killing = true;
        }
        if killing && now >= next_kill {
            if tree.kill() {
                control.cgroup_killed.store(1, Ordering::Release);
            }
            next_kill = now.saturating_add(backoff);
            backoff = backoff.saturating_mul(2).min(KILL_BACKOFF_MAX_MS);
        }
        // Sleep until an event (a signal, the host's death) or the next
        // deadline; with nothing pending, without a timeout at all (unless
        // the signalfd could not be made: then once a second).
        let due = if killing {
            Some(next_kill)
        } else {
            leftover_deadline
        };
        let timeout_ms = match (due, &sfd) {
            (Some(d), _) => d.saturating_sub(now).max(1),
            (None, None) => 1000,
            (None, Some(_)) => u64::MAX,
        };
        let timeout = (timeout_ms != u64::MAX).then(|| Timespec {
            tv_sec: i64::try_from(timeout_ms / 1000).unwrap_or(i64::MAX),
            tv_nsec: i64::try_from((timeout_ms % 1000).saturating_mul(1_000_000)).unwrap_or(0),
        });
        let host_died = match (&sfd, host) {
            (Some(sfd), Some(host)) => {
                let mut fds = [
                    PollFd::new(sfd, PollFlags::IN),
                    PollFd::from_borrowed_fd(host, PollFlags::IN),
                ];
                let _ = rustix::event::poll(&mut fds, timeout.as_ref());
                fds.get(1).is_some_and(|fd| !fd.revents().is_empty())
            }
            (Some(sfd), None) => {
                let _ =
                    rustix::event::poll(&mut [PollFd::new(sfd, PollFlags::IN)], timeout.as_ref());
                false
            }
            (None, Some(host)) => {
                let mut fds = [PollFd::from_borrowed_fd(host, PollFlags::IN)];
                let _ = rustix::event::poll(&mut fds, timeout.as_ref());
                fds.first().is_some_and(|fd| !fd.revents().is_empty())
            }
            (None, None) => {
                let _ = rustix::event::poll(&mut [], timeout.as_ref());
                false
            }
        };
        if host_died {
            // The host died: nobody is left to stop the tree, so kill it.
            killing = true;
            host = None;
            host_dead = true;
        }
        // The signalfd only wakes us; signals are taken with a zero timeout,
        // which also works if the signalfd could not be made.
        while let Some(raw) = sys::take_pending_signal() {
            if raw == libc::SIGCHLD {
                continue;
            }
            let Some(sig) = signal_of(raw) else { continue };
            if Some(sig) == kill_all {
                killing = true;
                next_kill = 0;
                continue;
            }
            // A stop (or any other) signal: forward it to the tool's group
            // and to every descendant that left the group.
            tree.signal(sig);
        }
    }
}
