//! What `dxforge up` prints, printed without ever blocking supervision.
//!
//! A terminal paused with Ctrl-S, a pager that stopped reading or a stuck log
//! consumer makes every write to stdout block. Supervision (restarts, the
//! control socket) runs on the runtime's few threads, so none of them may
//! write to stdout: they hand lines to a bounded queue and go on. One
//! dedicated thread does the blocking writes. When the queue is full, lines
//! are dropped and counted, and a `[dxforge] N lines dropped` marker is
//! printed where they were lost as soon as the reader takes output again.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Lines queued before new ones are dropped.
const MAX_QUEUED_LINES: usize = 8192;
/// Bytes queued before new lines are dropped (a line can be 64 KiB).
const MAX_QUEUED_BYTES: usize = 2 * 1024 * 1024;
/// How far past the bounds a line of dxforge's own (a status change, the
/// status table) may still be queued: they are few, and matter most.
const OWN_LINES_SLACK: usize = 2;

/// The printing side of `dxforge up`. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Printer {
    shared: Arc<Shared>,
}

struct Shared {
    queue: Mutex<Queue>,
    /// Signalled when there is something to print or the printer closes.
    work: Condvar,
    /// Signalled when the writer thread has ended.
    done: Condvar,
}

#[derive(Default)]
struct Queue {
    lines: VecDeque<String>,
    bytes: usize,
    /// Lines lost since the last marker was queued.
    dropped: u64,
    closed: bool,
    finished: bool,
}

/// Owns the writer thread; [`PrinterThread::finish`] lets it print what is
/// queued, within a bound.
pub(crate) struct PrinterThread {
    printer: Printer,
    thread: Option<JoinHandle<()>>,
}

impl Printer {
    /// Starts the writer thread on this process's stdout.
    pub(crate) fn start() -> std::io::Result<PrinterThread> {
        Self::start_on(std::io::stdout())
    }

    fn start_on<W: Write + Send + 'static>(out: W) -> std::io::Result<PrinterThread> {
        let printer = Printer {
            shared: Arc::new(Shared {
                queue: Mutex::new(Queue::default()),
                work: Condvar::new(),
                done: Condvar::new(),
            }),
        };
        let shared = printer.shared.clone();
        let thread = std::thread::Builder::new()
            .name("dxforge-print".into())
            .spawn(move || write_loop(&shared, out))?;
        Ok(PrinterThread {
            printer,
            thread: Some(thread),
        })
    }

    /// Queues a line of a tool's output; drops (and counts) it when the
    /// queue is full. Never blocks on the reader.
    pub(crate) fn line(&self, line: String) {
        self.push(line, 1);
    }

    /// Queues one of dxforge's own lines (allowed a little past the bounds).
    pub(crate) fn own(&self, line: String) {
        self.push(line, OWN_LINES_SLACK);
    }

    /// Counts `n` lines lost before they reached the printer (a lagging
    /// broadcast): they show in the next marker.
    pub(crate) fn dropped(&self, n: u64) {
        let mut q = self.shared.lock();
        q.dropped = q.dropped.saturating_add(n);
        drop(q);
        self.shared.work.notify_one();
    }

    fn push(&self, line: String, slack: usize) {
        let mut q = self.shared.lock();
        if q.closed {
            return;
        }
        let full = q.lines.len() >= MAX_QUEUED_LINES * slack
            || q.bytes + line.len() > MAX_QUEUED_BYTES * slack;
        if full {
            q.dropped = q.dropped.saturating_add(1);
            return;
        }
        if q.dropped > 0 {
            // The marker goes where the lines were lost.
            let marker = marker(std::mem::take(&mut q.dropped));
            q.bytes += marker.len();
            q.lines.push_back(marker);
        }
        q.bytes += line.len();
        q.lines.push_back(line);
        drop(q);
        self.shared.work.notify_one();
    }
}

impl PrinterThread {
    /// A handle to queue lines.
    pub(crate) fn printer(&self) -> Printer {
        self.printer.clone()
    }

