//! Status-change callbacks and watch mode.
//!
//! `onStatusChange(cb)` wraps `cb` in a *weak* (unref'd) threadsafe function:
//! the core calls it on its own event thread, Node runs `cb` on the JS thread.
//! A subscription never keeps the process alive, neither while idle nor after
//! `close()`; keep the process busy (a pending Promise, a server) while you
//! wait for events. `unsubscribe(id)` and `close()` release the callback. An
//! exception thrown by `cb` is an uncaught exception, as with an
//! `EventEmitter` listener.

use std::time::Duration;

use napi::Result;
use napi::bindgen_prelude::Function;
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi_derive::napi;

use crate::error::{ErrorCode, invalid_argument, sync};
use crate::forge::DxForge;
use crate::status::ToolEvent;

/// Debounce of `watch()` when none is given (the CLI's `watch` uses the same).
const DEFAULT_DEBOUNCE_MS: u32 = 300;

#[napi]
impl DxForge {
    /// Calls `callback` on the JS thread for every status change until
    /// `unsubscribe(id)` or `close()`. Returns the subscription id. The
    /// subscription does not keep the process alive.
    #[napi(strict, ts_args_type = "callback: (event: ToolEvent) => void")]
    pub fn on_status_change(
        &self,
        callback: Function<'_, ToolEvent, ()>,
    ) -> Result<u32, ErrorCode> {
        sync(|| {
            let forge = self.forge()?;
            let tsfn = callback
                .build_threadsafe_function::<ToolEvent>()
                .weak::<true>()
                .build()
                .map_err(|e| {
                    invalid_argument("callback", format!("expected a function ({})", e.reason))
                })?;
            let id = forge.on_status_change(move |event| {
                // Fails only while Node is tearing the environment down, when
                // nobody is left to receive the event.
                let _ = tsfn.call(
                    ToolEvent::from(event),
                    ThreadsafeFunctionCallMode::NonBlocking,
                );
            })?;
            u32::try_from(id.0).map_err(|_| {
                let _ = forge.unsubscribe(id);
                dxforge::Error::Internal {
                    message: "subscription ids exhausted".to_owned(),
                }
            })
        })
    }

    /// Cancels a subscription; its callback is released. Unknown ids are ignored.
    #[napi]
    pub fn unsubscribe(&self, id: u32) -> Result<(), ErrorCode> {
        sync(|| {
            self.forge()?
                .unsubscribe(dxforge::SubscriptionId(id.into()))
        })
    }

    /// Starts watch mode: running tools whose `watch` globs match a changed
    /// file are restarted after `debounceMs` (default 300) of quiet. Lasts
    /// until `unwatch()` or `close()`.
    #[napi]
    pub fn watch(&self, debounce_ms: Option<u32>) -> Result<(), ErrorCode> {
        let debounce = Duration::from_millis(debounce_ms.unwrap_or(DEFAULT_DEBOUNCE_MS).into());
        sync(|| self.forge()?.watch(debounce))
    }

    /// Stops watch mode (tools keep running).
    #[napi]
    pub fn unwatch(&self) -> Result<(), ErrorCode> {
        sync(|| self.forge()?.unwatch())
    }
}
