//! # dxforge-c: the C ABI of dxforge
//!
//! Builds `libdxforge.so` and `libdxforge.a`; `build.rs` generates
//! `include/dxforge.h` from this crate with cbindgen (the doc comments below
//! become the header's documentation). Everything here only converts and
//! delegates to the core crate `dxforge` (imported as `dxforge_core`: this
//! library is itself named `dxforge`, so that it builds `libdxforge.so`).
//!
//! ## Conventions (one for the whole API)
//!
//! - Every fallible function returns `int`: `DXFORGE_OK` (0) or a negative
//!   `dxforge_error_code` (`-(ErrorKind as i32)`). As in libgit2, the message
//!   of the last failure is read with `dxforge_last_error_message()`,
//!   thread-local, valid until the next failing call on that thread; a
//!   success does not reset it (`dxforge_clear_last_error` does). Infallible
//!   accessors return their value directly (NULL handle: NULL or 0).
//! - Results come through out-parameters (last), which are set to NULL/0 on
//!   entry, so a failed call never leaves a dangling value behind.
//! - Everything the library allocates is freed by its own `_free` function;
//!   every pointer passed in is borrowed for the call only.
//! - Every string is checked for NULL and UTF-8; every handle for NULL
//!   (`DXFORGE_ERROR_INVALID_ARGUMENT` naming the parameter; nothing changes).
//! - No panic crosses the boundary: each entry point turns one into
//!   `DXFORGE_ERROR_INTERNAL`.
//!
//! ## Safety
//!
//! Every `unsafe extern "C"` function has the same contract, stated once here
//! rather than on each function: each pointer argument is NULL (checked) or
//! valid for the access its type implies for the duration of the call;
//! handles and outputs are ones this library returned and has not freed;
//! array pointers cover their `count`; strings are NUL-terminated.
//!
//! ## Caveats
//!
//! - Blocking calls (`dxforge_ensure_running`, `dxforge_execute_tool`,
//!   `dxforge_stop`, `dxforge_run_pipeline`, …) run on the core's one
//!   process-wide tokio runtime and block the calling thread.
//! - After `fork()`, a handle opened in the parent returns
//!   `DXFORGE_ERROR_FORKED` in the child; open a new one there.
//! - Using a handle after `dxforge_free` is undefined behaviour, as with
//!   `free`; after `dxforge_close` every call returns `DXFORGE_ERROR_CLOSED`.
// C type names (`dxforge_error_code`, `dxforge_status_callback`, ...) follow C style.
#![allow(non_camel_case_types)]
// The shared safety contract is documented once, in the module docs above.
#![allow(clippy::missing_safety_doc)]

mod convert;
mod error;
mod events;
mod forge;
mod json;
mod orchestrator;
mod pipeline;
mod tool_options;
mod tool_results;
mod traffic;
mod worker;

pub use convert::{dxforge_string_free, dxforge_string_list, dxforge_string_list_free};
pub use error::{
    dxforge_error_code, dxforge_error_code_name, dxforge_last_error_code,
    dxforge_last_error_message,
};
pub use events::{
    dxforge_on_status_change, dxforge_status_callback, dxforge_tool_event, dxforge_unsubscribe,
};
pub use forge::{
    DxForge, dxforge_close, dxforge_free, dxforge_is_closed, dxforge_open, dxforge_root,
    dxforge_version,
};
pub use orchestrator::*;
pub use pipeline::*;
pub use tool_options::*;
pub use tool_results::*;
pub use traffic::*;
pub use worker::*;
