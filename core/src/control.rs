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

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader as AsyncBufReader};
use tokio::net::UnixListener;
use tokio::sync::Notify;

use crate::forge::STATE_DIR;
use crate::pipeline::{self, Command, PipelineOutcome};
use crate::{DxForge, Error, ErrorKind, Result};

/// Socket file name inside `.dxforge/`.
pub const SOCKET_FILE: &str = "control.sock";
/// Lock file name inside `.dxforge/`.
pub const LOCK_FILE: &str = "up.lock";
/// Longest path a Unix socket address can hold (Linux `sun_path` minus NUL).
const MAX_SOCKET_PATH: usize = 107;
/// Longest request line the server reads (its newline excluded); a command
/// string is a few words, so anything near this is not a real client.
pub const MAX_REQUEST_LINE: usize = 64 * 1024;
/// Longest answer line a client reads (a `run` outcome carries the tool's output).
const MAX_RESPONSE_LINE: u64 = 64 * 1024 * 1024;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    command: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Response {
    ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    outcome: Option<PipelineOutcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message: Option<String>,
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

/// A running control server; dropping it removes the socket file.
#[derive(Debug)]
pub struct ControlServer {
    path: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Serves the control socket for `forge`. `stop` without tool names also
/// notifies `shutdown`, so the `up` that serves it can exit. Call with the
/// [`UpLock`] held (a stale socket file is replaced).
pub fn serve(forge: DxForge, shutdown: Arc<Notify>) -> Result<ControlServer> {
    let path = socket_path(forge.root());
    check_len(&path)?;
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(&path, e)),
    }
    let _enter = crate::runtime::runtime()?.enter();
    let listener = UnixListener::bind(&path).map_err(|e| Error::io(&path, e))?;
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let forge = forge.clone();
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut line = Vec::new();
                // One byte past the bound tells an overlong line from a full one.
                if AsyncBufReader::new(read.take(MAX_REQUEST_LINE as u64 + 2))
                    .read_until(b'\n', &mut line)
                    .await
                    .is_err()
                {
                    return;
                }
                let (response, stop_all) = answer(&forge, &line).await;
                let mut bytes = serde_json::to_vec(&response).unwrap_or_default();
                bytes.push(b'\n');
                let _ = write.write_all(&bytes).await;
                let _ = write.shutdown().await;
                if stop_all {
                    shutdown.notify_one();
                }
            });
        }
    });
    Ok(ControlServer { path, task })
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

async fn answer(forge: &DxForge, line: &[u8]) -> (Response, bool) {
    let command = match parse_request_line(line) {
        Ok(c) => c,
        Err(e) => return (error_response(&e), false),
    };
    let stop_all = matches!(&command, Command::Stop { tools } if tools.is_empty());
    match forge.run_command(&command).await {
        Ok(outcome) => (
            Response {
                ok: true,
                outcome: Some(outcome),
                code: None,
                message: None,
            },
            stop_all,
        ),
        Err(e) => (error_response(&e), false),
    }
}

fn error_response(e: &Error) -> Response {
    Response {
        ok: false,
        outcome: None,
        code: Some(e.code().to_owned()),
        message: Some(e.to_string()),
    }
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

/// Sends `command` to the `dxforge up` serving the project at `root`.
/// Returns `Ok(None)` when none is running (no socket, or a stale one).
pub fn request(root: &Path, command: &str) -> Result<Option<PipelineOutcome>> {
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
    let control = |message: String| Error::Control {
        path: path.clone(),
        message,
    };
    // `run` may take as long as the tool; the others answer at once.
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
    let mut line = String::new();
    BufReader::new((&stream).take(MAX_RESPONSE_LINE))
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
        Response { code, message, .. } => Err(Error::Relayed {
            kind: code
                .as_deref()
                .and_then(ErrorKind::from_code)
                .unwrap_or(ErrorKind::Other),
            message: message.unwrap_or_default(),
        }),
    }
}
