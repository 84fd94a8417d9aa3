//! Runs every Promise of the addon on the core's one tokio runtime.
//!
//! napi is built without its own tokio runtime (`async-runtime` feature, no
//! `tokio_rt`); [`CoreRuntime`] is registered from a module constructor and
//! hands napi's tasks to `dxforge::runtime`, so Rust futures started from Node,
//! from the orchestrator's supervisors and from other hosts share one runtime
//! per process (docs/contract.md §7).
//!
//! The core's runtime is never shut down (it lives as long as the process), so
//! the addon's image is pinned in memory when the backend starts: Node may
//! tear down an environment while runtime threads still hold addon code.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use napi::bindgen_prelude::{
    AsyncRuntime, AsyncRuntimeGuard, AsyncRuntimeRejection, AsyncRuntimeTask,
    register_async_runtime, retain_current_module_for_unload_safety,
};

/// The napi async backend that delegates to `dxforge::runtime`.
struct CoreRuntime;

/// Keeps the calling thread inside the core runtime's context.
struct Entered(#[allow(dead_code)] tokio::runtime::EnterGuard<'static>);

impl AsyncRuntimeGuard for Entered {}

fn runtime_error(e: dxforge::Error) -> napi::Error {
    napi::Error::new(napi::Status::GenericFailure, e.to_string())
}

// SAFETY: the backend's threads belong to the core's process-wide runtime,
// which is never dropped; `start` pins this addon's image so that no thread
// of that runtime can ever run code from an unloaded image.
unsafe impl AsyncRuntime for CoreRuntime {
    fn spawn(&self, task: AsyncRuntimeTask) -> Result<(), AsyncRuntimeRejection<AsyncRuntimeTask>> {
        match dxforge::runtime::handle() {
            Ok(handle) => {
                handle.spawn(task);
                Ok(())
            }
            Err(e) => Err(AsyncRuntimeRejection::new(task, runtime_error(e))),
        }
    }

    fn block_on(&self, future: Pin<&mut dyn Future<Output = ()>>) -> napi::Result<()> {
        dxforge::runtime::block_on(future).map_err(runtime_error)
    }

    fn enter(&self) -> napi::Result<Box<dyn AsyncRuntimeGuard + '_>> {
        let rt = dxforge::runtime::runtime().map_err(runtime_error)?;
        Ok(Box::new(Entered(rt.enter())))
    }

    fn start(&self) -> napi::Result<()> {
        retain_current_module_for_unload_safety();
        dxforge::runtime::runtime()
            .map(|_| ())
            .map_err(runtime_error)
    }

    fn shutdown(&self) -> napi::Result<()> {
        // The runtime is shared with every other user in the process and
        // outlives Node environments; the image is pinned (see `start`).
        Ok(())
    }

    fn spawn_blocking(
        &self,
        work: Box<dyn FnOnce() + Send + 'static>,
    ) -> Result<(), AsyncRuntimeRejection<Box<dyn FnOnce() + Send + 'static>>> {
        match dxforge::runtime::handle() {
            Ok(handle) => {
                handle.spawn_blocking(work);
                Ok(())
            }
            Err(e) => Err(AsyncRuntimeRejection::new(work, runtime_error(e))),
        }
    }
}

#[napi_derive::module_init]
fn register_core_runtime() {
    register_async_runtime(CoreRuntime);
}

/// Turns a panic inside a wrapped future into `dxforge::Error::Internal`
/// (code `INTERNAL`) instead of napi's generic rejection.
pub(crate) struct CatchPanic<F>(pub(crate) Pin<Box<F>>);

impl<T, F: Future<Output = dxforge::Result<T>>> Future for CatchPanic<F> {
    type Output = dxforge::Result<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let fut = self.0.as_mut();
        match catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
            Ok(poll) => poll,
            Err(payload) => Poll::Ready(Err(crate::error::panic_error(payload))),
        }
    }
}
