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

use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use libc::{c_char, c_int, pid_t};

use crate::sys::{clone_on_stack, syscall3, syscall6};

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
    /// Top of the stack the tool runs on until its `exec`.
    pub tool_stack_top: *mut u8,
}

/// The last page of a shim's memory block: both of the above.
#[repr(C)]
pub(crate) struct ShimBlock {
    pub control: ShimControl,
    pub args: ShimArgs,
}

/// Most processes one /proc scan looks at; more are ignored for that pass
/// (the kill loop repeats, so a busy machine still converges).
const MAX_PROCS: usize = 1024;

unsafe fn sys_kill(pid: pid_t, sig: c_int) -> isize {
    // SAFETY: kill has no memory effects.
    unsafe { syscall3(libc::SYS_kill, pid as usize, sig as usize, 0) }
}

unsafe fn sys_open(path: *const c_char, flags: c_int) -> c_int {
    // SAFETY: the caller passes a NUL-terminated path.
    unsafe {
        syscall6(
            libc::SYS_openat,
            libc::AT_FDCWD as usize,
            path as usize,
            (flags | libc::O_RDONLY | libc::O_CLOEXEC) as usize,
            0,
            0,
            0,
        ) as c_int
    }
}

unsafe fn sys_close(fd: c_int) {
    // SAFETY: closing a descriptor this process owns.
    unsafe { syscall3(libc::SYS_close, fd as usize, 0, 0) };
}

unsafe fn sys_exit(code: c_int) -> ! {
    // SAFETY: exit_group ends this process only (it is not a host thread).
    unsafe { syscall3(libc::SYS_exit_group, code as usize, 0, 0) };
    // exit_group does not return; stay here if it somehow did.
    loop {
        std::hint::spin_loop();
    }
}

/// Entry of the shim process (from `clone_on_stack`); `arg` is `&ShimBlock`.
pub(crate) extern "C" fn shim_entry(arg: usize) -> ! {
    // SAFETY: the block lives in memory the host unmaps only after reaping us.
    let block = unsafe { &*(arg as *const ShimBlock) };
    let args = &block.args;
    let control = &block.control;
    // SAFETY: raw syscalls; the tool runs on its own stack and reads the
    // same block.
    unsafe {
        set_name(c"dxforge-shim");
        syscall3(libc::SYS_setsid, 0, 0, 0);
        syscall6(
            libc::SYS_prctl,
            libc::PR_SET_CHILD_SUBREAPER as usize,
            1,
            0,
            0,
            0,
            0,
        );
        // No CLONE_VFORK: the tool runs its last steps on its own stack
        // while we go on; the host waits for the tool's exec itself.
        let flags = (libc::CLONE_VM
            | libc::CLONE_PARENT_SETTID
            | libc::CLONE_CHILD_CLEARTID
            | libc::SIGCHLD) as u64;
        let tool = clone_on_stack(
            flags,
            args.tool_stack_top,
            control.tool_pid.as_ptr(),
            control.exec_gate.as_ptr(),
            tool_entry,
            arg,
        );
        if tool < 0 {
            control.failed_errno.store(
                (-tool).clamp(0, i32::MAX as isize) as i32,
                Ordering::Release,
            );
            control.failed_step.store(STEP_CLONE, Ordering::Release);
            open_gate(control);
        }
        // Drop every inherited descriptor but the host's pidfd: the host's
        // pipes and sockets then close when the host closes them, and the
        // host's wait for the tool's exec no longer depends on us.
        close_all_but(args.host_pidfd);
        if tool < 0 {
            sys_exit(0);
        }
        shim_main(tool as pid_t, block)
    }
}

/// Sets this process's name as `ps` shows it.
unsafe fn set_name(name: &std::ffi::CStr) {
    // SAFETY: PR_SET_NAME reads a NUL-terminated string (cut at 15 bytes).
    unsafe {
        syscall6(
            libc::SYS_prctl,
            libc::PR_SET_NAME as usize,
            name.as_ptr() as usize,
            0,
            0,
            0,
            0,
        )
    };
}

/// Opens the exec gate by hand (when there is no tool to do it).
fn open_gate(control: &ShimControl) {
    control.exec_gate.store(0, Ordering::Release);
    // SAFETY: FUTEX_WAKE on a word in mapped memory.
    unsafe {
        syscall3(
            libc::SYS_futex,
            control.exec_gate.as_ptr() as usize,
            libc::FUTEX_WAKE as usize,
            i32::MAX as usize, // wake every waiter
        )
    };
}

