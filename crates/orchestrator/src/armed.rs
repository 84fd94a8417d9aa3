//! Shim pairs made ahead of time, so that a cold start costs one wake-up and
//! an `exec` instead of two process creations.
//!
//! A pair is a shim (see `shim`) and its tool process, parked on a futex in
//! shared memory with its process group, stdio and signal state already set
//! up. A start fills in the request (path, argv, envp, directory), wakes the
//! tool and waits for its `exec`, exactly as for a pair made on the spot.
//! Each [`Spawner`] keeps at most one pair ready and makes the next one on a
//! runtime blocking thread after each start, off the caller's path.
//!
//! A parked pair is two sleeping processes that share the host's memory
//! (they cost a few pages of their own). It holds no descriptor of the host
//! but its own pipes and a pidfd of the host; it dies with the host (the
//! shim watches that pidfd), and [`Spawner::close`] or dropping the spawner
//! cancels it. A child of a `fork`ed host never uses its parent's pair.
#![deny(
    clippy::undocumented_unsafe_blocks,
    clippy::multiple_unsafe_ops_per_block
)]

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use libc::c_int;
use parking_lot::Mutex;

use rustix::mm::{MapFlags, MprotectFlags, ProtFlags};
use rustix::thread::{CpuSet, futex};

use crate::cgroup;
use crate::shim::{
    self, GO_CANCEL, GO_RUN, GO_WAIT, NO_STATUS, STEP_NONE, ShimArgs, ShimBlock, ShimControl,
};
use crate::spawn::{ShimHandle, ShimReaper, kill_all_signal};
use crate::sys::clone_on_stack;

/// The memory a shim pair runs on (the shim's stack, the tool's stack until
/// `exec`, the shared block), mapped by the host. Unmapped (or kept for
/// reuse) only once the shim is reaped.
pub(crate) struct ShimMemory {
    base: *mut u8,
    /// The cgroup leaf its tools join (see `cgroup`), kept with the mapping
    /// and reused by the next pair that takes it: a leaf costs a `mkdir` and
    /// an `rmdir`, which would otherwise follow every start.
    leaf: Option<(std::os::fd::RawFd, cgroup::LeafName)>,
}

// SAFETY: a plain mapping; the raw pointer is only an address.
unsafe impl Send for ShimMemory {}
// SAFETY: as above; shared access goes through the atomic control block.
unsafe impl Sync for ShimMemory {}

const PAGE: usize = 4096;
/// The tool runs here only between clone and exec.
const TOOL_STACK: usize = 32 * 1024;
/// The shim's loop (a /proc scan keeps about 9 KiB of buffers on it).
const SHIM_STACK: usize = 192 * 1024;
/// guard | tool stack | guard | shim stack | shared block
const SHIM_MEMORY: usize = PAGE + TOOL_STACK + PAGE + SHIM_STACK + PAGE;
const _: () = assert!(std::mem::size_of::<ShimBlock>() <= PAGE);

/// Mappings of reaped shims, reused by the next spawns (a fresh mapping
/// with its guard pages costs several system calls).
static SPARE_MEMORY: Mutex<Vec<ShimMemory>> = Mutex::new(Vec::new());
/// At most this many spare mappings are kept.
const SPARE_LIMIT: usize = 16;

