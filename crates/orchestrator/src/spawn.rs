//! Host side of spawning: resolving the binary, cloning the shim, signalling,
//! polling and reaping the shim through its pidfd.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use libc::c_int;
use tokio::io::unix::AsyncFd;

use crate::armed::{Armed, ArmedParts, Request, ShimMemory, Spawner};
use crate::error::{OrchestratorError, Result};
use crate::shim::{NO_STATUS, STEP_CHDIR, STEP_EXEC, STEP_NONE, ShimControl};

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
    pub child: ShimChild,
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

impl AsRawFd for ShimHandle {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl ShimHandle {
    pub(crate) fn from_fd(fd: OwnedFd) -> Self {
        Self { fd }
    }

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

/// A shim not reaped yet, with the memory it runs on.
pub(crate) struct ShimReaper {
    handle: Arc<ShimHandle>,
    /// `None` once reaped (the mapping then goes back for reuse).
    memory: Option<ShimMemory>,
}

impl ShimReaper {
    pub(crate) fn new(handle: Arc<ShimHandle>, memory: ShimMemory) -> Self {
        Self {
            handle,
            memory: Some(memory),
        }
    }

    /// Reaps the shim if it has exited; its status is the tool's (from the
    /// control block), or the shim's own when it was killed first. `None`
    /// while it runs (and once it has been reaped).
    pub(crate) fn try_reap(&mut self) -> std::io::Result<Option<std::process::ExitStatus>> {
        let Some(memory) = &self.memory else {
            return Ok(None);
        };
        // SAFETY: siginfo_t is plain old data; waitid on our own child.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let r = unsafe {
            libc::waitid(
                libc::P_PIDFD,
                self.handle.as_raw_fd() as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::__WALL,
            )
        };
        if r != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: waitid filled `info` (si_pid stays 0 while it runs).
        let (pid, code, status) = unsafe { (info.si_pid(), info.si_code, info.si_status()) };
        if pid == 0 {
            return Ok(None);
        }
        let raw = match memory.control().tool_status.load(Ordering::Acquire) {
            NO_STATUS if code == libc::CLD_EXITED => (status & 0xff) << 8,
            NO_STATUS => status & 0x7f,
            tool => tool,
        };
        self.memory = None;
        Ok(Some(std::process::ExitStatus::from_raw(raw)))
    }

    /// Waits (`ready` is the shim's registered pidfd) and reaps. Cancel-safe.
    async fn wait(
        &mut self,
        ready: &AsyncFd<Arc<ShimHandle>>,
    ) -> std::io::Result<std::process::ExitStatus> {
        loop {
            if self.memory.is_none() {
                return Err(std::io::Error::other("the shim was reaped already"));
            }
            if let Some(status) = self.try_reap()? {
                return Ok(status);
            }
            // Cleared before the next look, so an exit in between is seen.
            ready.readable().await?.clear_ready();
        }
    }
}

impl Drop for ShimReaper {
    /// Never unmaps memory a running shim may use: leaked instead.
    fn drop(&mut self) {
        if self.memory.is_some() && !matches!(self.try_reap(), Ok(Some(_))) {
            std::mem::forget(self.memory.take());
        }
    }
}

/// The host's side of a shim: waiting for it and the tool's output pipes.
/// Nothing is registered with the runtime until it is waited on or read, so
/// making one costs the spawning thread nothing.
pub(crate) struct ShimChild {
    reaper: ShimReaper,
    /// The shim's pidfd, registered with the runtime on the first `wait`.
    ready: Option<AsyncFd<Arc<ShimHandle>>>,
    status: Option<std::process::ExitStatus>,
    runtime: tokio::runtime::Handle,
    /// Read ends of the tool's stdout and stderr (see [`receiver`]).
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
}

/// A tool's output pipe as an async reader; call on a runtime thread.
pub(crate) fn receiver(fd: OwnedFd) -> std::io::Result<tokio::net::unix::pipe::Receiver> {
    tokio::net::unix::pipe::Receiver::from_owned_fd(fd)
}

impl ShimChild {
    /// The exit status if the shim has exited (reaping it), else `None`.
    pub fn try_wait(&mut self) -> std::io::Result<Option<std::process::ExitStatus>> {
        if self.status.is_none() {
            self.status = self.reaper.try_reap()?;
        }
        Ok(self.status)
    }

