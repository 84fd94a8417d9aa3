//! Finding a shim's descendants by scanning `/proc`, for hosts where no
//! cgroup can be made for the tool (see `cgroup`).
//!
//! Runs in the shim (see `shim`): no allocation, no locks, no panics, no
//! libc (system calls go through rustix's raw Linux backend, which never
//! touches `errno`). Memory is bounded by the size of the tool's tree, not
//! by the number of processes on the machine: every `/proc` entry is read on
//! every pass (`getdents64` through a fixed buffer, one `stat` file at a
//! time), and only descendants are remembered.
//!
//! A pass signals each process whose parent is the shim or an already found
//! descendant, as soon as it is read. `/proc` lists processes by ascending
//! PID, so a child usually comes after its parent and one pass finds the
//! whole tree; passes repeat while they find something new (a PID that
//! wrapped around puts a child before its parent). A tree larger than
//! [`MAX_TRACKED`] is still reached: the shim is a child subreaper, so once
//! the known part dies, the rest is reparented to the shim and found by the
//! next call of its kill loop.
#![deny(
    clippy::undocumented_unsafe_blocks,
    clippy::multiple_unsafe_ops_per_block,
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing
)]

use std::ffi::CStr;
use std::mem::MaybeUninit;

use rustix::fd::{AsFd, BorrowedFd};
use rustix::fs::{Mode, OFlags, RawDir};
use rustix::process::{Pid, Signal};

use crate::sys::ShimFd;

/// Most descendants remembered by one call (4 KiB of stack).
pub(crate) const MAX_TRACKED: usize = 1024;

/// Most passes over `/proc` in one call; the kill loop calls again.
const MAX_PASSES: usize = 8;

/// A fixed-capacity set of PIDs.
struct PidSet {
    pids: [i32; MAX_TRACKED],
    len: usize,
}

impl PidSet {
    fn new() -> Self {
        Self {
            pids: [0; MAX_TRACKED],
            len: 0,
        }
    }

    fn contains(&self, pid: i32) -> bool {
        self.pids.get(..self.len).is_some_and(|s| s.contains(&pid))
    }

    /// False when full (the caller's kill loop reaches the rest later).
    fn insert(&mut self, pid: i32) -> bool {
        let Some(slot) = self.pids.get_mut(self.len) else {
            return false;
        };
        *slot = pid;
        self.len = self.len.saturating_add(1);
        true
    }
}

/// Sends `sig` to every descendant of `root` (the calling shim), skipping
/// members of process group `skip_pgrp` (already signalled as a group).
/// Returns how many processes were signalled.
pub(crate) fn signal_descendants(root: Pid, sig: Signal, skip_pgrp: Option<Pid>) -> usize {
    let Ok(proc) = rustix::fs::openat(
        rustix::fs::CWD,
        c"/proc",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) else {
        return 0;
    };
    let proc = ShimFd::new(proc);
    let mut found = PidSet::new();
    let mut signalled = 0usize;
    for _ in 0..MAX_PASSES {
        let before = found.len;
        signalled = signalled.saturating_add(pass(proc.as_fd(), root, sig, skip_pgrp, &mut found));
        if found.len == before {
            break;
        }
    }
    signalled
}

/// One pass over every entry of `/proc`; returns how many were signalled.
fn pass(
    proc: BorrowedFd<'_>,
    root: Pid,
    sig: Signal,
    skip_pgrp: Option<Pid>,
    found: &mut PidSet,
) -> usize {
    // Rewind: a directory descriptor read to its end stays there.
    if rustix::fs::seek(proc, rustix::fs::SeekFrom::Start(0)).is_err() {
        return 0;
    }
    let mut buf = [MaybeUninit::<u8>::uninit(); 4096];
    let mut dir = RawDir::new(proc, &mut buf);
    let mut signalled = 0usize;
    while let Some(entry) = dir.next() {
        let Ok(entry) = entry else { break };
        let Some(pid) = parse_pid(entry.file_name().to_bytes()) else {
            continue;
        };
        if found.contains(pid) {
            continue;
        }
        let Some((ppid, pgrp)) = read_stat(proc, pid) else {
            continue;
        };
        if ppid != root.as_raw_nonzero().get() && !found.contains(ppid) {
            continue;
        }
        if skip_pgrp.is_none_or(|skip| skip.as_raw_nonzero().get() != pgrp)
            && let Some(target) = Pid::from_raw(pid)
            && rustix::process::kill_process(target, sig).is_ok()
        {
            signalled = signalled.saturating_add(1);
        }
        found.insert(pid);
    }
    signalled
}

