//! # dxforge for Node
//!
//! The napi-rs glue of the `dxforge` npm package: a thin `DxForge` class
//! around the Rust core's handle. Each module converts and delegates for one
//! part of the core:
//!
//! - [`forge`]: opening and closing the handle;
//! - [`orchestrator`], [`definition`], [`status`]: the Sovereign Orchestrator;
//! - [`events`]: status-change callbacks and watch mode;
//! - [`traffic`], [`traffic_types`]: Traffic Branching (package installs with traffic lights);
//! - [`worker`], [`worker_types`]: the Shadow Worker (queue, snapshots, sync, analysis);
//! - [`pipeline`]: `runPipeline` command strings;
//! - [`error`]: `Error` objects with the core's stable `code`;
//! - [`runtime`], [`promise`]: every Promise runs on the core's one tokio runtime.
//!
//! Caveats a user meets: long work returns Promises and never blocks the
//! event loop; callbacks run on the JS thread and do not keep the process
//! alive (see [`events`]).
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod definition;
pub mod error;
pub mod events;
pub mod forge;
pub mod orchestrator;
pub mod pipeline;
pub mod promise;
pub mod runtime;
pub mod status;
pub mod traffic;
pub mod traffic_types;
pub mod worker;
pub mod worker_types;
