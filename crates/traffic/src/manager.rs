//! [`TrafficManager`]: the operations of Traffic Branching.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::TrafficLight;
use crate::base::BaseStore;
use crate::error::{Result, TrafficError};
use crate::light::classify;
use crate::limits::MAX_PROJECT_MANIFEST_BYTES;
use crate::lockfile::{LOCK_FILE, Lockfile};
use crate::manifest::PackageManifest;
use crate::plan::{BaseFinder, Ctx, Plan, drop_verdict, plan_install, read_target};
use crate::project_manifest::{with_dependency, without_dependency};
use crate::registry::{PackageSource, Registry};
use crate::remote::Sources;
use crate::remote::collect::{Collected, Collector};
use crate::remote::fetch::Fetcher;
use crate::remote::place::Placement;
use crate::report::{
    FileAction, FileReport, InstallReport, ItemReport, ModifiedFile, PrefetchReport,
    PrefetchedPackage, Recovery, RecoveryReport, RemoveReport,
};
use crate::resolve::{Upgrade, resolve};
use crate::safety::{
    is_item_id, parse_requirement, parse_spec, project_relative, validate_dependency_name,
    validate_package_name,
};
use crate::session::{Access, Session};
use crate::store::hash_hex;
use crate::txn::{self, Changes};

/// Options of the mutating operations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InstallOptions {
    /// Compute and return the plan without writing anything.
    pub dry_run: bool,
    /// Registry items come from `.dxforge/cache/registry` only; no network.
    pub offline: bool,
}

/// Entry point of Traffic Branching for one project. Cheap to build; holds no
/// open files. Every operation opens the project through `dxforge_fs` roots,
/// takes the project lock (`.dxforge/lock`: exclusive for changes, shared for
/// reads) and first finishes or undoes a transaction that a killed process
/// left behind (see [`crate::txn`]). Callers must not hold the project lock
/// themselves: it is taken once per operation, here.
#[derive(Debug, Clone)]
pub struct TrafficManager {
    root: PathBuf,
    registry: Option<PathBuf>,
    sources: Sources,
}

/// The project's `dxforge.toml` text change to apply with a transaction.
type ManifestEdit = Option<(String, Vec<u8>)>;

/// The project manifest's name at the project root.
const PROJECT_MANIFEST: &str = "dxforge.toml";

impl TrafficManager {
    /// A manager for the project at `root`, with the registry directory `registry` (absolute).
    pub fn new(root: PathBuf, registry: Option<PathBuf>) -> Self {
        TrafficManager {
            root,
            registry,
            sources: Sources::default(),
        }
    }

    /// The same manager with the registries of `[registries]`.
    pub fn with_sources(mut self, sources: Sources) -> Self {
        self.sources = sources;
        self
    }

