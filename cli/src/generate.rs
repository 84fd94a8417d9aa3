//! `dxforge completions SHELL` and `dxforge man`: text generated from the same clap
//! definition the binary parses with, so they never drift from the real commands.

use std::io::Write;

use clap::CommandFactory;
use clap_complete::Shell;

/// The shells `dxforge completions` writes scripts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum CompletionShell {
    /// GNU bash.
    Bash,
    /// Z shell.
    Zsh,
    /// fish.
    Fish,
}

impl From<CompletionShell> for Shell {
    fn from(shell: CompletionShell) -> Shell {
        match shell {
            CompletionShell::Bash => Shell::Bash,
            CompletionShell::Zsh => Shell::Zsh,
            CompletionShell::Fish => Shell::Fish,
        }
    }
}

/// Writes the completion script for `shell` to `out`.
pub(crate) fn completions(shell: CompletionShell, out: &mut dyn Write) -> std::io::Result<()> {
    let mut command = crate::Cli::command();
    // Into memory first: clap_complete panics when its writer fails (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(Shell::from(shell), &mut command, "dxforge", &mut script);
    out.write_all(&script)
}

/// Writes the roff man page `dxforge(1)` to `out`.
pub(crate) fn man(out: &mut dyn Write) -> std::io::Result<()> {
    let mut page = Vec::new();
    clap_mangen::Man::new(crate::Cli::command()).render(&mut page)?;
    out.write_all(&page)
}
