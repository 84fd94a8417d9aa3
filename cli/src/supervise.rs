//! `dxforge up` / `dxforge watch`: start tools, stream their output, serve
//! the control socket, stop everything on Ctrl-C, SIGTERM, SIGHUP or a
//! `dxforge stop` from another terminal.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use dxforge::pipeline::{escape, format_status};
use dxforge::{DxForge, Error, control, runtime};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::Notify;

const WATCH_DEBOUNCE: Duration = Duration::from_millis(300);

pub(crate) fn up(root: &Path, tools: &[String], watch: bool, json: bool) -> Result<i32, Error> {
    let forge = DxForge::open(root)?;
    let _lock = control::lock_up(root)?;
    let shutdown = Arc::new(Notify::new());
    let _server = control::serve(forge.clone(), shutdown.clone())?;
    let result = runtime::block_on(supervise(&forge, tools, watch, json, shutdown))?;
    let states = forge.states()?;
    forge.shutdown()?;
    if json {
        let doc = serde_json::json!({ "tools": states, "error": result.as_ref().err().map(|e| e.to_string()) });
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    }
    result.map(|()| 0)
}

async fn supervise(
    forge: &DxForge,
    tools: &[String],
    watch: bool,
    json: bool,
    shutdown: Arc<Notify>,
) -> Result<(), Error> {
    if !json {
        stream_output(forge)?;
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
    if !json {
        println!("{}", format_status(&forge.states()?));
        println!("[dxforge] supervising; Ctrl-C or `dxforge stop` stops everything");
    }
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
        _ = hup.recv() => {}
        _ = shutdown.notified() => {}
    }
    if !json {
        println!("[dxforge] stopping");
    }
    forge.stop_all().await
}

/// Prints every tool's output lines and status changes as they happen.
fn stream_output(forge: &DxForge) -> Result<(), Error> {
    let mut logs = forge.subscribe_logs()?;
    let mut events = forge.subscribe()?;
    let handle = runtime::handle()?;
    handle.spawn(async move {
        while let Ok((tool, line)) = logs.recv().await {
            // The line is the tool's own output, shown as the tool wrote it
            // (as if run directly); its name comes from the config: escaped.
            println!("[{}] {}", escape(&tool), line.line);
        }
    });
    handle.spawn(async move {
        while let Ok(ev) = events.recv().await {
            let pid = ev.pid.map(|p| format!(" (pid {p})")).unwrap_or_default();
            let reason = ev
                .reason
                .map(|r| format!(": {}", escape(&r)))
                .unwrap_or_default();
            println!(
                "[dxforge] {} {} -> {}{pid}{reason}",
                escape(&ev.tool),
                ev.old.as_str(),
                ev.new.as_str()
            );
        }
    });
    Ok(())
}
