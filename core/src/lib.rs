//! # dxforge
//!
//! An embeddable engine for local developer tooling, behind one handle,
//! [`DxForge`]:
//!
//! - **Sovereign Orchestrator** ([`dxforge_orchestrator`]): starts developer
//!   tools in dependency order, waits until they are ready, supervises them
//!   and stops whole process trees.
//! - **Shadow Worker** ([`dxforge_worker`]): a bounded background queue whose
//!   `enqueue` never blocks: snapshots, remote sync, prefetch, analysis.
//! - **Traffic Branching** ([`dxforge_traffic`]): a source-injection package
//!   manager that keeps the user's edits through upgrades.
//!
//! The same engine is used from C, Python and Node; every binding converts
//! [`Error`] once by its [`ErrorKind`].
//!
//! ```no_run
//! # fn main() -> dxforge::Result<()> {
//! let forge = dxforge::DxForge::open("examples/demo")?;
//! let status = dxforge::runtime::block_on(forge.ensure_running("web"))??;
//! println!("web is {status:?}");
//! forge.shutdown()?; // also happens when the last clone is dropped
//! # Ok(()) }
//! ```

pub mod config;
pub mod control;
mod error;
mod forge;
#[doc(hidden)]
pub mod fuzzing;
pub mod import;
pub mod pipeline;
pub mod runtime;
pub mod schema;

pub use error::{Error, ErrorKind, Result};
pub use forge::{DxForge, GcSummary, STATE_DIR, SubscriptionId};
pub use pipeline::PipelineOutcome;

pub use dxforge_orchestrator::{
    self, DependencyCondition, DxToolDefinition, ExecOutput, ExitStatus, HealthCheck, LogLine,
    RestartPolicy, ToolEvent, ToolState, ToolStatus,
};
pub use dxforge_traffic::{self, TrafficLight};
pub use dxforge_worker::{self, BackgroundTask};
