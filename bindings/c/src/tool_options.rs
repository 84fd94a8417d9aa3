//! `dxforge_tool_options`: the C form of `DxToolDefinition`.

use std::collections::BTreeMap;
use std::ffi::{c_char, c_int};
use std::path::PathBuf;

use dxforge_core::{DependencyCondition, DxToolDefinition, HealthCheck, RestartPolicy, Result};

use crate::convert::{check_options_version, opt_str_arg, str_arg, str_array_arg};
use crate::error::{guard, invalid};

/// The current version of `dxforge_tool_options`; pass it to
/// `dxforge_tool_options_init`. Version 2 added `env_file` and
/// `dependency_conditions`; a caller built for version 1 is refused with an
/// error naming both versions (its struct is shorter).
pub const DXFORGE_TOOL_OPTIONS_VERSION: u32 = 2;

/// How readiness of a tool is checked (`dxforge_tool_options.health_kind`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum dxforge_health_kind {
    /// No check: ready once spawned.
    None = 0,
    /// Ready when a TCP connection to `health_target` (`host:port`) succeeds.
    Tcp = 1,
    /// Ready when `GET health_target` (a plain `http://` URL) answers 2xx.
    Http = 2,
    /// Ready when the command `health_command` exits with status 0.
    Command = 3,
}

/// What to do when a tool exits on its own (`dxforge_tool_options.restart`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum dxforge_restart_policy {
    /// Never restart.
    Never = 0,
    /// Restart after a non-zero exit or a signal (the default).
    OnFailure = 1,
    /// Restart after any exit.
    Always = 2,
}

/// A tool to register with `dxforge_register_tool`.
///
/// Initialise it with `dxforge_tool_options_init(&opts, DXFORGE_TOOL_OPTIONS_VERSION)`
/// (which sets every default), then set at least `name` and `binary_path`.
/// Every pointer is borrowed for the duration of the call only; dxforge
/// copies what it keeps. String arrays may be NULL when their count is 0.
/// Enumerations are stored as `uint32_t` so that a wrong value is an error,
/// not undefined behaviour.
#[repr(C)]
pub struct dxforge_tool_options {
    /// Must be `DXFORGE_TOOL_OPTIONS_VERSION`.
    pub version: u32,
    /// Unique tool name (required).
    pub name: *const c_char,
    /// Absolute path; relative to the project root if it contains `/`; else
    /// looked up on `PATH` when the tool starts (required).
    pub binary_path: *const c_char,
    /// Arguments passed by `dxforge_ensure_running`.
    pub args: *const *const c_char,
    /// Number of `args`.
    pub args_count: usize,
    /// Names of tools (already registered) that must be ready first.
    pub dependencies: *const *const c_char,
    /// Number of `dependencies`.
    pub dependencies_count: usize,
    /// Lower starts first among tools not ordered by dependencies.
    pub priority: u32,
    /// Working directory relative to the project root; NULL = the root.
    pub cwd: *const c_char,
    /// Extra environment variables as `"KEY=VALUE"` strings.
    pub env: *const *const c_char,
    /// Number of `env` entries.
    pub env_count: usize,
    /// A `dxforge_health_kind`.
    pub health_kind: u32,
    /// `host:port` (TCP) or URL (HTTP); ignored for other kinds.
    pub health_target: *const c_char,
    /// Program and arguments of a command health check.
    pub health_command: *const *const c_char,
    /// Number of `health_command` words.
    pub health_command_count: usize,
    /// How often the health check runs while waiting for readiness.
    pub health_interval_ms: u64,
    /// How long the tool may take to become ready before it is degraded.
    pub startup_timeout_ms: u64,
    /// A `dxforge_restart_policy`.
    pub restart: u32,
    /// Restarts allowed (with backoff) before the tool is degraded.
    pub max_restarts: u32,
    /// Signal name sent to the whole process tree on stop; NULL = `"SIGTERM"`.
    pub stop_signal: *const c_char,
    /// Grace period after the stop signal, then SIGKILL to the whole tree.
    pub stop_timeout_ms: u64,
    /// Globs (relative to the root) whose changes restart the tool in watch mode.
    pub watch: *const *const c_char,
    /// Number of `watch` globs.
    pub watch_count: usize,
    /// A dotenv file (relative to the project root) read when the tool
    /// starts; `env` wins over it. NULL = none.
    pub env_file: *const c_char,
    /// Conditions of dependencies as `"NAME=CONDITION"` strings, CONDITION
    /// one of `started`, `healthy`, `completed_successfully`; a dependency
    /// without one waits until it is healthy (running without a health check).
    pub dependency_conditions: *const *const c_char,
    /// Number of `dependency_conditions`.
    pub dependency_conditions_count: usize,
}