/// Closes every descriptor from 3 up, except `keep` (none when below 3).
unsafe fn close_all_but(keep: c_int) {
    let keep = usize::try_from(keep).ok().filter(|&k| k >= 3);
    let all = u32::MAX as usize;
    // SAFETY: closing descriptors this process owns.
    unsafe {
        let closed = match keep {
            None => syscall3(libc::SYS_close_range, 3, all, 0) == 0,
            Some(k) => {
                (k == 3 || syscall3(libc::SYS_close_range, 3, k - 1, 0) == 0)
                    && syscall3(libc::SYS_close_range, k + 1, all, 0) == 0
            }
        };
        if !closed {
            // Before Linux 5.9: one by one.
            for fd in 3..65_536usize {
                if Some(fd) != keep {
                    syscall3(libc::SYS_close, fd, 0, 0);
                }
            }
        }
    }
}

/// Entry of the tool process: everything that does not depend on what will
/// run is done at once; then it parks until the host fills in the request
/// (at once, when the host filled it in before the clone), and execs.
extern "C" fn tool_entry(arg: usize) -> ! {
    // SAFETY: the block lives in memory the host unmaps only after reaping
    // the shim, which outlives us.
    let block = unsafe { &*(arg as *const ShimBlock) };
    let (args, control) = (&block.args, &block.control);
    let fail = |step: i32, ret: isize| -> ! {
        control
            .failed_errno
            .store((-ret).clamp(0, i32::MAX as isize) as i32, Ordering::Release);
        control.failed_step.store(step, Ordering::Release);
        // SAFETY: ends the tool process.
        unsafe { sys_exit(127) }
    };
    // SAFETY: raw syscalls on values prepared by the host.
    unsafe {
        // What `ps` shows while it is parked; `exec` names it after the tool.
        set_name(c"dxforge-parked");
        syscall3(libc::SYS_setpgid, 0, 0, 0);
        syscall6(
            libc::SYS_prctl,
            libc::PR_SET_PDEATHSIG as usize,
            libc::SIGKILL as usize,
            0,
            0,
            0,
            0,
        );
        for (target, &fd) in args.stdio.iter().enumerate() {
            let r = syscall3(libc::SYS_dup3, fd as usize, target, 0);
            if r < 0 {
                fail(STEP_STDIO, r);
            }
        }
        // A tool inherits stdin, stdout and stderr only: a parked tool must
        // not hold the host's other pipes and sockets open meanwhile.
        close_all_but(-1);
        // Default dispositions for everything (as `std` does), so that no
        // host handler can run here once signals are unblocked.
        let default_action = [0u64; 4];
        for sig in 1..65usize {
            if sig != libc::SIGKILL as usize && sig != libc::SIGSTOP as usize {
                syscall6(
                    libc::SYS_rt_sigaction,
                    sig,
                    default_action.as_ptr() as usize,
                    0,
                    8,
                    0,
                    0,
                );
            }
        }
        loop {
            match control.go.load(Ordering::Acquire) {
                GO_WAIT => {
                    // Returns at once if `go` changed meanwhile (EAGAIN).
                    syscall6(
                        libc::SYS_futex,
                        control.go.as_ptr() as usize,
                        (libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG) as usize,
                        GO_WAIT as usize,
                        0,
                        0,
                        0,
                    );
                }
                GO_RUN => break,
                _ => sys_exit(0),
            }
        }
        let cwd = control.cwd.load(Ordering::Acquire);
        if cwd != 0 {
            let r = syscall3(libc::SYS_chdir, cwd, 0, 0);
            if r < 0 {
                fail(STEP_CHDIR, r);
            }
        }
        // Signals stayed blocked (the host blocked them around the clone)
        // until now, so none could interrupt the steps above.
        let empty = 0u64;
        syscall6(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK as usize,
            (&raw const empty) as usize,
            0,
            8,
            0,
            0,
        );
        control.exec_tried.store(1, Ordering::Release);
        let r = syscall3(
            libc::SYS_execve,
            control.path.load(Ordering::Acquire),
            control.argv.load(Ordering::Acquire),
            control.envp.load(Ordering::Acquire),
        );
        fail(STEP_EXEC, r)
    }
}

fn now_ms() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into a valid timespec.
    unsafe {
        syscall3(
            libc::SYS_clock_gettime,
            libc::CLOCK_MONOTONIC as usize,
            (&raw mut ts) as usize,
            0,
        )
    };
    (ts.tv_sec as u64)
        .saturating_mul(1000)
        .saturating_add((ts.tv_nsec as u64) / 1_000_000)
}

