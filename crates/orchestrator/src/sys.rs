//! The system calls rustix does not offer, for code that shares the host's
//! memory but is not one of its threads (the shim and the tool before
//! `exec`, see `shim`): a `clone` onto a stack of our own, `signalfd4`,
//! `close_range`, `exit_group`, `execve` and the signal calls that take the
//! kernel's own `sigaction` and signal set (rustix keeps those private).
//!
//! Such code must not go through libc: libc's wrappers write `errno` into the
//! thread-local storage of whichever host thread created the process (the
//! thread pointer is inherited by `clone`), which would corrupt that thread's
//! `errno` at random. So these are made with inline assembly and return the
//! kernel's result, like rustix's raw Linux backend which the rest of the
//! shim uses. (libc's `clone` wrapper would also set `errno` when the shim's
//! clone of the tool fails.)
#![deny(
    clippy::undocumented_unsafe_blocks,
    clippy::multiple_unsafe_ops_per_block,
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing
)]

use std::arch::asm;

use rustix::io::Errno;

/// Entry point of a process made by [`clone_on_stack`]; never returns.
pub(crate) type CloneEntry = extern "C" fn(usize) -> !;

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("dxforge's orchestrator supports Linux on x86_64 and aarch64");

/// The kernel's `-errno` convention as a `Result`.
fn result(ret: isize) -> Result<usize, Errno> {
    match usize::try_from(ret) {
        Ok(v) => Ok(v),
        Err(_) => Err(Errno::from_raw_os_error(
            ret.checked_neg()
                .and_then(|e| i32::try_from(e).ok())
                .unwrap_or(libc::EINVAL),
        )),
    }
}

/// A system call with up to four arguments; returns the result or `-errno`.
///
/// # Safety
/// The arguments must be valid for system call `nr` (pointers to memory the
/// call may read or write as the kernel documents).
#[inline(always)]
unsafe fn syscall4(nr: i64, a: usize, b: usize, c: usize, d: usize) -> isize {
    let ret: isize;
    // SAFETY: forwarded to the caller; the asm clobbers only what the
    // kernel's calling convention says.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") nr as isize => ret,
            in("rdi") a, in("rsi") b, in("rdx") c, in("r10") d,
            lateout("rcx") _, lateout("r11") _,
            options(nostack),
        );
    }
    // SAFETY: as above.
    #[cfg(target_arch = "aarch64")]
    unsafe {
        asm!(
            "svc 0",
            in("x8") nr,
            inlateout("x0") a => ret,
            in("x1") b, in("x2") c, in("x3") d,
            options(nostack),
        );
    }
    ret
}

/// The kernel's signal set (64 signals in one word on x86_64 and aarch64).
type SigSet = linux_raw_sys::general::kernel_sigset_t;
const _: () = assert!(std::mem::size_of::<SigSet>() == 8);
const _: () = assert!(std::mem::size_of::<linux_raw_sys::general::kernel_sigaction>() == 32);

static ALL_SIGNALS: SigSet = SigSet { sig: [!0] };
static NO_SIGNALS: SigSet = SigSet { sig: [0] };

/// `exit_group(code)`: ends the calling process (the shim or the tool,
/// never a host thread: neither shares the host's thread group).
pub(crate) fn exit_group(code: i32) -> ! {
    loop {
        // SAFETY: no memory effects; the process ends.
        unsafe { syscall4(libc::SYS_exit_group, code as usize, 0, 0, 0) };
    }
}

/// Sets signal `sig`'s disposition to the default (no handler).
pub(crate) fn set_default_disposition(sig: i32) -> Result<(), Errno> {
    let act = linux_raw_sys::general::kernel_sigaction {
        sa_handler_kernel: None, // SIG_DFL
        sa_flags: 0,
        sa_restorer: None,
        sa_mask: NO_SIGNALS,
    };
    // SAFETY: rt_sigaction reads one kernel `sigaction` from a live stack
    // value; with SIG_DFL no code of ours is ever run for the signal.
    let ret = unsafe {
        syscall4(
            libc::SYS_rt_sigaction,
            sig as usize,
            (&raw const act) as usize,
            0,
            std::mem::size_of::<SigSet>(),
        )
    };
    result(ret).map(drop)
}

/// Unblocks every signal of the calling thread.
pub(crate) fn unblock_all_signals() -> Result<(), Errno> {
    // SAFETY: rt_sigprocmask reads one signal set from a live stack value.
    let ret = unsafe {
        syscall4(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK as usize,
            (&raw const NO_SIGNALS) as usize,
            0,
            std::mem::size_of::<SigSet>(),
        )
    };
    result(ret).map(drop)
}

