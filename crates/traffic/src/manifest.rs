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
//! Unknown keys are errors that name the file, line and key.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Result, TrafficError, toml_error};
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
        let raw: RawManifest = toml::from_str(text).map_err(|e| toml_error(file, text, &e))?;
        let key_error = |key: &str, message: String| TrafficError::Manifest {
            file: file.to_path_buf(),
            line: line_of_key(text, key),
            key: key.to_string(),
            message,
        };
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

    /// Read and parse a `dxpkg.toml` file.
    pub fn read(file: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(file).map_err(|e| TrafficError::io("read", file, e))?;
        Self::parse(file, &text)
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