impl ShimMemory {
    fn new(args: ShimArgs) -> std::io::Result<Self> {
        // `try_lock`: a child forked while another thread held the lock must
        // not hang here.
        let spare = SPARE_MEMORY.try_lock().and_then(|mut spare| spare.pop());
        let memory = match spare {
            Some(memory) => memory,
            None => Self::map()?,
        };
        let mut memory = memory;
        // The block still holds the previous pair's control state.
        let killed =
            memory.leaf.is_some() && memory.control().cgroup_killed.load(Ordering::Acquire) == 1;
        let leaf = match memory.leaf.take() {
            // A forked child's copy of its parent's leaf: the parent's.
            Some((_, name)) if !cgroup::ours(&name) => cgroup::make_leaf(),
            Some(leaf) if cgroup::enabled() && !killed => Some(leaf),
            Some((dir, name)) => {
                cgroup::remove(borrow_dir(dir), &name);
                if killed { cgroup::make_leaf() } else { None }
            }
            None => cgroup::make_leaf().inspect(|_| {
                static AT_EXIT: std::sync::Once = std::sync::Once::new();
                // SAFETY: registers a plain function with no preconditions;
                // it only takes a lock with `try_lock` and removes
                // directories. A failure only leaves empty leaves behind
                // (the next host sweeps them).
                AT_EXIT.call_once(|| unsafe {
                    libc::atexit(remove_spare_leaves);
                });
            }),
        };
        memory.leaf = leaf;
        let mut args = args;
        args.tool_stack_top = memory.tool_stack_top();
        args.tool_stack_size = TOOL_STACK;
        (args.cgroup_dir, args.cgroup_leaf) = leaf.unwrap_or((-1, [0; cgroup::NAME_LEN]));
        // SAFETY: the block lies inside the mapping and no process uses
        // this mapping now.
        unsafe {
            memory.block_ptr().write(ShimBlock {
                control: ShimControl {
                    tool_pid: AtomicI32::new(0),
                    tool_status: AtomicI32::new(NO_STATUS),
                    failed_step: AtomicI32::new(STEP_NONE),
                    failed_errno: AtomicI32::new(0),
                    go: AtomicU32::new(GO_WAIT),
                    path: AtomicUsize::new(0),
                    argv: AtomicUsize::new(0),
                    envp: AtomicUsize::new(0),
                    cwd: AtomicUsize::new(0),
                    leftover_grace_ms: AtomicU64::new(0),
                    exec_gate: AtomicU32::new(1),
                    exec_tried: AtomicU32::new(0),
                    cgroup_active: AtomicU32::new(0),
                    cgroup_killed: AtomicU32::new(0),
                },
                args,
            });
        }
        Ok(memory)
    }

    fn map() -> std::io::Result<Self> {
        // SAFETY: a fresh private anonymous mapping at an address the kernel
        // picks; nothing else refers to it yet.
        let base = unsafe {
            rustix::mm::mmap_anonymous(
                std::ptr::null_mut(),
                SHIM_MEMORY,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::PRIVATE | MapFlags::STACK | MapFlags::NORESERVE,
            )
        }?;
        let memory = Self {
            base: base.cast(),
            leaf: None,
        };
        // A guard page below each stack: an overflow faults instead of
        // writing into the other stack. Without them the memory is unusable
        // (dropping `memory` unmaps it).
        // SAFETY: the first page of our own fresh mapping, unused so far.
        unsafe { rustix::mm::mprotect(base, PAGE, MprotectFlags::empty()) }?;
        let tool_guard = memory.base.wrapping_add(PAGE + TOOL_STACK);
        // SAFETY: the page below the shim's stack, inside the same mapping
        // (PAGE + TOOL_STACK + PAGE <= SHIM_MEMORY), unused so far.
        unsafe { rustix::mm::mprotect(tool_guard.cast(), PAGE, MprotectFlags::empty()) }?;
        Ok(memory)
    }

    fn block_ptr(&self) -> *mut ShimBlock {
        // The last page of the mapping.
        self.base.wrapping_add(SHIM_MEMORY - PAGE).cast()
    }

    /// What the host, the shim and the tool share.
    pub(crate) fn control(&self) -> &ShimControl {
        // SAFETY: initialised in `new`, mapped for as long as `self` lives.
        unsafe { &(*self.block_ptr()).control }
    }

    /// What the shim and the tool got at their start.
    pub(crate) fn args(&self) -> &ShimArgs {
        // SAFETY: initialised in `new`, mapped for as long as `self` lives;
        // never written while a shim runs on it.
        unsafe { &(*self.block_ptr()).args }
    }

    /// After a tool's exec: if it was to join a leaf and could not, the
    /// host does not allow it, so no more leaves are made.
    pub(crate) fn note_cgroup_outcome(&self) {
        if self.args().cgroup_dir >= 0 && self.control().cgroup_active.load(Ordering::Acquire) == 0
        {
            cgroup::disable();
        }
    }

