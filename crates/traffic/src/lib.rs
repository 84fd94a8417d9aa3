//! Traffic Branching: a source-injection package manager. Package files are
//! copied into the user's project and later upgrades keep the user's edits,
//! with a Green/Yellow/Red light per file.
#![warn(missing_docs)]

use serde::{Deserialize, Serialize};

/// Safety of replacing a file with new upstream content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrafficLight {
    /// The file does not exist or already equals the new content.
    Green,
    /// The file differs but merges cleanly with the new content.
    Yellow,
    /// The file differs and cannot be merged: it is kept, `<file>.new` is written.
    Red,
}
