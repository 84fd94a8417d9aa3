//! Documented ranges of every number in `dxforge.toml`, checked at parse time,
//! and the rest of each tool definition, checked by the orchestrator's one
//! validation function (`dxforge_orchestrator::validate`), the same that
//! registration from any binding runs.
//!
//! A value outside its range is refused with the usual
//! `dxforge.toml:LINE:COL: key `…`: …` error pointing at the value, before
//! anything uses it: a huge `queue_capacity` would try to allocate it, a huge
//! `*_ms` overflows `Instant + Duration` (a panic) or makes a wait endless; a
//! TCP health target that is not `host:port` is refused here rather than
//! after the tool was spawned.

use std::ops::RangeInclusive;
use std::path::Path;

use toml::de::{DeTable, DeValue};

use super::{ConfigError, ProjectConfig, position};

pub use dxforge_orchestrator::limits::{
    Given, HEALTH_INTERVAL_MS, MAX_RESTARTS, NumberField, OutOfRange, PRIORITY, STARTUP_TIMEOUT_MS,
    STOP_TIMEOUT_MS, check_numbers as check_tool, within,
};
/// `[worker] queue_capacity`: 1 to 1,048,576 queued tasks (the queue is allocated up front).
pub const QUEUE_CAPACITY: RangeInclusive<u64> = 1..=1_048_576;
/// `[worker] concurrency`: 1 to 256 tasks at once.
pub const CONCURRENCY: RangeInclusive<u64> = 1..=256;
/// `[remote] connect_timeout_ms` and `request_timeout_ms`: 100 ms to 10 minutes.
/// The worker's range, checked by the worker's own `[remote]` deserializer
/// (`dxforge_worker::RemoteConfig`), whose error points at the value like
/// every other parse error.
pub const REMOTE_TIMEOUT_MS: RangeInclusive<u64> = dxforge_worker::TIMEOUT_RANGE_MS;

/// Checks every number of a parsed configuration against its range; the
/// error points at the value in `text`.
pub(super) fn check(config: &ProjectConfig, text: &str, path: &Path) -> Result<(), ConfigError> {
    let mut found: Option<(Vec<String>, String)> = None;
    for (name, tool) in &config.tools {
        if let Err(e) = dxforge_orchestrator::validate::validate(tool) {
            let key = ["tools".to_owned(), name.clone()]
                .into_iter()
                .chain(e.path)
                .collect();
            found = Some((key, e.reason));
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
        found = worker
            .err()
            .map(|e| (vec!["worker".to_owned(), e.field.to_owned()], e.to_string()));
    }
    let Some((key, message)) = found else {
        return Ok(());
    };
    let dotted = key.join(".");
    // The text parsed once already, so the spanned parse succeeds; without a
    // span (a default that is out of range cannot happen; an array element
    // such as `args[2]`) the key alone is named.
    let key: Vec<&str> = key.iter().map(String::as_str).collect();
    match value_offset(text, &key) {
        Some(offset) => {
            let (line, column) = position(text, offset);
            Err(ConfigError::Parse {
                path: path.to_owned(),
                line,
                column,
                key: Some(dotted),
                message,
            })
        }
        None => Err(ConfigError::Invalid {
            path: path.to_owned(),
            key: dotted,
            message,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> String {
        ProjectConfig::parse(text, Path::new("/p/dxforge.toml"))
            .unwrap_err()
            .to_string()
    }

    // The loader runs the registration's validation: a bad health target is
    // refused when the file is read, pointing at the value, not after `up`
    // spawned the tool.
    #[test]
    fn config_refuses_a_tcp_target_that_is_not_host_port_pointing_at_it() {
        let msg = parse("[tools.db]\nbinary_path = \"x\"\nhealth = { tcp = \"localhost\" }\n");
        assert!(msg.starts_with("/p/dxforge.toml:3:"), "{msg}");
        assert!(msg.contains("key `tools.db.health.tcp`"), "{msg}");
        assert!(msg.contains("is not host:port"), "{msg}");
        let msg = parse("[tools.web]\nbinary_path = \"x\"\nhealth = { http = \"https://x/\" }\n");
        assert!(msg.contains("key `tools.web.health.http`"), "{msg}");
        let msg = parse("[tools.db]\nbinary_path = \"x\"\nstop_signal = \"SIGNOPE\"\n");
        assert!(msg.starts_with("/p/dxforge.toml:3:"), "{msg}");
        assert!(msg.contains("key `tools.db.stop_signal`"), "{msg}");
        let msg = parse("[tools.db]\nbinary_path = \"x\"\nargs = [\"a\\u0000\"]\n");
        assert!(msg.contains("key `tools.db.args.0`"), "{msg}");
    }
}