    fn tool_stack_top(&self) -> *mut u8 {
        // Inside the mapping, above the first guard page.
        self.base.wrapping_add(PAGE + TOOL_STACK)
    }

    fn shim_stack_top(&self) -> *mut u8 {
        // Inside the mapping, below the shared block.
        self.base.wrapping_add(SHIM_MEMORY - PAGE)
    }
}

impl Drop for ShimMemory {
    /// Only ever runs once no process uses the mapping (its shim is reaped).
    fn drop(&mut self) {
        if self.base.is_null() {
            return;
        }
        if let Some(mut spare) = SPARE_MEMORY.try_lock()
            && spare.len() < SPARE_LIMIT
        {
            let base = std::mem::replace(&mut self.base, std::ptr::null_mut());
            spare.push(ShimMemory {
                base,
                leaf: self.leaf.take(),
            });
            return;
        }
        if let Some((dir, name)) = self.leaf.take()
            && cgroup::ours(&name)
        {
            cgroup::remove(borrow_dir(dir), &name);
        }
        // SAFETY: our own mapping, no longer used by any process. A failure
        // leaves it mapped (leaked), which is harmless.
        let _ = unsafe { rustix::mm::munmap(self.base.cast(), SHIM_MEMORY) };
    }
}

/// What to run, as raw pointers for the tool's `execve`. Whoever fills it in
/// keeps the strings alive until the tool has exec'd or failed.
pub(crate) struct Request {
    pub path: *const libc::c_char,
    pub argv: *const *const libc::c_char,
    pub envp: *const *const libc::c_char,
    /// Null: the tool stays in the host's working directory.
    pub cwd: *const libc::c_char,
    pub leftover_grace_ms: u64,
}

/// A shim pair and the host's ends of its pipes.
pub(crate) struct ArmedParts {
    pub memory: ShimMemory,
    pub handle: Arc<ShimHandle>,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
    /// The tool's own CPU mask, to give back once its exec is committed
    /// (see [`Armed::fire`]).
    pub restore_mask: Option<CpuSet>,
}

/// A shim pair whose tool is parked or already told what to run.
pub(crate) struct Armed {
    parts: Option<ArmedParts>,
    /// The process that made the pair (its only possible user).
    owner: u32,
    fired: bool,
}

impl Armed {
    /// Makes a pair. With a request, the tool runs it straight away (the
    /// request is written before the clone); without, it parks.
    pub(crate) fn new(request: Option<&Request>) -> std::io::Result<Self> {
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        let null = above_stdio(OwnedFd::from(std::fs::File::open("/dev/null")?))?;
        let host = above_stdio(rustix::process::pidfd_open(
            rustix::process::getpid(),
            rustix::process::PidfdFlags::empty(),
        )?)?;
        let memory = ShimMemory::new(ShimArgs {
            stdio: [null.as_raw_fd(), out_w.as_raw_fd(), err_w.as_raw_fd()],
            host_pidfd: host.as_raw_fd(),
            kill_all: kill_all_signal(),
            tool_stack_top: std::ptr::null_mut(),
            tool_stack_size: 0,
            cgroup_dir: -1,
            cgroup_leaf: [0; cgroup::NAME_LEN],
        })?;
        if let Some(request) = request {
            write_request(memory.control(), request);
        }
        let mut pidfd: c_int = -1;
        let blocked = AllSignalsBlocked::new()?;
        // SAFETY: every signal is blocked around the clone (`blocked`), so no
        // host handler ever runs in the shim or the tool; both only use
        // their own stacks and the block in `memory` (unmapped only once the
        // shim is reaped) and, once told to run, the request's strings;
        // `pidfd` is a live local the kernel writes before returning.
        let shim = unsafe {
            clone_on_stack(
                (libc::CLONE_VM | libc::CLONE_PIDFD) as u64,
                memory.shim_stack_top(),
                &mut pidfd,
                std::ptr::null_mut(),
                shim::shim_entry,
                memory.block_ptr() as usize,
            )
        };
        drop(blocked);
        if let Err(e) = shim {
            return Err(e.into());
        }
        // SAFETY: CLONE_PIDFD stored a fresh descriptor.
        let handle = Arc::new(ShimHandle::from_fd(unsafe { OwnedFd::from_raw_fd(pidfd) }));
        // The shim and the tool have their own copies now.
        drop((out_w, err_w, null, host));
        Ok(Self {
            parts: Some(ArmedParts {
                memory,
                handle,
                stdout: out_r,
                stderr: err_r,
                restore_mask: None,
            }),
            owner: std::process::id(),
            fired: request.is_some(),
        })
    }

