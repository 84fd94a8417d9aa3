//! Integration tests of the `dxforge` command line, through the real binary:
//! one test binary, one module per concern. `regression` holds one test per
//! failure class, named after what it guards; `crash_kill` kills commands at
//! random points (`DXFORGE_CRASH_ROUNDS`); `supervision` drives `dxforge up`.

mod cleanup;
mod cli;
mod crash_kill;
mod generate;
#[path = "../../../crates/traffic/tests/it/http.rs"]
mod http;
mod import;
mod registries;
mod regression;
mod restart_logs;
mod supervision;
mod support;