/// Fills `opts` with the defaults for `version` (all pointers NULL, counts
/// 0, health none, restart on-failure, max_restarts 5, health_interval_ms
/// 500, startup_timeout_ms 30000, stop_timeout_ms 5000).
/// Errors: `DXFORGE_ERROR_INVALID_ARGUMENT` when `opts` is NULL or `version`
/// is not a version this library knows.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_tool_options_init(
    opts: *mut dxforge_tool_options,
    version: u32,
) -> c_int {
    guard(|| {
        if opts.is_null() {
            return Err(invalid("opts", "is NULL"));
        }
        check_version(version)?;
        let d = DxToolDefinition::default();
        let defaults = dxforge_tool_options {
            version,
            name: std::ptr::null(),
            binary_path: std::ptr::null(),
            args: std::ptr::null(),
            args_count: 0,
            dependencies: std::ptr::null(),
            dependencies_count: 0,
            priority: d.priority,
            cwd: std::ptr::null(),
            env: std::ptr::null(),
            env_count: 0,
            health_kind: dxforge_health_kind::None as u32,
            health_target: std::ptr::null(),
            health_command: std::ptr::null(),
            health_command_count: 0,
            health_interval_ms: d.health_interval_ms,
            startup_timeout_ms: d.startup_timeout_ms,
            restart: restart_code(d.restart) as u32,
            max_restarts: d.max_restarts,
            stop_signal: std::ptr::null(),
            stop_timeout_ms: d.stop_timeout_ms,
            watch: std::ptr::null(),
            watch_count: 0,
            env_file: std::ptr::null(),
            dependency_conditions: std::ptr::null(),
            dependency_conditions_count: 0,
        };
        // SAFETY: non-NULL and writable per the documented contract.
        unsafe { opts.write(defaults) };
        Ok(())
    })
}

fn check_version(version: u32) -> Result<()> {
    check_options_version(
        version,
        DXFORGE_TOOL_OPTIONS_VERSION,
        "DXFORGE_TOOL_OPTIONS_VERSION",
    )
}

fn restart_code(policy: RestartPolicy) -> dxforge_restart_policy {
    match policy {
        RestartPolicy::Never => dxforge_restart_policy::Never,
        RestartPolicy::Always => dxforge_restart_policy::Always,
        _ => dxforge_restart_policy::OnFailure,
    }
}

