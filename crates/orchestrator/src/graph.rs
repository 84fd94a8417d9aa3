//! The dependency graph: start order, cycles, closures and dependents.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use crate::error::{OrchestratorError, Result};

// Validation of one definition lives in `validate.rs`; re-exported for the
// registry, which checks definitions and the graph together.
pub(crate) use crate::validate::check_definition;

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
