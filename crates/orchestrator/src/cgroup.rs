//! A cgroup v2 leaf per tool, where the host allows it: the shim creates
//! the tool inside it (`clone3` with `CLONE_INTO_CGROUP`, Linux 5.7), so
//! every descendant, however it detaches
//! (`setsid`, double fork), is a member, and the shim kills the whole tree
//! with one write to `cgroup.kill` (or signals the members listed in
//! `cgroup.procs`) at a cost that does not depend on how many processes the
//! machine has.
//!
//! The leaves are made under the host's own cgroup v2 directory (found
//! through `/proc/self/cgroup` and `/proc/self/mountinfo`) and named
//! `dxforge-<host pid>-<n>`. Where that is not possible (no cgroup2 mount,
//! not delegated to us, a kernel before 5.14 without `cgroup.kill`, or
//! `DXFORGE_CGROUP=off` in the environment) nothing is made and the shim
//! falls back to scanning `/proc` (see `procscan`), which is correct on its
//! own. The first failure turns the leaves off for the rest of the process.
//!
//! The host side (finding the base, making a leaf) may allocate; the
//! functions the shim calls ([`open_leaf`], [`kill_all`],
//! [`signal_members`], [`remove`]) do not: they use rustix only and stack
//! buffers.
#![deny(
    clippy::undocumented_unsafe_blocks,
    clippy::multiple_unsafe_ops_per_block,
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing
)]

use std::ffi::CStr;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rustix::fd::{AsFd, BorrowedFd};
use rustix::fs::{Access, AtFlags, Mode, OFlags};
use rustix::process::{Pid, Signal};

use crate::sys::ShimFd;

/// Room for a leaf's NUL-terminated name.
pub(crate) const NAME_LEN: usize = 48;

/// A leaf's name, NUL-terminated, relative to the base directory.
pub(crate) type LeafName = [u8; NAME_LEN];

/// Set once a leaf could not be made or joined: no more are tried.
static DISABLED: AtomicBool = AtomicBool::new(false);
/// Numbers the leaves of this process.
static NEXT: AtomicU64 = AtomicU64::new(0);

/// The host's own cgroup v2 directory, opened once.
fn base() -> Option<&'static OwnedFd> {
    static BASE: OnceLock<Option<OwnedFd>> = OnceLock::new();
    BASE.get_or_init(find_base).as_ref()
}

fn find_base() -> Option<OwnedFd> {
    if std::env::var_os("DXFORGE_CGROUP").is_some_and(|v| v == "off" || v == "0") {
        return None;
    }
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let rel = own.lines().find_map(|l| l.strip_prefix("0::"))?;
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    // "id parent maj:min root mountpoint options ... - fstype source ...":
    // the cgroup2 mount whose root is "/" holds every cgroup by its path.
    let mount = mounts.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        let mut fields = left.split(' ');
        let root = fields.nth(3)?;
        let point = fields.next()?;
        (right.starts_with("cgroup2 ") && root == "/").then_some(point)
    })?;
    let dir = std::path::Path::new(mount).join(rel.trim_start_matches('/'));
    let fd = rustix::fs::open(
        &dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    sweep(&dir);
    Some(fd)
}

/// Removes the empty leaves of hosts that are gone (a host that exits
/// without stopping its orchestrator leaves its spare leaves behind).
fn sweep(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("dxforge-"))
            .and_then(|n| n.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            // Fails, harmlessly, while something still runs in it.
            let _ = std::fs::remove_dir(entry.path());
        }
    }
}

/// Makes a leaf for one tool: the base directory's descriptor (which the
/// shim keeps) and the leaf's name. `None` where cgroups are not usable.
pub(crate) fn make_leaf() -> Option<(RawFd, LeafName)> {
    if DISABLED.load(Ordering::Relaxed) {
        return None;
    }
    let base = base()?;
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let text = format!("dxforge-{}-{n}", std::process::id());
    let mut name = [0u8; NAME_LEN];
    let bytes = name.get_mut(..text.len())?;
    bytes.copy_from_slice(text.as_bytes());
    if rustix::fs::mkdirat(base, text.as_str(), Mode::from_raw_mode(0o755)).is_err() {
        disable();
        return None;
    }
    // `cgroup.kill` (Linux 5.14; a root cgroup has none, hence the check on
    // the leaf) is what makes a kill race-free.
    let kill = format!("{text}/cgroup.kill");
    if rustix::fs::accessat(base, kill.as_str(), Access::EXISTS, AtFlags::empty()).is_err() {
        let _ = rustix::fs::unlinkat(base, text.as_str(), AtFlags::REMOVEDIR);
        disable();
        return None;
    }
    Some((base.as_raw_fd(), name))
}

/// Whether leaves are still in use in this process.
pub(crate) fn enabled() -> bool {
    !DISABLED.load(Ordering::Relaxed)
}

/// Whether this process made the leaf (a `fork`ed child inherits its
/// parent's spare leaves, which stay the parent's).
pub(crate) fn ours(name: &LeafName) -> bool {
    let prefix = format!("dxforge-{}-", std::process::id());
    name.starts_with(prefix.as_bytes())
}

