//! The serving side of the control socket, bounded in connections, time,
//! frame size and accept errors, so that no client (or crowd of them) can
//! take the supervisor's descriptors or threads.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Notify;

use super::{
    MAX_REQUEST_LINE, MAX_RESPONSE_LINE, Response, check_len, parse_request_line, socket_path,
};
use crate::pipeline::Command;
use crate::{DxForge, Error, Result};

/// Time a connection has to send its request, and to take its answer.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Accept errors (out of descriptors) are retried after this, doubling…
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
/// …up to this.
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_millis(500);

/// Connections served at once under a descriptor limit of `nofile`: an
/// eighth of it (the rest is for tools), between 16 and 1,024.
pub fn max_connections(nofile: u64) -> usize {
    (nofile / 8).clamp(16, 1024) as usize
}

/// The descriptor limit (`RLIMIT_NOFILE`) as (soft, hard); 1,024 for both
/// when it cannot be read.
fn nofile_limits() -> (u64, u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return (1024, 1024);
    }
    (lim.rlim_cur, lim.rlim_max)
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (a supervisor holds
/// a few descriptors per tool, and 1,024 is a common soft limit) and returns
/// the soft limit in force. `dxforge up` calls it before [`serve`], whose
/// connection bound follows the limit in force.
pub fn raise_descriptor_limit() -> u64 {
    let (soft, hard) = nofile_limits();
    if soft >= hard {
        return soft;
    }
    let raised = libc::rlimit {
        rlim_cur: hard,
        rlim_max: hard,
    };
    // SAFETY: setrlimit reads the struct we own.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
        hard
    } else {
        tracing::warn!(soft, hard, "cannot raise the descriptor limit");
        soft
    }
}

/// A running control server; dropping it removes the socket file.
#[derive(Debug)]
pub struct ControlServer {
    path: PathBuf,
    task: tokio::task::JoinHandle<()>,
    activity: Arc<Notify>,
}

impl ControlServer {
    /// Notified after each answered request (a permit is kept when nobody
    /// waits), so that work meant for quiet moments, such as `up` giving
    /// back memory, can wait until requests stop coming.
    pub fn activity(&self) -> Arc<Notify> {
        self.activity.clone()
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Serves the control socket for `forge`. `stop` without tool names also
/// notifies `shutdown`, so the `up` that serves it can exit. Call with the
/// [`UpLock`](super::UpLock) held (a stale socket file is replaced), after
/// raising the descriptor limit: the connection bound is taken from it.
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
    let slots = Arc::new(Slots::new(max_connections(nofile_limits().0)));
    let activity = Arc::new(Notify::new());
    let task = tokio::spawn(accept_loop(
        listener,
        forge,
        shutdown,
        slots,
        path.clone(),
        activity.clone(),
    ));
    Ok(ControlServer {
        path,
        task,
        activity,
    })
}

async fn accept_loop(
    listener: UnixListener,
    forge: DxForge,
    shutdown: Arc<Notify>,
    slots: Arc<Slots>,
    path: PathBuf,
    activity: Arc<Notify>,
) {
    let mut backoff = ACCEPT_BACKOFF_MIN;
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => {
                backoff = ACCEPT_BACKOFF_MIN;
                stream
            }
            Err(e) => {
                // EMFILE/ENFILE stay until a descriptor is freed: free one
                // (the oldest idle connection) and wait instead of spinning.
                if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) {
                    slots.evict_oldest_idle();
                }
                tracing::debug!(path = %path.display(), error = %e, "control socket accept failed; backing off");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                continue;
            }
        };
        // Over the bound with every connection busy: closed at once.
        let Some(slot) = Slots::take(&slots) else {
            drop(stream);
            continue;
        };
        let forge = forge.clone();
        let shutdown = shutdown.clone();
        let activity = activity.clone();
        tokio::spawn(async move {
            let answered = serve_one(stream, &forge, &slot).await;
            if answered == Some(true) {
                shutdown.notify_one();
            }
            if answered.is_some() {
                activity.notify_one();
            }
        });
    }
}

/// Serves one connection; returns `Some(stop_all)` when it was answered.
async fn serve_one(stream: UnixStream, forge: &DxForge, slot: &Slot) -> Option<bool> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut line = Vec::new();
    // One byte past the bound tells an overlong line from a full one.
    let mut bounded = (&mut reader).take(MAX_REQUEST_LINE as u64 + 2);
    let request = bounded.read_until(b'\n', &mut line);
    tokio::select! {
        r = tokio::time::timeout(IDLE_TIMEOUT, request) => match r {
            Ok(Ok(_)) => {}
            Ok(Err(_)) | Err(_) => return None,
        },
        () = slot.evicted.notified() => return None,
    }
    drop(bounded);
    if !slot.set_busy() {
        return None; // evicted just as its request came in
    }
    let command = match parse_request_line(&line) {
        Ok(c) => c,
        Err(e) => {
            send(&mut write, &error_response(&e)).await;
            let _ = write.shutdown().await;
            drain(&mut reader).await;
            return Some(false);
        }
    };
    if let Command::Logs {
        tool,
        lines,
        follow: true,
        since,
    } = &command
    {
        super::follow::serve(
            forge,
            tool.as_deref(),
            *lines,
            since.as_deref(),
            &mut write,
            &mut reader,
        )
        .await;
        return Some(false);
    }
    let stop_all = matches!(&command, Command::Stop { tools } if tools.is_empty());
    let answer = async {
        match forge.run_command(&command).await {
            Ok(outcome) => Response {
                outcome: Some(outcome),
                ..Response::ok()
            },
            Err(e) => error_response(&e),
        }
    };
    let response = if matches!(command, Command::Run { .. }) {
        // A run lasts as long as its tool: when the client goes away, the
        // run is dropped, which kills its process tree.
        tokio::select! {
            r = answer => r,
            () = client_gone(&mut reader) => return None,
        }
    } else {
        answer.await
    };
    send(&mut write, &response).await;
    Some(stop_all && response.ok)
}