    /// Waits for the shim to exit and reaps it. Cancel-safe.
    pub async fn wait(&mut self) -> std::io::Result<std::process::ExitStatus> {
        if let Some(status) = self.status {
            return Ok(status);
        }
        let ready = match &mut self.ready {
            Some(ready) => ready,
            slot => {
                let _enter = self.runtime.enter();
                slot.insert(watch(self.reaper.handle.clone())?)
            }
        };
        let status = self.reaper.wait(ready).await?;
        self.status = Some(status);
        Ok(status)
    }
}

impl Drop for ShimChild {
    fn drop(&mut self) {
        if matches!(self.try_wait(), Ok(Some(_))) {
            return;
        }
        // Still running: reap it in the background (if the runtime is gone,
        // the reaper's drop leaks the memory instead of unmapping it).
        let mut reaper = ShimReaper {
            handle: self.reaper.handle.clone(),
            memory: self.reaper.memory.take(),
        };
        self.runtime.spawn(async move {
            if let Ok(ready) = watch(reaper.handle.clone()) {
                let _ = reaper.wait(&ready).await;
            }
        });
    }
}

/// How long a wait for a tool's exec spins before it sleeps.
const EXEC_SPIN: Duration = Duration::from_millis(1);

/// How often a wait for a tool's exec checks on the shim.
const SHIM_CHECK: Duration = Duration::from_millis(10);

/// Longest wait for a tool's exec (an exec can block on a slow file system;
/// past this the start is given up and the shim killed).
const EXEC_LIMIT: Duration = Duration::from_secs(30);

/// Waits until the tool's exec gate opens (see [`ShimControl::exec_gate`]),
/// up to [`EXEC_LIMIT`]: spinning for up to [`EXEC_SPIN`] (yielding the CPU
/// each round), then sleeping on the gate's futex. Spinning keeps the
/// caller's CPU its own while the tool execs elsewhere, and sees the gate
/// open without a wake-up. Looks every [`SHIM_CHECK`] whether the shim died
/// before it could make the tool (then nobody would open the gate).
fn wait_for_exec(control: &ShimControl, shim: &ShimHandle) -> std::io::Result<()> {
    let start = std::time::Instant::now();
    while control.exec_gate.load(Ordering::Acquire) != 0 {
        let waited = start.elapsed();
        if waited < EXEC_SPIN {
            std::thread::yield_now();
            continue;
        }
        if waited >= EXEC_LIMIT {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("the tool did not exec within {} s", EXEC_LIMIT.as_secs()),
            ));
        }
        if waited >= SHIM_CHECK && shim.wait_exit_blocking(Duration::ZERO) {
            return Err(std::io::Error::other(
                "the shim ended before its tool's exec",
            ));
        }
        let timeout = libc::timespec {
            tv_sec: 0,
            tv_nsec: SHIM_CHECK.as_nanos() as libc::c_long,
        };
        // SAFETY: FUTEX_WAIT on a word in mapped memory; not private, to
        // match the kernel's wake on `CLONE_CHILD_CLEARTID`. Returns at once
        // if the gate opened meanwhile; EINTR and spurious wakes loop.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                control.exec_gate.as_ptr(),
                libc::FUTEX_WAIT,
                1u32,
                &timeout,
            );
        }
    }
    Ok(())
}

/// Registers a shim's pidfd with the runtime (readable once it exits).
fn watch(handle: Arc<ShimHandle>) -> std::io::Result<AsyncFd<Arc<ShimHandle>>> {
    // SAFETY: the `Arc` keeps the pidfd open and unchanged for as long as the
    // `AsyncFd` holds it.
    unsafe { AsyncFd::register_with_interest(handle, tokio::io::Interest::READABLE) }
        .map_err(|e| e.into_parts().1)
}

fn cstring(tool: &str, what: &str, bytes: &[u8]) -> Result<CString> {
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
    static environ: *const *const libc::c_char;
}

/// The tool's environment: the host's, with the definition's `env` on top.
fn environment(spec: &SpawnSpec<'_>) -> Result<Vec<CString>> {
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

fn null_terminated(strings: &[CString]) -> Vec<*const libc::c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
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
    if let Some(mask) = restore_mask {
        // SAFETY: sched_setaffinity with a set read from this very process;
        // a tool that is gone makes it fail harmlessly.
        unsafe {
            libc::sched_setaffinity(
                control.tool_pid.load(Ordering::Acquire),
                std::mem::size_of_val(&mask),
                &mask,
            )
        };
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
