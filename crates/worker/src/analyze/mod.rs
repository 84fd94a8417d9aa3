//! AnalyzeCodebasePatterns: files and lines per language, and where registry packages are
//! used, written to `.dxforge/analysis.json`.
//!
//! Caveats: languages come from file extensions (and a few well-known names such as
//! `Makefile`); files of other types are counted in `other_files` but not read. `detect`
//! patterns are plain substrings searched in recognised source files only; a line is
//! reported once per pattern. At most [`MAX_LISTED_REFERENCES`] references are listed per
//! package (`reference_count` has the full count).

mod languages;
mod packages;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use aho_corasick::AhoCorasick;
use ignore::{DirEntry, ParallelVisitor, ParallelVisitorBuilder, WalkState};
use parking_lot::Mutex;
use serde::Serialize;

pub(crate) use packages::PackageFacts;

use dxforge_fs::{Durability, Policy, Root, WriteOptions};

use crate::error::{Result, WorkerError};
use crate::{time, walk};

/// References listed per package in the report.
pub const MAX_LISTED_REFERENCES: usize = 1000;
/// Files bigger than this are counted but not read.
const MAX_READ: u64 = 32 * 1024 * 1024;

/// Totals for one language.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct LanguageStats {
    /// Language name.
    pub language: String,
    /// Files.
    pub files: u64,
    /// Lines (a last line without newline counts).
    pub lines: u64,
    /// Lines holding only whitespace.
    pub blank_lines: u64,
    /// Bytes.
    pub bytes: u64,
}

/// One place a package's `detect` pattern occurs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
pub struct Reference {
    /// Project-relative file.
    pub file: String,
    /// 1-based line.
    pub line: u64,
    /// The pattern found.
    pub pattern: String,
}

/// Usage of one registry package that has `detect` patterns, or that is installed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct PackageUsage {
    /// Package name.
    pub name: String,
    /// Installed version (from `dxforge.lock`), if installed.
    pub installed_version: Option<String>,
    /// Number of references found.
    pub reference_count: u64,
    /// The references, sorted, at most [`MAX_LISTED_REFERENCES`].
    pub references: Vec<Reference>,
}

/// A file installed by a package that the user has edited since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ModifiedFile {
    /// The package that installed it.
    pub package: String,
    /// Project-relative path.
    pub path: String,
}

/// The package half of the analysis (absent when no registry is configured).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
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

/// The full report, as written to `.dxforge/analysis.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct AnalysisReport {
    /// RFC 3339 time of the analysis.
    pub generated: String,
    /// Files walked (not ignored).
    pub files: u64,
    /// Lines in recognised source files.
    pub lines: u64,
    /// Files of unrecognised types (counted, not read).
    pub other_files: u64,
    /// Per language, most lines first.
    pub languages: Vec<LanguageStats>,
    /// Package usage; `None` when the worker has no registry.
    pub packages: Option<PackageAnalysis>,
}

/// The short form of an analysis, carried in task reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct AnalysisSummary {
    /// Where the full report was written.
    pub path: String,
    /// Files walked.
    pub files: u64,
    /// Lines in recognised source files.
    pub lines: u64,
    /// Languages seen.
    pub languages: u64,
    /// Packages referenced in code.
    pub packages_referenced: u64,
    /// Packages referenced but not installed.
    pub referenced_not_installed: u64,
    /// Packages installed but not referenced.
    pub installed_not_referenced: u64,
    /// Installed files the user modified.
    pub modified_files: u64,
}

impl AnalysisReport {
    /// The summary of this report written at `path`.
    pub fn summary(&self, path: &Path) -> AnalysisSummary {
        let p = self.packages.as_ref();
        AnalysisSummary {
            path: path.display().to_string(),
            files: self.files,
            lines: self.lines,
            languages: self.languages.len() as u64,
            packages_referenced: p.map_or(0, |p| {
                p.packages.iter().filter(|u| u.reference_count > 0).count() as u64
            }),
            referenced_not_installed: p.map_or(0, |p| p.referenced_not_installed.len() as u64),
            installed_not_referenced: p.map_or(0, |p| p.installed_not_referenced.len() as u64),
            modified_files: p.map_or(0, |p| p.modified_files.len() as u64),
        }
    }
}

