//! Documented ranges of a tool definition's numbers, checked when a tool is
//! registered (from `dxforge.toml` or from any binding): a huge `*_ms`
//! overflows `Instant + Duration` or makes a wait endless, and 0 for
//! `health_interval_ms` would be a busy loop.
//!
//! Bindings whose host numbers are wider than the field (a JavaScript
//! `number`, a Python `int`) convert through [`NumberField::from_f64`] or
//! [`NumberField::from_int`], so that `-1`, `1.5`, `NaN` or `1e300` are
//! refused here, naming the field, instead of wrapping or truncating.

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

/// Every number of a [`DxToolDefinition`], with its name and range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NumberField {
    /// `priority` ([`PRIORITY`]).
    Priority,
    /// `health_interval_ms` ([`HEALTH_INTERVAL_MS`]).
    HealthIntervalMs,
    /// `startup_timeout_ms` ([`STARTUP_TIMEOUT_MS`]).
    StartupTimeoutMs,
    /// `max_restarts` ([`MAX_RESTARTS`]).
    MaxRestarts,
    /// `stop_timeout_ms` ([`STOP_TIMEOUT_MS`]).
    StopTimeoutMs,
}

impl NumberField {
    /// Every numeric field, in declaration order.
    pub const ALL: [NumberField; 5] = [
        NumberField::Priority,
        NumberField::HealthIntervalMs,
        NumberField::StartupTimeoutMs,
        NumberField::MaxRestarts,
        NumberField::StopTimeoutMs,
    ];

    /// The field's name in Rust, `dxforge.toml` and Python (`stop_timeout_ms`).
    pub const fn name(self) -> &'static str {
        match self {
            NumberField::Priority => "priority",
            NumberField::HealthIntervalMs => "health_interval_ms",
            NumberField::StartupTimeoutMs => "startup_timeout_ms",
            NumberField::MaxRestarts => "max_restarts",
            NumberField::StopTimeoutMs => "stop_timeout_ms",
        }
    }

    /// The range a value of this field must lie in.
    pub const fn range(self) -> RangeInclusive<u64> {
        match self {
            NumberField::Priority => PRIORITY,
            NumberField::HealthIntervalMs => HEALTH_INTERVAL_MS,
            NumberField::StartupTimeoutMs => STARTUP_TIMEOUT_MS,
            NumberField::MaxRestarts => MAX_RESTARTS,
            NumberField::StopTimeoutMs => STOP_TIMEOUT_MS,
        }
    }

    /// The value of this field in `tool`.
    pub fn get(self, tool: &DxToolDefinition) -> u64 {
        match self {
            NumberField::Priority => u64::from(tool.priority),
            NumberField::HealthIntervalMs => tool.health_interval_ms,
            NumberField::StartupTimeoutMs => tool.startup_timeout_ms,
            NumberField::MaxRestarts => u64::from(tool.max_restarts),
            NumberField::StopTimeoutMs => tool.stop_timeout_ms,
        }
    }

    /// Stores `value` (already checked by [`from_f64`](Self::from_f64) or
    /// [`from_int`](Self::from_int)) into `tool`.
    ///
    /// An unchecked value beyond a `u32` field saturates rather than wraps.
    pub fn set(self, tool: &mut DxToolDefinition, value: u64) {
        let narrow = u32::try_from(value).unwrap_or(u32::MAX);
        match self {
            NumberField::Priority => tool.priority = narrow,
            NumberField::HealthIntervalMs => tool.health_interval_ms = value,
            NumberField::StartupTimeoutMs => tool.startup_timeout_ms = value,
            NumberField::MaxRestarts => tool.max_restarts = narrow,
            NumberField::StopTimeoutMs => tool.stop_timeout_ms = value,
        }
    }

    /// A host floating-point number (a JavaScript `number`) as this field's
    /// value: whole, finite and within the range, else an error that names
    /// the field and the range.
    pub fn from_f64(self, value: f64) -> Result<u64, OutOfRange> {
        let range = self.range();
        let err = || OutOfRange {
            field: self.name(),
            value: Given::Float(value),
            range: range.clone(),
        };
        // Every bound is below 2^53, so the comparison and the cast are exact.
        if !value.is_finite()
            || value.fract() != 0.0
            || value < *range.start() as f64
            || value > *range.end() as f64
        {
            return Err(err());
        }
        Ok(value as u64)
    }

    /// A host integer (a Python `int`, possibly negative or huge) as this
    /// field's value: within the range, else an error naming the field.
    pub fn from_int(self, value: i128) -> Result<u64, OutOfRange> {
        let range = self.range();
        match u64::try_from(value) {
            Ok(v) if range.contains(&v) => Ok(v),
            _ => Err(OutOfRange {
                field: self.name(),
                value: Given::Integer(value),
                range,
            }),
        }
    }
}

