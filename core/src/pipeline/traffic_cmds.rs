//! `add`, `install`, `update`, `remove`, `diff`, `check`.
//!
//! OWNER: the Traffic Branching engineer. Text output: one line per file
//! (`GREEN   path   reason`); JSON: the report; exit code `EXIT_RED` when any
//! file ends Red.

use super::{Command, PipelineOutcome};
use crate::{DxForge, Error, Result};

pub(super) fn run(_forge: &DxForge, _command: &Command) -> Result<PipelineOutcome> {
    Err(Error::NotImplemented { feature: "Traffic Branching commands (add, install, update, remove, diff, check)".into() })
}
