//! The shadcn registry-item JSON, read as the shadcn CLI reads it, and
//! validated before anything is written.
//!
//! Applied: `name`, `files[].blake3` (checked when present, written by
//! `registry build`), `files[].path/content/type/target`, `registryDependencies`.
//! Reported: `dependencies`, `devDependencies` (npm packages). Reported as
//! "not applied" by name: `cssVars`, `css`, `tailwind`, `envVars` and any
//! other key dxforge does not read (descriptive keys such as `title`,
//! `description`, `author`, `docs`, `categories`, `meta`, `$schema` and
//! `type` are simply accepted). Refused: a document that is not a JSON
//! object, a missing `name`, a file without `path`, `content` or a known
//! `type`, a `path` or `target` with `..`, more than
//! [`MAX_ITEM_FILES`] files.

use serde_json::Value;

use crate::error::{Result, TrafficError};
use crate::limits::{MAX_ITEM_FILES, MAX_MANIFEST_ENTRIES};

/// Keys that describe an item and need no action.
const DESCRIPTIVE: &[&str] = &[
    "$schema",
    "name",
    "type",
    "title",
    "description",
    "author",
    "docs",
    "categories",
    "meta",
    "version",
    "files",
    "registryDependencies",
    "dependencies",
    "devDependencies",
    // dxforge's own semver dependencies (`registry build`), resolved through `index.json`.
    "dxforgeDependencies",
];

/// The file types dxforge places (see [`crate::remote::place`]).
pub const FILE_TYPES: &[&str] = &[
    "registry:ui",
    "registry:component",
    "registry:block",
    "registry:lib",
    "registry:hook",
    "registry:page",
    "registry:file",
    "registry:style",
    "registry:theme",
    "registry:example",
    "registry:internal",
];

/// One file of an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemFile {
    /// Path inside the registry's tree (e.g. `registry/new-york/ui/button.tsx`).
    pub path: String,
    /// Content as published (line endings kept).
    pub content: String,
    /// `registry:ui`, `registry:lib`, …
    pub kind: String,
    /// Explicit target (`~/` = project root), if any.
    pub target: Option<String>,
}

/// A parsed and validated registry item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryItem {
    /// `name`.
    pub name: String,
    /// `files`.
    pub files: Vec<ItemFile>,
    /// `registryDependencies` as written.
    pub registry_dependencies: Vec<String>,
    /// `dependencies` (npm).
    pub dependencies: Vec<String>,
    /// `version` (items of registries built by `dxforge registry build`).
    pub version: Option<semver::Version>,
    /// `dxforgeDependencies`: dependency name → semver requirement.
    pub semver_dependencies: std::collections::BTreeMap<String, String>,
    /// `devDependencies` (npm).
    pub dev_dependencies: Vec<String>,
    /// Top-level keys present but not applied (`cssVars`, `tailwind`, …).
    pub not_applied: Vec<String>,
}

