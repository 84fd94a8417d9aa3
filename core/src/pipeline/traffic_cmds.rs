//! `add`, `install`, `update`, `remove`, `diff`, `check`.
//!
//! Text output: the packages, then one line per file (`GREEN   path   reason`);
//! JSON: the report. Exit code [`EXIT_RED`] when any file ends Red (the
//! user's file was kept and upstream written to `<file>.new`, or `check`
//! found a Red light). `check PATH --with FILE` reads FILE relative to the
//! current directory, else relative to the project root.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use dxforge_traffic::{FileReport, InstallOptions, InstallReport, RemoveReport, TrafficLight};

use super::{Command, EXIT_RED, PipelineOutcome};
use crate::{DxForge, Error, Result};

pub(super) fn run(forge: &DxForge, command: &Command) -> Result<PipelineOutcome> {
    match command {
        Command::Add { package, dry_run } => {
            let (name, req) = dxforge_traffic::safety::parse_spec(package)?;
            let report =
                forge.install_package(&name, &req, &InstallOptions { dry_run: *dry_run })?;
            install_outcome(&report)
        }
        Command::Install { dry_run } => {
            install_outcome(&forge.install_all_dependencies(&InstallOptions { dry_run: *dry_run })?)
        }
        Command::Update { package, dry_run } => install_outcome(
            &forge.update(package.as_deref(), &InstallOptions { dry_run: *dry_run })?,
        ),
        Command::Diff { package } => install_outcome(&forge.diff(package.as_deref())?),
        Command::Remove { package, dry_run } => {
            remove_outcome(&forge.remove_package(package, &InstallOptions { dry_run: *dry_run })?)
        }
        Command::Check { path, with } => {
            let file = locate(forge.root(), with);
            let content = std::fs::read(&file).map_err(|e| Error::io(&file, e))?;
            let report = forge.check(path, &content)?;
            let mut text = String::new();
            file_line(&mut text, &report);
            let mut outcome = PipelineOutcome::new(text.trim_end(), to_json(&report)?);
            if report.light == TrafficLight::Red {
                outcome.exit_code = EXIT_RED;
            }
            Ok(outcome)
        }
        other => Err(Error::InvalidArgument {
            name: "command".into(),
            reason: format!("{other:?} is not a Traffic Branching command"),
        }),
    }
}

/// FILE as given when it exists from the current directory, else under the project root.
fn locate(root: &Path, file: &Path) -> PathBuf {
    if file.is_absolute() || file.exists() {
        file.to_path_buf()
    } else {
        root.join(file)
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| Error::Internal {
        message: format!("cannot serialise report: {e}"),
    })
}

fn file_line(text: &mut String, f: &FileReport) {
    let _ = writeln!(text, "{:<7} {}  {}", f.light.label(), f.path, f.reason);
    for c in &f.conflicts {
        let _ = writeln!(
            text,
            "          conflict: your lines {}-{} vs upstream lines {}-{}",
            c.ours.start,
            c.ours.start + c.ours.count.max(1) - 1,
            c.theirs.start,
            c.theirs.start + c.theirs.count.max(1) - 1
        );
    }
}

fn install_outcome(report: &InstallReport) -> Result<PipelineOutcome> {
    let mut text = String::new();
    for p in &report.packages {
        let _ = match &p.previous {
            Some(prev) if prev != &p.version => {
                writeln!(text, "{} {} -> {}", p.name, prev, p.version)
            }
            Some(_) => writeln!(text, "{} {}", p.name, p.version),
            None => writeln!(text, "{} {} (new)", p.name, p.version),
        };
    }
    for f in &report.files {
        file_line(&mut text, f);
    }
    if report.packages.is_empty() && report.files.is_empty() {
        text.push_str("nothing to do\n");
    }
    if report.dry_run {
        text.push_str("dry run: nothing written\n");
    }
    if report.has_red() {
        text.push_str("some files are RED: your version was kept; upstream is in <file>.new\n");
    }
    let mut outcome = PipelineOutcome::new(text.trim_end(), to_json(report)?);
    if report.has_red() {
        outcome.exit_code = EXIT_RED;
    }
    Ok(outcome)
}

fn remove_outcome(report: &RemoveReport) -> Result<PipelineOutcome> {
    let mut text = format!("removed {} {}\n", report.package, report.version);
    for f in &report.files {
        file_line(&mut text, f);
    }
    if report.dry_run {
        text.push_str("dry run: nothing written\n");
    }
    Ok(PipelineOutcome::new(text.trim_end(), to_json(report)?))
}
