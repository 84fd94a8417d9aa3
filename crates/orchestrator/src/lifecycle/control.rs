//! The typed control channel between the handle and a tool's supervising
//! task, and the guard that turns a panic of that task into a state.

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::child::Signal;
use super::state::{Life, Tool};

/// A command to a supervising task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Control {
    /// Run the stop sequence and end the supervision as `Stopped`.
    Stop,
}

/// The handle's side of a supervising task.
pub(crate) struct RunHandle {
    pub tx: mpsc::UnboundedSender<Control>,
    pub task: JoinHandle<()>,
}

/// Runs a supervising task; a panic in it kills the tool's tree and leaves
/// the tool `Broken` with the panic message (reported to callers as
/// [`OrchestratorError::Internal`](crate::OrchestratorError::Internal)).
pub(crate) async fn guarded(tool: Arc<Tool>, fut: impl Future<Output = ()> + Send) {
    if let Err(payload) = (CatchUnwind(Box::pin(fut))).await {
        let message = format!(
            "supervisor of `{}` panicked: {}",
            tool.name,
            panic_message(payload.as_ref())
        );
        tracing::error!(tool = %tool.name, %message, "internal error");
        let remote = tool.remote.lock().take();
        if let Some(remote) = remote {
            remote.signal(Signal::KillTree);
        }
        tool.set(Life::Broken { message }, "internal error", |_| {});
    }
}

/// The text of a panic payload (`panic!` gives `&str` or `String`).
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-text panic payload)".to_owned()
    }
}

/// Polls a future, catching a panic of any poll.
struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let fut = self.0.as_mut();
        // The future is never polled again after a panic (it is dropped
        // with this wrapper), so its possibly broken state is not observed.
        match catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}
