//! The one tokio runtime of the process.
//!
//! dxforge owns a single multi-threaded runtime per process, created lazily on
//! first use and shared by the core, the Python async bridge and the Node
//! addon. It is never dropped (it lives as long as the process).
//!
//! # Fork safety
//!
//! A `fork()`ed child inherits the runtime's memory but none of its threads,
//! so waiting on it would hang forever. Every access compares the current PID
//! with the PID that created the runtime; a child gets a fresh runtime of its
//! own (the parent's copy is leaked, never touched). Handles created before the
//! fork refuse to work in the child ([`Error::Forked`](crate::Error::Forked)).

use std::future::Future;
use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

use parking_lot::Mutex;
use tokio::runtime::{Handle, Runtime};

use crate::{Error, Result};

static RUNTIME: AtomicPtr<Runtime> = AtomicPtr::new(std::ptr::null_mut());
static RUNTIME_PID: AtomicU32 = AtomicU32::new(0);
static CREATE: Mutex<()> = Mutex::new(());

/// The process-wide runtime, created on first use (and again in a forked child).
pub fn runtime() -> Result<&'static Runtime> {
    let pid = std::process::id();
    let ptr = RUNTIME.load(Ordering::Acquire);
    if !ptr.is_null() && RUNTIME_PID.load(Ordering::Acquire) == pid {
        // SAFETY: the pointer comes from `Box::leak` below and is never freed.
        return Ok(unsafe { &*ptr });
    }
    let _guard = CREATE.lock();
    let ptr = RUNTIME.load(Ordering::Acquire);
    if !ptr.is_null() && RUNTIME_PID.load(Ordering::Acquire) == pid {
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
    RUNTIME_PID.store(pid, Ordering::Release);
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
