//! Validation of definitions and the dependency graph: start order, cycles,
//! closures and dependents.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::definition::{DxToolDefinition, HealthCheck};
use crate::error::{OrchestratorError, Result};
use crate::spawn::parse_signal;

/// What validation derives from a definition.
pub(crate) struct Checked {
    pub stop_signal: libc::c_int,
    pub watch: Option<GlobSet>,
}

/// Checks one definition on its own (dependencies are checked against the set).
pub(crate) fn check_definition(def: &DxToolDefinition) -> Result<Checked> {
    let invalid = |reason: String| OrchestratorError::InvalidDefinition {
        tool: def.name.clone(),
        reason,
    };
    let name = def.name.as_str();
    if name.is_empty() {
        return Err(invalid("the name is empty".into()));
    }
    // The name becomes `<log_dir>/<name>.log`: it must stay one path component.
    if name == "." || name == ".." || name.contains(['/', '\\', '\0']) {
        return Err(invalid(format!(
            "the name `{name}` cannot contain '/', '\\', NUL or be `.`/`..`"
        )));
    }
    if def.binary_path.is_empty() {
        return Err(invalid("binary_path is empty".into()));
    }
    let has_nul = |s: &str| s.contains('\0');
    if has_nul(&def.binary_path) || def.args.iter().any(|a| has_nul(a)) {
        return Err(invalid(
            "binary_path and args cannot contain NUL bytes".into(),
        ));
    }
    for (k, v) in &def.env {
        if k.is_empty() || k.contains(['=', '\0']) || has_nul(v) {
            return Err(invalid(format!(
                "env key `{k}` is empty or contains '=' or NUL"
            )));
        }
    }
    let stop_signal = parse_signal(&def.stop_signal).ok_or_else(|| {
        invalid(format!(
            "unknown stop_signal `{}` (e.g. \"SIGTERM\")",
            def.stop_signal
        ))
    })?;
    if let Err(e) = crate::limits::check_numbers(def) {
        return Err(invalid(format!("{}: {e}", e.field)));
    }
    match &def.health {
        Some(HealthCheck::Tcp(addr)) if addr.trim().is_empty() => {
            return Err(invalid("health.tcp is empty (expected host:port)".into()));
        }
        Some(HealthCheck::Http(url)) if !url.starts_with("http://") => {
            return Err(invalid(format!(
                "health.http `{url}` must be a plain http:// URL"
            )));
        }
        Some(HealthCheck::Command(argv)) if argv.first().is_none_or(|p| p.is_empty()) => {
            return Err(invalid("health.command is empty".into()));
        }
        _ => {}
    }
    let watch = if def.watch.is_empty() {
        None
    } else {
        let mut builder = GlobSetBuilder::new();
        for pattern in &def.watch {
            let glob =
                Glob::new(pattern).map_err(|e| invalid(format!("watch glob `{pattern}`: {e}")))?;
            builder.add(glob);
        }
        Some(
            builder
                .build()
                .map_err(|e| invalid(format!("watch globs: {e}")))?,
        )
    };
    Ok(Checked { stop_signal, watch })
}

/// A node of the graph: name, dependencies, priority and registration order.
pub(crate) struct Node<'a> {
    pub name: &'a str,
    pub deps: &'a [String],
    pub priority: u32,
    pub seq: u64,
}

/// Start order of all nodes: dependencies first; among tools not ordered by
/// dependencies, lower priority first, then registration order.
/// Errors name unknown dependencies and cycles.
pub(crate) fn start_order(nodes: &[Node<'_>]) -> Result<Vec<String>> {
    let index: HashMap<&str, usize> = nodes.iter().enumerate().map(|(i, n)| (n.name, i)).collect();
    let mut pending = vec![0usize; nodes.len()];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for (i, node) in nodes.iter().enumerate() {
        let mut seen = HashSet::new();
        for dep in node.deps {
            let Some(&d) = index.get(dep.as_str()) else {
                return Err(OrchestratorError::UnknownDependency {
                    tool: node.name.to_owned(),
                    dependency: dep.clone(),
                });
            };
            if seen.insert(d) {
                pending[i] += 1;
                dependents[d].push(i);
            }
        }
    }
    let mut ready: BinaryHeap<Reverse<(u32, u64, usize)>> = nodes
        .iter()
        .enumerate()
        .filter(|(i, _)| pending[*i] == 0)
        .map(|(i, n)| Reverse((n.priority, n.seq, i)))
        .collect();
    let mut order = Vec::with_capacity(nodes.len());
    while let Some(Reverse((_, _, i))) = ready.pop() {
        order.push(nodes[i].name.to_owned());
        for &j in &dependents[i] {
            pending[j] -= 1;
            if pending[j] == 0 {
                ready.push(Reverse((nodes[j].priority, nodes[j].seq, j)));
            }
        }
    }
    if order.len() < nodes.len() {
        return Err(OrchestratorError::DependencyCycle {
            cycle: find_cycle(nodes, &index, &pending),
        });
    }
    Ok(order)
}

/// Follows unresolved dependencies from the earliest-registered stuck node
/// until a node repeats; returns that loop, first name repeated at the end.
fn find_cycle(nodes: &[Node<'_>], index: &HashMap<&str, usize>, pending: &[usize]) -> Vec<String> {
    let stuck = |i: usize| pending[i] > 0;
    let Some(start) = (0..nodes.len())
        .filter(|&i| stuck(i))
        .min_by_key(|&i| nodes[i].seq)
    else {
        return Vec::new();
    };
    let mut path: Vec<usize> = Vec::new();
    let mut at = start;
    loop {
        if let Some(pos) = path.iter().position(|&p| p == at) {
            let mut cycle: Vec<String> = path[pos..]
                .iter()
                .map(|&i| nodes[i].name.to_owned())
                .collect();
            cycle.push(nodes[at].name.to_owned());
            return cycle;
        }
        path.push(at);
        // Every stuck node has at least one stuck dependency.
        let next = nodes[at]
            .deps
            .iter()
            .filter_map(|d| index.get(d.as_str()).copied())
            .find(|&d| stuck(d));
        match next {
            Some(n) => at = n,
            None => return path.iter().map(|&i| nodes[i].name.to_owned()).collect(),
        }
    }
}

/// Names in `order` that `name` depends on, transitively, plus `name` itself
/// (last), in start order.
pub(crate) fn closure_in_order(
    name: &str,
    order: &[String],
    deps_of: impl Fn(&str) -> Vec<String>,
) -> Vec<String> {
    let mut wanted: HashSet<String> = HashSet::new();
    let mut stack = vec![name.to_owned()];
    while let Some(n) = stack.pop() {
        if wanted.insert(n.clone()) {
            stack.extend(deps_of(&n));
        }
    }
    order
        .iter()
        .filter(|n| wanted.contains(*n))
        .cloned()
        .collect()
}

/// Tools that depend on `name`, transitively (without `name`), in start order.
pub(crate) fn dependents_in_order(
    name: &str,
    order: &[String],
    deps_of: impl Fn(&str) -> Vec<String>,
) -> Vec<String> {
    let mut hit: HashSet<&str> = HashSet::new();
    hit.insert(name);
    let mut result = Vec::new();
    // Start order puts dependencies first, so one forward pass suffices.
    for n in order {
        if n != name && deps_of(n).iter().any(|d| hit.contains(d.as_str())) {
            hit.insert(n);
            result.push(n.clone());
        }
    }
    result
}
