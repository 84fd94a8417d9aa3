//! Raw Linux system calls for code that shares the host's memory but is not
//! one of its threads (the shim and the tool before `exec`, see `shim`).
//!
//! Such code must not go through libc: libc's wrappers write `errno` into the
//! thread-local storage of whichever host thread created the process (the
//! thread pointer is inherited by `clone`), which would corrupt that thread's
//! `errno` at random. These wrappers return `-errno` instead, like the kernel.

use std::arch::asm;

/// Entry point of a process made by [`clone_on_stack`]; never returns.
pub(crate) type CloneEntry = extern "C" fn(usize) -> !;

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("dxforge's orchestrator supports Linux on x86_64 and aarch64");

/// A system call with up to six arguments; returns the result or `-errno`.
///
/// # Safety
/// The caller guarantees the arguments are valid for system call `nr`.
#[inline(always)]
pub(crate) unsafe fn syscall6(
    nr: i64,
    a: usize,
    b: usize,
    c: usize,
    d: usize,
    e: usize,
    f: usize,
) -> isize {
    let ret: isize;
    // SAFETY: forwarded to the caller.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") nr as isize => ret,
            in("rdi") a, in("rsi") b, in("rdx") c, in("r10") d, in("r8") e, in("r9") f,
            lateout("rcx") _, lateout("r11") _,
            options(nostack),
        );
    }
    // SAFETY: forwarded to the caller.
    #[cfg(target_arch = "aarch64")]
    unsafe {
        asm!(
            "svc 0",
            in("x8") nr,
            inlateout("x0") a => ret,
            in("x1") b, in("x2") c, in("x3") d, in("x4") e, in("x5") f,
            options(nostack),
        );
    }
    ret
}

/// [`syscall6`] with fewer arguments.
///
/// # Safety
/// As for [`syscall6`].
#[inline(always)]
pub(crate) unsafe fn syscall3(nr: i64, a: usize, b: usize, c: usize) -> isize {
    // SAFETY: forwarded to the caller.
    unsafe { syscall6(nr, a, b, c, 0, 0, 0) }
}

/// `clone(flags)` onto a fresh stack: the child runs `entry(arg)` with
/// `stack_top` as its stack pointer; the parent gets the child's PID or
/// `-errno`. With `CLONE_PIDFD`, `pidfd` receives the child's pidfd (with
/// `CLONE_PARENT_SETTID`, the child's PID); with `CLONE_CHILD_CLEARTID`, the
/// kernel zeroes `child_tid` and wakes its futex when the child execs or
/// exits.
///
/// # Safety
/// `stack_top` must be the 16-byte aligned end of a writable region that
/// stays mapped for as long as the child runs on it; with `CLONE_VM` the
/// child shares all memory with the caller, so `entry` must only touch its
/// own stack and data the caller keeps alive.
pub(crate) unsafe fn clone_on_stack(
    flags: u64,
    stack_top: *mut u8,
    pidfd: *mut libc::c_int,
    child_tid: *mut u32,
    entry: CloneEntry,
    arg: usize,
) -> isize {
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
    ret
}