/// Converts C options into a definition, checking every field.
///
/// # Safety
/// `opts` is NULL or points to a readable `dxforge_tool_options` whose
/// pointers follow the documented contract.
pub(crate) unsafe fn definition_from(
    opts: *const dxforge_tool_options,
) -> Result<DxToolDefinition> {
    if opts.is_null() {
        return Err(invalid("opts", "is NULL"));
    }
    // SAFETY: readable per the caller's contract.
    let o = unsafe { &*opts };
    check_version(o.version)?;
    // SAFETY: `opts.name` is NULL or a NUL-terminated string (this function's contract for `opts`).
    let name = unsafe { str_arg(o.name, "opts.name") }?;
    // SAFETY: `opts.binary_path` is NULL or a NUL-terminated string (this function's contract for
    // `opts`).
    let binary = unsafe { str_arg(o.binary_path, "opts.binary_path") }?;
    let mut def = DxToolDefinition::new(name, binary);
    // SAFETY: `opts.args` is NULL or holds `opts.args_count` strings (this function's contract for
    // `opts`).
    def.args = unsafe { str_array_arg(o.args, o.args_count, "opts.args") }?;
    def.dependencies =
        // SAFETY: `opts.dependencies` is NULL or holds `opts.dependencies_count` strings (this
        // function's contract for `opts`).
        unsafe { str_array_arg(o.dependencies, o.dependencies_count, "opts.dependencies") }?;
    def.priority = o.priority;
    // SAFETY: `opts.cwd` is NULL or a NUL-terminated string (this function's contract for `opts`).
    def.cwd = unsafe { opt_str_arg(o.cwd, "opts.cwd") }?.map(PathBuf::from);
    // SAFETY: `opts.env` is NULL or holds `opts.env_count` strings (this function's contract for
    // `opts`).
    def.env = env_from(unsafe { str_array_arg(o.env, o.env_count, "opts.env") }?)?;
    def.health = match o.health_kind {
        0 => None,
        1 => Some(HealthCheck::Tcp(
            // SAFETY: `opts.health_target` is NULL or a NUL-terminated string (this function's
            // contract for `opts`).
            unsafe { str_arg(o.health_target, "opts.health_target") }?.to_owned(),
        )),
        2 => Some(HealthCheck::Http(
            // SAFETY: `opts.health_target` is NULL or a NUL-terminated string (this function's
            // contract for `opts`).
            unsafe { str_arg(o.health_target, "opts.health_target") }?.to_owned(),
        )),
        // SAFETY: `opts.health_command` is NULL or holds `opts.health_command_count` strings (this
        // function's contract for `opts`).
        3 => Some(HealthCheck::Command(unsafe {
            str_array_arg(
                o.health_command,
                o.health_command_count,
                "opts.health_command",
            )
        }?)),
        other => {
            return Err(invalid(
                "opts.health_kind",
                format!("{other} is not a dxforge_health_kind (0..=3)"),
            ));
        }
    };
    def.health_interval_ms = o.health_interval_ms;
    def.startup_timeout_ms = o.startup_timeout_ms;
    // `dxforge_restart_policy`'s values are the positions in the core's table.
    def.restart = usize::try_from(o.restart)
        .ok()
        .and_then(|i| RestartPolicy::ALL.get(i).copied())
        .ok_or_else(|| {
            invalid(
                "opts.restart",
                format!("{} is not a dxforge_restart_policy (0..=2)", o.restart),
            )
        })?;
    def.max_restarts = o.max_restarts;
    // SAFETY: `opts.stop_signal` is NULL or a NUL-terminated string (this function's contract for
    // `opts`).
    if let Some(signal) = unsafe { opt_str_arg(o.stop_signal, "opts.stop_signal") }? {
        def.stop_signal = signal.to_owned();
    }
    def.stop_timeout_ms = o.stop_timeout_ms;
    // SAFETY: `opts.watch` is NULL or holds `opts.watch_count` strings (this function's contract
    // for `opts`).
    def.watch = unsafe { str_array_arg(o.watch, o.watch_count, "opts.watch") }?;
    // SAFETY: `opts.env_file` is NULL or a NUL-terminated string (this function's contract for
    // `opts`).
    def.env_file = unsafe { opt_str_arg(o.env_file, "opts.env_file") }?.map(str::to_owned);
    def.dependency_conditions = conditions_from(
        // SAFETY: `opts.dependency_conditions` is NULL or holds `opts.dependency_conditions_count`
        // strings (this function's contract for `opts`).
        unsafe {
            str_array_arg(
                o.dependency_conditions,
                o.dependency_conditions_count,
                "opts.dependency_conditions",
            )
        }?,
    )?;
    Ok(def)
}

fn conditions_from(entries: Vec<String>) -> Result<BTreeMap<String, DependencyCondition>> {
    entries
        .into_iter()
        .enumerate()
        .map(|(i, entry)| {
            let bad = |why: String| invalid(format!("opts.dependency_conditions[{i}]"), why);
            let (name, condition) = entry
                .split_once('=')
                .filter(|(name, _)| !name.is_empty())
                .ok_or_else(|| bad(format!("`{entry}` is not NAME=CONDITION")))?;
            let condition = condition.parse::<DependencyCondition>().map_err(bad)?;
            Ok((name.to_owned(), condition))
        })
        .collect()
}

fn env_from(entries: Vec<String>) -> Result<BTreeMap<String, String>> {
    entries
        .into_iter()
        .enumerate()
        .map(|(i, entry)| match entry.split_once('=') {
            Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
            _ => Err(invalid(
                format!("opts.env[{i}]"),
                format!("`{entry}` is not KEY=VALUE"),
            )),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependency_conditions_are_name_equals_condition_and_bad_ones_name_the_entry() {
        let ok = conditions_from(vec![
            "migrate=completed_successfully".into(),
            "db=started".into(),
        ])
        .unwrap();
        assert_eq!(ok["migrate"], DependencyCondition::CompletedSuccessfully);
        assert_eq!(ok["db"], DependencyCondition::Started);
        for (bad, want) in [
            ("db", "not NAME=CONDITION"),
            ("=started", "not NAME=CONDITION"),
            ("db=done", "unknown condition"),
        ] {
            let err = conditions_from(vec!["x=healthy".into(), bad.into()]).unwrap_err();
            let msg = err.to_string();
            assert!(
                msg.contains("opts.dependency_conditions[1]") && msg.contains(want),
                "{msg}"
            );
        }
    }

    #[test]
    fn every_c_restart_policy_is_its_position_in_the_core_table() {
        for policy in RestartPolicy::ALL {
            let code = restart_code(policy);
            assert_eq!(RestartPolicy::ALL[code as usize], policy);
        }
    }
}
