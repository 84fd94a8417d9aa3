//! `dxforge.lock`: the installed packages, meant to be committed.
//!
//! ```toml
//! format = 1
//!
//! [packages.button]
//! version = "1.3.0"
//! dependencies = ["utils"]
//!
//! [packages.button.files]
//! "components/ui/button.tsx" = "<BLAKE3 hex of the pristine content>"
//! ```
//! `files` maps every installed file to the hash of the pristine content the
//! user's copy derives from (the merge base of the next upgrade; the content
//! itself lives in `.dxforge/base/`). `unresolved` lists files whose latest
//! upstream content waits in a side file because they were Red: `<file>.new`,
//! or, when that name was taken, the name recorded in `side_files`
//! (`"app.txt" = "app.txt.new.1"`).
//!
//! The lock is committed by users and so not trusted: it is read with a size
//! cap and every name, path and hash in it is validated by [`Lockfile::parse`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use dxforge_fs::{Root, WriteOptions};
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrafficError, toml_error};
use crate::limits::{MAX_LOCK_BYTES, MAX_LOCKED_PACKAGES, MAX_MANIFEST_ENTRIES, MAX_PACKAGE_FILES};
use crate::safety::{validate_dependency_name, validate_relative};
use crate::store::is_hash;

/// The lock file's name at the project root.
pub const LOCK_FILE: &str = "dxforge.lock";

/// Current lock file format number.
pub const LOCK_FORMAT: u32 = 1;

/// The parsed lock file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lockfile {
    /// Format number (currently 1).
    pub format: u32,
    /// Installed packages by name.
    #[serde(default)]
    pub packages: BTreeMap<String, LockedPackage>,
}

impl Default for Lockfile {
    fn default() -> Self {
        Lockfile {
            format: LOCK_FORMAT,
            packages: BTreeMap::new(),
        }
    }
}

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedPackage {
    /// Installed version.
    pub version: semver::Version,
    /// Names of the packages it depends on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<String>,
    /// Project-relative path -> BLAKE3 hex of the pristine (base) content.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// Files whose upstream content is waiting in a side file (they were Red).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unresolved: Vec<String>,
    /// Side files of `unresolved` files that are not `<file>.new` (that name
    /// was taken): path -> side file, e.g. `"app.txt" = "app.txt.new.1"`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub side_files: BTreeMap<String, String>,
    /// Registry items only: what was fetched and how to revalidate it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<LockedItem>,
}

/// Where a registry item came from ([`LockedPackage::item`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedItem {
    /// The URL (or file) the item JSON was read from; never holds header values.
    pub source: String,
    /// BLAKE3 hex of the item JSON as fetched.
    pub hash: String,
    /// The `ETag` the registry sent, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// The `Last-Modified` the registry sent, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
}

impl LockedPackage {
    /// Where the upstream content of the unresolved file `path` waits.
    pub fn side_file(&self, path: &str) -> String {
        self.side_files
            .get(path)
            .cloned()
            .unwrap_or_else(|| format!("{path}.new"))
    }
}

impl Lockfile {
    /// Read `path` (never through a symlink at `path` itself, at most
    /// [`MAX_LOCK_BYTES`]); a missing file is an empty lock.
    pub fn read(path: &Path) -> Result<Self> {
        match dxforge_fs::read_bounded(path, MAX_LOCK_BYTES)? {
            Some(bytes) => Self::parse_bytes(path, bytes),
            None => Ok(Lockfile::default()),
        }
    }

    /// Read `dxforge.lock` of the project root `project`.
    pub(crate) fn load(project: &Root) -> Result<Self> {
        match project.read(LOCK_FILE, MAX_LOCK_BYTES)? {
            Some(bytes) => Self::parse_bytes(&project.join(LOCK_FILE), bytes),
            None => Ok(Lockfile::default()),
        }
    }

    fn parse_bytes(path: &Path, bytes: Vec<u8>) -> Result<Self> {
        let text = String::from_utf8(bytes).map_err(|e| TrafficError::Manifest {
            file: path.to_path_buf(),
            line: 0,
            key: String::new(),
            message: format!("not UTF-8: {e}"),
        })?;
        Self::parse(path, &text)
    }

