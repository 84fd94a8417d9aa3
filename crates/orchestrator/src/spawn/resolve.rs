//! Naming what to run: signal names and the binary's path.
#![deny(
    clippy::undocumented_unsafe_blocks,
    clippy::multiple_unsafe_ops_per_block
)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use libc::c_int;

use crate::error::{OrchestratorError, Result};

/// Parses `"SIGTERM"`, `"TERM"` or a number into a signal number.
pub(crate) fn parse_signal(name: &str) -> Option<c_int> {
    const NAMES: &[(&str, c_int)] = &[
        ("HUP", libc::SIGHUP),
        ("INT", libc::SIGINT),
        ("QUIT", libc::SIGQUIT),
        ("ABRT", libc::SIGABRT),
        ("KILL", libc::SIGKILL),
        ("USR1", libc::SIGUSR1),
        ("USR2", libc::SIGUSR2),
        ("TERM", libc::SIGTERM),
        ("ALRM", libc::SIGALRM),
        ("WINCH", libc::SIGWINCH),
        ("CONT", libc::SIGCONT),
        ("PWR", libc::SIGPWR),
    ];
    let upper = name.trim().to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Ok(n) = bare.parse::<c_int>() {
        return (1..=31).contains(&n).then_some(n);
    }
    NAMES.iter().find(|(n, _)| *n == bare).map(|(_, s)| *s)
}

/// Resolves `binary_path`: absolute; relative to `root` if it contains '/';
/// else searched on `PATH`. Checks that it is an executable file.
pub(crate) fn resolve_binary(tool: &str, binary: &str, root: &Path) -> Result<PathBuf> {
    let given = Path::new(binary);
    let candidate = if given.is_absolute() {
        given.to_path_buf()
    } else if binary.contains('/') {
        root.join(given)
    } else {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let found = std::env::split_paths(&path)
            .map(|dir| dir.join(binary))
            .find(|c| {
                std::fs::metadata(c)
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            });
        return found.ok_or_else(|| OrchestratorError::BinaryNotFound {
            tool: tool.to_owned(),
            path: PathBuf::from(format!("{binary} (searched PATH)")),
        });
    };
    match std::fs::metadata(&candidate) {
        Err(_) => Err(OrchestratorError::BinaryNotFound {
            tool: tool.to_owned(),
            path: candidate,
        }),
        Ok(m) if !m.is_file() || m.permissions().mode() & 0o111 == 0 => {
            Err(OrchestratorError::NotExecutable {
                tool: tool.to_owned(),
                path: candidate,
            })
        }
        // Absolute, so that the tool's `cwd` cannot change what is executed.
        Ok(_) => Ok(std::path::absolute(&candidate).unwrap_or(candidate)),
    }
}
