//! `init`, `up`, `watch`, `run`, `status`, `stop`, `restart` (`logs` is in `logs_cmd`).

use std::time::Duration;

use dxforge_fs::{Policy, Root, WriteOptions};
use dxforge_orchestrator::{ToolState, ToolStatus};
use serde_json::json;

use super::{PipelineOutcome, escape};
use crate::config::{CONFIG_FILE, starter_config};
use crate::forge::STATE_DIR;
use crate::{DxForge, Result};

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

/// `restart TOOL…`: each tool in the order given; a tool already restarted
/// as a running dependent of an earlier one is not restarted twice.
pub(super) async fn restart(forge: &DxForge, tools: &[String]) -> Result<PipelineOutcome> {
    let mut restarted: Vec<String> = Vec::new();
    for tool in tools {
        // Validates the name before anything is stopped.
        forge.state(tool)?;
    }
    for tool in tools {
        if restarted.contains(tool) {
            continue;
        }
        let before = forge.states()?;
        forge.restart(tool).await?;
        let after = forge.states()?;
        // A tool whose pid changed was restarted by this call (the tool or
        // one of its running dependents).
        for (old, new) in before.iter().zip(&after) {
            if old.name == new.name && new.pid.is_some() && old.pid != new.pid {
                restarted.push(new.name.clone());
            }
        }
        if !restarted.contains(tool) {
            restarted.push(tool.clone());
        }
    }
    let mut outcome = status(forge)?;
    outcome.text = format!(
        "restarted {}\n{}",
        restarted
            .iter()
            .map(|t| escape(t))
            .collect::<Vec<_>>()
            .join(", "),
        outcome.text
    );
    if let Some(doc) = outcome.json.as_object_mut() {
        doc.insert("restarted".into(), json!(restarted));
    }
    Ok(outcome)
}