    /// Closes the queue and waits up to `grace` for what is queued to be
    /// written; a reader that still does not read is left behind (the
    /// process exits with the writer blocked).
    pub(crate) fn finish(mut self, grace: Duration) {
        let shared = &self.printer.shared;
        let deadline = Instant::now() + grace;
        let mut q = shared.lock();
        q.closed = true;
        shared.work.notify_one();
        while !q.finished {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            q = shared
                .done
                .wait_timeout(q, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        drop(q);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A panic elsewhere while holding the lock leaves a queue that is
        // still consistent enough to print from.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn marker(n: u64) -> String {
    let s = if n == 1 { "" } else { "s" };
    format!("[dxforge] {n} line{s} dropped (output was not read fast enough)")
}

fn write_loop<W: Write>(shared: &Shared, mut out: W) {
    // After a write error (the reader closed the pipe), lines are taken
    // and discarded so that the queue keeps its bound.
    let mut broken = false;
    let mut buf = Vec::new();
    loop {
        let mut q = shared.lock();
        while q.lines.is_empty() && q.dropped == 0 && !q.closed {
            q = shared.work.wait(q).unwrap_or_else(PoisonError::into_inner);
        }
        let batch = std::mem::take(&mut q.lines);
        q.bytes = 0;
        if batch.is_empty() && q.dropped > 0 {
            // Nothing came after the loss: say so now.
            let marker = marker(std::mem::take(&mut q.dropped));
            drop(q);
            write_batch(&mut out, &mut buf, [marker], &mut broken);
            continue;
        }
        let last = batch.is_empty() && q.closed;
        drop(q);
        if last {
            break;
        }
        write_batch(&mut out, &mut buf, batch, &mut broken);
    }
    let _ = out.flush();
    shared.lock().finished = true;
    shared.done.notify_all();
}

fn write_batch<W: Write>(
    out: &mut W,
    buf: &mut Vec<u8>,
    lines: impl IntoIterator<Item = String>,
    broken: &mut bool,
) {
    if *broken {
        return;
    }
    buf.clear();
    for line in lines {
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
    }
    // The one place that blocks when nobody reads stdout.
    if out.write_all(buf).and_then(|()| out.flush()).is_err() {
        *broken = true;
    }
    if buf.capacity() > 64 * 1024 {
        *buf = Vec::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that blocks until the test opens its gate.
    #[derive(Clone)]
    struct Gated {
        open: Arc<(Mutex<bool>, Condvar)>,
        written: Arc<Mutex<Vec<u8>>>,
    }

    impl Write for Gated {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            let (open, cv) = &*self.open;
            let mut o = open.lock().unwrap();
            while !*o {
                o = cv.wait(o).unwrap();
            }
            self.written.lock().unwrap().extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn stalled_writer_drops_lines_counts_them_and_marks_the_gap() {
        let gated = Gated {
            open: Arc::new((Mutex::new(false), Condvar::new())),
            written: Arc::new(Mutex::new(Vec::new())),
        };
        let thread = Printer::start_on(gated.clone()).unwrap();
        let printer = thread.printer();
        // Far more than the queue holds; each call returns although the
        // writer is blocked.
        let total = MAX_QUEUED_LINES * 3;
        for i in 0..total {
            printer.line(format!("line {i}"));
        }
        printer.dropped(5);
        {
            let (open, cv) = &*gated.open;
            *open.lock().unwrap() = true;
            cv.notify_all();
        }
        // With nothing queued after the loss, the marker comes on its own.
        while !String::from_utf8_lossy(&gated.written.lock().unwrap()).contains("dropped") {
            std::thread::yield_now();
        }
        printer.line("after".into());
        thread.finish(Duration::from_secs(30));
        let written = String::from_utf8(gated.written.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = written.lines().collect();
        let markers: Vec<&&str> = lines.iter().filter(|l| l.contains("dropped")).collect();
        // One marker per gap (the writer may have taken a batch while the
        // lines were still coming: then there are two gaps).
        assert!(!markers.is_empty() && markers.len() <= 2, "{markers:?}");
        let shown = lines.iter().filter(|l| l.starts_with("line ")).count();
        let counted: usize = markers
            .iter()
            .map(|m| {
                m.split_whitespace()
                    .nth(1)
                    .unwrap()
                    .parse::<usize>()
                    .unwrap()
            })
            .sum();
        assert!(counted > 0);
        assert_eq!(
            shown + counted,
            total + 5,
            "every line is printed or counted"
        );
        assert_eq!(lines[lines.len() - 2], **markers.last().unwrap());
        assert_eq!(
            lines.last(),
            Some(&"after"),
            "printing goes on after the loss"
        );
    }
}
