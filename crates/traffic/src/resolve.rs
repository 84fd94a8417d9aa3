//! Semver resolution of requested packages and their transitive dependencies.
//!
//! Each package resolves to the highest version matching every requirement
//! on it, except that a version already recorded in the lock file is kept
//! while it still matches (like `cargo`), unless the package is being
//! upgraded. There is no backtracking beyond re-picking a package when a
//! later requirement rules out an earlier pick. Dependency cycles are errors.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::error::{Result, TrafficError};
use crate::manifest::PackageManifest;
use crate::registry::Registry;
use crate::safety::{parse_requirement, validate_package_name};

/// Which packages may move away from their locked version.
#[derive(Debug, Clone)]
pub enum Upgrade {
    /// Keep every locked version that still matches.
    Nothing,
    /// Ignore the locked versions of these packages.
    Only(BTreeSet<String>),
    /// Ignore all locked versions.
    All,
}

impl Upgrade {
    fn allows(&self, name: &str) -> bool {
        match self {
            Upgrade::Nothing => false,
            Upgrade::Only(set) => set.contains(name),
            Upgrade::All => true,
        }
    }
}

/// Resolve `roots` (name -> requirement). Returns every package to install with its manifest.
pub fn resolve(
    registry: &Registry,
    roots: &BTreeMap<String, String>,
    locked: &BTreeMap<String, semver::Version>,
    upgrade: &Upgrade,
) -> Result<BTreeMap<String, PackageManifest>> {
    let mut learned: BTreeMap<String, Vec<(semver::VersionReq, String)>> = BTreeMap::new();
    let mut versions_cache: BTreeMap<String, Vec<semver::Version>> = BTreeMap::new();
    for _round in 0..64 {
        let mut chosen: BTreeMap<String, PackageManifest> = BTreeMap::new();
        let mut constraints: BTreeMap<String, Vec<(semver::VersionReq, String)>> = BTreeMap::new();
        let mut queue: VecDeque<(String, String, String)> = roots
            .iter()
            .map(|(n, r)| (n.clone(), r.clone(), "dxforge.toml".to_string()))
            .collect();
        let mut restart = false;
        while let Some((name, req_text, by)) = queue.pop_front() {
            validate_package_name(&name)?;
            let req = parse_requirement(&name, &req_text)?;
            constraints
                .entry(name.clone())
                .or_default()
                .push((req.clone(), by.clone()));
            if let Some(m) = chosen.get(&name) {
                if req.matches(&m.version) {
                    continue;
                }
                learned.entry(name.clone()).or_default().push((req, by));
                restart = true;
                break;
            }
            let mut all = constraints.get(&name).cloned().unwrap_or_default();
            all.extend(learned.get(&name).cloned().unwrap_or_default());
            if !versions_cache.contains_key(&name) {
                versions_cache.insert(name.clone(), registry.versions(&name)?);
            }
            let available = versions_cache.get(&name).map(Vec::as_slice).unwrap_or(&[]);
            let version = pick(
                &name,
                available,
                &all,
                locked.get(&name),
                upgrade.allows(&name),
            )?;
            let manifest = registry.manifest(&name, &version)?;
            for (dep, dep_req) in &manifest.dependencies {
                queue.push_back((dep.clone(), dep_req.clone(), format!("{name}@{version}")));
            }
            chosen.insert(name, manifest);
        }
        if !restart {
            check_cycles(&chosen)?;
            return Ok(chosen);
        }
    }
    Err(TrafficError::NoMatchingVersion {
        name: roots.keys().cloned().collect::<Vec<_>>().join(", "),
        requirement: "resolution did not settle after 64 rounds".to_string(),
        available: String::new(),
    })
}

fn pick(
    name: &str,
    available: &[semver::Version],
    reqs: &[(semver::VersionReq, String)],
    locked: Option<&semver::Version>,
    upgrading: bool,
) -> Result<semver::Version> {
    let ok = |v: &semver::Version| reqs.iter().all(|(r, _)| r.matches(v));
    if !upgrading
        && let Some(l) = locked
        && available.contains(l)
        && ok(l)
    {
        return Ok(l.clone());
    }
    available
        .iter()
        .rev()
        .find(|v| ok(v))
        .cloned()
        .ok_or_else(|| TrafficError::NoMatchingVersion {
            name: name.to_string(),
            requirement: reqs
                .iter()
                .map(|(r, by)| format!("{r} (from {by})"))
                .collect::<Vec<_>>()
                .join(", "),
            available: available
                .iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

fn check_cycles(chosen: &BTreeMap<String, PackageManifest>) -> Result<()> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Visiting,
        Done,
    }
    fn visit(
        name: &str,
        chosen: &BTreeMap<String, PackageManifest>,
        marks: &mut BTreeMap<String, Mark>,
        stack: &mut Vec<String>,
    ) -> Result<()> {
        match marks.get(name) {
            Some(Mark::Done) => return Ok(()),
            Some(Mark::Visiting) => {
                let start = stack.iter().position(|n| n == name).unwrap_or(0);
                let mut cycle: Vec<String> = stack[start..].to_vec();
                cycle.push(name.to_string());
                return Err(TrafficError::DependencyCycle {
                    cycle: cycle.join(" -> "),
                });
            }
            None => {}
        }
        marks.insert(name.to_string(), Mark::Visiting);
        stack.push(name.to_string());
        if let Some(m) = chosen.get(name) {
            for dep in m.dependencies.keys() {
                visit(dep, chosen, marks, stack)?;
            }
        }
        stack.pop();
        marks.insert(name.to_string(), Mark::Done);
        Ok(())
    }
    let mut marks = BTreeMap::new();
    for name in chosen.keys() {
        visit(name, chosen, &mut marks, &mut Vec::new())?;
    }
    Ok(())
}
