//! Dependency waits: a tool starts only once each tool it depends on meets
//! its condition: spawned (`started`), ready (`healthy`, or `Running` for a
//! tool without a health check: the default) or run to a zero exit
//! (`completed_successfully`).

use std::future::Future;

use crate::ToolStatus;
use crate::error::{OrchestratorError, Result};

/// What a start waits for, the strongest condition any dependent in the
/// chain puts on the tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Wait {
    /// Spawned (the `started` condition).
    Spawned,
    /// Ready: healthy, or running without a health check.
    Ready,
    /// Ran to completion with exit status 0.
    Completed,
}

/// Starts `order` (a dependency closure in start order, `name` last) one
/// tool at a time with `start`, which returns once that tool meets
/// `wait_of(tool)`; `name` itself is started (waiting until it is ready)
/// only when `with_self`. The first dependency that fails stops the chain:
/// `name` is not started and the error names the dependency.
pub(crate) async fn start_chain<'a, W, F, Fut>(
    name: &'a str,
    order: &'a [String],
    with_self: bool,
    wait_of: W,
    mut start: F,
) -> Result<Option<ToolStatus>>
where
    W: Fn(&str) -> Wait,
    F: FnMut(&'a str, Wait) -> Fut,
    Fut: Future<Output = Result<ToolStatus>>,
{
    for dep in order.iter().filter(|d| *d != name) {
        start(dep, wait_of(dep)).await.map_err(|e| match e {
            OrchestratorError::DependencyNotCompleted {
                dependency,
                outcome,
                ..
            } => OrchestratorError::DependencyNotCompleted {
                tool: name.to_owned(),
                dependency,
                outcome,
            },
            e => OrchestratorError::DependencyFailed {
                tool: name.to_owned(),
                dependency: dep.clone(),
                reason: e.to_string(),
            },
        })?;
    }
    if with_self {
        start(name, Wait::Ready).await.map(Some)
    } else {
        Ok(None)
    }
}
