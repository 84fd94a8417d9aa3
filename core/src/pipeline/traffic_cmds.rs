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

use super::{Command, EXIT_RED, PipelineOutcome, RegistryAction, escape};
use crate::{DxForge, Error, Result};

pub(super) fn run(forge: &DxForge, command: &Command) -> Result<PipelineOutcome> {
    match command {
        Command::Add {
            package,
            dry_run,
            offline,
            install_deps,
        } => {
            let (name, req) = dxforge_traffic::safety::parse_spec(package)?;
            let report = forge.install_package(&name, &req, &opts(*dry_run, *offline))?;
            with_deps(forge, install_outcome(&report)?, &report, *install_deps)
        }
        Command::Install { dry_run, offline } => {
            install_outcome(&forge.install_all_dependencies(&opts(*dry_run, *offline))?)
        }
        Command::Update {
            package,
            dry_run,
            offline,
            install_deps,
        } => {
            let report = forge.update(package.as_deref(), &opts(*dry_run, *offline))?;
            with_deps(forge, install_outcome(&report)?, &report, *install_deps)
        }
        Command::Diff { package, offline } => {
            install_outcome(&forge.update(package.as_deref(), &opts(true, *offline))?)
        }
        Command::Remove { package, dry_run } => remove_outcome(&forge.remove_package(
            package,
            &InstallOptions {
                dry_run: *dry_run,
                ..Default::default()
            },
        )?),
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
        Command::Registry {
            action: RegistryAction::Build { dir, out },
        } => {
            let (dir, out) = (locate(forge.root(), dir), absolute(out));
            let report = dxforge_traffic::remote::build::build_static(&dir, &out)?;
            let versions: usize = report.packages.values().map(Vec::len).sum();
            let text = format!(
                "built {} packages ({versions} versions, {} files) into {}",
                report.packages.len(),
                report.files,
                escape(&out.display().to_string())
            );
            Ok(PipelineOutcome::new(text, to_json(&report)?))
        }
        other => Err(Error::InvalidArgument {
            name: "command".into(),
            reason: format!("{other:?} is not a Traffic Branching command"),
        }),
    }
}

/// `outcome` after `--install-deps` ran the package manager (not in a dry run):
/// one line per run, `install_deps` in the JSON.
fn with_deps(
    forge: &DxForge,
    mut outcome: PipelineOutcome,
    report: &InstallReport,
    install_deps: bool,
) -> Result<PipelineOutcome> {
    if !install_deps || report.dry_run {
        return Ok(outcome);
    }
    let runs = super::install_deps::install(forge.root(), report)?;
    for run in &runs {
        let _ = write!(
            outcome.text,
            "\n{}: exit {}",
            escape(&run.command.join(" ")),
            run.exit_code
        );
    }
    if let serde_json::Value::Object(map) = &mut outcome.json {
        map.insert("install_deps".to_string(), to_json(&runs)?);
    }
    Ok(outcome)
}

fn opts(dry_run: bool, offline: bool) -> InstallOptions {
    InstallOptions { dry_run, offline }
}

/// `path` made absolute against the current directory.
fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        return path.to_path_buf();
    }
    std::env::current_dir()
        .map(|d| d.join(path))
        .unwrap_or_else(|_| path.to_path_buf())
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
    let _ = writeln!(
        text,
        "{:<7} {}  {}",
        f.light.label(),
        escape(&f.path),
        escape(&f.reason)
    );
    if let Some(side) = &f.side_file {
        let _ = writeln!(text, "          upstream: {}", escape(side));
    }
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
        let (name, version) = (escape(&p.name), escape(&p.version));
        if dxforge_traffic::safety::is_item_id(&p.name) && p.version == "0.0.0" {
            // Registry items carry no version (unless from a built registry).
            let state = if p.previous.is_some() { "" } else { " (new)" };
            let _ = writeln!(text, "{name}{state}");
            continue;
        }
        let _ = match &p.previous {
            Some(prev) if prev != &p.version => {
                writeln!(text, "{name} {} -> {version}", escape(prev))
            }
            Some(_) => writeln!(text, "{name} {version}"),
            None => writeln!(text, "{name} {version} (new)"),
        };
    }
    for f in &report.files {
        file_line(&mut text, f);
    }
    if report.packages.is_empty() && report.files.is_empty() {
        text.push_str("nothing to do\n");
    }
    for item in &report.items {
        let name = escape(&item.name);
        if !item.dependencies.is_empty() {
            let _ = writeln!(
                text,
                "{name}: npm dependencies: {}",
                escape(&item.dependencies.join(" "))
            );
        }
        if !item.dev_dependencies.is_empty() {
            let _ = writeln!(
                text,
                "{name}: npm devDependencies: {}",
                escape(&item.dev_dependencies.join(" "))
            );
        }
        if !item.not_applied.is_empty() {
            let _ = writeln!(
                text,
                "{name}: not applied: {}",
                escape(&item.not_applied.join(", "))
            );
        }
    }
    footer(&mut text, report.manifest_updated, report.dry_run);
    if report.has_red() {
        text.push_str("some files are RED: your version was kept; upstream is in each one's side file (<file>.new, or <file>.new.N when taken)\n");
    }
    let mut outcome = PipelineOutcome::new(text.trim_end(), to_json(report)?);
    if report.has_red() {
        outcome.exit_code = EXIT_RED;
    }
    Ok(outcome)
}

