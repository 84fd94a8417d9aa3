//! `dxpkg.toml`: the description of one version of one package.
//!
//! ```toml
//! name = "button"
//! version = "1.2.0"
//! description = "A button"
//!
//! [dependencies]
//! utils = "^1"
//!
//! [detect]
//! patterns = ["<Button"]
//! ```
//! Unknown keys are errors that name the file, line and key. A registry is
//! not trusted: the file is at most [`MAX_PACKAGE_MANIFEST_BYTES`], with at
//! most [`MAX_MANIFEST_ENTRIES`] dependencies and detect patterns and
//! strings of at most [`MAX_MANIFEST_STRING`] bytes.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Result, TrafficError, toml_error};
use crate::limits::{MAX_MANIFEST_ENTRIES, MAX_MANIFEST_STRING, MAX_PACKAGE_MANIFEST_BYTES};
use crate::safety::{parse_requirement, parse_version, validate_package_name};

/// A parsed and validated `dxpkg.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageManifest {
    /// Package name.
    pub name: String,
    /// Exact version.
    pub version: semver::Version,
    /// One-line description.
    pub description: String,
    /// Package dependencies: name -> semver requirement.
    pub dependencies: BTreeMap<String, String>,
    /// Source patterns (plain substrings) that reveal the package is used, for codebase analysis.
    pub detect_patterns: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    name: String,
    version: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    dependencies: BTreeMap<String, String>,
    #[serde(default)]
    detect: RawDetect,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDetect {
    #[serde(default)]
    patterns: Vec<String>,
}

impl PackageManifest {
    /// Parse `text`, the content of the file at `file` (used in errors).
    pub fn parse(file: &Path, text: &str) -> Result<Self> {
        if text.len() as u64 > MAX_PACKAGE_MANIFEST_BYTES {
            return Err(TrafficError::Limit {
                path: file.to_path_buf(),
                message: format!("dxpkg.toml larger than {MAX_PACKAGE_MANIFEST_BYTES} bytes"),
            });
        }
        let raw: RawManifest = toml::from_str(text).map_err(|e| toml_error(file, text, &e))?;
        let key_error = |key: &str, message: String| TrafficError::Manifest {
            file: file.to_path_buf(),
            line: line_of_key(text, key),
            key: key.to_string(),
            message,
        };
        if raw.dependencies.len() > MAX_MANIFEST_ENTRIES {
            return Err(key_error(
                "dependencies",
                format!("more than {MAX_MANIFEST_ENTRIES} dependencies"),
            ));
        }
        if raw.detect.patterns.len() > MAX_MANIFEST_ENTRIES {
            return Err(key_error(
                "patterns",
                format!("more than {MAX_MANIFEST_ENTRIES} detect patterns"),
            ));
        }
        let long = |s: &String| s.len() > MAX_MANIFEST_STRING;
        if long(&raw.description) {
            return Err(key_error(
                "description",
                format!("longer than {MAX_MANIFEST_STRING} bytes"),
            ));
        }
        if let Some((dep, _)) = raw.dependencies.iter().find(|(_, r)| long(r)) {
            return Err(key_error(
                dep,
                format!("longer than {MAX_MANIFEST_STRING} bytes"),
            ));
        }
        if raw.detect.patterns.iter().any(long) {
            return Err(key_error(
                "patterns",
                format!("a pattern is longer than {MAX_MANIFEST_STRING} bytes"),
            ));
        }
        validate_package_name(&raw.name).map_err(|e| key_error("name", e.to_string()))?;
        let version = parse_version(&raw.name, &raw.version)
            .map_err(|e| key_error("version", e.to_string()))?;
        for (dep, req) in &raw.dependencies {
            validate_package_name(dep).map_err(|e| key_error(dep, e.to_string()))?;
            parse_requirement(dep, req).map_err(|e| key_error(dep, e.to_string()))?;
        }
        Ok(PackageManifest {
            name: raw.name,
            version,
            description: raw.description,
            dependencies: raw.dependencies,
            detect_patterns: raw.detect.patterns,
        })
    }

    /// Read and parse a `dxpkg.toml` file (never through a symlink at `file`
    /// itself, at most [`MAX_PACKAGE_MANIFEST_BYTES`]).
    pub fn read(file: &Path) -> Result<Self> {
        let bytes =
            dxforge_fs::read_bounded(file, MAX_PACKAGE_MANIFEST_BYTES)?.ok_or_else(|| {
                TrafficError::io(
                    "read",
                    file,
                    std::io::Error::from(std::io::ErrorKind::NotFound),
                )
            })?;
        Self::parse_bytes(file, &bytes)
    }

    /// Parse the bytes of a `dxpkg.toml` (must be UTF-8).
    pub(crate) fn parse_bytes(file: &Path, bytes: &[u8]) -> Result<Self> {
        let text = std::str::from_utf8(bytes).map_err(|e| TrafficError::Manifest {
            file: file.to_path_buf(),
            line: 0,
            key: String::new(),
            message: format!("not UTF-8: {e}"),
        })?;
        Self::parse(file, text)
    }
}

/// 1-based line where `key = ...` first appears (0 when not found).
fn line_of_key(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| {
            let l = l.trim_start().trim_start_matches('"');
            l.starts_with(key)
                && l[key.len()..]
                    .trim_start()
                    .trim_start_matches('"')
                    .trim_start()
                    .starts_with('=')
        })
        .map_or(0, |i| i + 1)
}
