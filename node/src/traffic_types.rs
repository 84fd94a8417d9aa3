//! Traffic Branching results as plain JavaScript objects.

use dxforge::dxforge_traffic;
use napi_derive::napi;

/// Safety of replacing a file with new upstream content.
#[napi(string_enum = "lowercase")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrafficLight {
    /// The file does not exist, already equals the new content, or is unmodified since install.
    Green,
    /// The file differs but merges cleanly with the new content.
    Yellow,
    /// The file differs and cannot be merged: it is kept, `<file>.new` is written.
    Red,
}

impl From<dxforge::TrafficLight> for TrafficLight {
    fn from(l: dxforge::TrafficLight) -> Self {
        match l {
            dxforge::TrafficLight::Green => Self::Green,
            dxforge::TrafficLight::Yellow => Self::Yellow,
            dxforge::TrafficLight::Red => Self::Red,
        }
    }
}

/// What an operation does to one file.
#[napi(string_enum = "snake_case")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileAction {
    /// The file did not exist and is written.
    Create,
    /// Nothing to write: the file already has the right content.
    None,
    /// The file is replaced by the new (or merged) content.
    Write,
    /// The user's file is left untouched; upstream content goes to `<file>.new`.
    WriteNew,
    /// The file is deleted (it was unmodified since install).
    Delete,
    /// The file is kept because the user modified it; dxforge stops tracking it.
    Keep,
}

impl From<dxforge_traffic::FileAction> for FileAction {
    fn from(a: dxforge_traffic::FileAction) -> Self {
        use dxforge_traffic::FileAction as A;
        match a {
            A::Create => Self::Create,
            A::None => Self::None,
            A::Write => Self::Write,
            A::WriteNew => Self::WriteNew,
            A::Delete => Self::Delete,
            A::Keep => Self::Keep,
        }
    }
}

/// A range of lines.
#[napi(object)]
#[derive(Debug, Clone, Copy)]
pub struct LineRange {
    /// First line (1-based).
    pub start: u32,
    /// Number of lines.
    pub count: u32,
}

/// One region where the user's edit and the upstream change collide.
#[napi(object)]
#[derive(Debug, Clone, Copy)]
pub struct ConflictRegion {
    /// Lines of the user's file.
    pub ours: LineRange,
    /// Lines of the recorded base (pristine) content.
    pub base: LineRange,
    /// Lines of the new upstream content.
    pub theirs: LineRange,
}

fn range(r: dxforge_traffic::LineRange) -> LineRange {
    LineRange {
        start: r.start,
        count: r.count,
    }
}

impl From<dxforge_traffic::ConflictRegion> for ConflictRegion {
    fn from(c: dxforge_traffic::ConflictRegion) -> Self {
        Self {
            ours: range(c.ours),
            base: range(c.base),
            theirs: range(c.theirs),
        }
    }
}

/// The verdict for one file.
#[napi(object)]
#[derive(Debug, Clone)]
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
    /// Where upstream content goes for a Red file (`writeNew`): `<path>.new`,
    /// or `<path>.new.1`, … when that name is taken.
    pub side_file: Option<String>,
}

impl From<dxforge_traffic::FileReport> for FileReport {
    fn from(f: dxforge_traffic::FileReport) -> Self {
        Self {
            path: f.path,
            package: f.package,
            light: f.light.into(),
            reason: f.reason,
            action: f.action.into(),
            conflicts: f.conflicts.into_iter().map(Into::into).collect(),
            side_file: f.side_file,
        }
    }
}

/// A package an operation installs or upgrades.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct ResolvedPackage {
    /// Package name.
    pub name: String,
    /// Version installed by this operation.
    pub version: String,
    /// Version installed before, if any.
    pub previous: Option<String>,
}

/// Result of `installPackage`, `installAllDependencies`, `update` and `diff`.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct InstallReport {
    /// True when nothing was written (the plan only).
    pub dry_run: bool,
    /// Packages installed or upgraded.
    pub packages: Vec<ResolvedPackage>,
    /// One entry per file touched by the plan.
    pub files: Vec<FileReport>,
    /// Whether `dxforge.toml` `[dependencies]` was (or would be) changed.
    pub manifest_updated: bool,
    /// Whether any file ended Red (the CLI exits with 3).
    pub has_red: bool,
    /// Registry items fetched, with their npm packages and the fields not applied.
    pub items: Vec<ItemReport>,
}

