//! The `DxForge` class: opening, closing and the handle's lifetime.
//!
//! `close()` marks the object closed at once (every later call throws or
//! rejects with code `'CLOSED'`), then stops the tools on a blocking thread of
//! the core runtime; its Promise settles when they are stopped. An object that
//! is garbage-collected without `close()` stops its tools the same way, off the
//! JS thread. Other clones of the same project handle (none are made by this
//! package) would keep the core open.

use std::sync::atomic::{AtomicBool, Ordering};

use napi::Env;
use napi::Result;
use napi::bindgen_prelude::PromiseRaw;
use napi_derive::napi;

use crate::error::{ErrorCode, sync};
use crate::promise::{promise, run_blocking};

/// The engine for one project (orchestrator, worker, package manager).
#[napi]
pub struct DxForge {
    /// `None` only while the object is being dropped.
    inner: Option<dxforge::DxForge>,
    root: String,
    closed: AtomicBool,
}

impl DxForge {
    /// The core handle, unless `close()` was called.
    pub(crate) fn forge(&self) -> dxforge::Result<&dxforge::DxForge> {
        match &self.inner {
            Some(inner) if !self.closed.load(Ordering::Acquire) => Ok(inner),
            _ => Err(dxforge::Error::Closed),
        }
    }

    /// A clone of the core handle for a Promise's future, or the `CLOSED` error
    /// that future will reject with.
    pub(crate) fn forge_owned(&self) -> dxforge::Result<dxforge::DxForge> {
        self.forge().cloned()
    }

    fn wrap(inner: dxforge::DxForge) -> Self {
        let root = inner.root().to_string_lossy().into_owned();
        Self {
            inner: Some(inner),
            root,
            closed: AtomicBool::new(false),
        }
    }
}

#[napi]
impl DxForge {
    /// Opens the project at `root` (default: the current directory): reads
    /// `dxforge.toml` if present and registers its tools. Nothing is started.
    #[napi(constructor)]
    pub fn new(root: Option<String>) -> Result<Self, ErrorCode> {
        sync(|| match root {
            Some(root) => dxforge::DxForge::open(root),
            None => dxforge::DxForge::new(),
        })
        .map(Self::wrap)
    }

    /// Opens the project at `root`; same as `new DxForge(root)`.
    #[napi(factory)]
    pub fn open(root: String) -> Result<Self, ErrorCode> {
        sync(|| dxforge::DxForge::open(root)).map(Self::wrap)
    }

    /// The project root (canonical, absolute).
    #[napi(getter)]
    pub fn root(&self) -> String {
        self.root.clone()
    }

    /// `true` once `close()` was called.
    #[napi(getter)]
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire) || self.inner.as_ref().is_none_or(|i| i.is_closed())
    }

    /// Stops every tool this handle started (stop signal to each process
    /// tree, SIGKILL after its `stopTimeoutMs`) and closes the handle. Later
    /// calls throw (or reject) with code `'CLOSED'`; event callbacks are
    /// released, so they no longer keep the process alive. Idempotent.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        self.closed.store(true, Ordering::Release);
        let inner = self.inner.clone();
        promise(
            env,
            async move {
                let Some(inner) = inner else { return Ok(()) };
                run_blocking(move || inner.shutdown()).await
            },
            |()| (),
        )
    }
}

impl Drop for DxForge {
    fn drop(&mut self) {
        // The core stops tools when its last clone drops, which can block for
        // a stop timeout: never do that on the JS thread (GC finalizer).
        let Some(inner) = self.inner.take() else {
            return;
        };
        if inner.is_closed() {
            return;
        }
        if let Ok(handle) = dxforge::runtime::handle() {
            handle.spawn_blocking(move || drop(inner));
        }
    }
}
