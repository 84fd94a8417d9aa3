//! Progress on a terminal for long commands: a spinner with the elapsed time
//! on stderr, only when stderr is a terminal and `--json` is off, so pipes
//! and scripts get clean output.

use std::io::IsTerminal;
use std::time::Duration;

use dxforge::pipeline::{Command, SyncAction, escape};
use indicatif::{ProgressBar, ProgressStyle};

/// A running spinner; dropping it clears the line.
pub(crate) struct Spinner(Option<ProgressBar>);

impl Spinner {
    pub(crate) fn start(command: &Command, json: bool) -> Self {
        let Some(message) = message(command) else {
            return Spinner(None);
        };
        if json || !std::io::stderr().is_terminal() {
            return Spinner(None);
        }
        let bar = ProgressBar::new_spinner();
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
            bar.set_style(style);
        }
        bar.set_message(message);
        bar.enable_steady_tick(Duration::from_millis(100));
        Spinner(Some(bar))
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(bar) = self.0.take() {
            bar.finish_and_clear();
        }
    }
}

/// What a long command is doing; `None` for quick commands.
fn message(command: &Command) -> Option<String> {
    Some(match command {
        Command::Add { package, .. } => format!("installing {}", escape(package)),
        Command::Install { .. } => "installing dependencies".to_owned(),
        Command::Update { .. } => "updating".to_owned(),
        Command::Remove { package, .. } => format!("removing {}", escape(package)),
        Command::Diff { .. } => "planning".to_owned(),
        Command::Snapshot => "snapshotting the project".to_owned(),
        Command::Restore { id } => format!("restoring {}", escape(id)),
        Command::Sync {
            action: SyncAction::Push,
        } => "pushing snapshots".to_owned(),
        Command::Sync {
            action: SyncAction::Pull { id },
        } => format!("pulling {}", escape(id)),
        Command::Analyze => "analysing the codebase".to_owned(),
        Command::Snapshots { action: Some(_) } => "pruning snapshots".to_owned(),
        Command::Gc { .. } => "collecting unreferenced objects".to_owned(),
        Command::Up { once: true, .. } => "starting tools".to_owned(),
        _ => return None,
    })
}
