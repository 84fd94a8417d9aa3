//! The orchestrator's integration tests, with real processes: one binary (it
//! links once), one module per concern.
//!
//! Four suites stay binaries of their own because they observe the whole
//! test process, which other tests running beside them would disturb:
//! `parked` counts the process's parked shim pairs, `process_tree` checks
//! its zombies and cgroup leaves, `busy_machine` fills the machine with
//! processes and samples a shim's CPU, `stress` samples the process's CPU
//! time and descriptors.

mod common;
mod conditions_env;
mod host_death;
mod lifecycle;
mod logs_watch;
mod properties;
mod registration;
mod spawning;
mod supervision;