/// Takes one pending (blocked) signal without waiting: its number, or
/// `None` when none is pending.
pub(crate) fn take_pending_signal() -> Option<i32> {
    let zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: rt_sigtimedwait reads a signal set and a timespec from live
    // stack values; no siginfo is asked for (null).
    let ret = unsafe {
        syscall4(
            libc::SYS_rt_sigtimedwait,
            (&raw const ALL_SIGNALS) as usize,
            0,
            (&raw const zero) as usize,
            std::mem::size_of::<SigSet>(),
        )
    };
    result(ret).ok().and_then(|sig| i32::try_from(sig).ok())
}

/// `execve(path, argv, envp)`; returns only on failure.
///
/// # Safety
/// `argv` and `envp` must be null-terminated arrays of NUL-terminated
/// strings, alive until the exec has passed its point of no return.
pub(crate) unsafe fn execve(path: &std::ffi::CStr, argv: usize, envp: usize) -> Errno {
    // SAFETY: forwarded to the caller; `path` is a live C string.
    let ret = unsafe { syscall4(libc::SYS_execve, path.as_ptr() as usize, argv, envp, 0) };
    match result(ret) {
        Err(e) => e,
        Ok(_) => Errno::INVAL,
    }
}

/// `clone(flags)` onto a fresh stack: the child runs `entry(arg)` with
/// `stack_top` as its stack pointer; the parent gets the child's PID. With
/// `CLONE_PIDFD`, `pidfd` receives the child's pidfd (with
/// `CLONE_PARENT_SETTID`, the child's PID); with `CLONE_CHILD_CLEARTID`, the
/// kernel zeroes `child_tid` and wakes its futex when the child execs or
/// exits.
///
/// # Safety
/// `stack_top` must be the 16-byte aligned end of a writable region that
/// stays mapped for as long as the child runs on it; with `CLONE_VM` the
/// child shares all memory with the caller, so `entry` must only touch its
/// own stack and data the caller keeps alive. `pidfd` and `child_tid` must
/// be null or valid for the kernel's writes for as long as it may write.
pub(crate) unsafe fn clone_on_stack(
    flags: u64,
    stack_top: *mut u8,
    pidfd: *mut libc::c_int,
    child_tid: *mut u32,
    entry: CloneEntry,
    arg: usize,
) -> Result<i32, Errno> {
    let ret: isize;
    // The child starts right after the instruction with the new stack and
    // every other register as the parent had it, so it calls `entry` with
    // `arg` from callee-saved registers that the kernel preserves.
    // SAFETY: forwarded to the caller.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "xor ebp, ebp",
            "mov rdi, r13",
            "call r12",
            "ud2",
            "2:",
            inlateout("rax") libc::SYS_clone as isize => ret,
            in("rdi") flags,
            in("rsi") stack_top,
            in("rdx") pidfd,
            in("r10") child_tid,
            in("r8") 0usize,
            in("r12") entry,
            in("r13") arg,
            lateout("rcx") _, lateout("r11") _,
        );
    }
    // SAFETY: forwarded to the caller.
    #[cfg(target_arch = "aarch64")]
    unsafe {
        asm!(
            "svc 0",
            "cbnz x0, 2f",
            "mov x29, xzr",
            "mov x0, x22",
            "blr x21",
            "brk #1",
            "2:",
            in("x8") libc::SYS_clone,
            inlateout("x0") flags as usize => ret,
            in("x1") stack_top,
            in("x2") pidfd,
            in("x3") 0usize,
            in("x4") child_tid,
            in("x21") entry,
            in("x22") arg,
        );
    }
    let pid = result(ret)?;
    i32::try_from(pid).map_err(|_| Errno::INVAL)
}

/// `clone3(args)` onto the stack `args` names: the child runs `entry(arg)`
/// on it; the parent gets the child's PID. Used for `CLONE_INTO_CGROUP`: the
/// child is born in a cgroup, with no migration (which would take the
/// kernel's thread-group lock for writing and stall every fork and exit on
/// the machine meanwhile).
///
/// # Safety
/// As for [`clone_on_stack`], for the stack (`args.stack`, `args.stack_size`)
/// and every pointer in `args`; `args` itself is only read by the call.
pub(crate) unsafe fn clone3_on_stack(
    args: &linux_raw_sys::general::clone_args,
    entry: CloneEntry,
    arg: usize,
) -> Result<i32, Errno> {
    let ret: isize;
    let size = std::mem::size_of::<linux_raw_sys::general::clone_args>();
    // The child starts right after the instruction on the new stack, with
    // the callee-saved registers as the parent had them (as in
    // `clone_on_stack`).
    // SAFETY: forwarded to the caller.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "xor ebp, ebp",
            "mov rdi, r13",
            "call r12",
            "ud2",
            "2:",
            inlateout("rax") libc::SYS_clone3 as isize => ret,
            in("rdi") std::ptr::from_ref(args),
            in("rsi") size,
            in("r12") entry,
            in("r13") arg,
            lateout("rcx") _, lateout("r11") _,
        );
    }
    // SAFETY: forwarded to the caller.
    #[cfg(target_arch = "aarch64")]
    unsafe {
        asm!(
            "svc 0",
            "cbnz x0, 2f",
            "mov x29, xzr",
            "mov x0, x22",
            "blr x21",
            "brk #1",
            "2:",
            in("x8") libc::SYS_clone3,
            inlateout("x0") std::ptr::from_ref(args) as usize => ret,
            in("x1") size,
            in("x21") entry,
            in("x22") arg,
        );
    }
    let pid = result(ret)?;
    i32::try_from(pid).map_err(|_| Errno::INVAL)
}

