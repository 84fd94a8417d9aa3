//! Starting a dependency closure with each dependency's condition: which
//! wait each tool of the chain needs, and the wait for a one-shot
//! dependency to complete successfully.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::definition::{DependencyCondition, DxToolDefinition, RestartPolicy};
use crate::error::{OrchestratorError, Result};
use crate::graph::closure_in_order;
use crate::lifecycle::Life;
use crate::lifecycle::deps::{Wait, start_chain};
use crate::supervisor::{Inner, Registry, start_one};
use crate::{ExitStatus, ToolStatus};

/// `name`'s dependency closure in start order, `name` last.
pub(crate) fn dependency_order(inner: &Inner, name: &str) -> Result<Vec<String>> {
    let reg = inner.registry.read();
    if !reg.tools.contains_key(name) {
        return Err(OrchestratorError::UnknownTool {
            name: name.to_owned(),
        });
    }
    Ok(closure_in_order(name, &reg.order, |n| reg.deps_of(n)))
}

/// The strongest condition the tools of `order` put on each of their
/// dependencies (no condition: ready).
pub(crate) fn waits(reg: &Registry, order: &[String]) -> HashMap<String, Wait> {
    let mut waits: HashMap<String, Wait> = HashMap::new();
    for entry in order.iter().filter_map(|n| reg.tools.get(n)) {
        for dep in &entry.def.dependencies {
            let wait = match entry.def.dependency_conditions.get(dep) {
                Some(DependencyCondition::Started) => Wait::Spawned,
                Some(DependencyCondition::Healthy) | None => Wait::Ready,
                Some(DependencyCondition::CompletedSuccessfully) => Wait::Completed,
            };
            let slot = waits.entry(dep.clone()).or_insert(wait);
            *slot = (*slot).max(wait);
        }
    }
    waits
}

/// Checks that each condition of `def` can be met by its dependency (found
/// with `lookup`): `healthy` needs a health check, `completed_successfully`
/// a tool that is not restarted after a zero exit.
pub(crate) fn check_conditions<'a>(
    def: &DxToolDefinition,
    lookup: impl Fn(&str) -> Option<&'a DxToolDefinition>,
) -> Result<()> {
    for (dep, condition) in &def.dependency_conditions {
        let Some(target) = lookup(dep) else { continue };
        let reason = match condition {
            DependencyCondition::Healthy if target.health.is_none() => {
                "it has no health check; add one, or use condition \"started\""
            }
            DependencyCondition::CompletedSuccessfully
                if target.restart == RestartPolicy::Always =>
            {
                "it has restart = \"always\", so it never completes; use \"on-failure\" or \"never\""
            }
            _ => continue,
        };
        return Err(OrchestratorError::InvalidDefinition {
            tool: def.name.clone(),
            reason: format!("dependency `{dep}` with condition `{condition}`: {reason}"),
        });
    }
    Ok(())
}

/// Whether any tool of `order` waits for a dependency to complete.
pub(crate) fn waits_for_completion(inner: &Inner, order: &[String]) -> bool {
    waits(&inner.registry.read(), order)
        .values()
        .any(|w| *w == Wait::Completed)
}

/// Starts `name`'s dependency closure in start order (each dependency
/// meeting its condition), then `name` itself when `with_self`.
pub(crate) async fn start_in_order(
    inner: &Arc<Inner>,
    name: &str,
    order: &[String],
    with_self: bool,
) -> Result<Option<ToolStatus>> {
    let waits = waits(&inner.registry.read(), order);
    let wait_of = |dep: &str| waits.get(dep).copied().unwrap_or(Wait::Ready);
    start_chain(name, order, with_self, wait_of, |tool, wait| {
        start_named(inner, tool, wait)
    })
    .await
}

/// Starts one tool by name, following re-registrations, and waits as asked.
async fn start_named(inner: &Arc<Inner>, name: &str, wait: Wait) -> Result<ToolStatus> {
    match wait {
        Wait::Completed => complete(inner, name).await,
        Wait::Ready => start_by_name(inner, name, true).await,
        Wait::Spawned => start_by_name(inner, name, false).await,
    }
}

/// [`start_one`] by name, looked up again after a re-registration.
async fn start_by_name(inner: &Arc<Inner>, name: &str, ready: bool) -> Result<ToolStatus> {
    loop {
        let entry = inner.registry.read().entry(name)?;
        if let Some(status) = start_one(inner, &entry, ready).await? {
            return Ok(status);
        }
    }
}

/// Runs a one-shot dependency to completion: done at once when its last
/// run exited 0 and it is stopped; else it is started and waited for, at
/// most its `startup_timeout_ms`, until it stops with status 0. A non-zero
/// exit (or a signal, or running past the limit) is
/// [`OrchestratorError::DependencyNotCompleted`] (the dependent is filled
/// in by the chain).
async fn complete(inner: &Arc<Inner>, name: &str) -> Result<ToolStatus> {
    let entry = inner.registry.read().entry(name)?;
    let done = |life: &Life, exit: Option<ExitStatus>| {
        *life == Life::Stopped && exit == Some(ExitStatus::Code(0))
    };
    {
        let rec = entry.tool.state.borrow();
        if done(&rec.life, rec.last_exit) {
            return Ok(ToolStatus::Stopped);
        }
    }
    let not_completed = |outcome: String| OrchestratorError::DependencyNotCompleted {
        tool: String::new(),
        dependency: name.to_owned(),
        outcome,
    };
    start_by_name(inner, name, true).await?;
    let limit = Duration::from_millis(entry.def.startup_timeout_ms);
    // Idle, or an exit other than 0 that the restart policy answers with a
    // restart: either way this run has ended.
    let ended = entry.tool.wait_for(|rec| {
        rec.life.is_idle() || (rec.restarts > 0 && rec.last_exit != Some(ExitStatus::Code(0)))
    });
    let rec = tokio::time::timeout(limit, ended).await.map_err(|_| {
        not_completed(format!(
            "still running after {} ms (its startup_timeout_ms)",
            limit.as_millis()
        ))
    })?;
    if done(&rec.life, rec.last_exit) {
        return Ok(ToolStatus::Stopped);
    }
    Err(not_completed(match rec.last_exit {
        Some(ExitStatus::Code(code)) => format!("exited with status {code}"),
        Some(ExitStatus::Signal(sig)) => format!("killed by signal {sig}"),
        None => rec
            .last_error
            .unwrap_or_else(|| "stopped before it exited".to_owned()),
    }))
}
