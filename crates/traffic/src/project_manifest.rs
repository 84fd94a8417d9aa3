//! Editing `[dependencies]` of the project's `dxforge.toml`, keeping the
//! user's formatting and comments (toml_edit), like `cargo add` / `cargo remove`.
//!
//! `add` records `name = "req"` when the dependency is absent, or replaces the
//! requirement when the user asked for a different one explicitly; with no
//! requirement given it records `^<installed version>`. A project without a
//! `dxforge.toml` is left without one.

use std::path::Path;

use crate::error::{Result, TrafficError};

fn parse(path: &Path, text: &str) -> Result<toml_edit::DocumentMut> {
    text.parse::<toml_edit::DocumentMut>().map_err(|e| {
        let line = e
            .span()
            .map(|s| {
                text.as_bytes()[..s.start.min(text.len())]
                    .iter()
                    .filter(|b| **b == b'\n')
                    .count()
                    + 1
            })
            .unwrap_or(0);
        TrafficError::Manifest {
            file: path.to_path_buf(),
            line,
            key: String::new(),
            message: e.message().to_string(),
        }
    })
}

fn deps_table<'a>(
    path: &Path,
    doc: &'a mut toml_edit::DocumentMut,
) -> Result<&'a mut toml_edit::Table> {
    let item = doc
        .entry("dependencies")
        .or_insert_with(|| toml_edit::Item::Table(toml_edit::Table::new()));
    item.as_table_mut().ok_or_else(|| TrafficError::Manifest {
        file: path.to_path_buf(),
        line: 0,
        key: "dependencies".to_string(),
        message: "must be a table".to_string(),
    })
}

/// New text of `dxforge.toml` with `name = req` recorded, or `None` when unchanged.
/// `explicit` says whether the user gave the requirement.
pub fn with_dependency(
    path: &Path,
    text: &str,
    name: &str,
    req: &str,
    explicit: bool,
) -> Result<Option<String>> {
    let mut doc = parse(path, text)?;
    let deps = deps_table(path, &mut doc)?;
    match deps.get(name).and_then(|i| i.as_str()) {
        Some(existing) if existing == req || !explicit => return Ok(None),
        _ => {}
    }
    if deps.get(name).is_some_and(|i| i.as_str().is_none()) {
        return Err(TrafficError::Manifest {
            file: path.to_path_buf(),
            line: 0,
            key: format!("dependencies.{name}"),
            message: "must be a version requirement string".to_string(),
        });
    }
    deps.insert(name, toml_edit::value(req));
    Ok(Some(doc.to_string()))
}

/// New text of `dxforge.toml` without `name` in `[dependencies]`, or `None` when it was absent.
pub fn without_dependency(path: &Path, text: &str, name: &str) -> Result<Option<String>> {
    let mut doc = parse(path, text)?;
    let Some(deps) = doc.get_mut("dependencies").and_then(|i| i.as_table_mut()) else {
        return Ok(None);
    };
    if deps.remove(name).is_none() {
        return Ok(None);
    }
    Ok(Some(doc.to_string()))
}
