//! Promises backed by the core runtime.
//!
//! [`promise`] runs a future on the core's tokio runtime; [`promise_blocking`]
//! runs blocking file-system work (snapshots, installs) on that runtime's
//! blocking pool. Either way the JS thread only converts the result, and an
//! error rejects with a coded `Error` (see [`crate::error`]).

use std::future::Future;

use napi::Env;
use napi::bindgen_prelude::{PromiseRaw, ToNapiValue};

use crate::error::js_error;
use crate::runtime::CatchPanic;

/// Runs `fut` on the core runtime and returns a Promise of `convert(value)`;
/// `convert` runs on the JS thread.
pub(crate) fn promise<'env, T, V, F, C>(
    env: &'env Env,
    fut: F,
    convert: C,
) -> napi::Result<PromiseRaw<'env, V>>
where
    T: Send + 'static,
    V: ToNapiValue,
    F: Future<Output = dxforge::Result<T>> + Send + 'static,
    C: FnOnce(T) -> V + 'static,
{
    let fut = CatchPanic(Box::pin(fut));
    env.spawn_future_with_callback(
        async move { Ok(fut.await) },
        move |env, result| match result {
            Ok(value) => Ok(convert(value)),
            Err(e) => Err(js_error(env, &e)),
        },
    )
}

/// Runs blocking `work` on the core runtime's blocking pool and returns a
/// Promise of `convert(value)`.
pub(crate) fn promise_blocking<'env, T, V, W, C>(
    env: &'env Env,
    work: W,
    convert: C,
) -> napi::Result<PromiseRaw<'env, V>>
where
    T: Send + 'static,
    V: ToNapiValue,
    W: FnOnce() -> dxforge::Result<T> + Send + 'static,
    C: FnOnce(T) -> V + 'static,
{
    promise(env, run_blocking(work), convert)
}

/// `work` on the blocking pool; a panic in it becomes an `INTERNAL` error.
pub(crate) async fn run_blocking<T, W>(work: W) -> dxforge::Result<T>
where
    T: Send + 'static,
    W: FnOnce() -> dxforge::Result<T> + Send + 'static,
{
    let handle = dxforge::runtime::handle()?;
    match handle.spawn_blocking(work).await {
        Ok(result) => result,
        Err(e) => Err(match e.try_into_panic() {
            Ok(payload) => crate::error::panic_error(payload),
            Err(e) => dxforge::Error::Internal {
                message: format!("blocking task failed: {e}"),
            },
        }),
    }
}