    /// The project root as given.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn registry_for(&self, s: &Session) -> Registry {
        Registry::new(self.registry.clone(), s.state.clone())
    }

    fn base_store(s: &Session) -> BaseStore {
        match &s.state {
            Some(state) => BaseStore::new(state.clone()),
            None => BaseStore::empty(),
        }
    }

    /// Finish (roll forward) or undo (roll back) a transaction a killed process left behind.
    pub fn recover(&self) -> Result<Recovery> {
        Ok(self.recover_report()?.outcome)
    }

    /// [`TrafficManager::recover`] with the number of leftover temp files removed
    /// (those of the interrupted transaction, and any under `.dxforge/`).
    pub fn recover_report(&self) -> Result<RecoveryReport> {
        Session::recover(&self.root)
    }

    /// The session of a mutating operation (`command` names it in the lock), or a
    /// read session for a dry run.
    fn begin(&self, dry_run: bool, command: &'static str) -> Result<Session> {
        let access = if dry_run {
            Access::Read
        } else {
            Access::Write(command)
        };
        Session::open(&self.root, access)
    }

    fn commit(
        &self,
        s: &Session,
        plan: &Plan,
        old: &Lockfile,
        manifest: ManifestEdit,
    ) -> Result<()> {
        let lock_missing = s.project.metadata(LOCK_FILE)?.is_none();
        let lock_changed = plan.lock != *old || lock_missing;
        if plan.writes.is_empty()
            && plan.deletions.is_empty()
            && !lock_changed
            && manifest.is_none()
        {
            return Ok(());
        }
        let state = s.state()?;
        let bases = BaseStore::new(state.clone());
        bases.put_pack(&plan.new_bases)?;
        let mut writes = plan.writes.clone();
        writes.extend(manifest);
        let changes = Changes {
            writes,
            deletions: plan.deletions.clone(),
            lock: Some(plan.lock.to_toml(&s.project.join(LOCK_FILE))?),
        };
        txn::apply(&s.project, state, changes)
    }

    /// Locked packages nothing else depends on, pinned so a partial resolution keeps them consistent.
    fn pinned_roots(
        old: &Lockfile,
        exclude: &BTreeSet<String>,
        caret: bool,
    ) -> BTreeMap<String, String> {
        let depended: BTreeSet<&String> = old
            .packages
            .values()
            .flat_map(|p| p.dependencies.iter())
            .collect();
        old.packages
            .iter()
            .filter(|(n, p)| p.item.is_none() && !exclude.contains(*n) && !depended.contains(n))
            .map(|(n, p)| {
                (
                    n.clone(),
                    format!("{}{}", if caret { "^" } else { "=" }, p.version),
                )
            })
            .collect()
    }

    fn changed(resolved: &BTreeMap<String, PackageManifest>, old: &Lockfile) -> BTreeSet<String> {
        resolved
            .iter()
            .filter(|(n, m)| old.packages.get(*n).is_none_or(|p| p.version != m.version))
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// The seed's query: the light of replacing `path` with `new_content`.
    pub fn analyze_traffic_safety(&self, path: &Path, new_content: &[u8]) -> Result<TrafficLight> {
        Ok(self.check(path, new_content)?.light)
    }

    /// Full verdict of replacing `path` (project-relative, or absolute inside the root) with `new_content`.
    pub fn check(&self, path: &Path, new_content: &[u8]) -> Result<FileReport> {
        let s = Session::open(&self.root, Access::Read)?;
        let rel = project_relative(&s.root, path)?;
        let lock = Lockfile::load(&s.project)?;
        let registry = self.registry_for(&s);
        let bases = Self::base_store(&s);
        let ctx = Ctx::new(&s.project, &registry, &bases);
        let owner = lock
            .owner_of(&rel)
            .map(|(o, h)| (o.to_string(), h.map(str::to_string)));
        let package = owner.as_ref().map(|(o, _)| o.clone()).unwrap_or_default();
        let mut base = None;
        if let Some((o, Some(hash))) = &owner
            && let Some(p) = lock.packages.get(o)
        {
            base = BaseFinder::new(&ctx)
                .find(hash, o, &p.version, &rel)?
                .map(|(d, _)| d);
        }
        let current = read_target(&ctx, &package, &rel)?;
        let v = classify(current.as_deref(), base.as_deref(), new_content);
        Ok(FileReport {
            path: rel,
            package,
            light: v.light,
            reason: v.reason,
            action: v.action,
            conflicts: v.conflicts,
            side_file: None,
        })
    }

    /// Install `name` at the highest version matching `version_req` ("" = any), with its
    /// dependencies, and record it in `dxforge.toml` `[dependencies]` (see [`crate::project_manifest`]).
    pub fn install_package(
        &self,
        name: &str,
        version_req: &str,
        opts: &InstallOptions,
    ) -> Result<InstallReport> {
        if is_item_id(name) {
            return self.install_item(name, version_req, opts);
        }
        validate_package_name(name)?;
        parse_requirement(name, version_req)?;
        let s = self.begin(opts.dry_run, "add")?;
        let old = Lockfile::load(&s.project)?;
        let only: BTreeSet<String> = [name.to_string()].into();
        let mut roots = Self::pinned_roots(&old, &only, false);
        roots.insert(name.to_string(), version_req.to_string());
        let registry = self.registry_for(&s);
        let resolved = resolve(&registry, &roots, &old.versions(), &Upgrade::Only(only))?;
        let mut to_plan = Self::changed(&resolved, &old);
        to_plan.insert(name.to_string());
        let plan = self.plan(&s, &registry, &old, &resolved, &to_plan, BTreeMap::new())?;
        let explicit = !version_req.trim().is_empty();
        let req = match (explicit, resolved.get(name)) {
            (true, _) => version_req.trim().to_string(),
            (false, Some(m)) => format!("^{}", m.version),
            (false, None) => "*".to_string(),
        };
        let manifest = edit_manifest(&s, |path, text| {
            with_dependency(path, text, name, &req, explicit)
        })?;
        self.finish(&s, plan, &old, manifest, opts)
    }

    /// Install everything in `deps` (the `[dependencies]` of `dxforge.toml`), keeping locked
    /// versions that still match. Packages installed earlier but no longer listed are kept.
    pub fn install_all(
        &self,
        deps: &BTreeMap<String, String>,
        opts: &InstallOptions,
    ) -> Result<InstallReport> {
        let s = self.begin(opts.dry_run, "install")?;
        let old = Lockfile::load(&s.project)?;
        let (deps, item_deps) = split_items(deps);
        let exclude: BTreeSet<String> = deps.keys().cloned().collect();
        let mut roots = Self::pinned_roots(&old, &exclude, false);
        roots.extend(deps.iter().map(|(k, v)| (k.clone(), v.clone())));
        let registry = self.registry_for(&s);
        let resolved = resolve(&registry, &roots, &old.versions(), &Upgrade::Nothing)?;
        let to_plan: BTreeSet<String> = resolved.keys().cloned().collect();
        // Items already locked stay as installed; `update` fetches them again.
        let missing: Vec<(String, String)> = item_deps
            .into_iter()
            .filter(|(n, _)| !old.packages.contains_key(n))
            .collect();
        let (plan, reports) =
            self.plan_with_items(&s, &registry, &old, resolved, to_plan, &missing, opts)?;
        let mut report = self.finish(&s, plan, &old, None, opts)?;
        report.items = reports;
        Ok(report)
    }

    /// Upgrade `name` (or every package) to the highest versions `deps` allow.
    pub fn update(
        &self,
        name: Option<&str>,
        deps: &BTreeMap<String, String>,
        opts: &InstallOptions,
    ) -> Result<InstallReport> {
        let s = self.begin(opts.dry_run, "update")?;
        let old = Lockfile::load(&s.project)?;
        if let Some(n) = name {
            validate_dependency_name(n)?;
            if !old.packages.contains_key(n) {
                return Err(TrafficError::NotInstalled {
                    name: n.to_string(),
                });
            }
        }
        let (deps, item_deps) = split_items(deps);
        let registry = self.registry_for(&s);
        let mut resolved = BTreeMap::new();
        let mut to_plan = BTreeSet::new();
        if name.is_none_or(|n| !is_item_id(n)) {
            let upgrade = match name {
                Some(n) => Upgrade::Only([n.to_string()].into()),
                None => Upgrade::All,
            };
            let mut exclude: BTreeSet<String> = deps.keys().cloned().collect();
            exclude.extend(name.map(str::to_string));
            // A full update may move unlisted packages within their major version.
            let mut roots = Self::pinned_roots(&old, &exclude, name.is_none());
            if let Some(n) = name
                && !deps.contains_key(n)
                && let Some(p) = old.packages.get(n)
            {
                roots.insert(n.to_string(), format!("^{}", p.version));
            }
            roots.extend(deps.iter().map(|(k, v)| (k.clone(), v.clone())));
            resolved = resolve(&registry, &roots, &old.versions(), &upgrade)?;
            to_plan = Self::changed(&resolved, &old);
        }
        // Items are fetched again (revalidated against the cache) and merged.
        let requirement = |n: &str| -> String {
            item_deps
                .iter()
                .find(|(d, _)| d == n)
                .map(|(_, r)| r.clone())
                .unwrap_or_default()
        };
        let item_roots: Vec<(String, String)> = match name {
            Some(n) if is_item_id(n) => vec![(n.to_string(), requirement(n))],
            Some(_) => Vec::new(),
            None => {
                // Items named in [dependencies], then locked items nothing else depends on.
                let depended: BTreeSet<&String> = old
                    .packages
                    .values()
                    .flat_map(|p| p.dependencies.iter())
                    .collect();
                let mut all: BTreeMap<String, String> = item_deps.iter().cloned().collect();
                for (n, p) in &old.packages {
                    if p.item.is_some() && !depended.contains(n) {
                        all.entry(n.clone()).or_default();
                    }
                }
                all.into_iter().collect()
            }
        };
        let (plan, reports) =
            self.plan_with_items(&s, &registry, &old, resolved, to_plan, &item_roots, opts)?;
        let mut report = self.finish(&s, plan, &old, None, opts)?;
        report.items = reports;
        Ok(report)
    }

    /// `add` of a registry item (`@ns/name`, URL or `.json` file) with its
    /// `registryDependencies`; records `"<id>" = "*"` in `[dependencies]`.
    fn install_item(&self, id: &str, req: &str, opts: &InstallOptions) -> Result<InstallReport> {
        crate::safety::validate_item_id(id)?;
        parse_requirement(id, req)?;
        let s = self.begin(opts.dry_run, "add")?;
        let old = Lockfile::load(&s.project)?;
        let registry = self.registry_for(&s);
        let roots = [(id.to_string(), req.to_string())];
        let (plan, reports) = self.plan_with_items(
            &s,
            &registry,
            &old,
            BTreeMap::new(),
            BTreeSet::new(),
            &roots,
            opts,
        )?;
        let explicit = !req.trim().is_empty();
        let recorded = if explicit { req.trim() } else { "*" };
        let manifest = edit_manifest(&s, |path, text| {
            with_dependency(path, text, id, recorded, explicit)
        })?;
        let mut report = self.finish(&s, plan, &old, manifest, opts)?;
        report.items = reports;
        Ok(report)
    }

    /// Fetches the registry items `roots` (with their dependencies), adds
    /// them to what `resolved`/`to_plan` already hold, plans the lot and
    /// records each item's source in the plan's lock.
    #[allow(clippy::too_many_arguments)]
    fn plan_with_items(
        &self,
        s: &Session,
        registry: &Registry,
        old: &Lockfile,
        mut resolved: BTreeMap<String, PackageManifest>,
        mut to_plan: BTreeSet<String>,
        roots: &[(String, String)],
        opts: &InstallOptions,
    ) -> Result<(Plan, Vec<ItemReport>)> {
        let items = self.fetch_items(s, roots, opts)?;
        let preloaded = add_items(&items, &mut resolved, &mut to_plan);
        let mut plan = self.plan(s, registry, old, &resolved, &to_plan, preloaded)?;
        let reports = lock_items(&mut plan, items);
        Ok((plan, reports))
    }

    /// Fetch registry items `roots` with their dependencies. Dry runs read the
    /// cache but never write it.
    fn fetch_items(
        &self,
        s: &Session,
        roots: &[(String, String)],
        opts: &InstallOptions,
    ) -> Result<BTreeMap<String, Collected>> {
        if roots.is_empty() {
            return Ok(BTreeMap::new());
        }
        let placement = Placement::load(&s.project)?;
        let mut fetcher = Fetcher::new(s.state.as_ref(), !opts.dry_run, opts.offline)
            .with_s3(self.sources.s3.clone());
        Collector {
            sources: &self.sources,
            root: &self.root,
            placement: &placement,
            fetcher: &mut fetcher,
            indexes: BTreeMap::new(),
        }
        .collect(roots)
    }

    /// The plan `update` would apply; writes nothing.
    pub fn diff(
        &self,
        name: Option<&str>,
        deps: &BTreeMap<String, String>,
    ) -> Result<InstallReport> {
        self.update(
            name,
            deps,
            &InstallOptions {
                dry_run: true,
                ..InstallOptions::default()
            },
        )
    }

    /// Remove an installed package: unmodified files are deleted, modified ones kept and
    /// reported; the lock entry and the `dxforge.toml` dependency go away.
    pub fn remove_package(&self, name: &str, opts: &InstallOptions) -> Result<RemoveReport> {
        validate_dependency_name(name)?;
        let s = self.begin(opts.dry_run, "remove")?;
        let old = Lockfile::load(&s.project)?;
        let entry = old
            .packages
            .get(name)
            .ok_or_else(|| TrafficError::NotInstalled {
                name: name.to_string(),
            })?;
        if let Some((other, _)) = old
            .packages
            .iter()
            .find(|(o, p)| o.as_str() != name && p.dependencies.iter().any(|d| d == name))
        {
            return Err(TrafficError::Required {
                name: name.to_string(),
                required_by: other.clone(),
            });
        }
        let registry = self.registry_for(&s);
        let bases = Self::base_store(&s);
        let ctx = Ctx::new(&s.project, &registry, &bases);
        let mut plan = Plan {
            lock: old.clone(),
            ..Plan::default()
        };
        for (path, hash) in &entry.files {
            let (light, action, reason) =
                drop_verdict(&ctx, path, hash, name, &mut plan.deletions)?;
            plan.files.push(report(path, name, light, action, reason));
        }
        for path in entry
            .unresolved
            .iter()
            .filter(|p| !entry.files.contains_key(*p))
        {
            let reason = "not installed by dxforge; kept";
            plan.files.push(report(
                path,
                name,
                TrafficLight::Yellow,
                FileAction::Keep,
                reason,
            ));
        }
        plan.lock.packages.remove(name);
        let manifest = edit_manifest(&s, |path, text| without_dependency(path, text, name))?;
        let manifest_updated = manifest.is_some();
        if !opts.dry_run {
            self.commit(&s, &plan, &old, manifest)?;
        }
        Ok(RemoveReport {
            dry_run: opts.dry_run,
            package: name.to_string(),
            version: entry.version.to_string(),
            files: plan.files,
            manifest_updated,
        })
    }

    /// Resolve `name@req` (or `name`) with its dependencies and copy them, hash-verified,
    /// into `.dxforge/cache/packages/`; later installs read from there.
    pub fn prefetch(&self, spec: &str) -> Result<PrefetchReport> {
        let (name, req) = parse_spec(spec)?;
        let s = Session::open(&self.root, Access::Background("prefetch"))?;
        let registry = self.registry_for(&s);
        let roots = [(name, req)].into();
        let resolved = resolve(&registry, &roots, &BTreeMap::new(), &Upgrade::All)?;
        let mut packages = Vec::new();
        for (n, m) in &resolved {
            let already_cached = registry.cache_package(n, &m.version)?;
            packages.push(PrefetchedPackage {
                name: n.clone(),
                version: m.version.to_string(),
                already_cached,
            });
        }
        Ok(PrefetchReport { packages })
    }

    /// The newest version of every package in the registry (and cache), with detect patterns.
    pub fn registry_packages(&self) -> Result<Vec<PackageManifest>> {
        let s = Session::open(&self.root, Access::Read)?;
        let registry = self.registry_for(&s);
        let mut out = Vec::new();
        for name in registry.package_names()? {
            let versions = registry.versions(&name)?;
            if let Some(newest) = versions.last() {
                out.push(registry.manifest(&name, newest)?);
            }
        }
        Ok(out)
    }

    /// Deletes base-store content (`.dxforge/base/`) that no entry of `dxforge.lock`
    /// names, under the project lock (an interrupted install is recovered first); with
    /// `dry_run` only reports what it would delete. A lock file that cannot be parsed
    /// is an error and nothing is deleted.
    pub fn gc_base(&self, dry_run: bool) -> Result<crate::BaseGcReport> {
        let s = Session::open(&self.root, Access::Write("gc"))?;
        let lock = Lockfile::load(&s.project)?;
        let referenced: BTreeSet<String> = lock
            .packages
            .values()
            .flat_map(|p| p.files.values().cloned())
            .collect();
        crate::base_gc::collect(s.state()?, &referenced, dry_run)
    }

    /// The project's lock file (empty when there is none).
    pub fn lockfile(&self) -> Result<Lockfile> {
        let s = Session::open(&self.root, Access::Read)?;
        Lockfile::load(&s.project)
    }

    /// Installed files whose content differs from the recorded pristine hash (or that are gone).
    pub fn modified_files(&self) -> Result<Vec<ModifiedFile>> {
        let s = Session::open(&self.root, Access::Read)?;
        let lock = Lockfile::load(&s.project)?;
        let registry = self.registry_for(&s);
        let bases = Self::base_store(&s);
        let ctx = Ctx::new(&s.project, &registry, &bases);
        let mut out = Vec::new();
        for (package, p) in &lock.packages {
            for (path, hash) in &p.files {
                let current_hash = read_target(&ctx, package, path)?.map(|d| hash_hex(&d));
                if current_hash.as_deref() != Some(hash.as_str()) {
                    out.push(ModifiedFile {
                        path: path.clone(),
                        package: package.clone(),
                        recorded_hash: hash.clone(),
                        current_hash,
                    });
                }
            }
        }
        Ok(out)
    }

    fn plan(
        &self,
        s: &Session,
        registry: &Registry,
        old: &Lockfile,
        resolved: &BTreeMap<String, PackageManifest>,
        to_plan: &BTreeSet<String>,
        preloaded: BTreeMap<String, PackageSource>,
    ) -> Result<Plan> {
        let bases = Self::base_store(s);
        let ctx = Ctx::new(&s.project, registry, &bases).with_preloaded(preloaded);
        plan_install(&ctx, old, resolved, to_plan)
    }

    fn finish(
        &self,
        s: &Session,
        plan: Plan,
        old: &Lockfile,
        manifest: ManifestEdit,
        opts: &InstallOptions,
    ) -> Result<InstallReport> {
        let manifest_updated = manifest.is_some();
        if !opts.dry_run {
            self.commit(s, &plan, old, manifest)?;
        }
        Ok(InstallReport {
            dry_run: opts.dry_run,
            packages: plan.packages,
            files: plan.files,
            manifest_updated,
            items: Vec::new(),
        })
    }
}

