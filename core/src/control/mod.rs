//! The control socket of a running `dxforge up`.
//!
//! `dxforge up` holds `.dxforge/up.lock` (so a second `up` on the same project
//! fails with [`Error::Busy`]) and serves `.dxforge/control.sock`. `status`,
//! `stop`, `logs` and `run` from another terminal send their command string
//! there and the supervisor runs it on its own `DxForge`, so they see and
//! control the tools it started.
//!
//! Protocol: one request per connection, one JSON line each way.
//! Request `{"command": "status"}`; response `{"ok": true, "outcome": {...}}`
//! or `{"ok": false, "code": "NOT_FOUND", "message": "..."}`.
//! The socket is created with the owner's umask inside the project's
//! `.dxforge/`; anyone who can write there can control the tools.
//!
//! `logs --follow` is the one streaming request: its answer is a sequence
//! of frames (see [`follow`]).
//!
//! A client keeps its end open until it has the answer: a `run` whose
//! client goes away (Ctrl-C, a closed or half-closed socket) is cancelled,
//! which kills the run's process tree. Other commands finish regardless.
//!
//! Bounds (see [`server`]): a request line is at most [`MAX_REQUEST_LINE`]
//! bytes, an answer at most [`MAX_RESPONSE_LINE`]; a connection must send
//! its request within [`IDLE_TIMEOUT`]; at most [`max_connections`] are
//! open at once, and when all are taken a new one takes the place of the
//! oldest still waiting for its request (or is closed at once when every one
//! is running a command). Accept errors (out of descriptors) back off.

mod follow;
mod server;

pub use follow::{FollowEvent, follow};
pub use server::{ControlServer, IDLE_TIMEOUT, max_connections, raise_descriptor_limit, serve};

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::forge::STATE_DIR;
use crate::pipeline::{self, Command, PipelineOutcome};
use crate::{Error, ErrorKind, Result};

/// Socket file name inside `.dxforge/`.
pub const SOCKET_FILE: &str = "control.sock";
/// Lock file name inside `.dxforge/`.
pub const LOCK_FILE: &str = "up.lock";
/// Longest path a Unix socket address can hold (Linux `sun_path` minus NUL).
const MAX_SOCKET_PATH: usize = 107;
/// Longest request line the server reads (its newline excluded); a command
/// string is a few words, so anything near this is not a real client.
pub const MAX_REQUEST_LINE: usize = 64 * 1024;
/// Longest answer line the server sends and a client reads (a `run`
/// outcome carries the tool's output).
pub const MAX_RESPONSE_LINE: usize = 64 * 1024 * 1024;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    command: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Response {
    ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    outcome: Option<PipelineOutcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    /// A `logs --follow` frame: one line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    entry: Option<crate::pipeline::LogEntry>,
    /// A `logs --follow` frame: lines not shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dropped: Option<u64>,
    /// The last `logs --follow` frame, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    end: Option<String>,
}

impl Response {
    fn ok() -> Self {
        Response {
            ok: true,
            ..Response::default()
        }
    }
}

/// Path of the control socket of the project at `root`.
pub fn socket_path(root: &Path) -> PathBuf {
    root.join(STATE_DIR).join(SOCKET_FILE)
}

/// The exclusive `up` lock of a project; released when dropped (or when the
/// process dies: it is an `flock`).
#[derive(Debug)]
pub struct UpLock {
    _file: File,
}

/// Takes the project's `up` lock, or fails with [`Error::Busy`] naming the
/// PID of the `dxforge up` that holds it. Neither `.dxforge` nor the lock
/// file is followed through a link: a planted `.dxforge/up.lock -> ~/.bashrc`
/// must not be truncated.
pub fn lock_up(root: &Path) -> Result<UpLock> {
    let project = dxforge_fs::Root::open(root, dxforge_fs::Policy::Project)?;
    let state = project.subroot(STATE_DIR, dxforge_fs::Policy::Plain, true)?;
    let path = state.join(LOCK_FILE);
    let dir = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(state.path())
        .map_err(|e| Error::io(state.path(), e))?;
    let name = c"up.lock";
    // SAFETY: openat on a directory descriptor we own and a NUL-terminated name;
    // O_NOFOLLOW refuses a link, O_NONBLOCK keeps a planted FIFO from blocking.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::O_RDWR | libc::O_CREAT | libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK,
            0o644 as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err(Error::io(&path, std::io::Error::last_os_error()));
    }
    // SAFETY: `fd` was just opened and is owned by nothing else.
    let mut file = unsafe { File::from_raw_fd(fd) };
    let meta = file.metadata().map_err(|e| Error::io(&path, e))?;
    if !meta.is_file() {
        return Err(Error::io(
            &path,
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"),
        ));
    }
    // SAFETY: flock on a valid, owned descriptor.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let mut holder = Vec::new();
        let _ = (&file).take(32).read_to_end(&mut holder);
        let holder: String = String::from_utf8_lossy(&holder)
            .trim()
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        return Err(Error::Busy {
            what: format!("`dxforge up` for {}", root.display()),
            detail: format!("already running (pid {holder})"),
        });
    }
    file.set_len(0).map_err(|e| Error::io(&path, e))?;
    write!(file, "{}", std::process::id()).map_err(|e| Error::io(&path, e))?;
    Ok(UpLock { _file: file })
}

