//! Dependency waits: a tool starts only once each tool it depends on is up
//! (`Running`, or `Healthy` when it has a health check).

use std::future::Future;

use crate::ToolStatus;
use crate::error::{OrchestratorError, Result};

/// Starts `order` (a dependency closure in start order, `name` last) one
/// tool at a time with `start`, which returns once that tool is up. The
/// first dependency that fails stops the chain: `name` is not started and
/// the error names the dependency.
pub(crate) async fn start_chain<'a, F, Fut>(
    name: &'a str,
    order: &'a [String],
    mut start: F,
) -> Result<ToolStatus>
where
    F: FnMut(&'a str) -> Fut,
    Fut: Future<Output = Result<ToolStatus>>,
{
    for dep in order.iter().filter(|d| *d != name) {
        start(dep)
            .await
            .map_err(|e| OrchestratorError::DependencyFailed {
                tool: name.to_owned(),
                dependency: dep.clone(),
                reason: e.to_string(),
            })?;
    }
    start(name).await
}
