//! Turning a resolution into a plan: per file a verdict, the bytes to write,
//! the deletions and the new lock file. Planning reads but never writes, and
//! every safety check happens here, before a transaction starts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::TrafficLight;
use crate::base::BaseStore;
use crate::error::{Result, TrafficError};
use crate::light::classify;
use crate::lockfile::{LockedPackage, Lockfile};
use crate::manifest::PackageManifest;
use crate::registry::{PackageSource, Registry};
use crate::report::{FileAction, FileReport, ResolvedPackage};
use crate::safety::resolve_target;
use crate::store::{hash_hex, read_optional};

/// What planning needs to look at.
pub struct Ctx<'a> {
    /// Canonical project root.
    pub root: &'a Path,
    /// Registry + cache.
    pub registry: &'a Registry,
    /// Base store.
    pub bases: &'a BaseStore,
}

/// The full effect of one operation.
#[derive(Debug, Default)]
pub struct Plan {
    /// Packages installed/upgraded.
    pub packages: Vec<ResolvedPackage>,
    /// Per-file verdicts.
    pub files: Vec<FileReport>,
    /// Real paths to write.
    pub writes: Vec<(PathBuf, Vec<u8>)>,
    /// Real paths to delete with the hash they must still have.
    pub deletions: Vec<(PathBuf, String)>,
    /// Pristine contents to add to the base store, by hash.
    pub new_bases: BTreeMap<String, Vec<u8>>,
    /// The lock file after the operation.
    pub lock: Lockfile,
}

/// `<file>.new` next to `real`.
pub fn dot_new(real: &Path) -> PathBuf {
    let mut name = real
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".new");
    real.with_file_name(name)
}

/// Finds the pristine content for a recorded hash: base store first, else the
/// registry copy of the locked version (a fresh clone has a lock file but no `.dxforge/`).
pub struct BaseFinder<'a> {
    ctx: &'a Ctx<'a>,
    loaded: BTreeMap<(String, semver::Version), Option<PackageSource>>,
}

impl<'a> BaseFinder<'a> {
    /// A finder over `ctx`.
    pub fn new(ctx: &'a Ctx<'a>) -> Self {
        BaseFinder {
            ctx,
            loaded: BTreeMap::new(),
        }
    }

    /// Content with `hash` that `package@version` installed at `path`, if it can be found.
    /// The bool says whether it came from the registry (and so should be stored).
    pub fn find(
        &mut self,
        hash: &str,
        package: &str,
        version: &semver::Version,
        path: &str,
    ) -> Result<Option<(Vec<u8>, bool)>> {
        if let Some(data) = self.ctx.bases.get(hash)? {
            return Ok(Some((data, false)));
        }
        let key = (package.to_string(), version.clone());
        if !self.loaded.contains_key(&key) {
            let source = self.ctx.registry.load(package, version).ok();
            self.loaded.insert(key.clone(), source);
        }
        let found = self
            .loaded
            .get(&key)
            .and_then(|s| s.as_ref())
            .and_then(|s| s.files.iter().find(|f| f.path == path))
            .filter(|f| hash_hex(&f.content) == hash)
            .map(|f| (f.content.clone(), true));
        Ok(found)
    }
}

