//! `snapshot`, `snapshots`, `restore`, `sync push|pull`, `analyze`.
//!
//! OWNER: the Shadow Worker engineer.

use super::{Command, PipelineOutcome};
use crate::{DxForge, Error, Result};

pub(super) async fn run(_forge: &DxForge, _command: &Command) -> Result<PipelineOutcome> {
    Err(Error::NotImplemented { feature: "Shadow Worker commands (snapshot, snapshots, restore, sync, analyze)".into() })
}
