//! Validation of everything that comes from a package before it touches disk:
//! names, versions and target paths.
//!
//! A target path is accepted only when it is relative, has no `..`, `.` or
//! empty components, reaches neither `.git` nor `.dxforge` at any depth, and
//! no existing component of it is a symlink: dxforge never writes through a
//! symlink, not even one that stays inside the project (a link inside the
//! project can point into `.git/hooks`). The checks here give the clear,
//! early error; the filesystem layer (`dxforge_fs::Root`) enforces the same
//! rules in the kernel when the write happens.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use dxforge_fs::{Kind, Root};

use crate::error::{Result, TrafficError};

/// Longest accepted package name.
const MAX_NAME_LEN: usize = 64;

/// Longest project-relative path (Linux's `PATH_MAX`).
const MAX_PATH_BYTES: usize = 4096;

/// Longest file name (one component).
const MAX_NAME_BYTES: usize = 255;

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

/// Longest accepted registry-item URL or file path.
const MAX_ITEM_ID_BYTES: usize = 4096;

/// Whether `name` names a registry item (`@ns/name`, a URL, or a `.json`
/// file) rather than a package of a directory registry.
pub fn is_item_id(name: &str) -> bool {
    name.starts_with('@') || name.contains("://") || name.ends_with(".json")
}

/// Check a registry-item id: `@ns/name` (both halves like package names),
/// an `http`/`https`/`s3`/`file` URL, or a path to a `.json` file; at most
/// 4096 bytes, no whitespace or control character.
pub fn validate_item_id(name: &str) -> Result<()> {
    let bad = || TrafficError::InvalidName {
        name: name.to_string(),
    };
    if name.is_empty()
        || name.len() > MAX_ITEM_ID_BYTES
        || name.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(bad());
    }
    if let Some(rest) = name.strip_prefix('@') {
        let (ns, item) = rest.split_once('/').ok_or_else(bad)?;
        validate_package_name(ns).map_err(|_| bad())?;
        return validate_package_name(item).map_err(|_| bad());
    }
    if let Some((scheme, rest)) = name.split_once("://") {
        return match scheme {
            "http" | "https" | "s3" | "file" if !rest.is_empty() => Ok(()),
            _ => Err(bad()),
        };
    }
    if name.ends_with(".json") {
        return Ok(());
    }
    Err(bad())
}

/// A package name ([`validate_package_name`]) or a registry-item id ([`validate_item_id`]).
pub fn validate_dependency_name(name: &str) -> Result<()> {
    if is_item_id(name) {
        validate_item_id(name)
    } else {
        validate_package_name(name)
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
    let spec = spec.trim();
    if is_item_id(spec) {
        // `@ns/name@REQ` (built registries); URLs and files carry no requirement.
        if spec.starts_with('@')
            && let Some((id, req)) = spec[1..]
                .split_once('@')
                .map(|(a, b)| (&spec[..a.len() + 1], b))
        {
            validate_item_id(id)?;
            parse_requirement(id, req)?;
            return Ok((id.to_string(), req.trim().to_string()));
        }
        validate_item_id(spec)?;
        return Ok((spec.to_string(), String::new()));
    }
    let (name, req) = match spec.split_once('@') {
        Some((name, req)) => (name.trim(), req.trim()),
        None => (spec.trim(), ""),
    };
    validate_package_name(name)?;
    parse_requirement(name, req)?;
    Ok((name.to_string(), req.to_string()))
}

/// Lexical rules shared by package targets and the paths local state names:
/// `None` when `rel` passes, else why not.
fn lexical_problem(rel: &str, allow_state_files: bool) -> Option<&'static str> {
    if rel.is_empty() {
        return Some("empty path");
    }
    if rel.len() > MAX_PATH_BYTES {
        return Some("path longer than 4096 bytes");
    }
    if rel.contains('\0') || rel.contains('\\') {
        return Some("NUL or backslash in path");
    }
    if rel.chars().any(char::is_control) {
        return Some("control character in path");
    }
    if rel.starts_with('/') || Path::new(rel).is_absolute() {
        return Some("absolute path");
    }
    for part in rel.split('/') {
        match part {
            "" => return Some("empty path component"),
            "." => return Some("`.` component"),
            ".." => return Some("contains `..`"),
            _ if part.eq_ignore_ascii_case(".git") || part.eq_ignore_ascii_case(".dxforge") => {
                return Some("reserved: `.git` and `.dxforge` are out of reach at any depth");
            }
            _ if part.len() > MAX_NAME_BYTES => return Some("file name longer than 255 bytes"),
            _ if dxforge_fs::is_temp_name(part) => {
                return Some("name reserved for dxforge's temporary files");
            }
            _ => {}
        }
    }
    if !allow_state_files && (rel == "dxforge.lock" || rel == "dxforge.toml") {
        return Some("reserved for dxforge's own state");
    }
    None
}

