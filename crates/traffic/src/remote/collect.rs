//! An item with its `registryDependencies`, fetched transitively, turned into
//! package sources the planner installs like any directory package.
//!
//! A dependency is resolved as the shadcn CLI does: a full URL as is,
//! `@ns/name` through `[registries]`, and a bare name in the same registry
//! as the item naming it (`@ns/<name>`, or the sibling `<name>.json` of a
//! URL or file). Cycles are refused naming the chain. Items of registries
//! built by `dxforge registry build` may carry `dxforgeDependencies`
//! (semver): those, and a requirement given to `add @ns/name@REQ`, pick the
//! highest matching version listed by the registry's `index.json`
//! (`{name}` = `index`) and fetch `{name}` = `<name>/<version>`. There is no
//! backtracking: a later requirement that rejects a chosen version is an error.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{Result, TrafficError};
use crate::limits::MAX_ITEMS;
use crate::lockfile::LockedItem;
use crate::manifest::PackageManifest;
use crate::registry::{PackageFile, PackageSource};
use crate::remote::fetch::Fetcher;
use crate::remote::item::{RegistryItem, parse_item};
use crate::remote::place::Placement;
use crate::remote::{Located, Sources};
use crate::report::ItemReport;
use crate::safety::{parse_requirement, validate_item_id};
use crate::store::hash_hex;

/// One fetched item, ready to plan.
#[derive(Debug, Clone)]
pub struct Collected {
    /// Files placed and rewritten, with a manifest naming the item's dependencies.
    pub source: PackageSource,
    /// What the lock records about it.
    pub locked: LockedItem,
    /// What the report says about it.
    pub report: ItemReport,
}

/// The version recorded for registry items (they carry none).
pub fn item_version() -> semver::Version {
    semver::Version::new(0, 0, 0)
}

/// The id of `dep`, named by the item `parent`.
pub fn dependency_id(parent: &str, dep: &str) -> String {
    if dep.contains("://") || dep.starts_with('@') {
        return dep.to_string();
    }
    let file = if dep.ends_with(".json") {
        dep.to_string()
    } else {
        format!("{dep}.json")
    };
    if let Some(rest) = parent.strip_prefix('@')
        && let Some((ns, _)) = rest.split_once('/')
    {
        return format!("@{ns}/{}", dep.trim_end_matches(".json"));
    }
    match parent.rsplit_once('/') {
        Some((dir, _)) => format!("{dir}/{file}"),
        None => format!("./{file}"),
    }
}

/// Fetches and places items for one operation.
pub struct Collector<'a, 'f> {
    /// `[registries]`.
    pub sources: &'a Sources,
    /// The project root (relative files).
    pub root: &'a Path,
    /// How files are placed.
    pub placement: &'a Placement,
    /// The fetcher.
    pub fetcher: &'a mut Fetcher<'f>,
    /// `index.json` of each built registry consulted, by `@ns`.
    pub indexes: BTreeMap<String, BTreeMap<String, Vec<String>>>,
}

/// `index.json` of a registry made by `dxforge registry build`.
#[derive(serde::Deserialize)]
struct Index {
    packages: BTreeMap<String, Vec<String>>,
}

impl Collector<'_, '_> {
    /// Fetch `roots` (id, semver requirement; `""` = the item as served) and
    /// everything they depend on.
    pub fn collect(&mut self, roots: &[(String, String)]) -> Result<BTreeMap<String, Collected>> {
        let mut done = BTreeMap::new();
        for (root, req) in roots {
            self.visit(root, req, "dxforge.toml", &mut Vec::new(), &mut done)?;
        }
        Ok(done)
    }

    /// The versions `index.json` of registry `ns` lists for `name` (`registry build`).
    fn versions(&mut self, ns: &str, name: &str) -> Result<Vec<semver::Version>> {
        if !self.indexes.contains_key(ns) {
            let reg = self.sources.registries.get(ns).ok_or_else(|| {
                TrafficError::registry(
                    ns,
                    format!("no registry `{ns}` in dxforge.toml [registries]"),
                )
            })?;
            let url = reg.url_of("index");
            let headers = reg.expand_headers()?;
            let body = self.fetcher.fetch(&url, &headers)?.body;
            let index: Index = serde_json::from_slice(&body).map_err(|e| {
                TrafficError::registry(&url, format!("invalid registry index: {e}"))
            })?;
            self.indexes.insert(ns.to_string(), index.packages);
        }
        let listed = self.indexes.get(ns).and_then(|p| p.get(name));
        let mut versions: Vec<semver::Version> = listed
            .into_iter()
            .flatten()
            .filter_map(|v| semver::Version::parse(v).ok())
            .collect();
        versions.sort();
        Ok(versions)
    }