/// The shim's loop: reap everything, forward signals, record the tool's
/// status and exit once the whole tree is gone.
unsafe fn shim_main(tool: pid_t, block: &ShimBlock) -> ! {
    let (args, control) = (&block.args, &block.control);
    // SAFETY: raw syscalls on stack values; the control block stays mapped
    // until the host has reaped us.
    unsafe {
        let me = syscall3(libc::SYS_getpid, 0, 0, 0) as pid_t;
        // Also set the group from this side, so forwarding works even if the
        // tool has not run its own setpgid yet.
        syscall3(libc::SYS_setpgid, tool as usize, tool as usize, 0);
        // Every signal is blocked (the host blocked them around the clone);
        // they arrive here as data.
        let all = u64::MAX;
        let sfd = syscall6(
            libc::SYS_signalfd4,
            usize::MAX,
            (&raw const all) as usize,
            8,
            (libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) as usize,
            0,
            0,
        ) as c_int;
        let mut host_fd = args.host_pidfd;
        let mut tool_status: Option<c_int> = None;
        let mut killing = false;
        let mut leftover_deadline: Option<u64> = None;
        loop {
            let mut no_children = false;
            loop {
                let mut st: c_int = 0;
                let r = syscall6(
                    libc::SYS_wait4,
                    usize::MAX, // -1: any child
                    (&raw mut st) as usize,
                    (libc::WNOHANG | libc::__WALL) as usize,
                    0,
                    0,
                    0,
                );
                if r > 0 {
                    if r as pid_t == tool {
                        tool_status = Some(st);
                    }
                    continue;
                }
                if r == -(libc::ECHILD as isize) {
                    no_children = true;
                }
                break;
            }
            if let Some(st) = tool_status {
                if no_children {
                    control.tool_status.store(st, Ordering::Release);
                    sys_exit(0);
                }
                if !killing && leftover_deadline.is_none() {
                    // The tool is gone but left descendants: ask, then force.
                    signal_tree(me, libc::SIGTERM, 0);
                    let grace = control.leftover_grace_ms.load(Ordering::Acquire);
                    leftover_deadline = Some(now_ms().saturating_add(grace));
                }
            }
            if leftover_deadline.is_some_and(|d| now_ms() >= d) {
                killing = true;
            }
            if killing {
                sys_kill(-tool, libc::SIGKILL);
                signal_tree(me, libc::SIGKILL, 0);
            }
            let busy = killing || leftover_deadline.is_some();
            let ts = libc::timespec {
                tv_sec: if busy { 0 } else { 1 },
                tv_nsec: if busy { 20_000_000 } else { 0 },
            };
            let mut fds = [
                libc::pollfd {
                    fd: sfd,
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: host_fd,
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            let ready = syscall6(
                libc::SYS_ppoll,
                fds.as_mut_ptr() as usize,
                fds.len(),
                (&raw const ts) as usize,
                0,
                8,
                0,
            );
            if ready > 0 && fds[1].revents != 0 {
                // The host died: nobody is left to stop the tree, so kill it.
                killing = true;
                host_fd = -1;
            }
            // The signalfd only wakes us; signals are taken with a zero
            // timeout, which also works if the signalfd could not be made.
            let zero = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            let mut info = [0u8; 128];
            loop {
                let sig = syscall6(
                    libc::SYS_rt_sigtimedwait,
                    (&raw const all) as usize,
                    info.as_mut_ptr() as usize,
                    (&raw const zero) as usize,
                    8,
                    0,
                    0,
                ) as c_int;
                if sig <= 0 {
                    break;
                }
                if sig == libc::SIGCHLD {
                    continue;
                }
                if sig == args.kill_all {
                    killing = true;
                    continue;
                }
                // A stop (or any other) signal: forward it to the tool's
                // group and to every descendant that left the group.
                sys_kill(-tool, sig);
                signal_tree(me, sig, tool);
            }
        }
    }
}

/// Sends `sig` to every descendant of `root` (found by scanning `/proc`),
/// skipping members of process group `skip_pgrp` (already signalled as a
/// group) when it is non-zero.
unsafe fn signal_tree(root: pid_t, sig: c_int, skip_pgrp: pid_t) {
    // (pid, ppid, pgrp)
    let mut procs = [(0 as pid_t, 0 as pid_t, 0 as pid_t); MAX_PROCS];
    // SAFETY: the scan only uses raw syscalls on stack buffers.
    let n = unsafe { scan_proc(&mut procs) };
    let mut marked = [false; MAX_PROCS];
    loop {
        let mut changed = false;
        for i in 0..n {
            if marked.get(i).copied().unwrap_or(true) {
                continue;
            }
            let Some(&(_, ppid, _)) = procs.get(i) else {
                continue;
            };
            let parent_marked = ppid == root
                || (0..n).any(|j| {
                    marked.get(j).copied().unwrap_or(false)
                        && procs.get(j).is_some_and(|q| q.0 == ppid)
                });
            if parent_marked {
                if let Some(m) = marked.get_mut(i) {
                    *m = true;
                }
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    for i in 0..n {
        if let (Some(true), Some(&(pid, _, pgrp))) = (marked.get(i).copied(), procs.get(i))
            && (skip_pgrp == 0 || pgrp != skip_pgrp)
        {
            // SAFETY: sending a signal has no memory effects.
            unsafe { sys_kill(pid, sig) };
        }
    }
}

/// Fills `out` with (pid, ppid, pgrp) of processes under /proc; returns how many.
unsafe fn scan_proc(out: &mut [(pid_t, pid_t, pid_t)]) -> usize {
    let mut n = 0;
    // SAFETY: raw openat/getdents64/close on stack buffers.
    unsafe {
        let dir = sys_open(c"/proc".as_ptr(), libc::O_DIRECTORY);
        if dir < 0 {
            return 0;
        }
        let mut buf = [0u8; 4096];
        loop {
            let got = syscall3(
                libc::SYS_getdents64,
                dir as usize,
                buf.as_mut_ptr() as usize,
                buf.len(),
            );
            if got <= 0 {
                break;
            }
            let got = got as usize;
            let mut off = 0usize;
            // linux_dirent64: d_ino u64, d_off i64, d_reclen u16, d_type u8, d_name[]
            while off + 19 < got {
                let reclen = match (buf.get(off + 16), buf.get(off + 17)) {
                    (Some(&a), Some(&b)) => u16::from_ne_bytes([a, b]) as usize,
                    _ => break,
                };
                if reclen == 0 {
                    break;
                }
                let mut pid: pid_t = 0;
                let mut i = off + 19;
                let mut numeric = true;
                while let Some(&c) = buf.get(i) {
                    if c == 0 || i >= off + reclen {
                        break;
                    }
                    if !c.is_ascii_digit() || pid > 100_000_000 {
                        numeric = false;
                        break;
                    }
                    pid = pid.wrapping_mul(10).wrapping_add((c - b'0') as pid_t);
                    i += 1;
                }
                if numeric
                    && pid > 0
                    && n < out.len()
                    && let Some((ppid, pgrp)) = read_stat(pid)
                    && let Some(slot) = out.get_mut(n)
                {
                    *slot = (pid, ppid, pgrp);
                    n += 1;
                }
                off = off.saturating_add(reclen);
            }
        }
        sys_close(dir);
    }
    n
}

/// Reads ppid and pgrp from `/proc/<pid>/stat`.
unsafe fn read_stat(pid: pid_t) -> Option<(pid_t, pid_t)> {
    let mut path = [0u8; 32];
    let prefix = b"/proc/";
    let mut len = 0;
    for &c in prefix {
        *path.get_mut(len)? = c;
        len += 1;
    }
    let mut digits = [0u8; 12];
    let mut nd = 0;
    let mut v = pid;
    while v > 0 {
        *digits.get_mut(nd)? = b'0' + (v % 10) as u8;
        v /= 10;
        nd += 1;
    }
    while nd > 0 {
        nd -= 1;
        *path.get_mut(len)? = *digits.get(nd)?;
        len += 1;
    }
    for &c in b"/stat\0" {
        *path.get_mut(len)? = c;
        len += 1;
    }
    let mut buf = [0u8; 512];
    // SAFETY: `path` is NUL-terminated; reads go into a stack buffer.
    let got = unsafe {
        let fd = sys_open(path.as_ptr().cast(), 0);
        if fd < 0 {
            return None;
        }
        let got = syscall3(
            libc::SYS_read,
            fd as usize,
            buf.as_mut_ptr() as usize,
            buf.len(),
        );
        sys_close(fd);
        got
    };
    if got <= 0 {
        return None;
    }
    let text = buf.get(..got as usize)?;
    // "pid (comm) S ppid pgrp ..."; comm may contain anything, so use the last ')'.
    let close = text.iter().rposition(|&c| c == b')')?;
    let mut fields = text
        .get(close + 1..)?
        .split(|&c| c == b' ')
        .filter(|f| !f.is_empty());
    let _state = fields.next()?;
    let ppid = parse_int(fields.next()?)?;
    let pgrp = parse_int(fields.next()?)?;
    Some((ppid, pgrp))
}

fn parse_int(s: &[u8]) -> Option<pid_t> {
    let mut v: pid_t = 0;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as pid_t)?;
    }
    Some(v)
}
