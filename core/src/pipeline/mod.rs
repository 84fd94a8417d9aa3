//! Command strings: `DxForge::run_pipeline("status")` runs the same commands
//! as the `dxforge` CLI and returns their output as text and JSON.
//!
//! Differences from the CLI, because a library call must return: `up` starts
//! the tools and returns (they keep running under the handle until `stop` or
//! close); `watch` also turns watch mode on; `up --once` stops them again.
//!
//! Text output shows every name that comes from outside (paths, tool and
//! package names, snapshot ids, reasons quoting them) through [`escape`], so
//! a name cannot fake a line; JSON output carries the exact names.

mod age;
mod commands;
mod escape;
mod import_cmds;
mod install_deps;
pub mod logs_cmd;
pub(crate) mod orchestrator_cmds;
mod traffic_cmds;
mod worker_cmds;

use clap::Parser;
use serde::Serialize;

pub use commands::{Command, RegistryAction, SnapshotsAction, SyncAction};
pub use escape::escape;
pub use import_cmds::init_from;
pub use logs_cmd::LogEntry;
pub use orchestrator_cmds::format_status;

use crate::{DxForge, Error, Result};

/// Exit code: success.
pub const EXIT_OK: i32 = 0;
/// Exit code: error.
pub const EXIT_ERROR: i32 = 1;
/// Exit code: usage error.
pub const EXIT_USAGE: i32 = 2;
/// Exit code: finished, but some file is Red.
pub const EXIT_RED: i32 = 3;

/// What a command produced. A command that ran but reports a problem (a Red
/// file, a tool exiting non-zero) is an outcome with a non-zero `exit_code`,
/// not an error.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct PipelineOutcome {
    /// Process exit code the CLI uses (0, 3, or a tool's own code for `run`).
    pub exit_code: i32,
    /// Human-readable output.
    pub text: String,
    /// The same result as one JSON document.
    pub json: serde_json::Value,
}

impl PipelineOutcome {
    pub(crate) fn new(text: impl Into<String>, json: serde_json::Value) -> Self {
        Self {
            exit_code: EXIT_OK,
            text: text.into(),
            json,
        }
    }
}

/// Parses a command string (shell quoting rules, no leading `dxforge`).
pub fn parse(command: &str) -> Result<Command> {
    let words = shell_words::split(command).map_err(|e| Error::Usage {
        message: format!("cannot split `{command}`: {e}"),
    })?;
    let words = match words.first().map(String::as_str) {
        Some("dxforge") => &words[1..],
        _ => &words[..],
    };
    PipelineArgs::try_parse_from(words)
        .map(|a| a.command)
        .map_err(|e| Error::Usage {
            message: e.render().to_string().trim_end().to_owned(),
        })
}

use commands::PipelineArgs;

impl DxForge {
    /// Runs one command string, e.g. `"status"` or `"add button@^1.2 --dry-run"`.
    pub async fn run_pipeline(&self, command: &str) -> Result<PipelineOutcome> {
        let command = parse(command)?;
        self.run_command(&command).await
    }

    /// Runs one parsed command.
    pub async fn run_command(&self, command: &Command) -> Result<PipelineOutcome> {
        self.live()?;
        match command {
            Command::Init {
                name, from: None, ..
            } => orchestrator_cmds::init(self, name.as_deref()),
            Command::Init {
                name,
                from: Some(from),
                force,
            } => import_cmds::init_from(self.root(), name.as_deref(), from, *force),
            Command::Up { tools, once } => orchestrator_cmds::up(self, tools, *once, false).await,
            Command::Watch { tools } => orchestrator_cmds::up(self, tools, false, true).await,
            Command::Run { tool, args } => orchestrator_cmds::run(self, tool, args).await,
            Command::Status => orchestrator_cmds::status(self),
            Command::Stop { tools } => orchestrator_cmds::stop(self, tools).await,
            Command::Restart { tools } => orchestrator_cmds::restart(self, tools).await,
            Command::Logs {
                tool,
                lines,
                follow,
                since,
            } => logs_cmd::logs(self, tool.as_deref(), *lines, *follow, since.as_deref()),
            Command::Add { .. }
            | Command::Install { .. }
            | Command::Update { .. }
            | Command::Remove { .. }
            | Command::Diff { .. }
            | Command::Check { .. }
            | Command::Registry { .. } => traffic_cmds::run(self, command),
            Command::Snapshot
            | Command::Snapshots { .. }
            | Command::Gc { .. }
            | Command::Restore { .. }
            | Command::Sync { .. }
            | Command::Analyze => worker_cmds::run(self, command).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands_with_quotes_and_trailing_args() {
        assert_eq!(parse("status").unwrap(), Command::Status);
        assert_eq!(
            parse("run lint -- --fix 'a b'").unwrap(),
            Command::Run {
                tool: "lint".into(),
                args: vec!["--fix".into(), "a b".into()]
            }
        );
        assert_eq!(
            parse("dxforge logs db -n 5").unwrap(),
            Command::Logs {
                tool: Some("db".into()),
                lines: 5,
                follow: false,
                since: None,
            }
        );
        assert_eq!(
            parse("logs -f --since 10m").unwrap(),
            Command::Logs {
                tool: None,
                lines: 50,
                follow: true,
                since: Some("10m".into()),
            }
        );
        assert_eq!(
            parse("sync pull abc").unwrap(),
            Command::Sync {
                action: SyncAction::Pull { id: "abc".into() }
            }
        );
    }

    #[test]
    fn parses_prune_gc_and_init_from() {
        assert_eq!(
            parse("snapshots prune --keep 3 --older-than 7d --dry-run").unwrap(),
            Command::Snapshots {
                action: Some(SnapshotsAction::Prune {
                    keep: Some(3),
                    older_than: Some(7 * 86_400_000),
                    dry_run: true
                })
            }
        );
        assert_eq!(
            parse("snapshots").unwrap(),
            Command::Snapshots { action: None }
        );
        assert_eq!(parse("gc").unwrap(), Command::Gc { dry_run: false });
        assert_eq!(
            parse("init --from Procfile --force").unwrap(),
            Command::Init {
                name: None,
                from: Some("Procfile".into()),
                force: true
            }
        );
        // --force only means something with --from; completions are the binary's own.
        assert!(matches!(parse("init --force"), Err(Error::Usage { .. })));
        assert!(matches!(
            parse("completions bash"),
            Err(Error::Usage { .. })
        ));
        assert!(matches!(
            parse("snapshots prune --older-than 7days"),
            Err(Error::Usage { .. })
        ));
    }

    #[test]
    fn unknown_command_is_a_usage_error() {
        let err = parse("frobnicate").unwrap_err();
        assert!(matches!(err, Error::Usage { .. }));
        assert!(err.to_string().contains("frobnicate"), "{err}");
        assert!(matches!(parse("run").unwrap_err(), Error::Usage { .. }));
        assert!(matches!(
            parse("'unclosed").unwrap_err(),
            Error::Usage { .. }
        ));
    }
}
