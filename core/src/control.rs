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
use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader as AsyncBufReader};
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

#[derive(Debug, Serialize, Deserialize)]
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
/// PID of the `dxforge up` that holds it.
pub fn lock_up(root: &Path) -> Result<UpLock> {
    let dir = root.join(STATE_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let path = dir.join(LOCK_FILE);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    // SAFETY: flock on a valid, owned descriptor.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let holder = std::fs::read_to_string(&path).unwrap_or_default();
        return Err(Error::Busy {
            what: format!("`dxforge up` for {}", root.display()),
            detail: format!("already running (pid {})", holder.trim()),
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
                let mut line = String::new();
                if AsyncBufReader::new(read)
                    .read_line(&mut line)
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

async fn answer(forge: &DxForge, line: &str) -> (Response, bool) {
    let parsed = serde_json::from_str::<Request>(line)
        .map_err(|e| Error::Usage {
            message: format!("bad control request: {e}"),
        })
        .and_then(|r| pipeline::parse(&r.command));
    let command = match parsed {
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

/// Sends `command` to the `dxforge up` serving the project at `root`.
/// Returns `Ok(None)` when none is running (no socket, or a stale one).
pub fn request(root: &Path, command: &str) -> Result<Option<PipelineOutcome>> {
    let path = socket_path(root);
    if check_len(&path).is_err() {
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
    BufReader::new(&stream)
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
