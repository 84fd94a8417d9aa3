//! The lexical half of confinement: what a relative path may look like
//! before the kernel resolves it.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};

use crate::{FsError, Policy, Result};

/// Names dxforge never reaches through a project root.
const RESERVED: [&[u8]; 2] = [b".git", b".dxforge"];

/// Longest relative path accepted (Linux's `PATH_MAX`).
const MAX_PATH: usize = 4096;

/// Checks that `rel` is a plain relative path (normal components only, no
/// NUL, at most 4096 bytes) and, under [`Policy::Project`], reaches neither
/// `.git` nor `.dxforge`. `full` is the path to name in an error.
pub fn check_relative(rel: &Path, policy: Policy) -> Result<()> {
    check(rel, policy, true)
}

pub(crate) fn check(rel: &Path, policy: Policy, allow_empty: bool) -> Result<()> {
    let refuse = |reason| FsError::NotBeneath {
        path: rel.to_path_buf(),
        reason,
    };
    let bytes = rel.as_os_str().as_bytes();
    if bytes.is_empty() {
        return if allow_empty {
            Ok(())
        } else {
            Err(refuse("empty path"))
        };
    }
    if bytes.len() > MAX_PATH {
        return Err(refuse("path longer than 4096 bytes"));
    }
    if bytes.contains(&0) {
        return Err(refuse("NUL byte in path"));
    }
    if bytes[0] == b'/' {
        return Err(refuse("absolute path"));
    }
    // `Path::components` hides `a//b` and a trailing `/`; the raw split does not.
    for part in bytes.split(|b| *b == b'/') {
        match part {
            b"" => return Err(refuse("empty path component")),
            b"." => return Err(refuse("`.` component")),
            b".." => return Err(refuse("`..` component")),
            name if policy == Policy::Project && is_reserved(OsStr::from_bytes(name)) => {
                return Err(FsError::Reserved {
                    path: rel.to_path_buf(),
                });
            }
            _ => {}
        }
    }
    debug_assert!(rel.components().all(|c| matches!(c, Component::Normal(_))));
    Ok(())
}

/// Whether `name` is `.git` or `.dxforge`. Compared byte for byte: Linux
/// file systems are case-sensitive, and a case-insensitive mount would need
/// the check there, not here.
pub(crate) fn is_reserved(name: &OsStr) -> bool {
    RESERVED.contains(&name.as_bytes())
}

/// Splits a checked, non-empty relative path into its parent (possibly
/// empty) and its last component.
pub(crate) fn split(rel: &Path) -> (&Path, &OsStr) {
    let bytes = rel.as_os_str().as_bytes();
    match bytes.iter().rposition(|b| *b == b'/') {
        Some(i) => (
            Path::new(OsStr::from_bytes(&bytes[..i])),
            OsStr::from_bytes(&bytes[i + 1..]),
        ),
        None => (Path::new(""), rel.as_os_str()),
    }
}
