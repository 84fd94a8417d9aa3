//! Output capture: `<log_dir>/<tool>.log` with size rotation to
//! `<tool>.log.1`, an in-memory ring of recent lines, and a broadcast.
//!
//! Memory does not follow the tools' output: a line is at most
//! [`MAX_LINE_BYTES`] (longer output without a newline is cut there and
//! goes on in lines that start with [`CONTINUATION_MARK`]), and the ring
//! holds at most its line count *and* [`RING_BYTES`] of text per tool.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::broadcast;

use crate::LogLine;

/// Longest line kept whole (bytes, newline excluded). A tool that writes
/// more without a newline has its output cut here, at a character boundary.
pub(crate) const MAX_LINE_BYTES: usize = 64 * 1024;
/// Prefix of each piece of a cut line after the first, so a reader can
/// tell a continuation from a line the tool wrote.
pub(crate) const CONTINUATION_MARK: &str = "[continued] ";
/// Text of recent lines kept in memory per tool, whatever the line count.
pub(crate) const RING_BYTES: usize = 1024 * 1024;
/// A line longer than this goes to live subscribers as a short stand-in
/// while [`BACKLOG_FOR_LONG_LINES`] lines or more wait in the broadcast
/// (a subscriber is behind): the broadcast keeps its last 4,096 lines for
/// a slow subscriber, which must not mean 4,096 × 64 KiB.
const LONG_LINE_BYTES: usize = 4 * 1024;
/// See [`LONG_LINE_BYTES`].
const BACKLOG_FOR_LONG_LINES: usize = 64;
/// A line buffer that grew past this is given back after its line is out,
/// so a single long line does not keep its capacity for the tool's life.
const KEEP_BUFFER_BYTES: usize = 8 * 1024;

/// Captured output of one tool (shared by all its runs and re-registrations).
pub(crate) struct ToolLog {
    tool: String,
    path: PathBuf,
    rotated: PathBuf,
    max_bytes: u64,
    capacity: usize,
    max_ring_bytes: usize,
    state: Mutex<LogState>,
}