/// Validates one control request line (`{"command": "status"}`, newline
/// optional) and parses its command string. Lines longer than
/// [`MAX_REQUEST_LINE`], invalid UTF-8, JSON other than an object with exactly
/// one string `command`, and malformed commands are [`Error::Usage`]. Never
/// panics, whatever the bytes; the server runs every request through it.
pub fn parse_request_line(line: &[u8]) -> Result<Command> {
    let bad = |message: String| Error::Usage {
        message: format!("bad control request: {message}"),
    };
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.len() > MAX_REQUEST_LINE {
        return Err(bad(format!(
            "longer than {MAX_REQUEST_LINE} bytes (or no newline)"
        )));
    }
    let text = std::str::from_utf8(line).map_err(|e| bad(format!("not UTF-8: {e}")))?;
    let request: Request = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    pipeline::parse(&request.command)
}

fn check_len(path: &Path) -> Result<()> {
    if path.as_os_str().len() > MAX_SOCKET_PATH {
        return Err(Error::Control {
            path: path.to_owned(),
            message: format!(
                "path longer than {MAX_SOCKET_PATH} bytes; move the project to a shorter path"
            ),
        });
    }
    Ok(())
}

/// Whether `path` can be a socket served by a `dxforge up` of this project:
/// `.dxforge` is a directory and the socket a socket, neither a link (a
/// planted link could send the command to, and take answers from, any socket).
fn served_here(root: &Path, path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    let dir_ok = std::fs::symlink_metadata(root.join(STATE_DIR)).is_ok_and(|m| m.is_dir());
    let sock_ok = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket());
    dir_ok && sock_ok
}

/// Connects to the `dxforge up` serving the project at `root` and sends
/// `command`. `Ok(None)` when none is running (no socket, or a stale one).
/// The closure builds this socket's `Error::Control` from a message.
pub(crate) fn send_request(
    root: &Path,
    command: &str,
) -> Result<Option<(UnixStream, impl Fn(String) -> Error)>> {
    let path = socket_path(root);
    if check_len(&path).is_err() || !served_here(root, &path) {
        return Ok(None);
    }
    let mut stream = match UnixStream::connect(&path) {
        Ok(s) => s,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(Error::io(&path, e)),
    };
    let control = move |message: String| Error::Control {
        path: path.clone(),
        message,
    };
    // Only the request is bounded in time: `run` and `logs --follow` may
    // take as long as the tool; the others answer at once.
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| control(e.to_string()))?;
    let mut bytes = serde_json::to_vec(&Request {
        command: command.to_owned(),
    })
    .map_err(|e| control(e.to_string()))?;
    bytes.push(b'\n');
    stream
        .write_all(&bytes)
        .map_err(|e| control(format!("send failed: {e}")))?;
    Ok(Some((stream, control)))
}

/// The error a refusal from `up` relays, in the kind `up` gave it.
pub(crate) fn relayed(code: Option<&str>, message: Option<String>) -> Error {
    Error::Relayed {
        kind: code
            .and_then(ErrorKind::from_code)
            .unwrap_or(ErrorKind::Other),
        message: message.unwrap_or_default(),
    }
}

/// Sends `command` to the `dxforge up` serving the project at `root`.
/// Returns `Ok(None)` when none is running (no socket, or a stale one).
pub fn request(root: &Path, command: &str) -> Result<Option<PipelineOutcome>> {
    let Some((stream, control)) = send_request(root, command)? else {
        return Ok(None);
    };
    let mut line = String::new();
    BufReader::new((&stream).take(MAX_RESPONSE_LINE as u64 + 1))
        .read_line(&mut line)
        .map_err(|e| control(format!("no answer: {e}")))?;
    let response: Response = serde_json::from_str(&line)
        .map_err(|e| control(format!("malformed answer ({e}): {line}")))?;
    match response {
        Response {
            ok: true,
            outcome: Some(outcome),
            ..
        } => Ok(Some(outcome)),
        Response { code, message, .. } => Err(relayed(code.as_deref(), message)),
    }
}
