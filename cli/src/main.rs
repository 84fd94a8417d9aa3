//! `dxforge`: the command line of the dxforge engine.
//!
//! Exit codes: 0 success, 1 error, 2 usage error, 3 finished but some file
//! is Red. `status`, `stop`, `restart`, `logs` and `run` talk to a running `dxforge up`
//! of the same project through its control socket when there is one.

mod generate;
mod logs;
mod printer;
mod progress;
mod supervise;
mod trim;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use dxforge::pipeline::{Command, EXIT_ERROR, EXIT_USAGE, PipelineOutcome, escape};
use dxforge::{DxForge, Error, ErrorKind, control, runtime};

/// An embeddable engine for local developer tooling.
#[derive(Debug, Parser)]
#[command(name = "dxforge", version, about, long_about = None)]
struct Cli {
    /// Run as if started in DIR (the project root).
    #[arg(short = 'C', value_name = "DIR", global = true)]
    dir: Option<PathBuf>,
    /// Print one JSON document instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: CliCommand,
}

/// The engine's commands plus the ones only the binary has (they describe the binary
/// itself, so `DxForge::run_pipeline` does not accept them).
#[derive(Debug, Subcommand)]
enum CliCommand {
    #[command(flatten)]
    Engine(Command),
    /// Print a shell completion script (e.g. `dxforge completions bash > /etc/bash_completion.d/dxforge`).
    Completions {
        /// Shell to write the script for.
        shell: generate::CompletionShell,
    },
    /// Print the dxforge(1) man page (roff) to stdout.
    #[command(hide = true)]
    Man,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    match run(&cli) {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            if cli.json {
                let doc =
                    serde_json::json!({ "error": { "code": e.code(), "message": e.to_string() } });
                println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
            } else if e.kind() == ErrorKind::Usage {
                // Clap's message: several lines by design, built from the user's own words.
                eprintln!("error: {e}");
            } else {
                // Messages quote paths and names from outside: one line, escaped.
                eprintln!("error: {}", escape(&e.to_string()));
            }
            ExitCode::from(if e.kind() == ErrorKind::Usage {
                EXIT_USAGE
            } else {
                EXIT_ERROR
            } as u8)
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("DXFORGE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

fn project_root(cli: &Cli) -> Result<PathBuf, Error> {
    let dir = match &cli.dir {
        Some(d) => d.clone(),
        None => std::env::current_dir().map_err(|e| Error::Io {
            path: ".".into(),
            source: e,
        })?,
    };
    std::fs::canonicalize(&dir).map_err(|e| Error::Io {
        path: dir,
        source: e,
    })
}

fn run(cli: &Cli) -> Result<i32, Error> {
    let command = match &cli.command {
        CliCommand::Engine(command) => command,
        CliCommand::Completions { shell } => {
            return to_stdout(|out| generate::completions(*shell, out));
        }
        CliCommand::Man => return to_stdout(generate::man),
    };
    let root = project_root(cli)?;
    match command {
        // Without a handle: opening one would refuse a dxforge.toml that --force replaces.
        Command::Init {
            name,
            from: Some(from),
            force,
        } => {
            let outcome = dxforge::pipeline::init_from(&root, name.as_deref(), from, *force)?;
            return Ok(print(&outcome, cli.json));
        }
        Command::Up { tools, once: false } => return supervise::up(&root, tools, false, cli.json),
        Command::Watch { tools } => return supervise::up(&root, tools, true, cli.json),
        Command::Up { once: true, .. } => {
            let _lock = control::lock_up(&root)?;
            return local(&root, command, cli.json);
        }
        Command::Logs {
            tool,
            follow,
            since,
            ..
        } => {
            return logs::run(
                &root,
                command,
                cli.json,
                tool.is_none(),
                *follow,
                since.is_some(),
            );
        }
        Command::Status | Command::Stop { .. } | Command::Run { .. } => {
            if let Some(outcome) = control::request(&root, &command_string())? {
                return Ok(print(&outcome, cli.json));
            }
        }
        Command::Restart { .. } => {
            return match control::request(&root, &command_string())? {
                Some(outcome) => Ok(print(&outcome, cli.json)),
                // A restart in this process would end with it: refuse it
                // instead of starting tools only to stop them again.
                None => Err(Error::NotRunning {
                    command: "restart".into(),
                }),
            };
        }
        _ => {}
    }
    local(&root, command, cli.json)
}

/// Writes generated text to stdout; a reader that went away (`| head`) is not an error.
fn to_stdout(
    write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> Result<i32, Error> {
    match write(&mut std::io::stdout().lock()) {
        Ok(()) => Ok(0),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(Error::Io {
            path: "<stdout>".into(),
            source: e,
        }),
    }
}

/// Runs the command in this process on a fresh handle (tools it starts stop
/// when it exits).
pub(crate) fn local(root: &std::path::Path, command: &Command, json: bool) -> Result<i32, Error> {
    let forge = DxForge::open(root)?;
    let spinner = progress::Spinner::start(command, json);
    let outcome = runtime::block_on(forge.run_command(command));
    drop(spinner);
    forge.shutdown()?;
    Ok(print(&outcome??, json))
}

pub(crate) fn print(outcome: &PipelineOutcome, json: bool) -> i32 {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&outcome.json).unwrap_or_default()
        );
    } else if !outcome.text.is_empty() {
        println!("{}", outcome.text);
    }
    outcome.exit_code
}

/// The command line without the global `-C DIR` and `--json`, to forward to
/// a running supervisor.
pub(crate) fn command_string() -> String {
    let mut words = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-C" => {
                args.next();
            }
            "--json" => {}
            a if a.starts_with("-C") && words.is_empty() => {}
            _ => words.push(arg),
        }
    }
    shell_words::join(words)
}
