//! `init`, `up`, `watch`, `run`, `status`, `stop`, `logs`.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::Duration;

use dxforge_fs::{Policy, Root, WriteOptions};
use dxforge_orchestrator::{ToolState, ToolStatus};
use serde_json::json;

use super::{PipelineOutcome, escape};
use crate::config::{CONFIG_FILE, starter_config};
use crate::forge::STATE_DIR;
use crate::{DxForge, Error, Result};

/// Debounce of watch mode started from a command.
const WATCH_DEBOUNCE: Duration = Duration::from_millis(300);

pub(super) fn init(forge: &DxForge, name: Option<&str>) -> Result<PipelineOutcome> {
    let root = forge.root();
    // Through the layer: a planted `dxforge.toml`, `.gitignore` or `.dxforge`
    // link is refused, never written through.
    let project = Root::open(root, Policy::Project)?;
    let mut done = Vec::new();
    if project.metadata(CONFIG_FILE)?.is_some() {
        done.push(format!("kept existing {CONFIG_FILE}"));
    } else {
        let default_name = root
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("project");
        project.write_atomic(
            CONFIG_FILE,
            starter_config(name.unwrap_or(default_name)).as_bytes(),
            WriteOptions::durable(),
        )?;
        done.push(format!("wrote {CONFIG_FILE}"));
    }
    project.subroot(STATE_DIR, Policy::Plain, true)?;
    done.push(format!("created {STATE_DIR}/"));
    if ensure_gitignored(&project)? {
        done.push(format!("added {STATE_DIR}/ to .gitignore"));
    }
    let text = done.join("\n");
    Ok(PipelineOutcome::new(
        text,
        json!({ "root": root, "actions": done }),
    ))
}

/// Largest `.gitignore` `init` reads and rewrites.
const MAX_GITIGNORE_BYTES: u64 = 16 * 1024 * 1024;

/// Appends `.dxforge/` to `.gitignore` unless an entry already covers it.
pub(super) fn ensure_gitignored(project: &Root) -> Result<bool> {
    let existing = project
        .read(".gitignore", MAX_GITIGNORE_BYTES)?
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let covered = existing
        .lines()
        .map(str::trim)
        .any(|l| matches!(l, ".dxforge" | ".dxforge/" | "/.dxforge" | "/.dxforge/"));
    if covered {
        return Ok(false);
    }
    let mut updated = existing;
    if !updated.is_empty() && !updated.ends_with('\n') {
        updated.push('\n');
    }
    updated.push_str(".dxforge/\n");
    project.write_atomic(".gitignore", updated.as_bytes(), WriteOptions::durable())?;
    Ok(true)
}

pub(super) async fn up(
    forge: &DxForge,
    tools: &[String],
    once: bool,
    watch: bool,
) -> Result<PipelineOutcome> {
    if tools.is_empty() {
        forge.ensure_all_running().await?;
    } else {
        for tool in tools {
            forge.ensure_running(tool).await?;
        }
    }
    if watch {
        forge.watch(WATCH_DEBOUNCE)?;
    }
    let outcome = status(forge)?;
    if once {
        forge.stop_all().await?;
    }
    Ok(outcome)
}

/// `run TOOL [-- ARGS]`: the tool's configured `args`, then `ARGS` (as
/// `npm run` and `cargo run` append to a script's command).
pub(super) async fn run(forge: &DxForge, tool: &str, args: &[String]) -> Result<PipelineOutcome> {
    let mut all = forge.tool(tool)?.args;
    all.extend_from_slice(args);
    let out = forge.execute_tool(tool, &all).await?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let exit_code = match (out.exit_code, out.signal) {
        (Some(code), _) => code,
        (None, Some(sig)) => 128 + sig,
        (None, None) => super::EXIT_ERROR,
    };
    let json = json!({
        "tool": tool,
        "exit_code": out.exit_code,
        "signal": out.signal,
        "stdout": stdout,
        "stderr": stderr,
        "duration_ms": out.duration_ms,
    });
    let mut text = stdout;
    text.push_str(&stderr);
    Ok(PipelineOutcome {
        exit_code,
        text: text.trim_end().to_owned(),
        json,
    })
}

