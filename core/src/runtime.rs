//! The one tokio runtime of the process.
//!
//! dxforge owns a single multi-threaded runtime per process, created lazily on
//! first use and shared by the core, the Python async bridge and the Node
//! addon. It is never dropped (it lives as long as the process).
//!
//! # Fork safety
//!
//! A `fork()`ed child inherits the runtime's memory but none of its threads,
//! so waiting on it would hang forever. A `pthread_atfork` child handler bumps
//! a fork generation counter; every access compares it with the generation
//! that created the runtime (one atomic load, no `getpid` system call), and a
//! child gets a fresh runtime of its own (the parent's copy is leaked, never
//! touched). Handles created before the fork refuse to work in the child
//! ([`Error::Forked`](crate::Error::Forked)). A child made by a raw `clone`
//! system call that bypasses libc's `fork` is not detected.

use std::future::Future;
use std::sync::Once;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

use parking_lot::Mutex;
use tokio::runtime::{Handle, Runtime};

use crate::{Error, Result};

static RUNTIME: AtomicPtr<Runtime> = AtomicPtr::new(std::ptr::null_mut());
static RUNTIME_GENERATION: AtomicU64 = AtomicU64::new(0);
static CREATE: Mutex<()> = Mutex::new(());
/// Incremented in every child process right after `fork()`.
static FORK_GENERATION: AtomicU64 = AtomicU64::new(1);
static ATFORK: Once = Once::new();

extern "C" fn after_fork_in_child() {
    FORK_GENERATION.fetch_add(1, Ordering::AcqRel);
}

/// The current fork generation: it differs in a child from the value its
/// parent saw, so a handle can tell it crossed a `fork()`.
pub(crate) fn fork_generation() -> u64 {
    ATFORK.call_once(|| {
        // SAFETY: registers a handler that only does an atomic add, which is
        // async-signal-safe and allowed after fork in a multi-threaded process.
        unsafe { libc::pthread_atfork(None, None, Some(after_fork_in_child)) };
    });
    FORK_GENERATION.load(Ordering::Acquire)
}

/// The process-wide runtime, created on first use (and again in a forked child).
pub fn runtime() -> Result<&'static Runtime> {
    let generation = fork_generation();
    let ptr = RUNTIME.load(Ordering::Acquire);
    if !ptr.is_null() && RUNTIME_GENERATION.load(Ordering::Acquire) == generation {
        // SAFETY: the pointer comes from `Box::leak` below and is never freed.
        return Ok(unsafe { &*ptr });
    }
    let _guard = CREATE.lock();
    let ptr = RUNTIME.load(Ordering::Acquire);
    if !ptr.is_null() && RUNTIME_GENERATION.load(Ordering::Acquire) == generation {
        // SAFETY: as above.
        return Ok(unsafe { &*ptr });
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .thread_name("dxforge-rt")
        .enable_all()
        .build()
        .map_err(|e| Error::Runtime {
            message: format!("cannot start the tokio runtime: {e}"),
        })?;
    let leaked: &'static Runtime = Box::leak(Box::new(rt));
    RUNTIME_GENERATION.store(generation, Ordering::Release);
    RUNTIME.store(leaked as *const Runtime as *mut Runtime, Ordering::Release);
    Ok(leaked)
}

/// A handle to the process-wide runtime.
pub fn handle() -> Result<Handle> {
    Ok(runtime()?.handle().clone())
}

/// Runs a future to completion on the process-wide runtime, blocking the
/// calling thread.
///
/// This is how synchronous hosts (C, the Python and Node sync entry points)
/// call async methods. It refuses to run from inside a runtime thread, where
/// blocking would stall other tasks or deadlock: use `.await` there.
pub fn block_on<F: Future>(future: F) -> Result<F::Output> {
    if Handle::try_current().is_ok() {
        return Err(Error::Runtime {
            message: "a blocking dxforge call was made from inside an async runtime; await the async variant instead"
                .to_owned(),
        });
    }
    Ok(runtime()?.block_on(future))
}
