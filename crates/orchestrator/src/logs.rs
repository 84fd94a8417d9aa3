//! Output capture: `<log_dir>/<tool>.log` with size rotation to
//! `<tool>.log.1`, an in-memory ring of recent lines, and a broadcast.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::broadcast;

use crate::LogLine;

/// Captured output of one tool (shared by all its runs and re-registrations).
pub(crate) struct ToolLog {
    tool: String,
    path: PathBuf,
    rotated: PathBuf,
    max_bytes: u64,
    capacity: usize,
    state: Mutex<LogState>,
}

struct LogState {
    file: Option<File>,
    size: u64,
    ring: VecDeque<LogLine>,
    write_failed: bool,
}

impl ToolLog {
    pub(crate) fn new(
        tool: &str,
        log_dir: &std::path::Path,
        max_bytes: u64,
        capacity: usize,
    ) -> Self {
        Self {
            tool: tool.to_owned(),
            path: log_dir.join(format!("{tool}.log")),
            rotated: log_dir.join(format!("{tool}.log.1")),
            max_bytes,
            capacity,
            state: Mutex::new(LogState {
                file: None,
                size: 0,
                ring: VecDeque::new(),
                write_failed: false,
            }),
        }
    }

    /// The last `n` lines, oldest first.
    pub(crate) fn recent(&self, n: usize) -> Vec<LogLine> {
        let state = self.state.lock();
        let skip = state.ring.len().saturating_sub(n);
        state.ring.iter().skip(skip).cloned().collect()
    }

    /// Records one line: ring, file (rotating first if it would grow too big).
    pub(crate) fn push(&self, line: LogLine) {
        let mut state = self.state.lock();
        if let Err(e) = self.append_to_file(&mut state, &line.line) {
            // A full disk must not take the tool down; say it once.
            if !state.write_failed {
                tracing::warn!(tool = %self.tool, path = %self.path.display(), error = %e, "cannot write tool log");
            }
            state.write_failed = true;
            state.file = None;
        }
        if self.capacity > 0 {
            if state.ring.len() >= self.capacity {
                state.ring.pop_front();
            }
            state.ring.push_back(line);
        }
    }

    fn append_to_file(&self, state: &mut LogState, line: &str) -> std::io::Result<()> {
        let len = line.len() as u64 + 1;
        if state.file.is_none() {
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            state.size = file.metadata()?.len();
            state.file = Some(file);
        }
        if state.size > 0 && state.size + len > self.max_bytes {
            state.file = None;
            std::fs::rename(&self.path, &self.rotated)?;
            state.file = Some(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)?,
            );
            state.size = 0;
        }
        if let Some(file) = state.file.as_mut() {
            let mut buf = Vec::with_capacity(line.len() + 1);
            buf.extend_from_slice(line.as_bytes());
            buf.push(b'\n');
            file.write_all(&buf)?;
            state.size += len;
        }
        state.write_failed = false;
        Ok(())
    }
}

/// Reads `stream` line by line into `log` and the broadcast until EOF.
pub(crate) async fn capture(
    pipe: std::os::fd::OwnedFd,
    which: &'static str,
    log: Arc<ToolLog>,
    tx: broadcast::Sender<(String, LogLine)>,
) {
    let Ok(stream) = crate::spawn::receiver(pipe) else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        let line = LogLine {
            stream: which,
            line: String::from_utf8_lossy(&buf).into_owned(),
        };
        if tx.receiver_count() > 0 {
            let _ = tx.send((log.tool.clone(), line.clone()));
        }
        log.push(line);
    }
}
