//! Documented ranges of every number in `dxforge.toml`, checked at parse time.
//!
//! A value outside its range is refused with the usual
//! `dxforge.toml:LINE:COL: key `…`: …` error pointing at the value, before
//! anything uses it: a huge `queue_capacity` would try to allocate it, a huge
//! `*_ms` overflows `Instant + Duration` (a panic) or makes a wait endless.

use std::ops::RangeInclusive;
use std::path::Path;

use dxforge_orchestrator::DxToolDefinition;
use toml::de::{DeTable, DeValue};

use super::{ConfigError, ProjectConfig, position};

/// `[tools.X] priority`: the whole `u32` range (only compared, never used as a size).
pub const PRIORITY: RangeInclusive<u64> = 0..=u32::MAX as u64;
/// `[tools.X] health_interval_ms`: 1 ms to 1 hour (0 would be a busy loop).
pub const HEALTH_INTERVAL_MS: RangeInclusive<u64> = 1..=3_600_000;
/// `[tools.X] startup_timeout_ms`: 1 ms to 24 hours.
pub const STARTUP_TIMEOUT_MS: RangeInclusive<u64> = 1..=86_400_000;
/// `[tools.X] max_restarts`: 0 (never restart) to 10,000.
pub const MAX_RESTARTS: RangeInclusive<u64> = 0..=10_000;
/// `[tools.X] stop_timeout_ms`: 0 (kill at once) to 1 hour; closing a handle
/// may block this long, so it stays well below a day.
pub const STOP_TIMEOUT_MS: RangeInclusive<u64> = 0..=3_600_000;
/// `[worker] queue_capacity`: 1 to 1,048,576 queued tasks (the queue is allocated up front).
pub const QUEUE_CAPACITY: RangeInclusive<u64> = 1..=1_048_576;
/// `[worker] concurrency`: 1 to 256 tasks at once.
pub const CONCURRENCY: RangeInclusive<u64> = 1..=256;
/// `[remote] connect_timeout_ms` and `request_timeout_ms`: 100 ms to 10 minutes.
pub const REMOTE_TIMEOUT_MS: RangeInclusive<u64> = 100..=600_000;

/// A number outside its documented range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutOfRange {
    /// The field (`stop_timeout_ms`).
    pub field: &'static str,
    /// The value given.
    pub value: u64,
    /// The range it must lie in.
    pub range: RangeInclusive<u64>,
}

impl std::fmt::Display for OutOfRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} is out of range: must be {} to {}",
            self.value,
            self.range.start(),
            self.range.end()
        )
    }
}

fn within(field: &'static str, value: u64, range: &RangeInclusive<u64>) -> Result<(), OutOfRange> {
    if range.contains(&value) {
        Ok(())
    } else {
        Err(OutOfRange {
            field,
            value,
            range: range.clone(),
        })
    }
}

/// Checks every number of a tool definition against its range (the same
/// checks `dxforge.toml` gets; for hosts that build definitions in code).
pub fn check_tool(tool: &DxToolDefinition) -> Result<(), OutOfRange> {
    within("priority", u64::from(tool.priority), &PRIORITY)?;
    within(
        "health_interval_ms",
        tool.health_interval_ms,
        &HEALTH_INTERVAL_MS,
    )?;
    within(
        "startup_timeout_ms",
        tool.startup_timeout_ms,
        &STARTUP_TIMEOUT_MS,
    )?;
    within("max_restarts", u64::from(tool.max_restarts), &MAX_RESTARTS)?;
    within("stop_timeout_ms", tool.stop_timeout_ms, &STOP_TIMEOUT_MS)
}

/// Checks every number of a parsed configuration against its range; the
/// error points at the value in `text`.
pub(super) fn check(config: &ProjectConfig, text: &str, path: &Path) -> Result<(), ConfigError> {
    let mut found: Option<(Vec<&str>, OutOfRange)> = None;
    for (name, tool) in &config.tools {
        if let Err(e) = check_tool(tool) {
            found = Some((vec!["tools", name.as_str(), e.field], e));
            break;
        }
    }
    if found.is_none() {
        // usize → u64 never truncates on the 64-bit targets dxforge builds for.
        let worker = within(
            "queue_capacity",
            config.worker.queue_capacity as u64,
            &QUEUE_CAPACITY,
        )
        .and_then(|()| {
            within(
                "concurrency",
                config.worker.concurrency as u64,
                &CONCURRENCY,
            )
        });
        found = worker.err().map(|e| (vec!["worker", e.field], e));
    }
    if found.is_none()
        && let Some(remote) = &config.remote
    {
        let checked = within(
            "connect_timeout_ms",
            remote.connect_timeout_ms,
            &REMOTE_TIMEOUT_MS,
        )
        .and_then(|()| {
            within(
                "request_timeout_ms",
                remote.request_timeout_ms,
                &REMOTE_TIMEOUT_MS,
            )
        });
        found = checked.err().map(|e| (vec!["remote", e.field], e));
    }
    let Some((key, err)) = found else {
        return Ok(());
    };
    let dotted = key.join(".");
    // The text parsed once already, so the spanned parse succeeds; without a
    // span (a default that is out of range cannot happen) the key alone is named.
    match value_offset(text, &key) {
        Some(offset) => {
            let (line, column) = position(text, offset);
            Err(ConfigError::Parse {
                path: path.to_owned(),
                line,
                column,
                key: Some(dotted),
                message: err.to_string(),
            })
        }
        None => Err(ConfigError::Invalid {
            path: path.to_owned(),
            key: dotted,
            message: err.to_string(),
        }),
    }
}

/// Byte offset of the value at `key` (a table path) in `text`.
fn value_offset(text: &str, key: &[&str]) -> Option<usize> {
    let doc = DeTable::parse(text).ok()?;
    let (first, rest) = key.split_first()?;
    let mut value = doc.get_ref().get(*first)?;
    for part in rest {
        value = match value.get_ref() {
            DeValue::Table(t) => t.get(*part)?,
            _ => return None,
        };
    }
    Some(value.span().start)
}
