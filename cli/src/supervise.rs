//! `dxforge up` / `dxforge watch`: start tools, stream their output, serve
//! the control socket, stop everything on Ctrl-C, SIGTERM, SIGHUP or a
//! `dxforge stop` from another terminal.
//!
//! Nothing here writes to stdout from a runtime thread: every line goes
//! through the [`Printer`](crate::printer::Printer), so a reader that stops
//! reading never stalls supervision.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use dxforge::pipeline::{escape, format_status};
use dxforge::{DxForge, Error, control, runtime};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::Notify;
use tokio::sync::broadcast::error::RecvError;

use crate::printer::{Printer, PrinterThread};

const WATCH_DEBOUNCE: Duration = Duration::from_millis(300);
/// How long `up` waits at exit for queued output to be read.
const FLUSH_GRACE: Duration = Duration::from_secs(2);
/// Descriptors kept aside for everything but tools and control connections
/// (stdio, the runtime, the lock, the socket, log files being rotated).
const RESERVED_DESCRIPTORS: u64 = 64;
/// Descriptors one supervised tool holds (shim pidfd, two output pipes, its
/// log file).
const DESCRIPTORS_PER_TOOL: u64 = 4;

pub(crate) fn up(root: &Path, tools: &[String], watch: bool, json: bool) -> Result<i32, Error> {
    crate::trim::one_heap();
    let limit = control::raise_descriptor_limit();
    let capacity = tool_capacity(limit);
    let forge = DxForge::open(root)?;
    let _lock = control::lock_up(root)?;
    let shutdown = Arc::new(Notify::new());
    let server = control::serve(forge.clone(), shutdown.clone())?;
    let printer = if json {
        None
    } else {
        Some(Printer::start().map_err(|e| Error::Io {
            path: "<printer thread>".into(),
            source: e,
        })?)
    };
    let out = printer.as_ref().map(PrinterThread::printer);
    if let Some(out) = &out {
        out.own(format!(
            "[dxforge] descriptor limit {limit}: room for about {capacity} tools"
        ));
    }
    let result = runtime::block_on(supervise(
        &forge,
        tools,
        watch,
        out.as_ref(),
        shutdown,
        server.activity(),
    ))?;
    let states = forge.states()?;
    forge.shutdown()?;
    if let Some(printer) = printer {
        printer.finish(FLUSH_GRACE);
    }
    if json {
        let doc = serde_json::json!({
            "tools": states,
            "descriptors": { "limit": limit, "tool_capacity": capacity },
            "error": result.as_ref().err().map(|e| e.to_string()),
        });
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    }
    result.map(|()| 0)
}

/// How many tools fit in `limit` descriptors beside the control socket's
/// connections and the process's own.
fn tool_capacity(limit: u64) -> u64 {
    let connections = control::max_connections(limit) as u64;
    limit.saturating_sub(RESERVED_DESCRIPTORS + connections) / DESCRIPTORS_PER_TOOL
}

async fn supervise(
    forge: &DxForge,
    tools: &[String],
    watch: bool,
    out: Option<&Printer>,
    shutdown: Arc<Notify>,
    activity: Arc<Notify>,
) -> Result<(), Error> {
    if let Some(out) = out {
        stream_output(forge, out)?;
    }
    let mut term = signal(SignalKind::terminate()).map_err(|e| Error::Io {
        path: "<signal>".into(),
        source: e,
    })?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| Error::Io {
        path: "<signal>".into(),
        source: e,
    })?;
    let mut hup = signal(SignalKind::hangup()).map_err(|e| Error::Io {
        path: "<signal>".into(),
        source: e,
    })?;
    let start = async {
        if tools.is_empty() {
            forge.ensure_all_running().await
        } else {
            for tool in tools {
                forge.ensure_running(tool).await?;
            }
            Ok(())
        }
    };
    tokio::select! {
        r = start => r?,
        _ = term.recv() => return Ok(()),
        _ = int.recv() => return Ok(()),
        _ = hup.recv() => return Ok(()),
    }
    if watch {
        forge.watch(WATCH_DEBOUNCE)?;
    }
    if let Some(out) = out {
        out.own(format_status(&forge.states()?));
        out.own("[dxforge] supervising; Ctrl-C or `dxforge stop` stops everything".into());
    }
    tokio::spawn(crate::trim::when_quiet(activity));
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
        _ = hup.recv() => {}
        _ = shutdown.notified() => {}
    }
    if let Some(out) = out {
        out.own("[dxforge] stopping".into());
    }
    forge.stop_all().await
}

/// Prints every tool's output lines and status changes as they happen. A
/// broadcast that lagged (a burst faster than the printer takes it) is
/// counted into the dropped-lines marker, and printing goes on.
fn stream_output(forge: &DxForge, out: &Printer) -> Result<(), Error> {
    let mut logs = forge.subscribe_logs()?;
    let mut events = forge.subscribe()?;
    let handle = runtime::handle()?;
    let printer = out.clone();
    handle.spawn(async move {
        loop {
            match logs.recv().await {
                // The line is the tool's own output, shown as the tool wrote
                // it (as if run directly); its name comes from the config: escaped.
                Ok((tool, line)) => printer.line(format!("[{}] {}", escape(&tool), line.line)),
                Err(RecvError::Lagged(n)) => printer.dropped(n),
                Err(RecvError::Closed) => break,
            }
        }
    });
    let printer = out.clone();
    handle.spawn(async move {
        loop {
            let ev = match events.recv().await {
                Ok(ev) => ev,
                Err(RecvError::Lagged(n)) => {
                    printer.own(format!("[dxforge] {n} status changes not shown"));
                    continue;
                }
                Err(RecvError::Closed) => break,
            };
            let pid = ev.pid.map(|p| format!(" (pid {p})")).unwrap_or_default();
            let reason = ev
                .reason
                .map(|r| format!(": {}", escape(&r)))
                .unwrap_or_default();
            printer.own(format!(
                "[dxforge] {} {} -> {}{pid}{reason}",
                escape(&ev.tool),
                ev.old.as_str(),
                ev.new.as_str()
            ));
        }
    });
    Ok(())
}
