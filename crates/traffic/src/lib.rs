//! Traffic Branching: a source-injection package manager. Package files are
//! copied into the user's project (like shadcn/ui) and later upgrades keep the
//! user's edits, with a Green/Yellow/Red light per file (docs/contract.md §6).
//!
//! * Registry: a directory `<registry>/<name>/<version>/{dxpkg.toml,files/}`
//!   ([`registry`]), resolved with semver ([`resolve`]); or shadcn-style
//!   registry items over HTTP(S), S3 or files ([`remote`]), planned and
//!   installed by the same transactional path.
//! * `dxforge.lock` records each installed file's pristine BLAKE3 hash
//!   ([`lockfile`]); the content itself is in `.dxforge/base/` ([`base`]).
//! * Upgrades three-way merge like `git merge-file` ([`merge`]); the light
//!   per file follows [`light`].
//! * Every mutating operation is one crash-safe transaction ([`txn`]) under
//!   the project lock `.dxforge/lock`.
//! * Nothing is trusted: every read and write in the project, the registry
//!   and `.dxforge/` goes through a `dxforge_fs::Root`, so no symlink is ever
//!   followed and `.git`/`.dxforge` are out of reach ([`safety`]); every file
//!   read from disk is size-capped and every parser bounded ([`limits`]).
//!
//! Caveats the user meets: a Red file is left untouched and the upstream
//! content is written to a side file, `<file>.new` or, when that name is
//! taken, `<file>.new.1`, `<file>.new.2`, … (recorded in the lock and the
//! report); a project path that crosses a symlink is refused, even when the
//! link stays inside the project; `install_all` never removes packages that
//! disappeared from `[dependencies]` (use `remove`); removing a package
//! leaves its dependencies installed.

use serde::{Deserialize, Serialize};

pub mod base;
mod base_gc;
mod crash;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
mod journal;
pub mod light;
pub mod limits;
pub mod lockfile;
mod manager;
pub mod manifest;
pub mod merge;
mod plan;
pub mod project_manifest;
pub mod registry;
pub mod remote;
pub mod report;
pub mod resolve;
pub mod safety;
mod session;
pub mod store;
pub mod txn;

pub use base_gc::BaseGcReport;
pub use error::TrafficError;
pub use lockfile::{LockedPackage, Lockfile};
pub use manager::{InstallOptions, TrafficManager};
pub use manifest::PackageManifest;
pub use merge::{ConflictRegion, LineRange, MergeError, MergeOutcome, merge3};
pub use report::{
    FileAction, FileReport, InstallReport, ItemReport, ModifiedFile, PrefetchReport,
    PrefetchedPackage, Recovery, RecoveryReport, RemoveReport, ResolvedPackage,
};
pub use session::{LOCK_WAIT, WRITE_LOCK_WAIT};

/// Safety of replacing a file with new upstream content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
// The bindings have always called this shape `Light`.
#[schemars(rename = "Light")]
pub enum TrafficLight {
    /// The file does not exist or already equals the new content.
    Green,
    /// The file differs but merges cleanly with the new content.
    Yellow,
    /// The file differs and cannot be merged: it is kept, `<file>.new` is written.
    Red,
}

impl TrafficLight {
    /// Upper-case name as the command line prints it (`GREEN`, `YELLOW`, `RED`).
    pub fn label(self) -> &'static str {
        match self {
            TrafficLight::Green => "GREEN",
            TrafficLight::Yellow => "YELLOW",
            TrafficLight::Red => "RED",
        }
    }
}

impl std::fmt::Display for TrafficLight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}