/// Turns leaves off for the rest of this process (one failed, so the next
/// would too).
pub(crate) fn disable() {
    DISABLED.store(true, Ordering::Relaxed);
}

/// Writes `"<leaf>/<file>\0"` into `out`.
fn leaf_path<'a>(name: &LeafName, file: &[u8], out: &'a mut [u8; 96]) -> Option<&'a CStr> {
    let leaf = CStr::from_bytes_until_nul(name).ok()?.to_bytes();
    let mut len = 0usize;
    for &c in leaf.iter().chain(b"/").chain(file).chain(b"\0") {
        *out.get_mut(len)? = c;
        len = len.checked_add(1)?;
    }
    CStr::from_bytes_until_nul(out.get(..len)?).ok()
}

fn write_file(base: BorrowedFd<'_>, name: &LeafName, file: &[u8], data: &[u8]) -> bool {
    let mut path = [0u8; 96];
    let Some(path) = leaf_path(name, file, &mut path) else {
        return false;
    };
    let Ok(fd) = rustix::fs::openat(base, path, OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty())
    else {
        return false;
    };
    let fd = ShimFd::new(fd);
    rustix::io::write(fd.as_fd(), data).is_ok_and(|n| n == data.len())
}

/// Opens the leaf's directory, for `clone3(CLONE_INTO_CGROUP)` (the shim
/// creates the tool inside it, so the whole tree is born there).
/// Allocation-free.
pub(crate) fn open_leaf(base: BorrowedFd<'_>, name: &LeafName) -> Option<ShimFd> {
    let name = CStr::from_bytes_until_nul(name).ok()?;
    let fd = rustix::fs::openat(
        base,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    Some(ShimFd::new(fd))
}

/// SIGKILLs every member of the leaf at once. Allocation-free.
pub(crate) fn kill_all(base: BorrowedFd<'_>, name: &LeafName) -> bool {
    write_file(base, name, b"cgroup.kill", b"1")
}

/// Sends `sig` to every member of the leaf, skipping members of process
/// group `skip_pgrp` (signalled as a group already). Allocation-free: the
/// PID list is read through a fixed buffer. Returns how many were signalled.
pub(crate) fn signal_members(
    base: BorrowedFd<'_>,
    name: &LeafName,
    sig: Signal,
    skip_pgrp: Option<Pid>,
) -> usize {
    let mut path = [0u8; 96];
    let Some(path) = leaf_path(name, b"cgroup.procs", &mut path) else {
        return 0;
    };
    let Ok(fd) = rustix::fs::openat(base, path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
    else {
        return 0;
    };
    let fd = ShimFd::new(fd);
    let mut buf = [MaybeUninit::<u8>::uninit(); 1024];
    let mut signalled = 0usize;
    // A number cut by the end of a read carries over to the next one.
    let mut pid: i32 = 0;
    while let Ok((got, _)) = rustix::io::read(fd.as_fd(), &mut buf) {
        if got.is_empty() {
            break;
        }
        for &c in got.iter() {
            if let Some(d) = c.checked_sub(b'0').filter(|d| *d <= 9) {
                pid = pid
                    .checked_mul(10)
                    .and_then(|v| v.checked_add(i32::from(d)))
                    .unwrap_or(0);
                continue;
            }
            if let Some(target) = Pid::from_raw(pid)
                && skip_pgrp.is_none_or(|skip| rustix::process::getpgid(Some(target)) != Ok(skip))
                && rustix::process::kill_process(target, sig).is_ok()
            {
                signalled = signalled.saturating_add(1);
            }
            pid = 0;
        }
    }
    signalled
}

/// Removes the leaf (only possible once it is empty). Allocation-free.
pub(crate) fn remove(base: BorrowedFd<'_>, name: &LeafName) -> bool {
    let Ok(name) = CStr::from_bytes_until_nul(name) else {
        return false;
    };
    rustix::fs::unlinkat(base, name, AtFlags::REMOVEDIR).is_ok()
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    #[test]
    fn a_forked_child_does_not_take_its_parents_leaves_for_its_own() {
        let name = |text: String| {
            let mut n = [0u8; NAME_LEN];
            n[..text.len()].copy_from_slice(text.as_bytes());
            n
        };
        let me = std::process::id();
        assert!(ours(&name(format!("dxforge-{me}-7"))));
        assert!(!ours(&name(format!("dxforge-{}-7", me + 1))));
        assert!(!ours(&name(format!("dxforge-{me}7-1"))));
    }

    #[test]
    fn leaf_paths_are_built_without_allocation() {
        let mut name = [0u8; NAME_LEN];
        name[..9].copy_from_slice(b"dxforge-1");
        let mut out = [0u8; 96];
        assert_eq!(
            leaf_path(&name, b"cgroup.kill", &mut out),
            Some(c"dxforge-1/cgroup.kill")
        );
    }
}
