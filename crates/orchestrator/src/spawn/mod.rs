//! Host side of spawning: preparing the request, taking or making a shim
//! pair (see `armed`), waiting at the exec gate and turning failures into
//! errors. Split by concern:
//!
//! * `resolve`: signal names and the binary's path;
//! * `request`: argv and the environment as C strings;
//! * `gate`: the wait for the tool's `exec`;
//! * `reap`: the shim's pidfd, reaping it, the tool's output pipes.
#![deny(
    clippy::undocumented_unsafe_blocks,
    clippy::multiple_unsafe_ops_per_block
)]

mod gate;
mod reap;
mod request;
mod resolve;

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use libc::c_int;

use crate::armed::{Armed, ArmedParts, Request, Spawner};
use crate::error::{OrchestratorError, Result};
use crate::shim::{STEP_CHDIR, STEP_EXEC, STEP_NONE};
use gate::wait_for_exec;
use request::{cstring, environ, environment, null_terminated};

pub(crate) use reap::{ShimChild, ShimHandle, ShimReaper, receiver};
pub(crate) use resolve::{parse_signal, resolve_binary};

/// Signal the library sends to a shim to mean "SIGKILL the whole tree now".
pub(crate) fn kill_all_signal() -> c_int {
    libc::SIGRTMIN() + 4
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
    pub child: ShimChild,
    /// pidfd of the shim: race-free signalling and polling from any thread.
    pub shim: Arc<ShimHandle>,
    /// PID of the real tool (the shim's child).
    pub tool_pid: u32,
}

/// Spawns `spec` through a reaper shim (see `shim`), with stdin from
/// `/dev/null` and stdout/stderr piped. Returns once the tool has exec'd.
/// Uses `spawner`'s parked pair when it has one (see `armed`); the caller
/// has it make the next one ([`Spawner::refill`]) from a runtime thread.
/// Any thread may call it; `runtime` drives the waits.
pub(crate) fn spawn_tool(
    spec: &SpawnSpec<'_>,
    runtime: &tokio::runtime::Handle,
    spawner: &Arc<Spawner>,
) -> Result<ToolProcess> {
    // ETXTBSY: a binary just written is briefly still open for writing in a
    // process another thread was creating at that moment (any fork or clone
    // copies the descriptor table). A few short retries ride that out.
    let mut delay = Duration::from_millis(5);
    let mut result = spawn_once(spec, runtime, spawner);
    for _ in 0..4 {
        match &result {
            Err(OrchestratorError::SpawnFailed { source, .. })
                if source.raw_os_error() == Some(libc::ETXTBSY) =>
            {
                std::thread::sleep(delay);
                delay *= 2;
                result = spawn_once(spec, runtime, spawner);
            }
            _ => break,
        }
    }
    result
}

fn spawn_once(
    spec: &SpawnSpec<'_>,
    runtime: &tokio::runtime::Handle,
    spawner: &Spawner,
) -> Result<ToolProcess> {
    let tool = spec.tool;
    let io_err = |path: &Path, source: std::io::Error| OrchestratorError::SpawnFailed {
        tool: tool.to_owned(),
        path: path.to_path_buf(),
        source,
    };
    let path = cstring(tool, "the binary path", spec.program.as_os_str().as_bytes())?;
    let cwd = cstring(
        tool,
        "the working directory",
        spec.cwd.as_os_str().as_bytes(),
    )?;
    let mut argv = vec![path.clone()];
    for arg in spec.args {
        argv.push(cstring(tool, "an argument", arg.as_bytes())?);
    }
    // With nothing to add, the host's environment is passed as it is, like
    // `std` does (which reads `environ` too; changing the environment while
    // other threads run is `unsafe` in Rust, and racy in C, for this reason).
    let env = if spec.env.is_empty() {
        None
    } else {
        Some(environment(spec)?)
    };
    let argv_ptrs = null_terminated(&argv);
    let env_ptrs = env.as_deref().map(null_terminated);
    let envp = match &env_ptrs {
        Some(ptrs) => ptrs.as_ptr(),
        // SAFETY: reading the pointer; see above.
        None => unsafe { environ },
    };
    // Everything it points at lives until the end of this function, which
    // is after the tool has exec'd or failed (the EOF below).
    let request = Request {
        path: path.as_ptr(),
        argv: argv_ptrs.as_ptr(),
        envp,
        cwd: cwd.as_ptr(),
        leftover_grace_ms: spec.leftover_grace_ms,
    };
    let program = spec.program;
    let armed = match spawner.take() {
        Some(mut armed) => {
            armed.fire(&request);
            armed
        }
        None => Armed::new(Some(&request)).map_err(|e| io_err(program, e))?,
    };
    let Some(ArmedParts {
        memory,
        handle,
        stdout,
        stderr,
        restore_mask,
    }) = armed.into_parts()
    else {
        return Err(io_err(program, std::io::Error::other("no shim pair")));
    };
    // The gate opens once the tool's exec is past the point of no return
    // (or the tool has exited); from then on nothing reads the request.
    let control = memory.control();
    let got = wait_for_exec(control, &handle);
    if let Some(mask) = restore_mask
        && let Some(pid) = rustix::process::Pid::from_raw(control.tool_pid.load(Ordering::Acquire))
    {
        // A tool that is gone makes it fail harmlessly.
        let _ = rustix::thread::sched_setaffinity(Some(pid), &mask);
    }
    if got.is_ok() && control.exec_tried.load(Ordering::Acquire) == 1 {
        memory.note_cgroup_outcome();
    }
    let (tool_pid, failed_step, failed_errno, tried) = (
        control.tool_pid.load(Ordering::Acquire),
        control.failed_step.load(Ordering::Acquire),
        control.failed_errno.load(Ordering::Acquire),
        control.exec_tried.load(Ordering::Acquire),
    );
    let mut child = ShimChild {
        reaper: ShimReaper::new(handle.clone(), memory),
        ready: None,
        status: None,
        runtime: runtime.clone(),
        stdout: None,
        stderr: None,
    };
    if let Err(e) = got {
        handle.signal(libc::SIGKILL);
        return Err(io_err(program, e));
    }
    if failed_step != STEP_NONE || tool_pid <= 0 || tried == 0 {
        // The tool is gone already; the shim follows at once.
        handle.wait_exit_blocking(Duration::from_secs(5));
        let _ = child.try_wait();
        let source = if failed_step == STEP_NONE {
            std::io::Error::other("the tool process ended before its exec")
        } else {
            std::io::Error::from_raw_os_error(failed_errno)
        };
        return Err(match failed_step {
            STEP_CHDIR => io_err(spec.cwd, source),
            STEP_EXEC if source.kind() == std::io::ErrorKind::NotFound && !program.exists() => {
                OrchestratorError::BinaryNotFound {
                    tool: tool.to_owned(),
                    path: program.into(),
                }
            }
            STEP_EXEC if source.kind() == std::io::ErrorKind::PermissionDenied => {
                OrchestratorError::NotExecutable {
                    tool: tool.to_owned(),
                    path: program.into(),
                }
            }
            _ => io_err(program, source),
        });
    }
    child.stdout = Some(stdout);
    child.stderr = Some(stderr);
    Ok(ToolProcess {
        child,
        shim: handle,
        tool_pid: tool_pid as u32,
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
