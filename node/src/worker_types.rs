//! Shadow Worker tasks and reports as plain JavaScript objects. Counts and
//! sizes are `number`s (exact up to 2^53).

use dxforge::dxforge_worker as w;
use napi_derive::napi;

/// Converts a count or size for JavaScript (exact below 2^53).
fn num(v: u64) -> f64 {
    v as f64
}

/// Work the Shadow Worker can do in the background (the seed's `BackgroundTask`).
#[napi(string_enum)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackgroundTaskKind {
    /// Snapshot the project tree for rollback.
    CacheCurrentState,
    /// Upload snapshots to the `[remote]` S3-compatible bucket.
    SyncToCloudflareR2,
    /// Resolve a `name@req` spec and store the package in the local cache.
    PrefetchPackage,
    /// Walk the codebase and write `.dxforge/analysis.json`.
    AnalyzeCodebasePatterns,
}

/// Where a task is in its life; `succeeded`, `failed` and `dropped` are final.
#[napi(string_enum = "lowercase")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStateKind {
    /// Waiting in the queue.
    Queued,
    /// A consumer is working on it.
    Running,
    /// Done; `report` says what it did.
    Succeeded,
    /// Done with an error; `error` has its message.
    Failed,
    /// Evicted from a full queue (oldest first) or discarded at close; never ran.
    Dropped,
}

/// A task's state: `{ state: 'succeeded', report }`, `{ state: 'failed', error }`, `{ state: 'queued' }`, …
#[napi(object)]
#[derive(Debug, Clone)]
pub struct TaskState {
    /// Which state.
    pub state: TaskStateKind,
    /// What the task did (`succeeded` only).
    pub report: Option<TaskReport>,
    /// The error's message (`failed` only).
    pub error: Option<String>,
}

impl From<w::TaskState> for TaskState {
    fn from(s: w::TaskState) -> Self {
        let (state, report, error) = match s {
            w::TaskState::Queued => (TaskStateKind::Queued, None, None),
            w::TaskState::Running => (TaskStateKind::Running, None, None),
            w::TaskState::Succeeded(r) => (TaskStateKind::Succeeded, Some(r.into()), None),
            w::TaskState::Failed(e) => (TaskStateKind::Failed, None, Some(e)),
            w::TaskState::Dropped => (TaskStateKind::Dropped, None, None),
        };
        Self {
            state,
            report,
            error,
        }
    }
}

/// Which kind of report a finished task has.
#[napi(string_enum = "lowercase")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskReportKind {
    /// `CacheCurrentState`: `snapshot` is set.
    Snapshot,
    /// `SyncToCloudflareR2`: `sync` is set.
    Sync,
    /// `PrefetchPackage`: `prefetch` is set.
    Prefetch,
    /// `AnalyzeCodebasePatterns`: `analysis` is set.
    Analysis,
}

/// What a finished task did; exactly the field named by `kind` is set.
#[napi(object)]
#[derive(Debug, Clone, Default)]
pub struct TaskReport {
    /// Which report.
    pub kind: Option<TaskReportKind>,
    /// The snapshot taken.
    pub snapshot: Option<SnapshotSummary>,
    /// What the push sent.
    pub sync: Option<SyncReport>,
    /// What was cached.
    pub prefetch: Option<PrefetchReport>,
    /// A summary of `.dxforge/analysis.json`.
    pub analysis: Option<AnalysisSummary>,
}

impl From<w::TaskReport> for TaskReport {
    fn from(r: w::TaskReport) -> Self {
        match r {
            w::TaskReport::Snapshot(s) => Self {
                kind: Some(TaskReportKind::Snapshot),
                snapshot: Some(s.into()),
                ..Self::default()
            },
            w::TaskReport::Sync(s) => Self {
                kind: Some(TaskReportKind::Sync),
                sync: Some(s.into()),
                ..Self::default()
            },
            w::TaskReport::Prefetch(p) => Self {
                kind: Some(TaskReportKind::Prefetch),
                prefetch: Some(p.into()),
                ..Self::default()
            },
            w::TaskReport::Analysis(a) => Self {
                kind: Some(TaskReportKind::Analysis),
                analysis: Some(a.into()),
                ..Self::default()
            },
        }
    }
}

/// A point-in-time view of the queue: `queued` and `running` are current
/// values, the others totals since the worker started.
#[napi(object)]
#[derive(Debug, Clone, Copy)]
pub struct Counters {
    /// Tasks ever enqueued.
    pub enqueued: f64,
    /// Tasks waiting now.
    pub queued: f64,
    /// Tasks running now.
    pub running: f64,
    /// Tasks finished successfully.
    pub succeeded: f64,
    /// Tasks finished with an error.
    pub failed: f64,
    /// Tasks dropped (evicted from a full queue, or discarded at close).
    pub dropped: f64,
}

impl From<w::Counters> for Counters {
    fn from(c: w::Counters) -> Self {
        Self {
            enqueued: num(c.enqueued),
            queued: num(c.queued),
            running: num(c.running),
            succeeded: num(c.succeeded),
            failed: num(c.failed),
            dropped: num(c.dropped),
        }
    }
}

