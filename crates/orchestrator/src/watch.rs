//! Watch mode: restart running tools whose `watch` globs match changed files.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use notify::{EventKind, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};
use tokio::sync::mpsc;

use crate::error::{OrchestratorError, Result};
use crate::lifecycle::is_up;
use crate::orchestrator::Orchestrator;

/// Handle to a running watch mode; dropping it stops watching (tools keep running).
///
/// Changes are debounced; paths under `.dxforge/` are ignored; each matching
/// running tool restarts once per debounced batch. After a restart, changes
/// that match the tool are ignored for twice the debounce, so a tool writing
/// into its own watched paths while it starts cannot cause a restart loop.
pub struct WatchHandle {
    _debouncer: Debouncer<notify::RecommendedWatcher, RecommendedCache>,
    task: tokio::task::AbortHandle,
}

impl std::fmt::Debug for WatchHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchHandle").finish_non_exhaustive()
    }
}

impl Drop for WatchHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub(crate) fn start(orch: Orchestrator, debounce: Duration) -> Result<WatchHandle> {
    let root = orch.config().root.clone();
    let watch_err = |e: notify::Error| OrchestratorError::Watch {
        path: root.clone(),
        reason: e.to_string(),
    };
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<PathBuf>>();
    let mut debouncer = new_debouncer(debounce, None, move |result: DebounceEventResult| {
        let Ok(events) = result else { return };
        let paths: Vec<PathBuf> = events
            .into_iter()
            // Reads (open/close) are not changes; a tool reading its sources must not restart itself.
            .filter(|e| !matches!(e.event.kind, EventKind::Access(_)))
            .flat_map(|e| e.event.paths.clone())
            .collect();
        if !paths.is_empty() {
            let _ = tx.send(paths);
        }
    })
    .map_err(watch_err)?;
    debouncer
        .watch(&root, RecursiveMode::Recursive)
        .map_err(watch_err)?;
    let canonical_root = std::fs::canonicalize(&root).unwrap_or_else(|_| root.clone());
    let runtime = orch.config().runtime.clone();
    let task = runtime.spawn(async move {
        let mut quiet_until: HashMap<String, Instant> = HashMap::new();
        while let Some(paths) = rx.recv().await {
            let relative: Vec<PathBuf> = paths
                .iter()
                .filter_map(|p| relative_to(p, &canonical_root, &root))
                .collect();
            if relative.is_empty() {
                continue;
            }
            for name in matching_running_tools(&orch, &relative, &quiet_until) {
                if let Err(e) = orch.restart(&name).await {
                    tracing::warn!(tool = %name, error = %e, "watch mode: restart failed");
                }
                quiet_until.insert(name, Instant::now() + debounce * 2);
            }
        }
    });
    Ok(WatchHandle {
        _debouncer: debouncer,
        task: task.abort_handle(),
    })
}

/// The path relative to the project root, or `None` when outside it or under `.dxforge/`.
fn relative_to(path: &Path, canonical_root: &Path, root: &Path) -> Option<PathBuf> {
    let rel = path
        .strip_prefix(canonical_root)
        .or_else(|_| path.strip_prefix(root))
        .ok()?;
    match rel.components().next() {
        Some(Component::Normal(first)) if first == ".dxforge" => None,
        None => None,
        _ => Some(rel.to_path_buf()),
    }
}

/// Running tools (in start order) with a glob matching any path, outside their quiet period.
fn matching_running_tools(
    orch: &Orchestrator,
    paths: &[PathBuf],
    quiet: &HashMap<String, Instant>,
) -> Vec<String> {
    let now = Instant::now();
    let reg = orch.inner.registry.read();
    reg.order
        .iter()
        .filter_map(|n| reg.tools.get(n))
        .filter(|e| quiet.get(&e.def.name).is_none_or(|until| now >= *until))
        .filter(|e| {
            e.watch
                .as_ref()
                .is_some_and(|set| paths.iter().any(|p| set.is_match(p)))
        })
        .filter(|e| is_up(e.tool.status()))
        .map(|e| e.def.name.clone())
        .collect()
}
