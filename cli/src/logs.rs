//! `dxforge logs`: through a running `dxforge up` when there is one
//! (`--follow` streams from it), else the log files of earlier runs. With
//! every tool interleaved, each line is prefixed with its tool's name, in
//! colour on a terminal unless `NO_COLOR` is set.

use std::io::{IsTerminal, Write};
use std::path::Path;

use dxforge::pipeline::{Command, LogEntry, escape};
use dxforge::{Error, control};

use crate::{command_string, local, print};

/// Runs `logs` as the command line asked.
pub(crate) fn run(
    root: &Path,
    command: &Command,
    json: bool,
    all: bool,
    follow: bool,
    since: bool,
) -> Result<i32, Error> {
    let colour = !json && colour_wanted();
    if follow {
        let mut out = std::io::stdout().lock();
        let served = control::follow(root, &command_string(), |ev| {
            let text = match ev {
                control::FollowEvent::Entry(entry) if json => {
                    serde_json::to_string(&entry).unwrap_or_default()
                }
                control::FollowEvent::Entry(entry) => render(&entry, all, colour),
                control::FollowEvent::Dropped(n) if json => {
                    serde_json::json!({ "dropped": n }).to_string()
                }
                control::FollowEvent::Dropped(n) => format!("[dxforge] {n} lines dropped"),
                _ => return,
            };
            // A closed stdout (`| head`) ends the follow like the stream's end.
            let _ = writeln!(out, "{text}").and_then(|()| out.flush());
        })?;
        return if served {
            Ok(0)
        } else {
            Err(Error::NotRunning {
                command: "logs --follow".into(),
            })
        };
    }
    let outcome = match control::request(root, &command_string())? {
        Some(outcome) => outcome,
        // Without `up` nothing captured lines with their times.
        None if since => {
            return Err(Error::NotRunning {
                command: "logs --since".into(),
            });
        }
        None => return local(root, command, json),
    };
    if all && colour {
        let entries: Vec<LogEntry> =
            serde_json::from_value(outcome.json["entries"].clone()).unwrap_or_default();
        for entry in &entries {
            println!("{}", render(entry, true, true));
        }
        return Ok(outcome.exit_code);
    }
    Ok(print(&outcome, json))
}

/// Colour on a terminal, unless `NO_COLOR` is set to anything non-empty
/// (no-color.org).
fn colour_wanted() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// One line as printed: bare for one tool, else `[tool] line`, the prefix
/// coloured by a hash of the name (stable across runs).
fn render(entry: &LogEntry, prefixed: bool, colour: bool) -> String {
    if !prefixed {
        return entry.line.clone();
    }
    let name = escape(&entry.tool);
    if !colour {
        return format!("[{name}] {}", entry.line);
    }
    let hash = entry
        .tool
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    // Red, green, yellow, blue, magenta, cyan.
    let code = 31 + hash % 6;
    format!("\x1b[{code}m[{name}]\x1b[0m {}", entry.line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(tool: &str) -> LogEntry {
        LogEntry {
            tool: tool.into(),
            stream: "stdout".into(),
            line: "hello".into(),
            at_ms: 1,
        }
    }

    #[test]
    fn prefixes_are_coloured_only_when_asked_and_names_are_escaped() {
        assert_eq!(render(&entry("db"), false, true), "hello");
        assert_eq!(render(&entry("db"), true, false), "[db] hello");
        let coloured = render(&entry("db"), true, true);
        assert!(
            coloured.starts_with("\x1b[3") && coloured.ends_with("[db]\x1b[0m hello"),
            "{coloured:?}"
        );
        assert_eq!(render(&entry("db"), true, true), coloured, "stable colour");
        assert!(!render(&entry("a\nb"), true, false).contains('\n'));
    }
}
