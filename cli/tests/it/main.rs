//! Integration tests of the `dxforge` command line, through the real binary:
//! one test binary, one module per concern. `regression` holds one test per
//! failure class, named after what it guards; `crash_kill` kills commands at
//! random points (`DXFORGE_CRASH_ROUNDS`); `supervision` drives `dxforge up`.

mod cli;
mod crash_kill;
#[path = "../../../crates/traffic/tests/it/http.rs"]
mod http;
mod registries;
mod regression;
mod supervision;
mod support;