    /// Tells a parked tool what to run (no-op when made with a request).
    ///
    /// The tool is kept off the calling thread's CPU until its exec is
    /// committed (the caller then restores its mask). Otherwise `exec`'s
    /// load balancing, or the wake-up of the caller, can put both on one
    /// CPU, and the caller then waits behind the new program's whole
    /// start-up: 0.8-1 ms for `sleep` on the reference VM, in about one
    /// start out of ten when starts follow each other closely.
    pub(crate) fn fire(&mut self, request: &Request) {
        let Some(parts) = &mut self.parts else { return };
        if self.fired {
            return;
        }
        let control = parts.memory.control();
        parts.restore_mask = keep_off_this_cpu(control.tool_pid.load(Ordering::Acquire));
        write_request(control, request);
        wake(control);
        self.fired = true;
    }

    /// Whether this pair can still be used by this process.
    fn usable(&self) -> bool {
        self.owner == std::process::id()
            && self
                .parts
                .as_ref()
                .is_some_and(|p| !p.handle.wait_exit_blocking(Duration::ZERO))
    }

    /// The pair, for the caller to wait on. Call after [`fire`](Self::fire).
    pub(crate) fn into_parts(mut self) -> Option<ArmedParts> {
        self.parts.take()
    }
}

impl Drop for Armed {
    /// An unused pair is cancelled: the tool exits at once, then the shim.
    fn drop(&mut self) {
        let Some(parts) = self.parts.take() else {
            return;
        };
        if self.owner != std::process::id() {
            // A forked child's copy: the processes are the parent's.
            std::mem::forget(parts.memory);
            return;
        }
        let control = parts.memory.control();
        if !self.fired {
            control.go.store(GO_CANCEL, Ordering::Release);
            wake(control);
        } else {
            parts.handle.signal(kill_all_signal());
        }
        parts.handle.wait_exit_blocking(Duration::from_secs(2));
        // Reaped now, or leaked (never unmapped) if it somehow still runs.
        let _ = ShimReaper::new(parts.handle, parts.memory).try_reap();
    }
}

/// Removes the cgroup leaves kept with spare mappings, when the host exits
/// normally (registered with `atexit` once the first leaf exists).
extern "C" fn remove_spare_leaves() {
    if let Some(mut spare) = SPARE_MEMORY.try_lock() {
        for memory in spare.iter_mut() {
            if let Some((dir, name)) = memory.leaf.take()
                && cgroup::ours(&name)
            {
                cgroup::remove(borrow_dir(dir), &name);
            }
        }
    }
}

/// The host's cgroup directory, as `cgroup` opened it.
fn borrow_dir(dir: std::os::fd::RawFd) -> BorrowedFd<'static> {
    // SAFETY: the directory `cgroup::make_leaf` returned, opened once per
    // process and never closed.
    unsafe { BorrowedFd::borrow_raw(dir) }
}

/// Blocks every signal of the calling thread until dropped (host side: libc,
/// as rustix offers no public `pthread_sigmask`).
struct AllSignalsBlocked(libc::sigset_t);