/// The report's name in the state root.
const REPORT_FILE: &str = "analysis.json";

/// Path of the report under a project root.
pub(crate) fn report_path(root: &Path) -> std::path::PathBuf {
    root.join(walk::STATE_DIR).join(REPORT_FILE)
}

/// Walks `root`, builds the report, writes it atomically to `.dxforge/analysis.json`.
/// Files are read through the project root (no link followed); unreadable ones are
/// counted but not read.
pub(crate) fn analyze(root: &Path, facts: Option<PackageFacts>) -> Result<AnalysisReport> {
    let project = Root::open(root, Policy::Project)?;
    let detector = match &facts {
        Some(f) => Detector::new(&f.detect)?,
        None => None,
    };
    let totals = Mutex::new(Totals::default());
    walk::project_walker(root).visit(&mut Builder {
        root,
        project: &project,
        detector: detector.as_ref(),
        totals: &totals,
    });
    let totals = totals.into_inner();
    if let Some(err) = totals.error {
        return Err(err);
    }
    let mut languages: Vec<LanguageStats> = totals
        .languages
        .into_iter()
        .map(|(name, mut s)| {
            s.language = name.to_owned();
            s
        })
        .collect();
    languages.sort_by(|a, b| b.lines.cmp(&a.lines).then(a.language.cmp(&b.language)));
    let lines = languages.iter().map(|l| l.lines).sum();
    let packages = facts.map(|f| f.into_analysis(totals.references));
    let report = AnalysisReport {
        generated: time::rfc3339_utc(time::now_unix_ms()),
        files: totals.files,
        lines,
        other_files: totals.other_files,
        languages,
        packages,
    };
    let path = report_path(root);
    let json = serde_json::to_vec_pretty(&report)
        .map_err(|e| WorkerError::io("serialize", &path, std::io::Error::other(e.to_string())))?;
    // A report, regenerated at will: atomic replacement without fsync is enough.
    let state = project.subroot(walk::STATE_DIR, Policy::Plain, true)?;
    let options = WriteOptions {
        mode: Some(0o644),
        durability: Durability::Atomic,
    };
    state.write_atomic(REPORT_FILE, &json, options)?;
    Ok(report)
}

/// All packages' patterns in one automaton; pattern index -> (package, pattern).
struct Detector {
    automaton: AhoCorasick,
    owners: Vec<(String, String)>,
}

impl Detector {
    fn new(detect: &[(String, Vec<String>)]) -> Result<Option<Detector>> {
        let owners: Vec<(String, String)> = detect
            .iter()
            .flat_map(|(pkg, pats)| {
                pats.iter()
                    .filter(|p| !p.is_empty())
                    .map(move |p| (pkg.clone(), p.clone()))
            })
            .collect();
        if owners.is_empty() {
            return Ok(None);
        }
        let automaton = AhoCorasick::new(owners.iter().map(|(_, p)| p.as_str())).map_err(|e| {
            WorkerError::RegistryUnavailable {
                reason: format!("detect patterns cannot be compiled: {e}"),
            }
        })?;
        Ok(Some(Detector { automaton, owners }))
    }
}

#[derive(Default)]
struct Totals {
    files: u64,
    other_files: u64,
    languages: HashMap<&'static str, LanguageStats>,
    /// package -> references
    references: BTreeMap<String, Vec<Reference>>,
    error: Option<WorkerError>,
}

impl Totals {
    fn merge(&mut self, other: Totals) {
        self.files += other.files;
        self.other_files += other.other_files;
        for (lang, s) in other.languages {
            let t = self.languages.entry(lang).or_default();
            t.files += s.files;
            t.lines += s.lines;
            t.blank_lines += s.blank_lines;
            t.bytes += s.bytes;
        }
        for (pkg, mut refs) in other.references {
            self.references.entry(pkg).or_default().append(&mut refs);
        }
        if self.error.is_none() {
            self.error = other.error;
        }
    }
}

struct Builder<'s> {
    root: &'s Path,
    project: &'s Root,
    detector: Option<&'s Detector>,
    totals: &'s Mutex<Totals>,
}

