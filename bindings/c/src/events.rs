//! Status-change callbacks (`dxforge_on_status_change`).
//!
//! Each subscription has its own thread, made by the core, which calls the
//! callback; never a runtime thread, so a callback may block or call back
//! into dxforge (except blocking on the thread that waits in
//! `dxforge_unsubscribe`/`dxforge_close` for it). After `dxforge_unsubscribe`
//! or `dxforge_close` returns, the callback is never called again, so
//! `user_data` may be freed then.

use std::cell::Cell;
use std::ffi::{CString, c_char, c_int, c_void};
use std::sync::Arc;

use dxforge_core::{SubscriptionId, ToolEvent};
use parking_lot::ReentrantMutex;

use crate::convert::{c_string, out_arg};
use crate::error::{guard, invalid};
use crate::forge::{DxForge, forge_arg};
use crate::tool_results::{dxforge_tool_status, status_of};

/// One status change, passed to a `dxforge_status_callback`.
///
/// Ownership: the event and its strings belong to the library and are valid
/// only during the callback; copy what you keep.
#[repr(C)]
pub struct dxforge_tool_event {
    /// Tool name.
    pub tool: *const c_char,
    /// Status before the change.
    pub old_status: dxforge_tool_status,
    /// Status after the change.
    pub new_status: dxforge_tool_status,
    /// PID at the time of the change, 0 if none.
    pub pid: u32,
    /// Short reason (e.g. `"exited with code 1"`), or NULL.
    pub reason: *const c_char,
}

/// A status-change callback; runs on a dedicated thread of its subscription.
pub type dxforge_status_callback =
    Option<unsafe extern "C" fn(event: *const dxforge_tool_event, user_data: *mut c_void)>;

/// The callback plus its liveness flag. The flag is read under a reentrant
/// lock held for the whole callback, so deactivating waits for a running
/// callback on another thread, and a callback may unsubscribe itself.
pub(crate) struct Subscription {
    active: ReentrantMutex<Cell<bool>>,
    callback: unsafe extern "C" fn(*const dxforge_tool_event, *mut c_void),
    user_data: UserData,
}

struct UserData(*mut c_void);
// SAFETY: the caller promises (documented on `dxforge_on_status_change`) that `user_data` may be
// used from the callback's thread.
unsafe impl Send for UserData {}
// SAFETY: as for `Send`: the callback only passes the pointer through, and the caller promises it
// may be used from the callback's thread.
unsafe impl Sync for UserData {}

impl Subscription {
    pub(crate) fn deactivate(&self) {
        self.active.lock().set(false);
    }

    fn deliver(&self, event: &ToolEvent) {
        let active = self.active.lock();
        if !active.get() {
            return;
        }
        let tool = c_string(event.tool.as_str());
        let reason: Option<CString> = event.reason.as_deref().map(c_string);
        let c_event = dxforge_tool_event {
            tool: tool.as_ptr(),
            old_status: status_of(event.old),
            new_status: status_of(event.new),
            pid: event.pid.unwrap_or(0),
            reason: reason.as_ref().map_or(std::ptr::null(), |r| r.as_ptr()),
        };
        // SAFETY: a C function pointer given by the host, called as documented.
        unsafe { (self.callback)(&c_event, self.user_data.0) };
    }
}

/// Calls `callback(event, user_data)` for every status change of any tool of
/// this handle, until `dxforge_unsubscribe` or `dxforge_close`/`dxforge_free`.
///
/// The callback runs on a dedicated thread (one per subscription), in event
/// order; `user_data` is passed through untouched and must be usable from that
/// thread. `*out_id` receives the subscription id for `dxforge_unsubscribe`.
/// Errors: `DXFORGE_ERROR_INVALID_ARGUMENT` (NULL `forge`, `callback` or `out_id`),
/// `DXFORGE_ERROR_CLOSED`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_on_status_change(
    forge: *mut DxForge,
    callback: dxforge_status_callback,
    user_data: *mut c_void,
    out_id: *mut u64,
) -> c_int {
    guard(|| {
        // SAFETY: per the header's contract, `out_id` is NULL or writable and `forge` is NULL or a
        // live handle, each valid for this call; the helpers check for NULL first.
        let (out_id, forge) = unsafe { (out_arg(out_id, "out_id", 0)?, forge_arg(forge)?) };
        let callback = callback.ok_or_else(|| invalid("callback", "is NULL"))?;
        let sub = Arc::new(Subscription {
            active: ReentrantMutex::new(Cell::new(true)),
            callback,
            user_data: UserData(user_data),
        });
        let delivering = Arc::clone(&sub);
        let SubscriptionId(id) = forge
            .inner
            .on_status_change(move |event| delivering.deliver(event))?;
        forge.subscriptions.lock().insert(id, sub);
        *out_id = id;
        Ok(())
    })
}

/// Cancels a subscription. When this returns, the callback is not running
/// (on another thread) and will never be called again. Calling it from the
/// callback itself is allowed.
/// Errors: `DXFORGE_ERROR_INVALID_ARGUMENT` for an unknown or already cancelled id.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_unsubscribe(forge: *mut DxForge, id: u64) -> c_int {
    guard(|| {
        // SAFETY: per the header's contract, `forge` is NULL or a live handle, valid for this call;
        // `forge_arg` checks for NULL.
        let forge = unsafe { forge_arg(forge) }?;
        let sub = forge.subscriptions.lock().remove(&id);
        let sub =
            sub.ok_or_else(|| invalid("id", format!("no subscription {id} on this handle")))?;
        sub.deactivate();
        forge.inner.unsubscribe(SubscriptionId(id))
    })
}