/// Plan installing `targets`; packages not in `to_plan` keep their lock entry untouched.
pub fn plan_install(
    ctx: &Ctx<'_>,
    old: &Lockfile,
    targets: &BTreeMap<String, PackageManifest>,
    to_plan: &BTreeSet<String>,
) -> Result<Plan> {
    let mut plan = Plan {
        lock: old.clone(),
        ..Plan::default()
    };
    let mut finder = BaseFinder::new(ctx);
    // Owners of every path after the operation, to refuse two packages shipping one file.
    let mut owners: BTreeMap<String, String> = BTreeMap::new();
    for (name, p) in &old.packages {
        if !to_plan.contains(name) {
            for path in p.files.keys().chain(p.unresolved.iter()) {
                owners.insert(path.clone(), name.clone());
            }
        }
    }
    for name in to_plan {
        let Some(manifest) = targets.get(name) else {
            continue;
        };
        let source = ctx.registry.load(name, &manifest.version)?;
        let previous = old.packages.get(name);
        let mut entry = LockedPackage {
            version: manifest.version.clone(),
            dependencies: manifest.dependencies.keys().cloned().collect(),
            files: BTreeMap::new(),
            unresolved: Vec::new(),
        };
        for file in &source.files {
            if let Some(other) = owners.insert(file.path.clone(), name.clone()) {
                return Err(TrafficError::FileClash {
                    path: file.path.clone(),
                    first: other,
                    second: name.clone(),
                });
            }
            let real = resolve_target(ctx.root, name, &file.path)?;
            let current = read_optional(&real)?;
            let mut base = None;
            if let Some((owner, Some(hash))) = old.owner_of(&file.path)
                && let Some(owner_version) = old.packages.get(owner).map(|p| p.version.clone())
                && let Some((data, from_registry)) =
                    finder.find(hash, owner, &owner_version, &file.path)?
            {
                if from_registry {
                    plan.new_bases.insert(hash.to_string(), data.clone());
                }
                base = Some((hash.to_string(), data));
            }
            let verdict = classify(
                current.as_deref(),
                base.as_ref().map(|(_, d)| d.as_slice()),
                &file.content,
            );
            match verdict.action {
                FileAction::Create | FileAction::Write => {
                    if let Some(content) = verdict.content {
                        plan.writes.push((real.clone(), content));
                    }
                }
                FileAction::WriteNew => plan.writes.push((dot_new(&real), file.content.clone())),
                FileAction::None | FileAction::Delete | FileAction::Keep => {}
            }
            if verdict.light == TrafficLight::Red {
                if let Some((hash, _)) = &base {
                    entry.files.insert(file.path.clone(), hash.clone());
                }
                entry.unresolved.push(file.path.clone());
            } else {
                let hash = hash_hex(&file.content);
                plan.new_bases
                    .entry(hash.clone())
                    .or_insert_with(|| file.content.clone());
                entry.files.insert(file.path.clone(), hash);
            }
            plan.files.push(FileReport {
                path: file.path.clone(),
                package: name.clone(),
                light: verdict.light,
                reason: verdict.reason,
                action: verdict.action,
                conflicts: verdict.conflicts,
            });
        }
        if let Some(prev) = previous {
            plan_dropped_files(ctx, name, prev, &source, &mut plan)?;
        }
        plan.packages.push(ResolvedPackage {
            name: name.clone(),
            version: manifest.version.to_string(),
            previous: previous.map(|p| p.version.to_string()),
        });
        plan.lock.packages.insert(name.clone(), entry);
    }
    Ok(plan)
}

/// Files the previous version installed that the new one no longer ships.
fn plan_dropped_files(
    ctx: &Ctx<'_>,
    name: &str,
    prev: &LockedPackage,
    source: &PackageSource,
    plan: &mut Plan,
) -> Result<()> {
    let shipped: BTreeSet<&str> = source.files.iter().map(|f| f.path.as_str()).collect();
    for (path, hash) in &prev.files {
        if shipped.contains(path.as_str()) {
            continue;
        }
        let (light, action, reason) = drop_verdict(ctx, path, hash, name, &mut plan.deletions)?;
        plan.files.push(FileReport {
            path: path.clone(),
            package: name.to_string(),
            light,
            reason: format!("removed upstream; {reason}"),
            action,
            conflicts: Vec::new(),
        });
    }
    Ok(())
}

/// Verdict for a tracked file that is going away: delete if unmodified, else keep.
pub fn drop_verdict(
    ctx: &Ctx<'_>,
    path: &str,
    hash: &str,
    package: &str,
    deletions: &mut Vec<(PathBuf, String)>,
) -> Result<(TrafficLight, FileAction, &'static str)> {
    let real = resolve_target(ctx.root, package, path)?;
    Ok(match read_optional(&real)? {
        None => (TrafficLight::Green, FileAction::None, "already gone"),
        Some(data) if hash_hex(&data) == hash => {
            deletions.push((real, hash.to_string()));
            (
                TrafficLight::Green,
                FileAction::Delete,
                "unmodified since install; deleted",
            )
        }
        Some(_) => (
            TrafficLight::Yellow,
            FileAction::Keep,
            "modified since install; kept (no longer tracked)",
        ),
    })
}
