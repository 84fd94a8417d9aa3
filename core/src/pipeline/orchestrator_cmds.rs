//! `init`, `up`, `watch`, `run`, `status`, `stop`, `logs`.

use std::path::Path;
use std::time::Duration;

use dxforge_orchestrator::{ToolState, ToolStatus};
use serde_json::json;

use super::PipelineOutcome;
use crate::config::{CONFIG_FILE, starter_config};
use crate::forge::STATE_DIR;
use crate::fsutil::write_atomic;
use crate::{DxForge, Error, Result};

/// Debounce of watch mode started from a command.
const WATCH_DEBOUNCE: Duration = Duration::from_millis(300);

pub(super) fn init(forge: &DxForge, name: Option<&str>) -> Result<PipelineOutcome> {
    let root = forge.root();
    let mut done = Vec::new();
    let config = root.join(CONFIG_FILE);
    if config.exists() {
        done.push(format!("kept existing {CONFIG_FILE}"));
    } else {
        let default_name = root
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("project");
        write_atomic(
            &config,
            starter_config(name.unwrap_or(default_name)).as_bytes(),
        )?;
        done.push(format!("wrote {CONFIG_FILE}"));
    }
    let state = root.join(STATE_DIR);
    std::fs::create_dir_all(&state).map_err(|e| Error::io(&state, e))?;
    done.push(format!("created {STATE_DIR}/"));
    if ensure_gitignored(root)? {
        done.push(format!("added {STATE_DIR}/ to .gitignore"));
    }
    let text = done.join("\n");
    Ok(PipelineOutcome::new(
        text,
        json!({ "root": root, "actions": done }),
    ))
}

/// Appends `.dxforge/` to `.gitignore` unless an entry already covers it.
fn ensure_gitignored(root: &Path) -> Result<bool> {
    let path = root.join(".gitignore");
    let existing = match std::fs::read_to_string(&path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(Error::io(&path, e)),
    };
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
    write_atomic(&path, updated.as_bytes())?;
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

pub(super) async fn run(forge: &DxForge, tool: &str, args: &[String]) -> Result<PipelineOutcome> {
    let out = forge.execute_tool(tool, args).await?;
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
    let width = states
        .iter()
        .map(|s| s.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut out = format!(
        "{:<width$}  {:<9}  {:>7}  {:>8}",
        "TOOL", "STATUS", "PID", "RESTARTS"
    );
    for s in states {
        let pid = s
            .pid
            .map(|p| p.to_string())
            .unwrap_or_else(|| "-".to_owned());
        out.push_str(&format!(
            "\n{:<width$}  {:<9}  {:>7}  {:>8}",
            s.name,
            s.status.as_str(),
            pid,
            s.restarts
        ));
        if let (ToolStatus::Degraded, Some(err)) = (s.status, &s.last_error) {
            out.push_str(&format!("  {err}"));
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
            tools.join(", ")
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
        let file = forge
            .root()
            .join(STATE_DIR)
            .join("logs")
            .join(format!("{tool}.log"));
        logs = log_file_tail(&file, lines)?;
    }
    Ok(PipelineOutcome::new(
        logs.join("\n"),
        json!({ "tool": tool, "lines": logs }),
    ))
}

fn log_file_tail(path: &Path, lines: usize) -> Result<Vec<String>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(path, e)),
    };
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    Ok(all[all.len().saturating_sub(lines)..]
        .iter()
        .map(|l| (*l).to_owned())
        .collect())
}
