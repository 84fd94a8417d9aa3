//! Turning a resolution into a plan: per file a verdict, the bytes to write,
//! the deletions and the new lock file. Planning reads but never writes, and
//! every safety check happens here, before a transaction starts. That
//! includes choosing the side file of every Red file: `<file>.new`, or the
//! first of `<file>.new.1`, `<file>.new.2`, … that is free, so nothing after
//! the commit point can fail on a name the user (or a package) took.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use dxforge_fs::{Kind, Root};

use crate::TrafficLight;
use crate::base::BaseStore;
use crate::error::{Result, TrafficError};
use crate::light::classify;
use crate::limits::{MAX_PROJECT_FILE_BYTES, MAX_SIDE_FILE_TRIES};
use crate::lockfile::{LockedPackage, Lockfile};
use crate::manifest::PackageManifest;
use crate::registry::{PackageSource, Registry};
use crate::report::{FileAction, FileReport, ResolvedPackage};
use crate::safety::{DirCache, check_target_with, validate_relative};
use crate::store::hash_hex;

/// What planning needs to look at.
pub struct Ctx<'a> {
    /// The project root.
    pub project: &'a Root,
    /// Registry + cache.
    pub registry: &'a Registry,
    /// Base store.
    pub bases: &'a BaseStore,
    /// Project directories already checked by this operation.
    dirs: RefCell<DirCache>,
    /// Package sources already loaded (registry items), by name; the registry serves the rest.
    preloaded: BTreeMap<String, PackageSource>,
}

impl<'a> Ctx<'a> {
    /// The planning context of one operation.
    pub fn new(project: &'a Root, registry: &'a Registry, bases: &'a BaseStore) -> Self {
        Ctx {
            project,
            registry,
            bases,
            dirs: RefCell::new(DirCache::default()),
            preloaded: BTreeMap::new(),
        }
    }

    /// The same context planning `preloaded` sources instead of reading them from the registry.
    pub fn with_preloaded(mut self, preloaded: BTreeMap<String, PackageSource>) -> Self {
        self.preloaded = preloaded;
        self
    }
}

/// The full effect of one operation.
#[derive(Debug, Default)]
pub struct Plan {
    /// Packages installed/upgraded.
    pub packages: Vec<ResolvedPackage>,
    /// Per-file verdicts.
    pub files: Vec<FileReport>,
    /// Project-relative paths to write.
    pub writes: Vec<(String, Vec<u8>)>,
    /// Project-relative paths to delete with the hash they must still have.
    pub deletions: Vec<(String, String)>,
    /// Pristine contents to add to the base store, by hash.
    pub new_bases: BTreeMap<String, Vec<u8>>,
    /// The lock file after the operation.
    pub lock: Lockfile,
}

/// Current content of the package target `rel` (checked: no symlink on the way).
pub fn read_target(ctx: &Ctx<'_>, package: &str, rel: &str) -> Result<Option<Vec<u8>>> {
    check_target_with(ctx.project, package, rel, &mut ctx.dirs.borrow_mut())?;
    if ctx.dirs.borrow().under_missing(rel) {
        return Ok(None);
    }
    Ok(ctx.project.read(rel, MAX_PROJECT_FILE_BYTES)?)
}