struct LogState {
    file: Option<File>,
    size: u64,
    ring: VecDeque<LogLine>,
    /// Sum of the ring's line lengths.
    ring_bytes: usize,
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
            max_ring_bytes: RING_BYTES,
            state: Mutex::new(LogState {
                file: None,
                size: 0,
                ring: VecDeque::new(),
                ring_bytes: 0,
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
            let len = line.line.len();
            while state.ring.len() >= self.capacity
                || (!state.ring.is_empty() && state.ring_bytes + len > self.max_ring_bytes)
            {
                let Some(old) = state.ring.pop_front() else {
                    break;
                };
                state.ring_bytes -= old.line.len();
            }
            state.ring_bytes += len;
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

/// Reads `stream` line by line into `log` and the broadcast until EOF;
/// lines longer than [`MAX_LINE_BYTES`] are cut (see the module docs).
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
    let mut lines = LineCutter::default();
    loop {
        let chunk = match reader.fill_buf().await {
            Ok([]) | Err(_) => break,
            Ok(chunk) => chunk,
        };
        let (used, line) = lines.feed(chunk);
        reader.consume(used);
        if let Some(line) = line {
            emit(&log, &tx, which, line);
        }
    }
    if let Some(line) = lines.finish() {
        emit(&log, &tx, which, line);
    }
}

fn emit(
    log: &ToolLog,
    tx: &broadcast::Sender<(String, LogLine)>,
    which: &'static str,
    line: String,
) {
    let line = LogLine {
        stream: which,
        line,
        at_ms: crate::status::now_ms(),
    };
    if tx.receiver_count() > 0 {
        let live = if line.line.len() > LONG_LINE_BYTES && tx.len() >= BACKLOG_FOR_LONG_LINES {
            LogLine {
                stream: which,
                at_ms: line.at_ms,
                line: format!(
                    "[dxforge] a {}-byte line not shown live (output too fast); see the tool's log",
                    line.line.len()
                ),
            }
        } else {
            line.clone()
        };
        let _ = tx.send((log.tool.clone(), live));
    }
    log.push(line);
}

/// Splits a byte stream into lines of at most [`MAX_LINE_BYTES`].
#[derive(Default)]
struct LineCutter {
    buf: Vec<u8>,
    /// The bytes in `buf` continue a line that was cut.
    continued: bool,
}

impl LineCutter {
    /// Takes bytes from `chunk` up to the end of a line (or of the cap) and
    /// returns how many it took and the line completed, if any.
    fn feed(&mut self, chunk: &[u8]) -> (usize, Option<String>) {
        let room = MAX_LINE_BYTES.saturating_sub(self.buf.len());
        let window = chunk.get(..room).unwrap_or(chunk);
        if let Some(nl) = window.iter().position(|b| *b == b'\n') {
            self.buf
                .extend_from_slice(window.get(..nl).unwrap_or_default());
            while self.buf.last() == Some(&b'\r') {
                self.buf.pop();
            }
            return (nl + 1, Some(self.take(self.buf.len(), false)));
        }
        self.buf.extend_from_slice(window);
        if self.buf.len() < MAX_LINE_BYTES {
            return (window.len(), None);
        }
        let cut = char_boundary(&self.buf);
        (window.len(), Some(self.take(cut, true)))
    }

    /// The unterminated rest at EOF, if any.
    fn finish(&mut self) -> Option<String> {
        if self.buf.is_empty() {
            return None;
        }
        Some(self.take(self.buf.len(), false))
    }

    /// Turns `buf[..end]` into a line; the rest stays for the next one,
    /// which continues this one when `cut`.
    fn take(&mut self, end: usize, cut: bool) -> String {
        let rest = self.buf.split_off(end.min(self.buf.len()));
        let text = String::from_utf8_lossy(&self.buf);
        let line = if self.continued {
            format!("{CONTINUATION_MARK}{text}")
        } else {
            text.into_owned()
        };
        self.continued = cut;
        if self.buf.capacity() > KEEP_BUFFER_BYTES {
            self.buf = rest;
        } else {
            self.buf.clear();
            self.buf.extend_from_slice(&rest);
        }
        line
    }
}

/// Where to cut `buf` so that a multi-byte UTF-8 character at its end is not
/// split: before that character's first byte when it is incomplete, else
/// the end. Bytes that are not UTF-8 are cut anywhere.
fn char_boundary(buf: &[u8]) -> usize {
    let len = buf.len();
    let mut start = len;
    // A character is at most 4 bytes: look back at most 3 continuation bytes.
    for back in 1..=4 {
        let Some(i) = len.checked_sub(back) else {
            return len;
        };
        let Some(&b) = buf.get(i) else {
            return len;
        };
        if b & 0xC0 != 0x80 {
            start = i;
            break;
        }
    }
    let Some(&lead) = buf.get(start) else {
        return len;
    };
    let width = match lead {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF7 => 4,
        _ => 1,
    };
    if start + width > len && start > 0 {
        start
    } else {
        len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(cutter: &mut LineCutter, mut bytes: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let (used, line) = cutter.feed(bytes);
            bytes = &bytes[used..];
            out.extend(line);
        }
        out
    }

    #[test]
    fn long_line_is_cut_at_the_cap_and_continues_marked() {
        let mut cutter = LineCutter::default();
        let mut input = vec![b'a'; MAX_LINE_BYTES * 2 + 10];
        input.extend_from_slice(b"\r\nnext\n");
        let lines = feed_all(&mut cutter, &input);
        assert_eq!(
            lines.len(),
            4,
            "{:?}",
            lines.iter().map(String::len).collect::<Vec<_>>()
        );
        assert_eq!(lines[0].len(), MAX_LINE_BYTES);
        assert!(lines[1].starts_with(CONTINUATION_MARK));
        assert_eq!(lines[1].len(), MAX_LINE_BYTES + CONTINUATION_MARK.len());
        assert_eq!(lines[2], format!("{CONTINUATION_MARK}{}", "a".repeat(10)));
        assert_eq!(lines[3], "next");
        assert_eq!(cutter.finish(), None);
    }

    #[test]
    fn cut_never_splits_a_multibyte_character() {
        let mut cutter = LineCutter::default();
        let mut input = vec![b'a'; MAX_LINE_BYTES - 1];
        input.extend_from_slice("é".as_bytes());
        input.extend_from_slice(b"z");
        let lines = feed_all(&mut cutter, &input);
        assert_eq!(lines, vec!["a".repeat(MAX_LINE_BYTES - 1)]);
        assert_eq!(cutter.finish(), Some(format!("{CONTINUATION_MARK}éz")));
    }

    #[test]
    fn ring_is_capped_in_bytes_as_well_as_lines() {
        let dir = tempfile::tempdir().unwrap();
        let log = ToolLog::new("t", dir.path(), 1 << 30, 1000);
        for i in 0..100 {
            log.push(LogLine {
                stream: "stdout",
                line: format!("{i:05}{}", "x".repeat(MAX_LINE_BYTES - 5)),
                at_ms: 0,
            });
        }
        let kept = log.recent(1000);
        let bytes: usize = kept.iter().map(|l| l.line.len()).sum();
        assert!(bytes <= RING_BYTES, "{bytes}");
        assert_eq!(kept.len(), RING_BYTES / MAX_LINE_BYTES);
        assert!(kept.last().unwrap().line.starts_with("00099"));
    }
}