impl<'s> ParallelVisitorBuilder<'s> for Builder<'s> {
    fn build(&mut self) -> Box<dyn ParallelVisitor + 's> {
        Box::new(Visitor {
            root: self.root,
            project: self.project,
            detector: self.detector,
            totals: self.totals,
            local: Totals::default(),
        })
    }
}

struct Visitor<'s> {
    root: &'s Path,
    project: &'s Root,
    detector: Option<&'s Detector>,
    totals: &'s Mutex<Totals>,
    local: Totals,
}

impl Drop for Visitor<'_> {
    fn drop(&mut self) {
        self.totals.lock().merge(std::mem::take(&mut self.local));
    }
}

impl ParallelVisitor for Visitor<'_> {
    fn visit(&mut self, entry: std::result::Result<DirEntry, ignore::Error>) -> WalkState {
        let Ok(entry) = entry else {
            return WalkState::Continue; // unreadable directories are skipped, as tokei does
        };
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            return WalkState::Continue;
        }
        self.local.files += 1;
        let name = entry.file_name().to_string_lossy();
        let Some(language) = languages::language_of(&name) else {
            self.local.other_files += 1;
            return WalkState::Continue;
        };
        if let Err(e) = self.count(&entry, language) {
            self.local.error.get_or_insert(e);
            return WalkState::Quit;
        }
        WalkState::Continue
    }
}

impl Visitor<'_> {
    fn count(&mut self, entry: &DirEntry, language: &'static str) -> Result<()> {
        let path = entry.path();
        let stats = self.local.languages.entry(language).or_default();
        stats.files += 1;
        let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
        if size > MAX_READ {
            stats.bytes += size;
            return Ok(());
        }
        let Some(rel) = walk::relative_utf8(self.root, path) else {
            return Ok(());
        };
        let bytes = match self.project.read(&rel, MAX_READ) {
            Ok(Some(b)) => b,
            // Vanished, grown past the limit, unreadable, or behind a link now: counted,
            // not read (as for unreadable directories).
            Ok(None) | Err(_) => return Ok(()),
        };
        stats.bytes += bytes.len() as u64;
        if bytes[..bytes.len().min(8192)].contains(&0) {
            return Ok(()); // binary
        }
        let (lines, blank) = count_lines(&bytes);
        stats.lines += lines;
        stats.blank_lines += blank;
        if let Some(detector) = self.detector {
            find_references(detector, &rel, &bytes, &mut self.local.references);
        }
        Ok(())
    }
}

/// (lines, whitespace-only lines).
fn count_lines(bytes: &[u8]) -> (u64, u64) {
    let mut lines = 0;
    let mut blank = 0;
    for line in bytes.split(|&b| b == b'\n') {
        lines += 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            blank += 1;
        }
    }
    // split yields one empty piece after a final newline (or for an empty file).
    if bytes.is_empty() || bytes.ends_with(b"\n") {
        lines -= 1;
        blank -= 1;
    }
    (lines, blank)
}

fn find_references(
    detector: &Detector,
    rel: &str,
    bytes: &[u8],
    out: &mut BTreeMap<String, Vec<Reference>>,
) {
    let mut newlines: Option<Vec<usize>> = None;
    let mut seen = std::collections::HashSet::new();
    for m in detector.automaton.find_overlapping_iter(bytes) {
        let newlines = newlines.get_or_insert_with(|| {
            bytes
                .iter()
                .enumerate()
                .filter_map(|(i, &b)| (b == b'\n').then_some(i))
                .collect()
        });
        let line = newlines.partition_point(|&p| p < m.start()) as u64 + 1;
        let idx = m.pattern().as_usize();
        if !seen.insert((idx, line)) {
            continue;
        }
        let (pkg, pattern) = &detector.owners[idx];
        out.entry(pkg.clone()).or_default().push(Reference {
            file: rel.to_owned(),
            line,
            pattern: pattern.clone(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::count_lines;

    #[test]
    fn line_counts_follow_wc_plus_unterminated_last_line() {
        assert_eq!(count_lines(b""), (0, 0));
        assert_eq!(count_lines(b"a"), (1, 0));
        assert_eq!(count_lines(b"a\n"), (1, 0));
        assert_eq!(count_lines(b"a\n\n  \nb"), (4, 2));
    }
}