impl AllSignalsBlocked {
    fn new() -> std::io::Result<Self> {
        let mut all = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: sigfillset initialises the set it is given.
        if unsafe { libc::sigfillset(all.as_mut_ptr()) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: initialised by sigfillset just above.
        let all = unsafe { all.assume_init() };
        let mut old = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: reads `all`, writes the previous mask into `old`.
        let r = unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &all, old.as_mut_ptr()) };
        if r != 0 {
            return Err(std::io::Error::from_raw_os_error(r));
        }
        // SAFETY: pthread_sigmask succeeded, so it wrote the old mask.
        Ok(Self(unsafe { old.assume_init() }))
    }
}

impl Drop for AllSignalsBlocked {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved in `new` (a valid set).
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.0, std::ptr::null_mut()) };
    }
}

/// Takes the calling thread's CPU out of process `pid`'s mask; returns the
/// mask to restore, or `None` when nothing was changed (no other CPU).
fn keep_off_this_cpu(pid: i32) -> Option<CpuSet> {
    let pid = rustix::process::Pid::from_raw(pid)?;
    let cpu = rustix::thread::sched_getcpu();
    if cpu >= CpuSet::MAX_CPU {
        return None;
    }
    let own = rustix::thread::sched_getaffinity(Some(pid)).ok()?;
    let mut elsewhere = own;
    elsewhere.unset(cpu);
    if elsewhere.count() == 0 || rustix::thread::sched_setaffinity(Some(pid), &elsewhere).is_err() {
        return None;
    }
    Some(own)
}

fn write_request(control: &ShimControl, request: &Request) {
    control.path.store(request.path as usize, Ordering::Relaxed);
    control.argv.store(request.argv as usize, Ordering::Relaxed);
    control.envp.store(request.envp as usize, Ordering::Relaxed);
    control.cwd.store(request.cwd as usize, Ordering::Relaxed);
    control
        .leftover_grace_ms
        .store(request.leftover_grace_ms, Ordering::Relaxed);
    control.go.store(GO_RUN, Ordering::Release);
}

fn wake(control: &ShimControl) {
    // Private: the tool shares this address space, so the key matches.
    let _ = futex::wake(&control.go, futex::Flags::PRIVATE, 1);
}

/// Keeps one parked pair ready for the next start of an orchestrator.
#[derive(Default)]
pub(crate) struct Spawner {
    ready: Mutex<Option<Armed>>,
    refilling: AtomicBool,
    closed: AtomicBool,
}

impl Spawner {
    /// The parked pair, if one is ready and still alive.
    pub(crate) fn take(&self) -> Option<Armed> {
        // `try_lock`: never wait here (a forked child may find it held).
        let armed = self.ready.try_lock()?.take()?;
        armed.usable().then_some(armed)
    }

    /// Makes the next pair on a blocking thread of `runtime`, unless one is
    /// ready, being made, or the spawner is closed.
    pub(crate) fn refill(self: &Arc<Self>, runtime: &tokio::runtime::Handle) {
        let ready = self.ready.try_lock().is_some_and(|ready| ready.is_some());
        if ready
            || self.closed.load(Ordering::Acquire)
            || self.refilling.swap(true, Ordering::AcqRel)
        {
            return;
        }
        let me = self.clone();
        runtime.spawn_blocking(move || {
            let needed = me.ready.lock().is_none();
            let fresh = if needed { Armed::new(None).ok() } else { None };
            let spare = {
                let mut ready = me.ready.lock();
                // Checked under the lock `close` takes after setting it.
                if me.closed.load(Ordering::Acquire) || ready.is_some() {
                    fresh
                } else {
                    *ready = fresh;
                    None
                }
            };
            me.refilling.store(false, Ordering::Release);
            drop(spare);
        });
    }

    /// Cancels the parked pair; no more are made.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let armed = self.ready.lock().take();
        drop(armed);
    }
}

/// A pipe as (read end, write end), both close-on-exec, both >= 3 so that
/// they can never be clobbered while becoming the tool's stdio.
fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    Ok((above_stdio(r)?, above_stdio(w)?))
}

fn above_stdio(fd: OwnedFd) -> std::io::Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    Ok(rustix::io::fcntl_dupfd_cloexec(&fd, 3)?)
}
