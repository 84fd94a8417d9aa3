//! The project walk shared by snapshots and analysis.
//!
//! Caveat: `.gitignore` files are honoured even when the project is not a git repository
//! (like `git add` would once it is one); `.ignore` files are not (git does not read them).
//! `.git/` and `.dxforge/` directories are never entered, at any depth (the filesystem
//! layer refuses both names under a project root anyway), and dxforge temp files
//! (`.<name>.dxforge-<16 hex>.tmp`) are not listed.

use std::path::Path;

use ignore::{WalkBuilder, WalkParallel};

/// Name of the local state directory at the project root.
pub(crate) const STATE_DIR: &str = ".dxforge";

/// A parallel walker over the project's non-ignored entries. Symlinks are reported, not
/// followed.
pub(crate) fn project_walker(root: &Path) -> WalkParallel {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .min(8);
    WalkBuilder::new(root)
        .hidden(false)
        .ignore(false)
        .git_ignore(true)
        .git_exclude(true)
        .git_global(true)
        .require_git(false)
        .parents(true)
        .follow_links(false)
        .threads(threads)
        .filter_entry(|entry| {
            let name = entry.file_name();
            // dxforge's own temp files (a restore or install killed mid-write) are not
            // project content; the command that made them cleans them up.
            entry.depth() == 0
                || (name != ".git"
                    && name != STATE_DIR
                    && !name.to_str().is_some_and(dxforge_fs::is_temp_name))
        })
        .build_parallel()
}

/// The project-relative path of `path` with `/` separators, or `None` when it is not
/// valid UTF-8 (such paths are skipped and reported).
pub(crate) fn relative_utf8(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let s = rel.to_str()?;
    if s.is_empty() {
        return None;
    }
    Some(s.to_owned())
}

/// The project-relative path of `path`, lossily converted for display.
pub(crate) fn relative_lossy(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}