pub(super) fn status(forge: &DxForge) -> Result<PipelineOutcome> {
    let states = forge.states()?;
    Ok(PipelineOutcome::new(
        format_status(&states),
        json!({ "tools": states }),
    ))
}

/// The `status` table: name, status, pid, restarts (and the last error, if any).
pub fn format_status(states: &[ToolState]) -> String {
    let names: Vec<_> = states.iter().map(|s| escape(&s.name)).collect();
    let width = names
        .iter()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut out = format!(
        "{:<width$}  {:<9}  {:>7}  {:>8}",
        "TOOL", "STATUS", "PID", "RESTARTS"
    );
    for (s, name) in states.iter().zip(&names) {
        let pid = s
            .pid
            .map(|p| p.to_string())
            .unwrap_or_else(|| "-".to_owned());
        out.push_str(&format!(
            "\n{:<width$}  {:<9}  {:>7}  {:>8}",
            name,
            s.status.as_str(),
            pid,
            s.restarts
        ));
        if let (ToolStatus::Degraded, Some(err)) = (s.status, &s.last_error) {
            out.push_str(&format!("  {}", escape(err)));
        }
    }
    out
}

pub(super) async fn stop(forge: &DxForge, tools: &[String]) -> Result<PipelineOutcome> {
    if tools.is_empty() {
        forge.stop_all().await?;
    } else {
        for tool in tools {
            forge.stop(tool).await?;
        }
    }
    let mut outcome = status(forge)?;
    outcome.text = format!(
        "stopped {}\n{}",
        if tools.is_empty() {
            "all tools".to_owned()
        } else {
            tools
                .iter()
                .map(|t| escape(t))
                .collect::<Vec<_>>()
                .join(", ")
        },
        outcome.text
    );
    Ok(outcome)
}

/// Recent output of a tool: the in-memory buffer of this handle, or — when
/// this handle never ran the tool (no `dxforge up` is serving) — the tail of
/// its log file from earlier runs.
pub(super) fn logs(forge: &DxForge, tool: &str, lines: usize) -> Result<PipelineOutcome> {
    let mut logs: Vec<String> = forge
        .logs(tool, lines)?
        .into_iter()
        .map(|l| l.line)
        .collect();
    if logs.is_empty() {
        logs = log_file_tail(forge.root(), tool, lines)?;
    }
    Ok(PipelineOutcome::new(
        logs.join("\n"),
        json!({ "tool": tool, "lines": logs }),
    ))
}

/// The most of a log file `logs` reads: its tail (log files rotate at 10 MiB).
const LOG_TAIL_BYTES: u64 = 4 * 1024 * 1024;

/// The last `lines` lines of `.dxforge/logs/<tool>.log`, read beneath the
/// project (no link followed) and only its last [`LOG_TAIL_BYTES`].
fn log_file_tail(root: &Path, tool: &str, lines: usize) -> Result<Vec<String>> {
    let project = Root::open(root, Policy::Project)?;
    let state = match project.subroot(STATE_DIR, Policy::Plain, false) {
        Ok(state) => state,
        Err(e) if e.is_not_found() => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let rel = Path::new("logs").join(format!("{tool}.log"));
    let mut file = match state.open_file(&rel) {
        Ok(f) => f,
        Err(e) if e.is_not_found() => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let shown = state.join(&rel);
    let len = file.metadata().map_err(|e| Error::io(&shown, e))?.len();
    let start = len.saturating_sub(LOG_TAIL_BYTES);
    file.seek(SeekFrom::Start(start))
        .map_err(|e| Error::io(&shown, e))?;
    let mut bytes = Vec::new();
    file.take(LOG_TAIL_BYTES)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(&shown, e))?;
    let text = String::from_utf8_lossy(&bytes);
    let mut all: Vec<&str> = text.lines().collect();
    if start > 0 && !all.is_empty() {
        all.remove(0); // cut in the middle of a line
    }
    Ok(all[all.len().saturating_sub(lines)..]
        .iter()
        .map(|l| (*l).to_owned())
        .collect())
}
