//! An item with its `registryDependencies`, fetched transitively, turned into
//! package sources the planner installs like any directory package.
//!
//! A dependency is resolved as the shadcn CLI does: a full URL as is,
//! `@ns/name` through `[registries]`, and a bare name in the same registry
//! as the item naming it (`@ns/<name>`, or the sibling `<name>.json` of a
//! URL or file). Cycles are refused naming the chain.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{Result, TrafficError};
use crate::limits::MAX_ITEMS;
use crate::lockfile::LockedItem;
use crate::manifest::PackageManifest;
use crate::registry::{PackageFile, PackageSource};
use crate::remote::Sources;
use crate::remote::fetch::Fetcher;
use crate::remote::item::{RegistryItem, parse_item};
use crate::remote::place::Placement;
use crate::report::ItemReport;
use crate::safety::validate_item_id;
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
}

impl Collector<'_, '_> {
    /// Fetch `roots` and everything they depend on.
    pub fn collect(&mut self, roots: &[String]) -> Result<BTreeMap<String, Collected>> {
        let mut done = BTreeMap::new();
        for root in roots {
            self.visit(root, &mut Vec::new(), &mut done)?;
        }
        Ok(done)
    }

    fn visit(
        &mut self,
        id: &str,
        stack: &mut Vec<String>,
        done: &mut BTreeMap<String, Collected>,
    ) -> Result<()> {
        if done.contains_key(id) {
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
        let located = self.sources.locate(id, self.root)?;
        let headers = match &located.registry {
            Some(r) => match self.sources.registries.get(r) {
                Some(reg) => reg.expand_headers()?,
                None => Vec::new(),
            },
            None => Vec::new(),
        };
        let fetched = self.fetcher.fetch(&located.url, &headers)?;
        let item = parse_item(&located.url, &fetched.body)?;
        let deps: Vec<String> = item
            .registry_dependencies
            .iter()
            .map(|d| dependency_id(id, d))
            .collect();
        stack.push(id.to_string());
        for dep in &deps {
            self.visit(dep, stack, done)?;
        }
        stack.pop();
        let source = self.place(id, &located.url, &item, &deps)?;
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
                not_applied: item.not_applied.clone(),
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
