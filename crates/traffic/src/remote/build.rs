//! `dxforge registry build DIR -o OUT`: a directory registry as static JSON,
//! servable by any static HTTP server or bucket.
//!
//! Output:
//! * `OUT/<name>/<version>.json` per package version (dependencies only in
//!   `dxforgeDependencies`: a bare name there would resolve next to it): a registry item
//!   (`name`, `type`, `description`, `files[]` with `path`, `type`
//!   `registry:file`, `target` `~/<path>` so every client places it exactly
//!   where the directory registry would, `content`) plus dxforge's fields:
//!   `version`, `dxforgeDependencies` (name → semver requirement) and a
//!   per-file `blake3`, checked when the item is read back.
//! * `OUT/<name>.json`: the newest version, with `registryDependencies` (the
//!   bare dependency names), so `"@team" = "https://host/{name}.json"` serves
//!   it as a registry and installs dependencies transitively.
//! * `OUT/index.json`: `{"packages": {"<name>": ["<version>", …]}}`.

use std::collections::BTreeMap;
use std::path::Path;

use dxforge_fs::{Policy, Root, WriteOptions};
use serde_json::{Value, json};

use crate::error::{Result, TrafficError};
use crate::registry::{PackageSource, Registry};
use crate::store::hash_hex;

/// What `build` wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BuildReport {
    /// Package name → versions written, ascending.
    pub packages: BTreeMap<String, Vec<String>>,
    /// Files written (items and the index).
    pub files: usize,
}

fn item_json(source: &PackageSource, with_registry_deps: bool) -> Result<Value> {
    let m = &source.manifest;
    let mut files = Vec::new();
    for f in &source.files {
        let content = std::str::from_utf8(&f.content).map_err(|_| {
            TrafficError::registry(
                format!("{}@{}/{}", m.name, m.version, f.path),
                "not UTF-8: registry items carry text files only",
            )
        })?;
        files.push(json!({
            "path": f.path,
            "type": "registry:file",
            "target": format!("~/{}", f.path),
            "content": content,
            "blake3": hash_hex(&f.content),
        }));
    }
    let mut item = json!({
        "name": m.name,
        "type": "registry:file",
        "description": m.description,
        "version": m.version.to_string(),
        "dxforgeDependencies": m.dependencies,
        "files": files,
    });
    if with_registry_deps {
        item["registryDependencies"] = json!(m.dependencies.keys().collect::<Vec<_>>());
    }
    Ok(item)
}

/// Build the static registry of the directory registry `dir` into `out`.
pub fn build_static(dir: &Path, out: &Path) -> Result<BuildReport> {
    let registry = Registry::new(Some(dir.to_path_buf()), None);
    std::fs::create_dir_all(out).map_err(|e| TrafficError::io("create", out, e))?;
    let root = Root::open(out, Policy::Plain)?;
    let mut report = BuildReport {
        packages: BTreeMap::new(),
        files: 0,
    };
    let write = |rel: String, value: &Value, count: &mut usize| -> Result<()> {
        let mut text = serde_json::to_vec_pretty(value)
            .map_err(|e| TrafficError::registry(rel.clone(), e.to_string()))?;
        text.push(b'\n');
        root.write_atomic(&rel, &text, WriteOptions::default())?;
        *count += 1;
        Ok(())
    };
    for name in registry.package_names()? {
        let versions = registry.versions(&name)?;
        let mut newest = None;
        for v in &versions {
            let source = registry.load(&name, v)?;
            write(
                format!("{name}/{v}.json"),
                &item_json(&source, false)?,
                &mut report.files,
            )?;
            newest = Some(source);
        }
        if let Some(source) = newest {
            write(
                format!("{name}.json"),
                &item_json(&source, true)?,
                &mut report.files,
            )?;
        }
        report
            .packages
            .insert(name, versions.iter().map(|v| v.to_string()).collect());
    }
    write(
        "index.json".to_string(),
        &json!({ "packages": report.packages }),
        &mut report.files,
    )?;
    Ok(report)
}
