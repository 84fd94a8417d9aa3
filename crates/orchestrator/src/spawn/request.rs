//! The request's strings: argv and the environment as C strings, and the
//! null-terminated pointer arrays `execve` takes.
#![deny(
    clippy::undocumented_unsafe_blocks,
    clippy::multiple_unsafe_ops_per_block
)]

use std::ffi::CString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use crate::error::{OrchestratorError, Result};
use crate::spawn::SpawnSpec;

pub(super) fn cstring(tool: &str, what: &str, bytes: &[u8]) -> Result<CString> {
    CString::new(bytes).map_err(|_| OrchestratorError::SpawnFailed {
        tool: tool.to_owned(),
        path: PathBuf::from(String::from_utf8_lossy(bytes).into_owned()),
        source: std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{what} contains a NUL byte"),
        ),
    })
}

unsafe extern "C" {
    /// The C library's environment, as `execve` takes it.
    pub(super) static environ: *const *const libc::c_char;
}

/// The tool's environment: the host's, with the definition's `env` on top.
pub(super) fn environment(spec: &SpawnSpec<'_>) -> Result<Vec<CString>> {
    let mut out = Vec::new();
    for (key, value) in std::env::vars_os() {
        if key.to_str().is_some_and(|k| spec.env.contains_key(k)) {
            continue;
        }
        let mut entry = key.into_vec();
        entry.push(b'=');
        entry.extend_from_slice(value.as_bytes());
        out.push(cstring(spec.tool, "an environment variable", &entry)?);
    }
    for (key, value) in spec.env {
        out.push(cstring(
            spec.tool,
            "an environment variable",
            format!("{key}={value}").as_bytes(),
        )?);
    }
    Ok(out)
}

pub(super) fn null_terminated(strings: &[CString]) -> Vec<*const libc::c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}
