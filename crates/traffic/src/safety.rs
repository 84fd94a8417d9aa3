//! Validation of everything that comes from a package before it touches disk:
//! names, versions and target paths.
//!
//! A target path is accepted only when it is relative, has no `..`, `.` or
//! empty components, and every existing component resolves (following
//! symlinks) to a place inside the project root. Symlinks that stay inside
//! the root are followed: the file is written where the link points.

use std::path::{Component, Path, PathBuf};

use crate::error::{Result, TrafficError};

/// Longest accepted package name.
const MAX_NAME_LEN: usize = 64;

/// Check a package name: `[a-z0-9][a-z0-9._-]*`, at most 64 characters.
pub fn validate_package_name(name: &str) -> Result<()> {
    let mut bytes = name.bytes();
    let first_ok = matches!(bytes.next(), Some(b'a'..=b'z' | b'0'..=b'9'));
    let rest_ok = bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-'));
    if first_ok && rest_ok && name.len() <= MAX_NAME_LEN {
        Ok(())
    } else {
        Err(TrafficError::InvalidName {
            name: name.to_string(),
        })
    }
}

/// Parse an exact version.
pub fn parse_version(package: &str, text: &str) -> Result<semver::Version> {
    semver::Version::parse(text.trim()).map_err(|e| TrafficError::InvalidVersion {
        package: package.to_string(),
        version: text.to_string(),
        message: e.to_string(),
    })
}

/// Parse a version requirement; an empty requirement means `*`.
pub fn parse_requirement(package: &str, text: &str) -> Result<semver::VersionReq> {
    let text = text.trim();
    let text = if text.is_empty() { "*" } else { text };
    semver::VersionReq::parse(text).map_err(|e| TrafficError::InvalidVersion {
        package: package.to_string(),
        version: text.to_string(),
        message: e.to_string(),
    })
}

/// Split `name@req` (or `name`) and validate both halves.
pub fn parse_spec(spec: &str) -> Result<(String, String)> {
    let (name, req) = match spec.split_once('@') {
        Some((name, req)) => (name.trim(), req.trim()),
        None => (spec.trim(), ""),
    };
    validate_package_name(name)?;
    parse_requirement(name, req)?;
    Ok((name.to_string(), req.to_string()))
}

/// Check the lexical form of a package file's project-relative path.
pub fn validate_relative(package: &str, rel: &str) -> Result<()> {
    let refuse = |reason: &str| TrafficError::UnsafePath {
        package: package.to_string(),
        path: rel.to_string(),
        reason: reason.to_string(),
    };
    if rel.is_empty() {
        return Err(refuse("empty path"));
    }
    if rel.contains('\0') || rel.contains('\\') {
        return Err(refuse("NUL or backslash in path"));
    }
    if rel.starts_with('/') || Path::new(rel).is_absolute() {
        return Err(refuse("absolute path"));
    }
    for part in rel.split('/') {
        match part {
            "" => return Err(refuse("empty path component")),
            "." => return Err(refuse("`.` component")),
            ".." => return Err(refuse("contains `..`")),
            _ => {}
        }
    }
    let first = rel.split('/').next().unwrap_or("");
    if first == ".dxforge" || first == ".git" || rel == "dxforge.lock" || rel == "dxforge.toml" {
        return Err(refuse("reserved for dxforge's own state"));
    }
    Ok(())
}

/// Resolve a package file's target to the real path dxforge will write,
/// refusing anything that leaves `root` (which must be canonical).
pub fn resolve_target(root: &Path, package: &str, rel: &str) -> Result<PathBuf> {
    validate_relative(package, rel)?;
    let refuse = |reason: String| TrafficError::UnsafePath {
        package: package.to_string(),
        path: rel.to_string(),
        reason,
    };
    let parts: Vec<&str> = rel.split('/').collect();
    let mut real = root.to_path_buf();
    for (i, part) in parts.iter().enumerate() {
        let is_last = i + 1 == parts.len();
        let next = real.join(part);
        match std::fs::symlink_metadata(&next) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // Nothing exists from here on: dxforge creates plain directories.
                real = next;
                for rest in &parts[i + 1..] {
                    real.push(rest);
                }
                return Ok(real);
            }
            Err(e) => return Err(TrafficError::io("inspect", next, e)),
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = match std::fs::canonicalize(&next) {
                    Ok(t) => t,
                    // A dangling link: we cannot know where a write would land.
                    Err(_) => {
                        return Err(refuse(format!(
                            "{} is a dangling symlink",
                            display_rel(&parts[..=i])
                        )));
                    }
                };
                if !target.starts_with(root) {
                    return Err(refuse(format!(
                        "{} is a symlink to {} outside the project root",
                        display_rel(&parts[..=i]),
                        target.display()
                    )));
                }
                if !is_last && !target.is_dir() {
                    return Err(refuse(format!(
                        "{} is not a directory",
                        display_rel(&parts[..=i])
                    )));
                }
                real = target;
            }
            Ok(meta) => {
                if !is_last && !meta.is_dir() {
                    return Err(refuse(format!(
                        "{} is not a directory",
                        display_rel(&parts[..=i])
                    )));
                }
                if is_last && meta.is_dir() {
                    return Err(refuse("target is a directory".to_string()));
                }
                real = next;
            }
        }
    }
    Ok(real)
}

fn display_rel(parts: &[&str]) -> String {
    parts.join("/")
}

/// Turn a path given by a caller (absolute inside `root`, or relative to it)
/// into a project-relative `/`-separated path.
pub fn project_relative(root: &Path, path: &Path) -> Result<String> {
    let outside = || TrafficError::OutsideRoot {
        path: path.to_path_buf(),
        root: root.to_path_buf(),
    };
    let rel: PathBuf = if path.is_absolute() {
        // Canonicalise the existing parent so /tmp vs /private/tmp style aliases match.
        let parent = path.parent().ok_or_else(outside)?;
        let file = path.file_name().ok_or_else(outside)?;
        let parent = std::fs::canonicalize(parent).unwrap_or_else(|_| parent.to_path_buf());
        parent
            .join(file)
            .strip_prefix(root)
            .map_err(|_| outside())?
            .to_path_buf()
    } else {
        path.to_path_buf()
    };
    let mut parts = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_str().ok_or_else(outside)?.to_string()),
            Component::CurDir => {}
            _ => return Err(outside()),
        }
    }
    if parts.is_empty() {
        return Err(outside());
    }
    Ok(parts.join("/"))
}