/// A non-blocking signalfd for every signal (they stay blocked; it only
/// wakes the shim). `None` if it could not be made.
pub(crate) fn signalfd_all() -> Option<ShimFd> {
    // SAFETY: signalfd4 reads one kernel signal set from a live static and
    // returns a fresh descriptor.
    let ret = unsafe {
        syscall4(
            libc::SYS_signalfd4,
            usize::MAX, // -1: a new descriptor
            (&raw const ALL_SIGNALS) as usize,
            std::mem::size_of::<SigSet>(),
            (libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) as usize,
        )
    };
    let raw = i32::try_from(result(ret).ok()?).ok()?;
    // SAFETY: the kernel just returned this descriptor; nothing else owns it.
    Some(ShimFd::new(unsafe {
        <rustix::fd::OwnedFd as rustix::fd::FromRawFd>::from_raw_fd(raw)
    }))
}

/// `close_range(first, last)`; false when it failed (before Linux 5.9).
fn close_range(first: usize, last: usize) -> bool {
    // SAFETY: closes descriptors of the calling process only (the shim or
    // the tool, each with a descriptor table of its own); no memory effects.
    let ret = unsafe { syscall4(libc::SYS_close_range, first, last, 0, 0) };
    ret == 0
}

/// Closes every descriptor from 3 up, except `a` and `b` (ignored when below
/// 3). Allocation-free.
pub(crate) fn close_all_but(a: libc::c_int, b: libc::c_int) {
    let keep = |fd: libc::c_int| usize::try_from(fd).ok().filter(|&k| k >= 3);
    let (lo, hi) = match (keep(a), keep(b)) {
        (Some(x), Some(y)) => (Some(x.min(y)), Some(x.max(y))),
        (x, None) | (None, x) => (x, None),
    };
    let all = u32::MAX as usize;
    // The gaps between the kept descriptors: [3, lo), (lo, hi), (hi, all].
    let mut from = 3usize;
    let mut ok = true;
    for kept in [lo, hi].into_iter().flatten() {
        if kept > from {
            ok &= close_range(from, kept.saturating_sub(1));
        }
        from = kept.saturating_add(1);
    }
    ok &= close_range(from, all);
    if !ok {
        // Before Linux 5.9: one by one.
        for fd in 3..65_536 {
            if Some(fd) != lo && Some(fd) != hi {
                // SAFETY: closing a descriptor number of the calling process
                // (never one this code uses afterwards: the kept ones are
                // skipped).
                unsafe { rustix::io::close(fd as i32) };
            }
        }
    }
}

/// A descriptor owned by code that runs in the shim: closed through rustix
/// (std's `OwnedFd` closes through libc, which would write a failure's
/// `errno` into a host thread's storage).
pub(crate) struct ShimFd(std::mem::ManuallyDrop<rustix::fd::OwnedFd>);

impl ShimFd {
    pub(crate) fn new(fd: rustix::fd::OwnedFd) -> Self {
        Self(std::mem::ManuallyDrop::new(fd))
    }
}

impl rustix::fd::AsFd for ShimFd {
    fn as_fd(&self) -> rustix::fd::BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl Drop for ShimFd {
    fn drop(&mut self) {
        use rustix::fd::AsRawFd;
        let raw = self.0.as_raw_fd();
        // SAFETY: the descriptor is owned here and, being in `ManuallyDrop`,
        // is never used or closed again.
        unsafe { rustix::io::close(raw) };
    }
}

/// A signal number (1..=64, real-time ones included) as rustix's type.
pub(crate) fn signal_of(raw: i32) -> Option<rustix::process::Signal> {
    if !(1..=64).contains(&raw) {
        return None;
    }
    // SAFETY: any number in 1..=64 is a signal the kernel accepts; rustix
    // only asks that libc-reserved ones be passed knowingly, and this crate
    // forwards exactly the signals it was given.
    Some(unsafe { rustix::process::Signal::from_raw_unchecked(raw) })
}