/// A Red file whose upstream content still needs a side file.
struct PendingSide {
    /// Index of its report in `Plan::files`.
    report: usize,
    package: String,
    path: String,
    content: Vec<u8>,
    /// The side file the old lock recorded for it, if it was Red before.
    recorded: Option<String>,
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
    let mut pending = Vec::new();
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
        let source = match ctx.preloaded.get(name) {
            Some(s) => s.clone(),
            None => ctx.registry.load(name, &manifest.version)?,
        };
        let previous = old.packages.get(name);
        let mut entry = LockedPackage {
            version: manifest.version.clone(),
            dependencies: manifest.dependencies.keys().cloned().collect(),
            files: BTreeMap::new(),
            unresolved: Vec::new(),
            side_files: BTreeMap::new(),
            item: None,
        };
        for file in &source.files {
            if let Some(other) = owners.insert(file.path.clone(), name.clone()) {
                return Err(TrafficError::FileClash {
                    path: file.path.clone(),
                    first: other,
                    second: name.clone(),
                });
            }
            let current = read_target(ctx, name, &file.path)?;
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
                        plan.writes.push((file.path.clone(), content));
                    }
                }
                FileAction::WriteNew => pending.push(PendingSide {
                    report: plan.files.len(),
                    package: name.clone(),
                    path: file.path.clone(),
                    content: file.content.clone(),
                    recorded: previous
                        .filter(|p| p.unresolved.contains(&file.path))
                        .map(|p| p.side_file(&file.path)),
                }),
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
                side_file: None,
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
    assign_side_files(ctx, &mut plan, &owners, pending)?;
    Ok(plan)
}

/// Choose every Red file's side file, deterministically: the one the old
/// lock recorded when it is still a regular file (or gone), else the first
/// free name of `<file>.new`, `<file>.new.1`, `<file>.new.2`, … A name is
/// taken when anything exists there (file, directory, symlink, …) or this
/// operation installs a file (or needs a directory) there.
fn assign_side_files(
    ctx: &Ctx<'_>,
    plan: &mut Plan,
    owners: &BTreeMap<String, String>,
    pending: Vec<PendingSide>,
) -> Result<()> {
    if pending.is_empty() {
        return Ok(());
    }
    let mut taken: BTreeSet<String> = BTreeSet::new();
    for path in owners.keys() {
        taken.insert(path.clone());
        let mut rest = path.as_str();
        while let Some((dir, _)) = rest.rsplit_once('/') {
            if !taken.insert(dir.to_string()) {
                break;
            }
            rest = dir;
        }
    }
    for p in pending {
        let side = choose_side_file(ctx, &taken, &p)?;
        taken.insert(side.clone());
        let default = format!("{}.new", p.path);
        if let Some(report) = plan.files.get_mut(p.report) {
            if side != default {
                report.reason = format!(
                    "{}; upstream written to `{side}` (`{default}` is taken)",
                    report.reason
                );
            }
            report.side_file = Some(side.clone());
        }
        if side != default
            && let Some(entry) = plan.lock.packages.get_mut(&p.package)
        {
            entry.side_files.insert(p.path.clone(), side.clone());
        }
        plan.writes.push((side, p.content));
    }
    Ok(())
}

fn choose_side_file(ctx: &Ctx<'_>, taken: &BTreeSet<String>, p: &PendingSide) -> Result<String> {
    let kind = |rel: &str| -> Result<Option<Kind>> {
        validate_relative(&p.package, rel)?;
        Ok(ctx.project.metadata(rel)?.map(|m| m.kind))
    };
    if let Some(recorded) = &p.recorded
        && !taken.contains(recorded)
        && matches!(kind(recorded)?, None | Some(Kind::File))
    {
        return Ok(recorded.clone());
    }
    for n in 0..MAX_SIDE_FILE_TRIES {
        let candidate = if n == 0 {
            format!("{}.new", p.path)
        } else {
            format!("{}.new.{n}", p.path)
        };
        if !taken.contains(&candidate) && kind(&candidate)?.is_none() {
            return Ok(candidate);
        }
    }
    Err(TrafficError::UnsafePath {
        package: p.package.clone(),
        path: p.path.clone(),
        reason: format!(
            "no free name for its side file: `{0}.new` to `{0}.new.{1}` are all taken",
            p.path,
            MAX_SIDE_FILE_TRIES - 1
        ),
    })
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
            side_file: None,
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
    deletions: &mut Vec<(String, String)>,
) -> Result<(TrafficLight, FileAction, &'static str)> {
    Ok(match read_target(ctx, package, path)? {
        None => (TrafficLight::Green, FileAction::None, "already gone"),
        Some(data) if hash_hex(&data) == hash => {
            deletions.push((path.to_string(), hash.to_string()));
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