/// A value as the host gave it, for error messages.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Given {
    /// An integer (from `dxforge.toml`, Rust, Python or C).
    Integer(i128),
    /// A floating-point number (from JavaScript).
    Float(f64),
}

impl std::fmt::Display for Given {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Given::Integer(i) => write!(f, "{i}"),
            Given::Float(x) if x.is_nan() => f.write_str("NaN"),
            Given::Float(x) if x.is_infinite() => {
                f.write_str(if x > 0.0 { "Infinity" } else { "-Infinity" })
            }
            // Whole numbers as integers (`-1`, not `-1.0`), huge ones short (`1e300`).
            Given::Float(x) if x.fract() == 0.0 && x.abs() < 1e21 => write!(f, "{x:.0}"),
            Given::Float(x) => write!(f, "{x:?}"),
        }
    }
}

/// A number outside its documented range (or not a whole number).
#[derive(Debug, Clone, PartialEq)]
pub struct OutOfRange {
    /// The field (`stop_timeout_ms`).
    pub field: &'static str,
    /// The value given.
    pub value: Given,
    /// The range it must lie in.
    pub range: RangeInclusive<u64>,
}

impl std::fmt::Display for OutOfRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} is out of range: must be a whole number from {} to {}",
            self.value,
            self.range.start(),
            self.range.end()
        )
    }
}

impl std::error::Error for OutOfRange {}

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
            value: Given::Integer(i128::from(value)),
            range: range.clone(),
        })
    }
}

/// Checks every number of a tool definition against its range.
pub fn check_numbers(tool: &DxToolDefinition) -> Result<(), OutOfRange> {
    // Exhaustive on purpose: a new field fails to compile here until it is
    // classified (a number gets a `NumberField` and a range).
    let DxToolDefinition {
        name: _,
        binary_path: _,
        args: _,
        priority: _,
        dependencies: _,
        dependency_conditions: _,
        cwd: _,
        env_file: _,
        env: _,
        health: _,
        health_interval_ms: _,
        startup_timeout_ms: _,
        restart: _,
        max_restarts: _,
        stop_signal: _,
        stop_timeout_ms: _,
        watch: _,
    } = tool;
    NumberField::ALL
        .iter()
        .try_for_each(|f| within(f.name(), f.get(tool), &f.range()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_numbers_that_are_not_whole_in_range_values_are_refused_naming_the_field() {
        let f = NumberField::MaxRestarts;
        for bad in [
            -1.0,
            1.5,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e300,
            10_001.0,
        ] {
            let err = f.from_f64(bad).unwrap_err();
            assert_eq!(err.field, "max_restarts");
        }
        assert_eq!(f.from_f64(10_000.0), Ok(10_000));
        assert_eq!(f.from_f64(-0.0), Ok(0));
        assert_eq!(
            f.from_f64(-1.0).unwrap_err().to_string(),
            "-1 is out of range: must be a whole number from 0 to 10000"
        );
        assert!(
            f.from_f64(1e300)
                .unwrap_err()
                .to_string()
                .starts_with("1e300 ")
        );
        assert!(
            f.from_f64(f64::NAN)
                .unwrap_err()
                .to_string()
                .starts_with("NaN ")
        );
        let p = NumberField::Priority;
        assert_eq!(p.from_int(i128::from(u32::MAX)), Ok(u64::from(u32::MAX)));
        assert!(p.from_int(i128::from(u32::MAX) + 1).is_err());
        assert!(p.from_int(-1).is_err());
        assert!(NumberField::StopTimeoutMs.from_int(i128::MAX).is_err());
    }
}
