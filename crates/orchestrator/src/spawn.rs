//! Host side of spawning: resolving the binary, forking through the shim,
//! signalling and polling the shim through a pidfd.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use libc::c_int;

use crate::error::{OrchestratorError, Result};
use crate::shim::{self, ShimParams};

/// Signal the library sends to a shim to mean "SIGKILL the whole tree now".
pub(crate) fn kill_all_signal() -> c_int {
    libc::SIGRTMIN() + 4
}

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

/// What to run.
pub(crate) struct SpawnSpec<'a> {
    pub tool: &'a str,
    pub program: &'a Path,
    pub args: &'a [String],
    pub cwd: &'a Path,
    pub env: &'a BTreeMap<String, String>,
    pub leftover_grace_ms: u64,
}

/// A spawned tool: the shim (our direct child) and the tool's PID.
pub(crate) struct ToolProcess {
    /// The shim; its exit status is the tool's.
    pub child: tokio::process::Child,
    /// pidfd of the shim: race-free signalling and polling from any thread.
    pub shim: Arc<ShimHandle>,
    /// PID of the real tool (the shim's child).
    pub tool_pid: u32,
}

/// A pidfd on a shim process.
#[derive(Debug)]
pub(crate) struct ShimHandle {
    fd: OwnedFd,
}

impl ShimHandle {
    /// Sends a signal to the shim; false when it is gone.
    pub fn signal(&self, sig: c_int) -> bool {
        // SAFETY: pidfd_send_signal with a valid pidfd and no siginfo.
        let r = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.fd.as_raw_fd(),
                sig,
                std::ptr::null::<u8>(),
                0,
            )
        };
        r == 0
    }

    /// Blocks (plain poll, no runtime needed) until the shim exits or the
    /// timeout passes; true when it has exited. Does not reap it.
    pub fn wait_exit_blocking(&self, timeout: Duration) -> bool {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = timeout.as_millis().min(i32::MAX as u128) as c_int;
        // SAFETY: poll on one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, ms) };
        r > 0
    }
}

/// Spawns `spec` through the reaper shim. Must run on a runtime worker thread
/// (tokio process API, and the shim's parent-death signal follows this thread).
pub(crate) fn spawn_tool(
    spec: &SpawnSpec<'_>,
    stdout: Stdio,
    stderr: Stdio,
) -> Result<ToolProcess> {
    let tool = spec.tool.to_owned();
    let mut fds = [0 as c_int; 2];
    // SAFETY: pipe2 fills two descriptors which we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(OrchestratorError::SpawnFailed {
            tool,
            path: spec.program.to_path_buf(),
            source: std::io::Error::last_os_error(),
        });
    }
    // SAFETY: both descriptors were just created and are owned here only.
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let params = ShimParams {
        pid_pipe: write_end.as_raw_fd(),
        kill_all: kill_all_signal(),
        leftover_grace_ms: spec.leftover_grace_ms,
    };
    let mut cmd = tokio::process::Command::new(spec.program);
    cmd.args(spec.args)
        .current_dir(spec.cwd)
        .envs(spec.env)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr);
    // SAFETY: the hook only makes async-signal-safe calls (see `shim`).
    unsafe {
        cmd.pre_exec(move || shim::pre_exec(params));
    }
    let spawned = cmd.spawn();
    drop(write_end);
    let child = spawned.map_err(|source| match source.kind() {
        // Only "not found" when the file itself is gone (a missing `#!`
        // interpreter also fails with ENOENT).
        std::io::ErrorKind::NotFound if !spec.program.exists() => {
            OrchestratorError::BinaryNotFound {
                tool: tool.clone(),
                path: spec.program.into(),
            }
        }
        std::io::ErrorKind::PermissionDenied => OrchestratorError::NotExecutable {
            tool: tool.clone(),
            path: spec.program.into(),
        },
        _ => OrchestratorError::SpawnFailed {
            tool: tool.clone(),
            path: spec.program.into(),
            source,
        },
    })?;
    let io_err = |source: std::io::Error| OrchestratorError::SpawnFailed {
        tool: tool.clone(),
        path: spec.program.to_path_buf(),
        source,
    };
    let shim_pid = child
        .id()
        .ok_or_else(|| io_err(std::io::Error::other("shim exited before it was tracked")))?;
    // The shim wrote the tool's PID before the tool exec'd, and spawn returned
    // only after that exec, so this read does not block.
    let mut pid_bytes = [0u8; 4];
    std::fs::File::from(read_end)
        .read_exact(&mut pid_bytes)
        .map_err(io_err)?;
    let tool_pid = i32::from_ne_bytes(pid_bytes) as u32;
    // SAFETY: pidfd_open on our own un-reaped child.
    let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, shim_pid as c_int, 0) };
    if raw < 0 {
        return Err(io_err(std::io::Error::last_os_error()));
    }
    // SAFETY: pidfd_open returned a fresh descriptor.
    let fd = unsafe { OwnedFd::from_raw_fd(raw as c_int) };
    Ok(ToolProcess {
        child,
        shim: Arc::new(ShimHandle { fd }),
        tool_pid,
    })
}

/// Converts a std exit status to ours.
pub(crate) fn exit_of(status: std::process::ExitStatus) -> crate::ExitStatus {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => crate::ExitStatus::Code(code),
        (None, Some(sig)) => crate::ExitStatus::Signal(sig),
        (None, None) => crate::ExitStatus::Code(-1),
    }
}

/// Human wording of an exit, used in events and errors.
pub(crate) fn describe_exit(exit: crate::ExitStatus) -> String {
    match exit {
        crate::ExitStatus::Code(c) => format!("exited with code {c}"),
        crate::ExitStatus::Signal(s) => format!("killed by signal {s}"),
    }
}
