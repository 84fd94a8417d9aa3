//! `logs [TOOL] [-n N] [--since WHEN]`: captured output of one tool, or of
//! every tool interleaved by capture time. `--follow` streams through the
//! control socket (`control::follow`); here it is refused, since a
//! pipeline call returns one outcome.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use dxforge_fs::{Policy, Root};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{PipelineOutcome, escape};
use crate::forge::STATE_DIR;
use crate::{DxForge, Error, Result};

/// One line of a tool's output, with the tool it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// The tool.
    pub tool: String,
    /// `"stdout"` or `"stderr"` (`"file"` for a line read back from a log file).
    pub stream: String,
    /// The line, without its newline.
    pub line: String,
    /// Capture time in milliseconds since the Unix epoch; 0 for a line read
    /// back from a log file (files keep no times).
    pub at_ms: u64,
}

/// The cut-off (milliseconds since the Unix epoch) of `--since WHEN`: a
/// duration back from now (`10m`, `1h30m`, `45s`) or an RFC 3339 time
/// (`2026-01-02T15:04:05Z`).
pub fn parse_since(when: &str) -> Result<u64> {
    parse_since_at(when, std::time::SystemTime::now())
}

/// [`parse_since`] against a given `now` (durations count back from it).
fn parse_since_at(when: &str, now: std::time::SystemTime) -> Result<u64> {
    let at = match humantime::parse_duration(when) {
        Ok(back) => now.checked_sub(back).unwrap_or(std::time::UNIX_EPOCH),
        Err(_) => humantime::parse_rfc3339_weak(when).map_err(|_| Error::Usage {
            message: format!(
                "--since {when:?}: neither a duration (10m, 1h30m, 45s) nor an RFC 3339 time (2026-01-02T15:04:05Z)"
            ),
        })?,
    };
    Ok(at
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64))
}

/// The captured lines of `tool` (every tool when `None`, interleaved by
/// capture time), at or after `since`, the last `lines` of them. When this
/// handle captured nothing and there is no `since`, the tails of the log
/// files from earlier runs (one tool after the other: files keep no times).
pub fn entries(
    forge: &DxForge,
    tool: Option<&str>,
    lines: usize,
    since: Option<u64>,
) -> Result<Vec<LogEntry>> {
    let names = match tool {
        Some(t) => {
            forge.state(t)?; // an unknown tool is an error naming it
            vec![t.to_owned()]
        }
        None => forge.tool_names()?,
    };
    let mut all = Vec::new();
    for name in &names {
        all.extend(forge.logs(name, usize::MAX)?.into_iter().map(|l| LogEntry {
            tool: name.clone(),
            stream: l.stream.to_owned(),
            line: l.line,
            at_ms: l.at_ms,
        }));
    }
    if all.is_empty() && since.is_none() {
        for name in &names {
            all.extend(
                log_file_tail(forge.root(), name, lines)?
                    .into_iter()
                    .map(|line| LogEntry {
                        tool: name.clone(),
                        stream: "file".to_owned(),
                        line,
                        at_ms: 0,
                    }),
            );
        }
        return Ok(all);
    }
    // Stable: lines of one tool keep their order within one millisecond.
    all.sort_by_key(|e| e.at_ms);
    if let Some(cut) = since {
        all.retain(|e| e.at_ms >= cut);
    }
    let skip = all.len().saturating_sub(lines);
    Ok(all.split_off(skip))
}

/// One entry as `logs` prints it: the bare line for one tool, `[tool] line`
/// for several (the name escaped; the line is the tool's own output).
pub fn format_entry(entry: &LogEntry, prefixed: bool) -> String {
    if prefixed {
        format!("[{}] {}", escape(&entry.tool), entry.line)
    } else {
        entry.line.clone()
    }
}

pub(super) fn logs(
    forge: &DxForge,
    tool: Option<&str>,
    lines: usize,
    follow: bool,
    since: Option<&str>,
) -> Result<PipelineOutcome> {
    if follow {
        return Err(Error::Usage {
            message: "`logs --follow` streams: run it from the command line, or subscribe to output lines (DxForge::subscribe_logs) from a host".to_owned(),
        });
    }
    let since = since.map(parse_since).transpose()?;
    let entries = entries(forge, tool, lines, since)?;
    let text: Vec<String> = entries
        .iter()
        .map(|e| format_entry(e, tool.is_none()))
        .collect();
    let plain: Vec<&str> = entries.iter().map(|e| e.line.as_str()).collect();
    Ok(PipelineOutcome::new(
        text.join("\n"),
        json!({ "tool": tool, "lines": plain, "entries": entries }),
    ))
}

/// The most of a log file `logs` reads: its tail (log files rotate at 10 MiB).
const LOG_TAIL_BYTES: u64 = 4 * 1024 * 1024;

/// The last `lines` lines of `.dxforge/logs/<tool>.log`, read beneath the
/// project (no link followed) and only its last [`LOG_TAIL_BYTES`].
fn log_file_tail(root: &Path, tool: &str, lines: usize) -> Result<Vec<String>> {
    let project = Root::open(root, Policy::Project)?;
    let state = match project.subroot(STATE_DIR, Policy::Plain, false) {
        Ok(state) => state,
        Err(e) if e.is_not_found() => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let rel = Path::new("logs").join(format!("{tool}.log"));
    let mut file = match state.open_file(&rel) {
        Ok(f) => f,
        Err(e) if e.is_not_found() => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let shown = state.join(&rel);
    let len = file.metadata().map_err(|e| Error::io(&shown, e))?.len();
    let start = len.saturating_sub(LOG_TAIL_BYTES);
    file.seek(SeekFrom::Start(start))
        .map_err(|e| Error::io(&shown, e))?;
    let mut bytes = Vec::new();
    file.take(LOG_TAIL_BYTES)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(&shown, e))?;
    let text = String::from_utf8_lossy(&bytes);
    let mut all: Vec<&str> = text.lines().collect();
    if start > 0 && !all.is_empty() {
        all.remove(0); // cut in the middle of a line
    }
    Ok(all[all.len().saturating_sub(lines)..]
        .iter()
        .map(|l| (*l).to_owned())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_durations_and_rfc3339_times_and_names_a_bad_value() {
        // One fixed `now`: two clock readings would drift apart under load.
        let clock = std::time::SystemTime::now();
        let now = parse_since_at("0s", clock).unwrap();
        let ten_min = parse_since_at("10m", clock).unwrap();
        assert_eq!(now - ten_min, 600_000, "{now} {ten_min}");
        assert_eq!(now - parse_since_at("1h 30m", clock).unwrap(), 5_400_000);
        assert!(parse_since("10m").unwrap() >= ten_min);
        assert_eq!(
            parse_since("2026-01-02T15:04:05Z").unwrap(),
            1_767_366_245_000
        );
        let err = parse_since("yesterday").unwrap_err();
        assert!(matches!(err, Error::Usage { .. }));
        assert!(err.to_string().contains("\"yesterday\""), "{err}");
    }
}