/// Check the lexical form of a package file's project-relative path:
/// relative, `/`-separated, no `.`/`..`/empty components, no NUL, backslash
/// or control character, no `.git` or `.dxforge` component at any depth,
/// not `dxforge.lock`/`dxforge.toml`, not a dxforge temporary file name.
pub fn validate_relative(package: &str, rel: &str) -> Result<()> {
    match lexical_problem(rel, false) {
        None => Ok(()),
        Some(reason) => Err(TrafficError::UnsafePath {
            package: package.to_string(),
            path: rel.to_string(),
            reason: reason.to_string(),
        }),
    }
}

/// The same rules for a path named by dxforge's own state (a journal), where
/// `dxforge.lock` and `dxforge.toml` are legitimate targets. `Err` says why not.
pub(crate) fn validate_state_path(rel: &str) -> std::result::Result<(), &'static str> {
    lexical_problem(rel, true).map_or(Ok(()), Err)
}

/// Check that `rel` can be written (or read) in the project without crossing
/// a symlink: the lexical rules of [`validate_relative`], then every existing
/// component is looked at without following links. A symlink anywhere on the
/// way, even one that stays inside the project, is refused, as is a file
/// where a directory is needed, a directory (or FIFO, socket, device) at the
/// target. dxforge never writes through a symlink; the filesystem layer
/// enforces the same rule again when the write happens.
pub fn check_target(project: &Root, package: &str, rel: &str) -> Result<()> {
    check_target_with(project, package, rel, &mut DirCache::default())
}

/// Directories already looked at during one operation (under the project
/// lock): a package's files share a few directories, which are then checked
/// once instead of once per file. The kernel checks again on every write.
#[derive(Debug, Default)]
pub(crate) struct DirCache {
    /// Real directories (no symlink on the way).
    real: BTreeSet<String>,
    /// Directories that do not exist.
    missing: BTreeSet<String>,
}

impl DirCache {
    /// Whether `rel` lies beneath a directory seen missing, so cannot exist
    /// (a fresh install then opens nothing to learn that).
    pub(crate) fn under_missing(&self, rel: &str) -> bool {
        let mut rest = rel;
        while let Some((dir, _)) = rest.rsplit_once('/') {
            if self.missing.contains(dir) {
                return true;
            }
            rest = dir;
        }
        false
    }
}

/// [`check_target`] remembering the directories it has seen in `dirs`.
pub(crate) fn check_target_with(
    project: &Root,
    package: &str,
    rel: &str,
    dirs: &mut DirCache,
) -> Result<()> {
    validate_relative(package, rel)?;
    let refuse = |reason: String| TrafficError::UnsafePath {
        package: package.to_string(),
        path: rel.to_string(),
        reason,
    };
    let parts: Vec<&str> = rel.split('/').collect();
    for i in 0..parts.len() {
        let prefix = parts[..=i].join("/");
        let is_last = i + 1 == parts.len();
        if !is_last {
            if dirs.missing.contains(&prefix) {
                return Ok(());
            }
            if dirs.real.contains(&prefix) {
                continue;
            }
        }
        let meta = match project.metadata(&prefix) {
            Ok(m) => m,
            Err(e) if e.is_refusal() => {
                return Err(refuse(format!(
                    "{e} (dxforge never writes through a symbolic link)"
                )));
            }
            Err(e) => return Err(e.into()),
        };
        let Some(meta) = meta else {
            // Nothing exists from here on: dxforge creates plain directories.
            if !is_last {
                dirs.missing.insert(prefix);
            }
            return Ok(());
        };
        match meta.kind {
            Kind::Symlink => {
                return Err(refuse(format!(
                    "`{prefix}` is a symbolic link; dxforge never writes through one \
                     (replace it with a real directory or file)"
                )));
            }
            Kind::Dir if is_last => return Err(refuse("target is a directory".to_string())),
            Kind::Dir => {
                dirs.real.insert(prefix);
            }
            Kind::File if !is_last => {
                return Err(refuse(format!("`{prefix}` is not a directory")));
            }
            Kind::File => {}
            _ => {
                return Err(refuse(format!(
                    "`{prefix}` is not a regular file or directory (FIFO, socket or device)"
                )));
            }
        }
    }
    Ok(())
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
