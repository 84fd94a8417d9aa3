//! Documented ranges of a tool definition's numbers, checked when a tool is
//! registered (from `dxforge.toml` or from any binding): a huge `*_ms`
//! overflows `Instant + Duration` or makes a wait endless, and 0 for
//! `health_interval_ms` would be a busy loop.

use std::ops::RangeInclusive;

use crate::DxToolDefinition;

/// `priority`: the whole `u32` range (only compared, never used as a size).
pub const PRIORITY: RangeInclusive<u64> = 0..=u32::MAX as u64;
/// `health_interval_ms`: 1 ms to 1 hour.
pub const HEALTH_INTERVAL_MS: RangeInclusive<u64> = 1..=3_600_000;
/// `startup_timeout_ms`: 1 ms to 24 hours.
pub const STARTUP_TIMEOUT_MS: RangeInclusive<u64> = 1..=86_400_000;
/// `max_restarts`: 0 (never restart) to 10,000.
pub const MAX_RESTARTS: RangeInclusive<u64> = 0..=10_000;
/// `stop_timeout_ms`: 0 (kill at once) to 1 hour; closing a handle may block
/// this long, so it stays well below a day.
pub const STOP_TIMEOUT_MS: RangeInclusive<u64> = 0..=3_600_000;

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

/// Checks `value` of `field` against `range`.
pub fn within(
    field: &'static str,
    value: u64,
    range: &RangeInclusive<u64>,
) -> Result<(), OutOfRange> {
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

/// Checks every number of a tool definition against its range.
pub fn check_numbers(tool: &DxToolDefinition) -> Result<(), OutOfRange> {
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