/// `[dependencies]` split into directory packages and registry items with
/// their requirements (`*` read as none).
fn split_items(
    deps: &BTreeMap<String, String>,
) -> (BTreeMap<String, String>, Vec<(String, String)>) {
    let (items, packages): (BTreeMap<_, _>, BTreeMap<_, _>) =
        deps.clone().into_iter().partition(|(k, _)| is_item_id(k));
    let items = items
        .into_iter()
        .map(|(k, v)| {
            let v = if v.trim() == "*" { String::new() } else { v };
            (k, v)
        })
        .collect();
    (packages, items)
}

/// Put fetched items into a resolution: their manifests, their names to plan,
/// and their sources for the planner.
fn add_items(
    items: &BTreeMap<String, Collected>,
    resolved: &mut BTreeMap<String, PackageManifest>,
    to_plan: &mut BTreeSet<String>,
) -> BTreeMap<String, PackageSource> {
    let mut preloaded = BTreeMap::new();
    for (id, c) in items {
        resolved.insert(id.clone(), c.source.manifest.clone());
        to_plan.insert(id.clone());
        preloaded.insert(id.clone(), c.source.clone());
    }
    preloaded
}

/// Record each item's source in the planned lock; returns their reports.
fn lock_items(plan: &mut Plan, items: BTreeMap<String, Collected>) -> Vec<ItemReport> {
    let mut reports = Vec::new();
    for (id, c) in items {
        if let Some(entry) = plan.lock.packages.get_mut(&id) {
            entry.item = Some(c.locked);
        }
        reports.push(c.report);
    }
    reports
}

fn report(
    path: &str,
    package: &str,
    light: TrafficLight,
    action: FileAction,
    reason: &str,
) -> FileReport {
    FileReport {
        path: path.to_string(),
        package: package.to_string(),
        light,
        reason: reason.to_string(),
        action,
        conflicts: Vec::new(),
        side_file: None,
    }
}

/// Apply `edit` to the project's `dxforge.toml` when it exists; returns the new content to write.
fn edit_manifest(
    s: &Session,
    edit: impl FnOnce(&Path, &str) -> Result<Option<String>>,
) -> Result<ManifestEdit> {
    let path = s.project.join(PROJECT_MANIFEST);
    let Some(bytes) = s
        .project
        .read(PROJECT_MANIFEST, MAX_PROJECT_MANIFEST_BYTES)?
    else {
        return Ok(None);
    };
    let text = String::from_utf8(bytes).map_err(|e| TrafficError::Manifest {
        file: path.clone(),
        line: 0,
        key: String::new(),
        message: format!("not UTF-8: {e}"),
    })?;
    Ok(edit(&path, &text)?.map(|t| (PROJECT_MANIFEST.to_string(), t.into_bytes())))
}