/// A registry item fetched by `installPackage`, `update`, `diff` or `installAllDependencies`.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct ItemReport {
    /// `@ns/name`, URL or file as recorded in the lock.
    pub name: String,
    /// The URL the item was read from (no header values).
    pub source: String,
    /// npm `dependencies` the item asks for.
    pub dependencies: Vec<String>,
    /// npm `devDependencies` the item asks for.
    pub dev_dependencies: Vec<String>,
    /// Item fields dxforge does not apply (`cssVars`, `css`, `tailwind`, `envVars`, ...).
    pub not_applied: Vec<String>,
    /// Whether the item came from the cache (offline, or the registry answered 304).
    pub from_cache: bool,
}

impl From<dxforge_traffic::InstallReport> for InstallReport {
    fn from(r: dxforge_traffic::InstallReport) -> Self {
        let has_red = r.has_red();
        Self {
            dry_run: r.dry_run,
            packages: r
                .packages
                .into_iter()
                .map(|p| ResolvedPackage {
                    name: p.name,
                    version: p.version,
                    previous: p.previous,
                })
                .collect(),
            files: r.files.into_iter().map(Into::into).collect(),
            manifest_updated: r.manifest_updated,
            has_red,
            items: r
                .items
                .into_iter()
                .map(|i| ItemReport {
                    name: i.name,
                    source: i.source,
                    dependencies: i.dependencies,
                    dev_dependencies: i.dev_dependencies,
                    not_applied: i.not_applied,
                    from_cache: i.from_cache,
                })
                .collect(),
        }
    }
}

/// Result of `removePackage`.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct RemoveReport {
    /// True when nothing was written.
    pub dry_run: bool,
    /// The removed package.
    pub package: String,
    /// Its version.
    pub version: String,
    /// Per file: `delete` (unmodified), `keep` (modified by the user) or `none` (already gone).
    pub files: Vec<FileReport>,
    /// Whether `dxforge.toml` `[dependencies]` was (or would be) changed.
    pub manifest_updated: bool,
}

impl From<dxforge_traffic::RemoveReport> for RemoveReport {
    fn from(r: dxforge_traffic::RemoveReport) -> Self {
        Self {
            dry_run: r.dry_run,
            package: r.package,
            version: r.version,
            files: r.files.into_iter().map(Into::into).collect(),
            manifest_updated: r.manifest_updated,
        }
    }
}

/// What `recoverTraffic` found.
#[napi(string_enum = "snake_case")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// No interrupted transaction.
    Clean,
    /// An install killed before its commit point was undone: the old state is back.
    RolledBack,
    /// An install killed after its commit point was completed: the new state is in place.
    RolledForward,
}

impl From<dxforge_traffic::Recovery> for Recovery {
    fn from(r: dxforge_traffic::Recovery) -> Self {
        match r {
            dxforge_traffic::Recovery::Clean => Self::Clean,
            dxforge_traffic::Recovery::RolledBack => Self::RolledBack,
            dxforge_traffic::Recovery::RolledForward => Self::RolledForward,
        }
    }
}

/// Options of the mutating package operations.
#[napi(object)]
#[derive(Debug, Clone, Copy, Default)]
pub struct InstallOptions {
    /// Compute and return the plan without writing anything.
    pub dry_run: Option<bool>,
    /// Registry items from the local cache only (no network).
    pub offline: Option<bool>,
}

/// The core's options for `options` (absent fields: defaults).
pub(crate) fn install_options(o: Option<InstallOptions>) -> dxforge_traffic::InstallOptions {
    dxforge_traffic::InstallOptions {
        dry_run: o.as_ref().and_then(|o| o.dry_run).unwrap_or(false),
        offline: o.as_ref().and_then(|o| o.offline).unwrap_or(false),
    }
}
