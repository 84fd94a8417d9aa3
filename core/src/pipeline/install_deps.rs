//! `--install-deps`: run the project's package manager for the npm
//! `dependencies`/`devDependencies` that installed registry items ask for.
//!
//! The manager is detected from the lockfile at the project root
//! (`pnpm-lock.yaml` → pnpm, `yarn.lock` → yarn, `bun.lock`/`bun.lockb` →
//! bun, else npm). A non-zero exit is a result (reported with its code), not
//! an error; a manager that cannot be started is an error naming it.

use std::path::Path;

use dxforge_traffic::InstallReport;
use serde::Serialize;

use crate::{Error, Result};

/// One package-manager run.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct DepsRun {
    /// The command line run (program and arguments).
    pub command: Vec<String>,
    /// Its exit code (`-1` when killed by a signal).
    pub exit_code: i32,
}

/// The package manager of the project at `root` and its "add" arguments for
/// runtime (`dev = false`) or development dependencies.
fn manager(root: &Path, dev: bool) -> (&'static str, Vec<&'static str>) {
    let has = |f: &str| root.join(f).is_file();
    let (pm, add, dev_flag) = if has("pnpm-lock.yaml") {
        ("pnpm", "add", "-D")
    } else if has("yarn.lock") {
        ("yarn", "add", "-D")
    } else if has("bun.lock") || has("bun.lockb") {
        ("bun", "add", "-d")
    } else {
        ("npm", "install", "--save-dev")
    };
    let mut args = vec![add];
    if dev {
        args.push(dev_flag);
    }
    (pm, args)
}

/// Run the package manager for the npm packages the report's items need.
pub(crate) fn install(root: &Path, report: &InstallReport) -> Result<Vec<DepsRun>> {
    let mut runs = Vec::new();
    for dev in [false, true] {
        let mut packages: Vec<String> = report
            .items
            .iter()
            .flat_map(|i| {
                if dev {
                    i.dev_dependencies.clone()
                } else {
                    i.dependencies.clone()
                }
            })
            .collect();
        packages.sort();
        packages.dedup();
        if packages.is_empty() {
            continue;
        }
        let (pm, args) = manager(root, dev);
        let status = std::process::Command::new(pm)
            .args(&args)
            .args(&packages)
            .current_dir(root)
            // Its chatter goes to stderr: stdout carries dxforge's report (and `--json`).
            .stdout(std::process::Stdio::from(std::io::stderr()))
            .status()
            .map_err(|e| Error::InvalidArgument {
                name: "--install-deps".into(),
                reason: format!("cannot run the package manager `{pm}`: {e}"),
            })?;
        let mut command = vec![pm.to_string()];
        command.extend(args.iter().map(|a| a.to_string()));
        command.extend(packages);
        runs.push(DepsRun {
            command,
            exit_code: status.code().unwrap_or(-1),
        });
    }
    Ok(runs)
}