/// What a snapshot contains and what taking it cost.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct SnapshotSummary {
    /// `YYYYMMDDTHHMMSSZ-xxxxxxxx`.
    pub id: String,
    /// RFC 3339 creation time (UTC).
    pub created: String,
    /// Why it was taken.
    pub reason: String,
    /// Regular files in it.
    pub files: f64,
    /// Symbolic links in it.
    pub symlinks: f64,
    /// Total bytes of its files.
    pub bytes: f64,
    /// Files read and hashed while taking it (0 when listed later).
    pub hashed: f64,
    /// Files whose hash came from the stat cache (0 when listed later).
    pub reused: f64,
    /// New objects written to the store (0 when listed later).
    pub new_objects: f64,
    /// Paths skipped because their names are not UTF-8.
    pub skipped: Vec<String>,
    /// Every path left out of the snapshot and why, sorted by path (empty when listed later).
    pub skipped_entries: Vec<SkippedEntry>,
}

/// One path a snapshot left out.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct SkippedEntry {
    /// Project-relative path (lossy for names that are not UTF-8).
    pub path: String,
    /// `unreadable`, `fifo`, `socket`, `device`, `non_utf8_name` or `path_too_long`.
    pub reason: String,
    /// The error behind an `unreadable` entry, if any.
    pub detail: Option<String>,
}

impl From<w::SnapshotSummary> for SnapshotSummary {
    fn from(s: w::SnapshotSummary) -> Self {
        Self {
            id: s.id,
            created: s.created,
            reason: s.reason,
            files: num(s.files),
            symlinks: num(s.symlinks),
            bytes: num(s.bytes),
            hashed: num(s.hashed),
            reused: num(s.reused),
            new_objects: num(s.new_objects),
            skipped: s.skipped,
            skipped_entries: s
                .skipped_entries
                .into_iter()
                .map(|e| SkippedEntry {
                    path: e.path,
                    reason: e.reason.as_str().to_owned(),
                    detail: e.detail,
                })
                .collect(),
        }
    }
}

/// What a restore changed.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct RestoreReport {
    /// The snapshot the tree now matches.
    pub restored: String,
    /// The snapshot of the tree as it was just before; restore it to undo.
    pub safety_snapshot: String,
    /// Files and links written (created or replaced).
    pub written: f64,
    /// Files and links deleted.
    pub deleted: f64,
    /// Files whose content was right but executable bit was not.
    pub mode_changed: f64,
    /// Entries already identical.
    pub unchanged: f64,
}

impl From<w::RestoreReport> for RestoreReport {
    fn from(r: w::RestoreReport) -> Self {
        Self {
            restored: r.restored,
            safety_snapshot: r.safety_snapshot,
            written: num(r.written),
            deleted: num(r.deleted),
            mode_changed: num(r.mode_changed),
            unchanged: num(r.unchanged),
        }
    }
}

/// What garbage collection of the snapshot store removed.
#[napi(object)]
#[derive(Debug, Clone, Copy)]
pub struct GcReport {
    /// Objects still referenced by some manifest.
    pub kept: f64,
    /// Unreferenced objects deleted.
    pub removed: f64,
    /// Bytes freed.
    pub bytes_freed: f64,
    /// Leftover temporary files deleted.
    pub temp_files_removed: f64,
}

impl From<w::GcReport> for GcReport {
    fn from(g: w::GcReport) -> Self {
        Self {
            kept: num(g.kept),
            removed: num(g.removed),
            bytes_freed: num(g.bytes_freed),
            temp_files_removed: num(g.temp_files_removed),
        }
    }
}

/// What a push or pull transferred.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct SyncReport {
    /// Objects uploaded (push) or downloaded (pull).
    pub objects_sent: f64,
    /// Bytes of those objects.
    pub bytes_sent: f64,
    /// Objects already on the other side, not transferred.
    pub objects_skipped: f64,
    /// Manifests uploaded (push) or downloaded (pull).
    pub manifests_sent: f64,
    /// Manifests already on the other side.
    pub manifests_skipped: f64,
    /// The snapshots involved.
    pub snapshots: Vec<String>,
    /// For a pull: the restore that brought the tree to the pulled snapshot.
    pub restore: Option<RestoreReport>,
}

impl From<w::SyncReport> for SyncReport {
    fn from(s: w::SyncReport) -> Self {
        Self {
            objects_sent: num(s.objects_sent),
            bytes_sent: num(s.bytes_sent),
            objects_skipped: num(s.objects_skipped),
            manifests_sent: num(s.manifests_sent),
            manifests_skipped: num(s.manifests_skipped),
            snapshots: s.snapshots,
            restore: s.restore.map(Into::into),
        }
    }
}

/// One package copied into the local cache.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct PrefetchedPackage {
    /// Package name.
    pub name: String,
    /// Version cached.
    pub version: String,
    /// Whether a verified copy was already there.
    pub already_cached: bool,
}

/// Result of `prefetch`.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct PrefetchReport {
    /// The spec asked for (`name@req` or `name`).
    pub spec: String,
    /// The package and its dependencies, as cached.
    pub packages: Vec<PrefetchedPackage>,
}