fn remove_outcome(report: &RemoveReport) -> Result<PipelineOutcome> {
    let mut text = format!(
        "removed {} {}\n",
        escape(&report.package),
        escape(&report.version)
    );
    for f in &report.files {
        file_line(&mut text, f);
    }
    footer(&mut text, report.manifest_updated, report.dry_run);
    Ok(PipelineOutcome::new(text.trim_end(), to_json(report)?))
}

/// The closing lines shared by install and remove reports.
fn footer(text: &mut String, manifest_updated: bool, dry_run: bool) {
    match (manifest_updated, dry_run) {
        (true, true) => text.push_str("dxforge.toml: [dependencies] would be updated\n"),
        (true, false) => text.push_str("dxforge.toml: [dependencies] updated\n"),
        _ => {}
    }
    if dry_run {
        text.push_str("dry run: nothing written\n");
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use crate::pipeline::{EXIT_OK, EXIT_RED, PipelineOutcome};
    use crate::{DxForge, ErrorKind, runtime};

    fn example_registry() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples/registry")
            .canonicalize()
            .unwrap()
    }

    fn project(deps: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let toml = format!(
            "[project]\nname = \"t\"\n\n[registry]\npath = \"{}\"\n\n[dependencies]\n{deps}",
            example_registry().display()
        );
        std::fs::write(dir.path().join("dxforge.toml"), toml).unwrap();
        dir
    }

    fn run(forge: &DxForge, command: &str) -> crate::Result<PipelineOutcome> {
        runtime::block_on(forge.run_pipeline(command)).unwrap()
    }

    #[test]
    fn add_prints_one_line_per_file_and_records_the_dependency() {
        let dir = project("");
        let forge = DxForge::open(dir.path()).unwrap();
        let out = run(&forge, "add button@~1.2").unwrap();
        assert_eq!(out.exit_code, EXIT_OK);
        assert!(out.text.contains("button 1.2.0 (new)"), "{}", out.text);
        assert!(
            out.text
                .contains("GREEN   components/ui/button.tsx  new file"),
            "{}",
            out.text
        );
        assert_eq!(out.json["packages"][0]["name"], "button");
        assert_eq!(out.json["files"].as_array().unwrap().len(), 3);
        let toml = std::fs::read_to_string(dir.path().join("dxforge.toml")).unwrap();
        assert!(toml.contains("button = \"~1.2\""), "{toml}");
        // `install` re-reads [dependencies] written by `add`.
        let out = run(&forge, "install").unwrap();
        assert!(
            out.text
                .contains("GREEN   lib/utils.ts  already up to date"),
            "{}",
            out.text
        );
    }

    #[test]
    fn conflicting_update_exits_red_and_dry_run_diff_writes_nothing() {
        let dir = project("button = \"~1.2\"\n");
        let forge = DxForge::open(dir.path()).unwrap();
        run(&forge, "install").unwrap();
        let file = dir.path().join("components/ui/button.tsx");
        let mine = std::fs::read_to_string(&file)
            .unwrap()
            .replace("variant = \"default\"", "variant = \"outline\"");
        std::fs::write(&file, &mine).unwrap();
        let toml = std::fs::read_to_string(dir.path().join("dxforge.toml"))
            .unwrap()
            .replace("~1.2", "^1.2");
        std::fs::write(dir.path().join("dxforge.toml"), toml).unwrap();

        let plan = run(&forge, "diff").unwrap();
        assert_eq!(plan.exit_code, EXIT_RED);
        assert_eq!(plan.json["dry_run"], true);
        assert!(!dir.path().join("components/ui/button.tsx.new").exists());

        let out = run(&forge, "update button").unwrap();
        assert_eq!(out.exit_code, EXIT_RED);
        assert!(
            out.text.contains("RED     components/ui/button.tsx"),
            "{}",
            out.text
        );
        assert!(out.text.contains("conflict: your lines"), "{}", out.text);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), mine);
        assert!(dir.path().join("components/ui/button.tsx.new").exists());
        assert_eq!(out.json["files"][1]["light"], "red");
    }

    #[test]
    fn check_and_remove_commands() {
        let dir = project("");
        let forge = DxForge::open(dir.path()).unwrap();
        run(&forge, "add card").unwrap();
        std::fs::write(dir.path().join("other.txt"), "replacement\n").unwrap();
        let same = run(
            &forge,
            "check components/ui/card.tsx --with components/ui/card.tsx",
        )
        .unwrap();
        assert_eq!(
            (same.exit_code, same.json["light"].as_str()),
            (EXIT_OK, Some("green"))
        );
        let with = dir.path().join("other.txt");
        let yellow = run(
            &forge,
            &format!("check components/ui/card.tsx --with {}", with.display()),
        )
        .unwrap();
        assert_eq!(
            (yellow.exit_code, yellow.json["light"].as_str()),
            (EXIT_OK, Some("yellow")),
            "{}",
            yellow.text
        );
        // A file dxforge did not install, with other content: Red, exit 3.
        std::fs::write(dir.path().join("mine.txt"), "mine\n").unwrap();
        let red = run(&forge, &format!("check mine.txt --with {}", with.display())).unwrap();
        assert_eq!(red.exit_code, EXIT_RED, "{}", red.text);
        assert!(red.text.starts_with("RED     mine.txt"), "{}", red.text);
        let out = run(&forge, "remove card").unwrap();
        assert!(
            out.text
                .contains("GREEN   components/ui/card.tsx  unmodified since install; deleted"),
            "{}",
            out.text
        );
        assert!(!dir.path().join("components/ui/card.tsx").exists());
        let err = run(&forge, "remove card").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        let err = run(&forge, "add ../evil").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    }
}