    /// Where `id` is fetched from for requirement `req`: with a requirement, the
    /// highest matching version listed by the registry's `index.json`.
    fn locate(&mut self, id: &str, req: &str) -> Result<Located> {
        let located = self.sources.locate(id, self.root)?;
        if req.trim().is_empty() || req.trim() == "*" {
            return Ok(located);
        }
        let Some((ns, name)) = id.split_once('/').filter(|_| id.starts_with('@')) else {
            return Err(TrafficError::registry(
                id,
                format!(
                    "a version requirement (`{req}`) needs an `@ns/name` item of a built registry"
                ),
            ));
        };
        let wanted = parse_requirement(id, req)?;
        let versions = self.versions(ns, name)?;
        let Some(version) = versions.iter().rev().find(|v| wanted.matches(v)) else {
            return Err(TrafficError::NoMatchingVersion {
                name: id.to_string(),
                requirement: req.to_string(),
                available: versions
                    .iter()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };
        let url = match self.sources.registries.get(ns) {
            Some(reg) => reg.url_of(&format!("{name}/{version}")),
            None => located.url,
        };
        Ok(Located {
            url,
            registry: located.registry,
        })
    }

    fn visit(
        &mut self,
        id: &str,
        req: &str,
        by: &str,
        stack: &mut Vec<String>,
        done: &mut BTreeMap<String, Collected>,
    ) -> Result<()> {
        if let Some(found) = done.get(id) {
            // No backtracking: a later requirement must accept the version already chosen.
            let version = &found.source.manifest.version;
            if !req.trim().is_empty()
                && *version != item_version()
                && !parse_requirement(id, req)?.matches(version)
            {
                return Err(TrafficError::NoMatchingVersion {
                    name: id.to_string(),
                    requirement: format!("{req} (from {by})"),
                    available: format!("{version} (already chosen)"),
                });
            }
            return Ok(());
        }
        if let Some(start) = stack.iter().position(|s| s == id) {
            let mut cycle = stack[start..].to_vec();
            cycle.push(id.to_string());
            return Err(TrafficError::DependencyCycle {
                cycle: cycle.join(" -> "),
            });
        }
        validate_item_id(id)?;
        if done.len() >= MAX_ITEMS {
            return Err(TrafficError::registry(
                id,
                format!("more than {MAX_ITEMS} registry items in one operation"),
            ));
        }
        let located = self.locate(id, req)?;
        let headers = match &located.registry {
            Some(r) => match self.sources.registries.get(r) {
                Some(reg) => reg.expand_headers()?,
                None => Vec::new(),
            },
            None => Vec::new(),
        };
        let fetched = self.fetcher.fetch(&located.url, &headers)?;
        let item = parse_item(&located.url, &fetched.body)?;
        let mut deps: Vec<(String, String)> = item
            .registry_dependencies
            .iter()
            .map(|d| (dependency_id(id, d), String::new()))
            .collect();
        let mut not_applied = item.not_applied.clone();
        if !item.semver_dependencies.is_empty() && !id.starts_with('@') {
            // Semver needs the registry's index: only `@ns/name` items have one.
            not_applied.push("dxforgeDependencies".to_string());
        }
        let semver_deps = if id.starts_with('@') {
            item.semver_dependencies.clone()
        } else {
            BTreeMap::new()
        };
        for (dep, dep_req) in &semver_deps {
            let dep_id = dependency_id(id, dep);
            match deps.iter_mut().find(|(d, _)| *d == dep_id) {
                Some(entry) => entry.1 = dep_req.clone(),
                None => deps.push((dep_id, dep_req.clone())),
            }
        }
        stack.push(id.to_string());
        for (dep, dep_req) in &deps {
            self.visit(dep, dep_req, id, stack, done)?;
        }
        stack.pop();
        let dep_ids: Vec<String> = deps.into_iter().map(|(d, _)| d).collect();
        let mut source = self.place(id, &located.url, &item, &dep_ids)?;
        if let Some(v) = &item.version {
            source.manifest.version = v.clone();
        }
        let collected = Collected {
            source,
            locked: LockedItem {
                source: located.url.clone(),
                hash: hash_hex(&fetched.body),
                etag: fetched.etag.clone(),
                last_modified: fetched.last_modified.clone(),
            },
            report: ItemReport {
                name: id.to_string(),
                source: located.url,
                dependencies: item.dependencies.clone(),
                dev_dependencies: item.dev_dependencies.clone(),
                not_applied,
                from_cache: fetched.from_cache,
            },
        };
        done.insert(id.to_string(), collected);
        Ok(())
    }

    fn place(
        &self,
        id: &str,
        url: &str,
        item: &RegistryItem,
        deps: &[String],
    ) -> Result<PackageSource> {
        let mut files: Vec<PackageFile> = Vec::new();
        for f in &item.files {
            let path = self.placement.target(url, id, f)?;
            if files.iter().any(|x| x.path == path) {
                return Err(TrafficError::registry(
                    url,
                    format!("two files of the item go to `{path}`"),
                ));
            }
            let content = self.placement.rewrite(&f.content).into_bytes();
            files.push(PackageFile { path, content });
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(PackageSource {
            manifest: PackageManifest {
                name: id.to_string(),
                version: item_version(),
                description: String::new(),
                dependencies: deps.iter().map(|d| (d.clone(), "*".to_string())).collect(),
                detect_patterns: Vec::new(),
            },
            files,
        })
    }
}
