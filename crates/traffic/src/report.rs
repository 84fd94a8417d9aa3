//! The reports every operation returns (all `Serialize` for `--json` and the bindings).

use serde::Serialize;

use crate::TrafficLight;
use crate::merge::ConflictRegion;

/// What an operation does (or, in a dry run, would do) to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FileAction {
    /// The file did not exist and is written.
    Create,
    /// Nothing to write: the file already has the right content.
    None,
    /// The file is replaced by the new (or merged) content.
    Write,
    /// The user's file is left untouched; upstream content goes to a side
    /// file (`<file>.new`, or `<file>.new.N` when that name is taken; see
    /// [`FileReport::side_file`]).
    WriteNew,
    /// The file is deleted (it was unmodified since install).
    Delete,
    /// The file is kept because the user modified it; dxforge stops tracking it.
    Keep,
}

/// The verdict for one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct FileReport {
    /// Project-relative path, `/`-separated.
    pub path: String,
    /// The package shipping (or that shipped) the file; empty when none.
    pub package: String,
    /// The light.
    pub light: TrafficLight,
    /// Why, in a few words.
    pub reason: String,
    /// What is done to the file.
    pub action: FileAction,
    /// Conflicting regions (Red after a conflicting merge).
    pub conflicts: Vec<ConflictRegion>,
    /// Where upstream content goes for a Red file (`WriteNew`): `<path>.new`,
    /// or `<path>.new.1`, `<path>.new.2`, … when that name is taken.
    #[serde(skip_serializing_if = "Option::is_none")]
    // Absent rather than null when unset: the serialised form is a string or nothing.
    #[schemars(with = "String")]
    pub side_file: Option<String>,
}

/// A package an operation installs or upgrades.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ResolvedPackage {
    /// Package name.
    pub name: String,
    /// Version installed by this operation.
    pub version: String,
    /// Version installed before, if any.
    pub previous: Option<String>,
}

/// Result of install / install_all / update / diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct InstallReport {
    /// True when nothing was written (the plan only).
    pub dry_run: bool,
    /// Packages installed or upgraded.
    pub packages: Vec<ResolvedPackage>,
    /// One entry per file touched by the plan.
    pub files: Vec<FileReport>,
    /// Whether `dxforge.toml` `[dependencies]` was (or would be) changed.
    pub manifest_updated: bool,
    /// Registry items fetched by this operation, with what dxforge did not apply.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<ItemReport>,
}

/// A registry item fetched by `add`/`update`/`diff`/`install`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ItemReport {
    /// `@ns/name`, URL or file as recorded in the lock.
    pub name: String,
    /// The URL the item was read from (no header values).
    pub source: String,
    /// npm `dependencies` the item asks for (installed only with `--install-deps`).
    pub dependencies: Vec<String>,
    /// npm `devDependencies` the item asks for.
    pub dev_dependencies: Vec<String>,
    /// Item fields dxforge does not apply (`cssVars`, `css`, `tailwind`, `envVars`, …).
    pub not_applied: Vec<String>,
    /// Whether the item came from the cache (offline, or the registry answered 304).
    pub from_cache: bool,
}

impl InstallReport {
    /// Whether any file ended Red (exit code 3 on the command line).
    pub fn has_red(&self) -> bool {
        self.files.iter().any(|f| f.light == TrafficLight::Red)
    }
}

/// Result of remove_package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct RemoveReport {
    /// True when nothing was written.
    pub dry_run: bool,
    /// The removed package.
    pub package: String,
    /// Its version.
    pub version: String,
    /// Per file: `Delete` (unmodified) or `Keep` (modified by the user), or `None` (already gone).
    pub files: Vec<FileReport>,
    /// Whether `dxforge.toml` `[dependencies]` was (or would be) changed.
    pub manifest_updated: bool,
}

impl RemoveReport {
    /// Files kept because the user modified them.
    pub fn kept(&self) -> impl Iterator<Item = &FileReport> {
        self.files.iter().filter(|f| f.action == FileAction::Keep)
    }
}

/// One package copied into the local cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct PrefetchedPackage {
    /// Package name.
    pub name: String,
    /// Version cached.
    pub version: String,
    /// Whether a verified copy was already there.
    pub already_cached: bool,
}

/// Result of prefetch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrefetchReport {
    /// The requested package and its dependencies.
    pub packages: Vec<PrefetchedPackage>,
}

/// An installed file whose content no longer matches its recorded base.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModifiedFile {
    /// Project-relative path.
    pub path: String,
    /// Owning package.
    pub package: String,
    /// Hash recorded in the lock file.
    pub recorded_hash: String,
    /// Hash of the file now; `None` when the user deleted it.
    pub current_hash: Option<String>,
}

/// What [`crate::TrafficManager::recover`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Recovery {
    /// No interrupted transaction.
    Clean,
    /// An install killed before its commit point was undone: the old state is back.
    RolledBack,
    /// An install killed after its commit point was completed: the new state is in place.
    RolledForward,
}

/// What [`crate::TrafficManager::recover_report`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RecoveryReport {
    /// What happened to an interrupted transaction.
    pub outcome: Recovery,
    /// dxforge temp files removed: those of the interrupted transaction in
    /// the project, and every leftover under `.dxforge/` (`base/`, `txn/`, `cache/`).
    pub temp_files_removed: usize,
}