/// Resolves when the client closes (or half-closes) its end; bytes it sends
/// meanwhile are read and ignored.
pub(super) async fn client_gone<R: AsyncRead + Unpin>(reader: &mut R) {
    let mut sink = [0u8; 512];
    loop {
        match reader.read(&mut sink).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// Writes one answer line, bounded in size and in time (a client that does
/// not read its answer does not hold the connection).
/// Reads and discards what a refused client still sends, up to a bound in
/// bytes and time. Closing a socket with unread input resets it, and the
/// client could lose the answer it was sent; a client still writing would
/// get EPIPE instead of reading why it was refused.
async fn drain(reader: &mut (impl AsyncRead + Unpin)) {
    const DRAIN_LIMIT: u64 = 16 * MAX_REQUEST_LINE as u64;
    let mut sink = tokio::io::sink();
    let mut bounded = reader.take(DRAIN_LIMIT);
    let _ = tokio::time::timeout(
        Duration::from_secs(1),
        tokio::io::copy(&mut bounded, &mut sink),
    )
    .await;
}

async fn send(write: &mut tokio::net::unix::OwnedWriteHalf, response: &Response) {
    let mut bytes = serde_json::to_vec(response).unwrap_or_default();
    if bytes.len() >= MAX_RESPONSE_LINE {
        let too_big = Error::Control {
            path: PathBuf::from(super::SOCKET_FILE),
            message: format!(
                "the answer ({} bytes) is larger than the control socket's {MAX_RESPONSE_LINE}-byte limit; run the command without `dxforge up`, or redirect the tool's output",
                bytes.len()
            ),
        };
        bytes = serde_json::to_vec(&error_response(&too_big)).unwrap_or_default();
    }
    bytes.push(b'\n');
    let _ = tokio::time::timeout(IDLE_TIMEOUT, async {
        write.write_all(&bytes).await?;
        write.shutdown().await
    })
    .await;
}

pub(super) fn error_response(e: &Error) -> Response {
    Response {
        ok: false,
        code: Some(e.code().to_owned()),
        message: Some(e.to_string()),
        ..Response::default()
    }
}

/// The open connections: how many, and which still wait for their request
/// (those may be evicted to make room).
struct Slots {
    max: usize,
    state: Mutex<SlotState>,
}

#[derive(Default)]
struct SlotState {
    open: usize,
    next: u64,
    /// Waiting for their request, oldest first.
    idle: BTreeMap<u64, Arc<Notify>>,
}

/// One connection's place; released when dropped.
struct Slot {
    slots: Arc<Slots>,
    id: u64,
    evicted: Arc<Notify>,
}

impl Slots {
    fn new(max: usize) -> Self {
        Self {
            max,
            state: Mutex::new(SlotState::default()),
        }
    }

    /// A place for a new connection: a free one, or the one of the oldest
    /// idle connection (told to close). `None` when every place is busy.
    fn take(this: &Arc<Self>) -> Option<Slot> {
        let mut st = this.state.lock();
        if st.open >= this.max {
            let (_, oldest) = st.idle.pop_first()?;
            oldest.notify_one();
        }
        st.open += 1;
        st.next += 1;
        let id = st.next;
        let evicted = Arc::new(Notify::new());
        st.idle.insert(id, evicted.clone());
        Some(Slot {
            slots: this.clone(),
            id,
            evicted,
        })
    }

    fn evict_oldest_idle(&self) {
        if let Some((_, oldest)) = self.state.lock().idle.pop_first() {
            oldest.notify_one();
        }
    }
}

impl Slot {
    /// Marks the connection as running a command (no longer evictable);
    /// `false` when it was evicted already.
    fn set_busy(&self) -> bool {
        self.slots.state.lock().idle.remove(&self.id).is_some()
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut st = self.slots.state.lock();
        st.idle.remove(&self.id);
        st.open = st.open.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_house_evicts_the_oldest_idle_connection_and_refuses_when_all_are_busy() {
        let slots = Arc::new(Slots::new(2));
        let a = Slots::take(&slots).unwrap();
        let b = Slots::take(&slots).unwrap();
        // `a` is the oldest idle: the third connection takes its place.
        let c = Slots::take(&slots).unwrap();
        assert!(!a.set_busy(), "a was evicted");
        assert!(b.set_busy() && c.set_busy());
        drop(a);
        // Two busy connections, none idle: refused.
        assert!(Slots::take(&slots).is_none());
        drop(b);
        assert!(Slots::take(&slots).is_some());
    }
}