    /// Parse lock file text (`path` is used in errors). Bounded: at most
    /// [`MAX_LOCK_BYTES`] of text, [`MAX_LOCKED_PACKAGES`] packages and
    /// [`MAX_PACKAGE_FILES`] files per package; every package name, path
    /// and hash is validated (paths with the same rules as package targets).
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        if text.len() as u64 > MAX_LOCK_BYTES {
            return Err(TrafficError::Limit {
                path: path.to_path_buf(),
                message: format!("lock file larger than {MAX_LOCK_BYTES} bytes"),
            });
        }
        let lock: Lockfile = toml::from_str(text).map_err(|e| toml_error(path, text, &e))?;
        if lock.format != LOCK_FORMAT {
            return Err(TrafficError::Manifest {
                file: path.to_path_buf(),
                line: 1,
                key: "format".to_string(),
                message: format!(
                    "unsupported lock format {} (this dxforge reads {LOCK_FORMAT})",
                    lock.format
                ),
            });
        }
        lock.validate(path)?;
        Ok(lock)
    }

    fn validate(&self, path: &Path) -> Result<()> {
        let bad = |key: String, message: String| TrafficError::Manifest {
            file: path.to_path_buf(),
            line: 0,
            key,
            message,
        };
        if self.packages.len() > MAX_LOCKED_PACKAGES {
            return Err(bad(
                "packages".to_string(),
                format!("more than {MAX_LOCKED_PACKAGES} packages"),
            ));
        }
        for (name, p) in &self.packages {
            validate_dependency_name(name)
                .map_err(|e| bad(format!("packages.{name}"), e.to_string()))?;
            if let Some(item) = &p.item {
                let text_ok = |t: &str| t.len() <= 4096 && !t.chars().any(char::is_control);
                let meta_ok = [&item.etag, &item.last_modified]
                    .iter()
                    .all(|v| v.as_deref().is_none_or(text_ok));
                if !is_hash(&item.hash) || !text_ok(&item.source) || !meta_ok {
                    return Err(bad(
                        format!("packages.{name}.item"),
                        "malformed source, hash, etag or last_modified".to_string(),
                    ));
                }
            }
            if p.dependencies.len() > MAX_MANIFEST_ENTRIES {
                return Err(bad(
                    format!("packages.{name}.dependencies"),
                    format!("more than {MAX_MANIFEST_ENTRIES} dependencies"),
                ));
            }
            for dep in &p.dependencies {
                validate_dependency_name(dep)
                    .map_err(|e| bad(format!("packages.{name}.dependencies"), e.to_string()))?;
            }
            if p.files.len() > MAX_PACKAGE_FILES || p.unresolved.len() > MAX_PACKAGE_FILES {
                return Err(bad(
                    format!("packages.{name}.files"),
                    format!("more than {MAX_PACKAGE_FILES} files"),
                ));
            }
            for (file, hash) in &p.files {
                validate_relative(name, file)?;
                if !is_hash(hash) {
                    return Err(bad(
                        format!("packages.{name}.files.\"{file}\""),
                        "not a BLAKE3 hex digest".to_string(),
                    ));
                }
            }
            for file in &p.unresolved {
                validate_relative(name, file)?;
            }
            let unresolved: BTreeSet<&String> = p.unresolved.iter().collect();
            for (file, side) in &p.side_files {
                validate_relative(name, side)?;
                let key = || format!("packages.{name}.side_files.\"{file}\"");
                if !unresolved.contains(file) {
                    return Err(bad(key(), "not an unresolved file".to_string()));
                }
                if !side.starts_with(&format!("{file}.new")) || side[file.len()..].contains('/') {
                    return Err(bad(
                        key(),
                        format!("side file `{side}` is not `{file}.new…` next to it"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The serialized form (what [`Lockfile::write`] puts on disk).
    pub fn to_toml(&self, path: &Path) -> Result<Vec<u8>> {
        let body = toml::to_string(self).map_err(|e| TrafficError::Manifest {
            file: path.to_path_buf(),
            line: 0,
            key: String::new(),
            message: format!("cannot serialize: {e}"),
        })?;
        Ok(format!("# Generated by dxforge. Commit it; do not edit by hand.\n{body}").into_bytes())
    }

    /// Write atomically and durably (never through a symlink at `path`).
    pub fn write(&self, path: &Path) -> Result<()> {
        dxforge_fs::write_atomic(path, &self.to_toml(path)?, WriteOptions::durable())?;
        Ok(())
    }

    /// The package owning `path`, with the recorded base hash (if any).
    pub fn owner_of(&self, path: &str) -> Option<(&str, Option<&str>)> {
        for (name, p) in &self.packages {
            if let Some(h) = p.files.get(path) {
                return Some((name, Some(h)));
            }
            if p.unresolved.iter().any(|u| u == path) {
                return Some((name, None));
            }
        }
        None
    }

    /// Locked version of every package.
    pub fn versions(&self) -> BTreeMap<String, semver::Version> {
        self.packages
            .iter()
            .map(|(n, p)| (n.clone(), p.version.clone()))
            .collect()
    }
}