/// A `/proc` entry's name as a PID (`None` for `self`, `sys`, ...).
fn parse_pid(name: &[u8]) -> Option<i32> {
    if name.is_empty() {
        return None;
    }
    let mut v: i32 = 0;
    for &c in name {
        let digit = c.checked_sub(b'0').filter(|d| *d <= 9)?;
        v = v.checked_mul(10)?.checked_add(i32::from(digit))?;
    }
    (v > 0).then_some(v)
}

/// Writes `"<pid>/stat\0"` into `out`; returns it as a C string.
fn stat_path(pid: i32, out: &mut [u8; 24]) -> Option<&CStr> {
    let mut digits = [0u8; 10];
    let mut n = 0usize;
    let mut v = u32::try_from(pid).ok()?;
    loop {
        let d = u8::try_from(v.checked_rem(10)?).ok()?;
        *digits.get_mut(n)? = b'0'.checked_add(d)?;
        n = n.checked_add(1)?;
        v = v.checked_div(10)?;
        if v == 0 {
            break;
        }
    }
    let mut len = 0usize;
    for i in (0..n).rev() {
        *out.get_mut(len)? = *digits.get(i)?;
        len = len.checked_add(1)?;
    }
    for &c in b"/stat\0" {
        *out.get_mut(len)? = c;
        len = len.checked_add(1)?;
    }
    CStr::from_bytes_until_nul(out.get(..len)?).ok()
}

/// Reads `(ppid, pgrp)` from `/proc/<pid>/stat`; `None` if it is gone.
fn read_stat(proc: BorrowedFd<'_>, pid: i32) -> Option<(i32, i32)> {
    let mut path = [0u8; 24];
    let path = stat_path(pid, &mut path)?;
    let fd =
        rustix::fs::openat(proc, path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).ok()?;
    let fd = ShimFd::new(fd);
    let mut buf = [0u8; 512];
    let got = rustix::io::read(fd.as_fd(), &mut buf).ok()?;
    let text = buf.get(..got)?;
    // "pid (comm) S ppid pgrp ...": comm may hold anything, so the fields
    // start after the last ')'.
    let close = text.iter().rposition(|&c| c == b')')?;
    let mut fields = text
        .get(close.checked_add(1)?..)?
        .split(|&c| c == b' ')
        .filter(|f| !f.is_empty());
    let _state = fields.next()?;
    let ppid = parse_int(fields.next()?)?;
    let pgrp = parse_int(fields.next()?)?;
    Some((ppid, pgrp))
}

fn parse_int(s: &[u8]) -> Option<i32> {
    let mut v: i32 = 0;
    for &c in s {
        let digit = c.checked_sub(b'0').filter(|d| *d <= 9)?;
        v = v.checked_mul(10)?.checked_add(i32::from(digit))?;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_paths_are_built_without_allocation() {
        let mut buf = [0u8; 24];
        assert_eq!(stat_path(1, &mut buf), Some(c"1/stat"));
        assert_eq!(stat_path(4194304, &mut buf), Some(c"4194304/stat"));
        assert_eq!(stat_path(i32::MAX, &mut buf), Some(c"2147483647/stat"));
    }

    #[test]
    fn only_numeric_proc_entries_are_pids() {
        assert_eq!(parse_pid(b"123"), Some(123));
        assert_eq!(parse_pid(b"self"), None);
        assert_eq!(parse_pid(b""), None);
        assert_eq!(parse_pid(b"0"), None);
        assert_eq!(parse_pid(b"99999999999"), None);
    }

    #[test]
    fn the_scan_finds_a_child_among_all_processes() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let me = rustix::process::getpid();
        // SIGCONT is harmless to a running `sleep`: it is found and counted.
        let n = signal_descendants(me, Signal::CONT, None);
        assert!(n >= 1, "found {n}");
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
