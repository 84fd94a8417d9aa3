//! Sovereign Orchestrator: starts developer tools in dependency order, waits
//! until they are ready, supervises them and stops whole process trees.
//!
//! Part of dxforge; hosts normally use it through `dxforge::DxForge`.
#![warn(missing_docs)]

mod definition;
mod error;
mod status;

pub use definition::{DxToolDefinition, HealthCheck, RestartPolicy};
pub use error::{OrchestratorError, Result};
pub use status::{ExecOutput, ExitStatus, LogLine, ToolEvent, ToolState, ToolStatus};

mod orchestrator;
pub use orchestrator::{Orchestrator, OrchestratorConfig, WatchHandle};
