//! The per-tool reaper shim: code that runs between `fork` and `exec`.
//!
//! Everything in this module runs in a child forked from a (possibly
//! multi-threaded) host, so it only makes async-signal-safe calls: raw
//! syscalls on stack buffers, no allocation, no locks, no panics (every index
//! is bounds-checked with `get`).
//!
//! Layout after [`pre_exec`] ran:
//!
//! ```text
//! host ── shim (setsid, subreaper, PDEATHSIG=kill-all) ── tool (own process group, PDEATHSIG=SIGKILL)
//!                                                     └── orphans of the tool's tree (reparented here)
//! ```

use libc::{c_int, pid_t};

/// What the shim needs to know, captured by value before `fork`.
#[derive(Clone, Copy)]
pub(crate) struct ShimParams {
    /// Write end of the pipe that carries the tool's PID back to the library.
    pub pid_pipe: c_int,
    /// Signal meaning "SIGKILL the whole tree now" (a real-time signal, so it
    /// never collides with a tool's `stop_signal`).
    pub kill_all: c_int,
    /// Grace between SIGTERM and SIGKILL for descendants left behind when the
    /// tool exits on its own.
    pub leftover_grace_ms: u64,
}

/// Most processes one /proc scan looks at; more are ignored for that pass
/// (the kill loop repeats, so a busy machine still converges).
const MAX_PROCS: usize = 1024;

/// Runs in the forked child. In the shim it never returns; in the tool it
/// returns `Ok(())` so that std goes on to `exec` the tool.
///
/// # Safety
/// Must only be called from a `pre_exec` hook (after `fork`, before `exec`).
pub(crate) unsafe fn pre_exec(p: ShimParams) -> std::io::Result<()> {
    // SAFETY: plain syscalls on stack values in the freshly forked child.
    unsafe {
        // Block everything first: the shim collects signals with sigtimedwait,
        // and no handler inherited from the host may ever run here.
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::sigprocmask(libc::SIG_SETMASK, &all, std::ptr::null_mut());
        if libc::setsid() < 0 {
            return Err(std::io::Error::last_os_error());
        }
        libc::prctl(libc::PR_SET_PDEATHSIG, p.kill_all as libc::c_ulong, 0, 0, 0);
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0);
        let tool = libc::fork();
        if tool < 0 {
            return Err(std::io::Error::last_os_error());
        }
        if tool == 0 {
            become_tool();
            return Ok(());
        }
        let bytes = tool.to_ne_bytes();
        libc::write(p.pid_pipe, bytes.as_ptr().cast(), bytes.len());
        // Closing every inherited descriptor (std's exec-error pipe among
        // them) lets the host see EOF as soon as the tool has exec'd.
        close_from(3);
        shim_main(tool, p)
    }
}

/// The tool side of the second fork: own process group, default signal
/// dispositions, empty mask, and death with its shim.
unsafe fn become_tool() {
    // SAFETY: async-signal-safe syscalls only.
    unsafe {
        libc::setpgid(0, 0);
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        );
        for sig in 1..65 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
    }
}

unsafe fn close_from(first: c_int) {
    // SAFETY: closing descriptors in the single-threaded shim.
    unsafe {
        if libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            0,
        ) != 0
        {
            for fd in first..65_536 {
                libc::close(fd);
            }
        }
    }
}

fn now_ms() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into a valid timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64).saturating_mul(1000) + (ts.tv_nsec as u64) / 1_000_000
}

/// The shim's loop: reap everything, forward signals, exit like the tool.
unsafe fn shim_main(tool: pid_t, p: ShimParams) -> ! {
    // SAFETY: async-signal-safe syscalls on stack values.
    unsafe {
        let me = libc::getpid();
        // Also set the group from this side, so forwarding works even if the
        // tool has not run its own setpgid yet.
        libc::setpgid(tool, tool);
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        let mut tool_status: Option<c_int> = None;
        let mut killing = false;
        let mut leftover_deadline: Option<u64> = None;
        loop {
            let mut no_children = false;
            loop {
                let mut st: c_int = 0;
                let r = libc::waitpid(-1, &mut st, libc::WNOHANG);
                if r > 0 {
                    if r == tool {
                        tool_status = Some(st);
                    }
                    continue;
                }
                if r < 0 && *libc::__errno_location() == libc::ECHILD {
                    no_children = true;
                }
                break;
            }
            if let Some(st) = tool_status {
                if no_children {
                    exit_like(me, st);
                }
                if !killing && leftover_deadline.is_none() {
                    // The tool is gone but left descendants: ask, then force.
                    signal_tree(me, libc::SIGTERM, 0);
                    leftover_deadline = Some(now_ms().saturating_add(p.leftover_grace_ms));
                }
            }
            if leftover_deadline.is_some_and(|d| now_ms() >= d) {
                killing = true;
            }
            if killing {
                libc::kill(-tool, libc::SIGKILL);
                signal_tree(me, libc::SIGKILL, 0);
            }
            let busy = killing || leftover_deadline.is_some();
            let ts = libc::timespec {
                tv_sec: if busy { 0 } else { 1 },
                tv_nsec: if busy { 20_000_000 } else { 0 },
            };
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let sig = libc::sigtimedwait(&all, &mut info, &ts);
            if sig <= 0 || sig == libc::SIGCHLD {
                continue;
            }
            if sig == p.kill_all {
                killing = true;
                continue;
            }
            // A stop (or any other) signal: forward it to the tool's group and
            // to every descendant that left the group.
            libc::kill(-tool, sig);
            signal_tree(me, sig, tool);
        }
    }
}

/// Exits with the tool's wait status: same code, or the same signal.
unsafe fn exit_like(me: pid_t, status: c_int) -> ! {
    // SAFETY: async-signal-safe syscalls; `_exit` never returns.
    unsafe {
        if libc::WIFSIGNALED(status) {
            let sig = libc::WTERMSIG(status);
            let no_core = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &no_core);
            libc::signal(sig, libc::SIG_DFL);
            let mut only: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut only);
            libc::sigaddset(&mut only, sig);
            libc::sigprocmask(libc::SIG_UNBLOCK, &only, std::ptr::null_mut());
            libc::kill(me, sig);
            libc::_exit(128 + sig);
        }
        libc::_exit(libc::WEXITSTATUS(status))
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
            unsafe { libc::kill(pid, sig) };
        }
    }
}

/// Fills `out` with (pid, ppid, pgrp) of processes under /proc; returns how many.
unsafe fn scan_proc(out: &mut [(pid_t, pid_t, pid_t)]) -> usize {
    let mut n = 0;
    // SAFETY: raw open/getdents64/close on stack buffers.
    unsafe {
        let dir = libc::open(
            c"/proc".as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        );
        if dir < 0 {
            return 0;
        }
        let mut buf = [0u8; 4096];
        loop {
            let got = libc::syscall(libc::SYS_getdents64, dir, buf.as_mut_ptr(), buf.len());
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
                    pid = pid * 10 + (c - b'0') as pid_t;
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
                off += reclen;
            }
        }
        libc::close(dir);
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
        let fd = libc::open(path.as_ptr().cast(), libc::O_RDONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return None;
        }
        let got = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
        libc::close(fd);
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