/// Parse the item JSON fetched from `url` (named in every error).
pub fn parse_item(url: &str, body: &[u8]) -> Result<RegistryItem> {
    let bad = |m: String| TrafficError::registry(url, format!("invalid registry item: {m}"));
    let value: Value =
        serde_json::from_slice(body).map_err(|e| bad(format!("not valid JSON: {e}")))?;
    let Value::Object(map) = value else {
        return Err(bad("not a JSON object".to_string()));
    };
    let name = match map.get("name") {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 256 => s.clone(),
        _ => return Err(bad("`name` must be a non-empty string".to_string())),
    };
    let strings = |key: &str| -> Result<Vec<String>> {
        match map.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(a)) if a.len() <= MAX_MANIFEST_ENTRIES => a
                .iter()
                .map(|v| match v {
                    Value::String(s) if !s.is_empty() && s.len() <= 4096 => Ok(s.clone()),
                    _ => Err(bad(format!("`{key}` must hold non-empty strings"))),
                })
                .collect(),
            Some(_) => Err(bad(format!(
                "`{key}` must be an array of at most {MAX_MANIFEST_ENTRIES} strings"
            ))),
        }
    };
    let registry_dependencies = strings("registryDependencies")?;
    let dependencies = strings("dependencies")?;
    let dev_dependencies = strings("devDependencies")?;
    let files = match map.get("files") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) if a.len() <= MAX_ITEM_FILES => a
            .iter()
            .enumerate()
            .map(|(i, f)| parse_file(i, f).map_err(bad))
            .collect::<Result<Vec<_>>>()?,
        Some(_) => {
            return Err(bad(format!(
                "`files` must be an array of at most {MAX_ITEM_FILES} files"
            )));
        }
    };
    let version = match map.get("version") {
        None | Some(Value::Null) => None,
        Some(Value::String(v)) => {
            Some(semver::Version::parse(v).map_err(|e| bad(format!("`version` `{v}`: {e}")))?)
        }
        Some(_) => return Err(bad("`version` must be a string".to_string())),
    };
    let mut semver_dependencies = std::collections::BTreeMap::new();
    match map.get("dxforgeDependencies") {
        None | Some(Value::Null) => {}
        Some(Value::Object(deps)) if deps.len() <= MAX_MANIFEST_ENTRIES => {
            for (name, req) in deps {
                let Value::String(req) = req else {
                    return Err(bad(format!(
                        "`dxforgeDependencies.{name}` must be a string"
                    )));
                };
                crate::safety::validate_package_name(name).map_err(|e| bad(e.to_string()))?;
                crate::safety::parse_requirement(name, req).map_err(|e| bad(e.to_string()))?;
                semver_dependencies.insert(name.clone(), req.clone());
            }
        }
        Some(_) => {
            return Err(bad(format!(
                "`dxforgeDependencies` must be an object of at most {MAX_MANIFEST_ENTRIES} entries"
            )));
        }
    }
    let not_applied = map
        .keys()
        .filter(|k| !DESCRIPTIVE.contains(&k.as_str()))
        .cloned()
        .collect();
    Ok(RegistryItem {
        name,
        files,
        registry_dependencies,
        dependencies,
        dev_dependencies,
        version,
        semver_dependencies,
        not_applied,
    })
}

fn parse_file(i: usize, f: &Value) -> std::result::Result<ItemFile, String> {
    let Value::Object(m) = f else {
        return Err(format!("files[{i}] is not an object"));
    };
    let text = |key: &str| match m.get(key) {
        Some(Value::String(s)) => Ok(Some(s.clone())),
        None | Some(Value::Null) => Ok(None),
        Some(_) => Err(format!("files[{i}].{key} must be a string")),
    };
    let path = text("path")?
        .filter(|p| !p.is_empty())
        .ok_or(format!("files[{i}].path is missing"))?;
    let content = text("content")?.ok_or(format!(
        "files[{i}] (`{path}`) has no `content` (dxforge installs items that embed their files)"
    ))?;
    let kind = text("type")?.ok_or(format!("files[{i}] (`{path}`) has no `type`"))?;
    if !FILE_TYPES.contains(&kind.as_str()) {
        return Err(format!("files[{i}] (`{path}`) has unknown type `{kind}`"));
    }
    let target = text("target")?.filter(|t| !t.is_empty());
    // Built dxforge registries carry each file's BLAKE3: a mismatch is refused.
    if let Some(expected) = text("blake3")?
        && expected != crate::store::hash_hex(content.as_bytes())
    {
        return Err(format!(
            "files[{i}] (`{path}`): content does not match its blake3 {expected}"
        ));
    }
    for (key, p) in [("path", Some(&path)), ("target", target.as_ref())] {
        if let Some(p) = p
            && (p.split(['/', '\\']).any(|c| c == "..") || p.contains('\0'))
        {
            return Err(format!("files[{i}].{key} `{p}` contains `..` or NUL"));
        }
    }
    Ok(ItemFile {
        path,
        content,
        kind,
        target,
    })
}
