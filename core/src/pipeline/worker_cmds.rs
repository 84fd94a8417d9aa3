//! `snapshot`, `snapshots`, `restore`, `sync push|pull`, `analyze`.
//!
//! Blocking work runs on the runtime's blocking pool. `sync` draws a one-line progress
//! indicator on stderr when stderr is a terminal (never in `--json` documents).

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use dxforge_worker::{
    AnalysisReport, ProgressFn, PruneReport, PruneRule, SkipReason, SnapshotSummary, SyncProgress,
    SyncReport,
};
use serde_json::json;

use super::{Command, PipelineOutcome, SnapshotsAction, SyncAction, escape};
use crate::{DxForge, Error, GcSummary, Result};

pub(super) async fn run(forge: &DxForge, command: &Command) -> Result<PipelineOutcome> {
    match command {
        Command::Snapshot => {
            let f = forge.clone();
            let s = blocking(move || f.snapshot()).await?;
            let text = format!(
                "snapshot {}: {} files, {} ({} hashed, {} unchanged, {} new objects){}",
                escape(&s.id),
                s.files,
                human_bytes(s.bytes),
                s.hashed,
                s.reused,
                s.new_objects,
                skipped_note(&s),
            );
            Ok(PipelineOutcome::new(text, to_json(&s)?))
        }
        Command::Snapshots {
            action:
                Some(SnapshotsAction::Prune {
                    keep,
                    older_than,
                    dry_run,
                }),
        } => {
            if keep.is_none() && older_than.is_none() {
                return Err(Error::Usage {
                    message: "snapshots prune: give --keep N, --older-than AGE or both".into(),
                });
            }
            let rule = PruneRule {
                keep: *keep,
                older_than_ms: *older_than,
            };
            let (f, dry_run) = (forge.clone(), *dry_run);
            let r = blocking(move || f.prune_snapshots(rule, dry_run)).await?;
            Ok(PipelineOutcome::new(prune_text(&r), to_json(&r)?))
        }
        Command::Gc { dry_run } => {
            let (f, dry_run) = (forge.clone(), *dry_run);
            let r = blocking(move || f.gc(dry_run)).await?;
            Ok(PipelineOutcome::new(gc_text(&r), to_json(&r)?))
        }
        Command::Snapshots { action: None } => {
            let f = forge.clone();
            let list = blocking(move || f.snapshots()).await?;
            let text = if list.is_empty() {
                "no snapshots (take one with `dxforge snapshot`)".to_owned()
            } else {
                list.iter()
                    .map(|s| {
                        format!(
                            "{}  {}  {:>6} files  {:>9}  {}",
                            escape(&s.id),
                            escape(&s.created),
                            s.files,
                            human_bytes(s.bytes),
                            escape(&s.reason)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            Ok(PipelineOutcome::new(
                text,
                json!({ "snapshots": to_json(&list)? }),
            ))
        }
        Command::Restore { id } => {
            let (f, id) = (forge.clone(), id.clone());
            let r = blocking(move || f.restore(&id)).await?;
            let text = format!(
                "restored {}: {} written, {} deleted, {} mode changes, {} unchanged\n\
                 undo with: dxforge restore {}",
                escape(&r.restored),
                r.written,
                r.deleted,
                r.mode_changed,
                r.unchanged,
                escape(&r.safety_snapshot)
            );
            Ok(PipelineOutcome::new(text, to_json(&r)?))
        }
        Command::Sync { action } => {
            let progress = terminal_progress();
            let (report, verb) = match action {
                SyncAction::Push => (forge.push_with_progress(progress.clone()).await, "pushed"),
                SyncAction::Pull { id } => (
                    forge.pull_with_progress(id, progress.clone()).await,
                    "pulled",
                ),
            };
            if progress.is_some() {
                eprint!("\r\x1b[2K");
            }
            let report = report?;
            Ok(PipelineOutcome::new(
                sync_text(verb, &report),
                to_json(&report)?,
            ))
        }
        Command::Analyze => {
            let f = forge.clone();
            let report = blocking(move || f.analyze()).await?;
            Ok(PipelineOutcome::new(
                analysis_text(&report),
                to_json(&report)?,
            ))
        }
        _ => Err(Error::Internal {
            message: format!("not a worker command: {command:?}"),
        }),
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal {
            message: format!("worker command panicked: {e}"),
        })?
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| Error::Internal {
        message: format!("cannot serialize report: {e}"),
    })
}

/// Longest list of skipped paths in the text report (JSON lists every one).
const MAX_SKIPPED_SHOWN: usize = 20;

/// The paths a snapshot left out, one line each (escaped: they come from the tree).
fn skipped_note(s: &SnapshotSummary) -> String {
    if s.skipped_entries.is_empty() {
        return String::new();
    }
    let mut text = format!("\nskipped {} paths:", s.skipped_entries.len());
    for e in s.skipped_entries.iter().take(MAX_SKIPPED_SHOWN) {
        let why = match e.reason {
            SkipReason::Unreadable => "unreadable",
            SkipReason::Fifo => "named pipe",
            SkipReason::Socket => "socket",
            SkipReason::Device => "device",
            SkipReason::NonUtf8Name => "name not UTF-8",
            SkipReason::PathTooLong => "path too long",
            _ => "not snapshotted",
        };
        let detail = e
            .detail
            .as_deref()
            .map(|d| format!(": {}", escape(d)))
            .unwrap_or_default();
        text.push_str(&format!("\n  {} ({why}{detail})", escape(&e.path)));
    }
    if s.skipped_entries.len() > MAX_SKIPPED_SHOWN {
        text.push_str(&format!(
            "\n  … and {} more (see --json)",
            s.skipped_entries.len() - MAX_SKIPPED_SHOWN
        ));
    }
    text
}

fn prune_text(r: &PruneReport) -> String {
    let (verb, freed) = if r.dry_run {
        ("would prune", "would free")
    } else {
        ("pruned", "freed")
    };
    let mut text = format!(
        "{verb} {} snapshots, {} kept; {freed} {} ({} bytes, {} objects)",
        r.removed.len(),
        r.kept,
        human_bytes(r.gc.bytes_freed),
        r.gc.bytes_freed,
        r.gc.removed
    );
    for s in &r.removed {
        text.push_str(&format!("\n  {}  {}", escape(&s.id), escape(&s.created)));
    }
    text
}

fn gc_text(r: &GcSummary) -> String {
    let verb = if r.dry_run { "would free" } else { "freed" };
    format!(
        "{verb} {} ({} bytes): snapshots {} objects ({}, {} kept), \
         package bases {} objects and {} packs ({}, {} kept)",
        human_bytes(r.bytes_freed),
        r.bytes_freed,
        r.snapshots.removed,
        human_bytes(r.snapshots.bytes_freed),
        r.snapshots.kept,
        r.base.objects_removed,
        r.base.packs_removed,
        human_bytes(r.base.bytes_freed),
        r.base.kept
    )
}

fn sync_text(verb: &str, r: &SyncReport) -> String {
    let mut text = format!(
        "{verb} {} objects ({}), {} already there; {verb} {} manifests, {} already there",
        r.objects_sent,
        human_bytes(r.bytes_sent),
        r.objects_skipped,
        r.manifests_sent,
        r.manifests_skipped
    );
    if let Some(restore) = &r.restore {
        text.push_str(&format!(
            "\nrestored {}: {} written, {} deleted; undo with: dxforge restore {}",
            escape(&restore.restored),
            restore.written,
            restore.deleted,
            escape(&restore.safety_snapshot)
        ));
    }
    text
}

fn analysis_text(r: &AnalysisReport) -> String {
    let mut lines = vec![format!("{} files, {} lines of source", r.files, r.lines)];
    for l in &r.languages {
        lines.push(format!(
            "  {:<16} {:>6} files {:>9} lines",
            l.language, l.files, l.lines
        ));
    }
    match &r.packages {
        None => lines.push("packages: no registry configured".to_owned()),
        Some(p) => {
            for u in p
                .packages
                .iter()
                .filter(|u| u.reference_count > 0 || u.installed_version.is_some())
            {
                let installed = u
                    .installed_version
                    .as_deref()
                    .map_or("not installed".to_owned(), |v| {
                        format!("installed {}", escape(v))
                    });
                lines.push(format!(
                    "  package {}: {} references, {installed}",
                    escape(&u.name),
                    u.reference_count
                ));
            }
            if !p.referenced_not_installed.is_empty() {
                lines.push(format!(
                    "referenced but not installed: {}",
                    join_escaped(&p.referenced_not_installed)
                ));
            }
            if !p.installed_not_referenced.is_empty() {
                lines.push(format!(
                    "installed but not referenced: {}",
                    join_escaped(&p.installed_not_referenced)
                ));
            }
            for m in &p.modified_files {
                lines.push(format!(
                    "modified by you: {} ({})",
                    escape(&m.path),
                    escape(&m.package)
                ));
            }
        }
    }
    lines.push("written to .dxforge/analysis.json".to_owned());
    lines.join("\n")
}

fn join_escaped(names: &[String]) -> String {
    names
        .iter()
        .map(|n| escape(n))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A progress callback drawing on stderr, or `None` when stderr is not a terminal.
fn terminal_progress() -> Option<ProgressFn> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    Some(Arc::new(|p: &SyncProgress| {
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[2K{} {}/{} ({})",
            p.phase,
            p.done,
            p.total,
            human_bytes(p.bytes)
        );
        let _ = err.flush();
    }))
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