impl From<w::PrefetchReport> for PrefetchReport {
    fn from(p: w::PrefetchReport) -> Self {
        Self {
            spec: p.spec,
            packages: p
                .packages
                .into_iter()
                .map(|p| PrefetchedPackage {
                    name: p.name,
                    version: p.version,
                    already_cached: p.already_cached,
                })
                .collect(),
        }
    }
}

/// Totals for one language.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct LanguageStats {
    /// Language name.
    pub language: String,
    /// Files.
    pub files: f64,
    /// Lines (a last line without newline counts).
    pub lines: f64,
    /// Lines holding only whitespace.
    pub blank_lines: f64,
    /// Bytes.
    pub bytes: f64,
}

/// One place a package's `detect` pattern occurs.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct Reference {
    /// Project-relative file.
    pub file: String,
    /// 1-based line.
    pub line: f64,
    /// The pattern found.
    pub pattern: String,
}

/// Usage of one registry package that has `detect` patterns, or that is installed.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct PackageUsage {
    /// Package name.
    pub name: String,
    /// Installed version (from `dxforge.lock`), if installed.
    pub installed_version: Option<String>,
    /// Number of references found.
    pub reference_count: f64,
    /// The references, sorted (the first few only).
    pub references: Vec<Reference>,
}

/// A file installed by a package that the user has edited since.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct ModifiedFile {
    /// The package that installed it.
    pub package: String,
    /// Project-relative path.
    pub path: String,
}

/// The package half of the analysis (absent when no registry is configured).
#[napi(object)]
#[derive(Debug, Clone)]
pub struct PackageAnalysis {
    /// Per package, sorted by name.
    pub packages: Vec<PackageUsage>,
    /// Referenced in code but not in `dxforge.lock`.
    pub referenced_not_installed: Vec<String>,
    /// In `dxforge.lock`, with `detect` patterns, but never referenced.
    pub installed_not_referenced: Vec<String>,
    /// Installed files the user has modified.
    pub modified_files: Vec<ModifiedFile>,
}

/// The full analysis, as written to `.dxforge/analysis.json`.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct AnalysisReport {
    /// RFC 3339 time of the analysis.
    pub generated: String,
    /// Files walked (not ignored).
    pub files: f64,
    /// Lines in recognised source files.
    pub lines: f64,
    /// Files of unrecognised types (counted, not read).
    pub other_files: f64,
    /// Per language, most lines first.
    pub languages: Vec<LanguageStats>,
    /// Package usage; absent when the project has no registry.
    pub packages: Option<PackageAnalysis>,
}

impl From<w::AnalysisReport> for AnalysisReport {
    fn from(a: w::AnalysisReport) -> Self {
        Self {
            generated: a.generated,
            files: num(a.files),
            lines: num(a.lines),
            other_files: num(a.other_files),
            languages: a
                .languages
                .into_iter()
                .map(|l| LanguageStats {
                    language: l.language,
                    files: num(l.files),
                    lines: num(l.lines),
                    blank_lines: num(l.blank_lines),
                    bytes: num(l.bytes),
                })
                .collect(),
            packages: a.packages.map(|p| PackageAnalysis {
                packages: p
                    .packages
                    .into_iter()
                    .map(|u| PackageUsage {
                        name: u.name,
                        installed_version: u.installed_version,
                        reference_count: num(u.reference_count),
                        references: u
                            .references
                            .into_iter()
                            .map(|r| Reference {
                                file: r.file,
                                line: num(r.line),
                                pattern: r.pattern,
                            })
                            .collect(),
                    })
                    .collect(),
                referenced_not_installed: p.referenced_not_installed,
                installed_not_referenced: p.installed_not_referenced,
                modified_files: p
                    .modified_files
                    .into_iter()
                    .map(|m| ModifiedFile {
                        package: m.package,
                        path: m.path,
                    })
                    .collect(),
            }),
        }
    }
}

/// Summary of an analysis task (the full report is in `.dxforge/analysis.json`).
#[napi(object)]
#[derive(Debug, Clone)]
pub struct AnalysisSummary {
    /// Where the full report was written.
    pub path: String,
    /// Files walked.
    pub files: f64,
    /// Lines in recognised source files.
    pub lines: f64,
    /// Languages seen.
    pub languages: f64,
    /// Packages referenced in code.
    pub packages_referenced: f64,
    /// Referenced but not installed.
    pub referenced_not_installed: f64,
    /// Installed but never referenced.
    pub installed_not_referenced: f64,
    /// Installed files the user modified.
    pub modified_files: f64,
}

impl From<w::AnalysisSummary> for AnalysisSummary {
    fn from(a: w::AnalysisSummary) -> Self {
        Self {
            path: a.path,
            files: num(a.files),
            lines: num(a.lines),
            languages: num(a.languages),
            packages_referenced: num(a.packages_referenced),
            referenced_not_installed: num(a.referenced_not_installed),
            installed_not_referenced: num(a.installed_not_referenced),
            modified_files: num(a.modified_files),
        }
    }
}
