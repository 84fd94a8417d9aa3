//! The opaque `DxForge` handle: open, close, free, root, version.

use std::collections::HashMap;
use std::ffi::{c_char, c_int};
use std::sync::Arc;

use dxforge_core::Result;
use parking_lot::Mutex;

use crate::convert::{opt_str_arg, out_arg, string_out};
use crate::error::{guard, guard_value, invalid};
use crate::events::Subscription;

/// The engine for one project, opaque to C (`DxForge *`).
///
/// Made by `dxforge_open`, released by `dxforge_free`. One handle may be used
/// from several threads at once.
pub struct DxForge {
    pub(crate) inner: dxforge_core::DxForge,
    /// Callback subscriptions made through this handle, so that closing it
    /// can guarantee that no callback runs afterwards.
    pub(crate) subscriptions: Mutex<HashMap<u64, Arc<Subscription>>>,
}

impl DxForge {
    /// Stops every callback of this handle, waiting for running ones (except
    /// on the calling thread, when it is itself a callback).
    pub(crate) fn deactivate_subscriptions(&self) {
        let subs: Vec<_> = self.subscriptions.lock().drain().map(|(_, s)| s).collect();
        for sub in subs {
            sub.deactivate();
        }
    }
}

/// The handle an entry point received as a nullable reference (`const DxForge *`
/// in C): NULL is `INVALID_ARGUMENT`.
#[inline]
pub(crate) fn forge_ref(forge: Option<&DxForge>) -> Result<&DxForge> {
    forge.ok_or_else(|| invalid("forge", "is NULL"))
}

/// The handle behind a `DxForge *` from C (entry points that take it mutable
/// in the header keep the raw pointer: several threads may hold it).
///
/// # Safety
/// `forge` is NULL or a live pointer from `dxforge_open`.
pub(crate) unsafe fn forge_arg<'a>(forge: *const DxForge) -> Result<&'a DxForge> {
    // SAFETY: NULL or a live handle per the caller's contract.
    forge_ref(unsafe { forge.as_ref() })
}

/// Opens the project at `root` (a directory; NULL means the current
/// directory): reads its `dxforge.toml`, if any, and registers its tools.
/// Nothing is started.
///
/// On success `*out` receives a new handle, owned by the caller: release it
/// with `dxforge_free`. On failure `*out` is set to NULL.
/// Errors: `DXFORGE_ERROR_INVALID_ARGUMENT` (`out` NULL, `root` not UTF-8),
/// `DXFORGE_ERROR_IO` (no such directory), `DXFORGE_ERROR_CONFIG` (bad `dxforge.toml`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_open(root: *const c_char, out: *mut *mut DxForge) -> c_int {
    guard(|| {
        // SAFETY: per the header's contract, `out` is NULL or writable and `root` is NULL or a
        // NUL-terminated string, each valid for this call; the helpers check for NULL first.
        let (out, root) = unsafe {
            (
                out_arg(out, "out", std::ptr::null_mut())?,
                opt_str_arg(root, "root")?,
            )
        };
        let inner = match root {
            Some(root) => dxforge_core::DxForge::open(root)?,
            None => dxforge_core::DxForge::new()?,
        };
        *out = Box::into_raw(Box::new(DxForge {
            inner,
            subscriptions: Mutex::new(HashMap::new()),
        }));
        Ok(())
    })
}

/// Closes the handle: cancels its callbacks (waiting for a running one to
/// return), stops every tool it started (stop signal to each process tree,
/// then SIGKILL after the tool's stop timeout) and makes every later call on
/// it fail with `DXFORGE_ERROR_CLOSED`. Idempotent. The handle must still be
/// released with `dxforge_free`.
///
/// Blocks up to the longest stop timeout of the running tools.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_close(forge: *mut DxForge) -> c_int {
    guard(|| {
        // SAFETY: per the header's contract, `forge` is NULL or a live handle, valid for this call;
        // `forge_arg` checks for NULL.
        let forge = unsafe { forge_arg(forge) }?;
        forge.deactivate_subscriptions();
        forge.inner.shutdown()
    })
}

/// Releases a handle: closes it as `dxforge_close` does (stopping its tools)
/// and frees it. NULL is a no-op.
///
/// Ownership: takes ownership of `forge`; the pointer is invalid afterwards
/// (using it again is undefined behaviour, as with `free`). Must not be
/// called while another thread still uses the handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_free(forge: *mut DxForge) {
    if forge.is_null() {
        return;
    }
    guard_value((), || {
        // SAFETY: `forge` came from `Box::into_raw` in `dxforge_open`.
        let forge = unsafe { Box::from_raw(forge) };
        forge.deactivate_subscriptions();
        // A handle inherited through fork() returns `Forked` and stops nothing.
        let _ = forge.inner.shutdown();
    });
}

/// The project root (canonical, absolute).
///
/// On success `*out` receives a string owned by the caller: free it with
/// `dxforge_string_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_root(forge: Option<&DxForge>, out: *mut *mut c_char) -> c_int {
    guard(|| {
        // SAFETY: per the header's contract, `out` is NULL or writable, valid for this call;
        // `out_arg` checks for NULL.
        let out = unsafe { out_arg(out, "out", std::ptr::null_mut()) }?;
        let forge = forge_ref(forge)?;
        let root = forge
            .inner
            .root()
            .to_str()
            .ok_or_else(|| invalid("root", "project root is not valid UTF-8"))?;
        *out = string_out(root);
        Ok(())
    })
}

/// Whether the handle has been closed (`dxforge_close`). Returns 1 when
/// closed, 0 when open, and 0 for NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_is_closed(forge: Option<&DxForge>) -> c_int {
    guard_value(0, || {
        forge_ref(forge)
            .map(|f| c_int::from(f.inner.is_closed()))
            .unwrap_or(0)
    })
}

/// The library version, e.g. `"0.1.0"`; equal to `DXFORGE_VERSION` when the
/// header and the library match.
///
/// Ownership: a static string; never free it.
#[unsafe(no_mangle)]
pub extern "C" fn dxforge_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
