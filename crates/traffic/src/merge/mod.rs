//! Three-way text merge that follows `git merge-file`'s algorithm, plus the
//! line ranges of each conflicting region.
//!
//! [`merge3`] is an independent Rust implementation of what git's xdiff does
//! for `git merge-file` with its defaults: Myers diff of the base against
//! each side (with xdiff's record preparation, cost heuristics and change
//! compaction, no indent heuristic), the "zealous alnum" merge level
//! (conflicts refined by diffing their two sides, and joined when at most
//! three lines, or only lines without letters or digits, separate them),
//! and the default `merge` conflict style with 7-character markers labelled
//! `yours` and `upstream`, CRLF markers only where the surrounding lines use
//! CRLF.
//!
//! * `xdiff`: records, interning, preparation and Myers;
//! * `compact`: git's sliding of change groups;
//! * `xmerge`: the three-way merge and the merged bytes;
//! * `scratch`: index buffers reused from one merge to the next.
//!
//! What is verified: `tests/merge_vs_git.rs` runs the real `git merge-file
//! -L yours -L base -L upstream` (git's defaults otherwise, no user
//! configuration) on thousands of generated cases (small alphabets of short
//! lines, blank and brace-only lines, indentation-only differences, CRLF/LF
//! mixes, missing final newlines, edits derived from the base so that
//! conflicts are frequent) and on long generated files that reach the
//! pruning of too-common lines, the cost limit and the snake heuristics. It
//! requires the same verdict, byte-identical output (clean or with markers)
//! and regions whose ours/theirs lines are exactly those between git's
//! markers. git's output does not show base lines, so a region's base
//! range is derived here: the base lines that the changes of either side
//! reaching into the region replace (checked only for order and bounds).
//!
//! Binary input (a NUL byte in the first 8,000 bytes of any of the three,
//! git's rule) and input over git's size limit are refused, as git does.

mod compact;
mod scratch;
mod xdiff;
mod xmerge;

use serde::Serialize;

use crate::store::is_binary;

/// A 1-based range of lines: `start..start+count` (`count` may be 0 for an insertion point).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct LineRange {
    /// First line (1-based).
    pub start: u32,
    /// Number of lines.
    pub count: u32,
}

/// One region where the user's edit and the upstream change collide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ConflictRegion {
    /// Lines of the user's file: the lines between `<<<<<<< yours` and `=======`.
    pub ours: LineRange,
    /// Lines of the recorded base (pristine) content that both sides'
    /// changes in this region replace.
    pub base: LineRange,
    /// Lines of the new upstream content: the lines between `=======` and `>>>>>>> upstream`.
    pub theirs: LineRange,
}

/// Result of a three-way merge.
#[derive(Debug, Clone)]
pub struct MergeOutcome {
    /// The merged bytes; with git-style conflict markers when `conflicts` is not empty.
    pub merged: Vec<u8>,
    /// Whether the merge conflicted.
    pub conflicted: bool,
    /// Conflicting regions, in file order (empty on a clean merge).
    pub conflicts: Vec<ConflictRegion>,
}

/// Why [`merge3`] refused to merge; `git merge-file` refuses the same input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MergeError {
    /// One of the three inputs has a NUL byte in its first 8,000 bytes.
    #[error("cannot merge binary content")]
    Binary,
    /// One of the three inputs is larger than [`MAX_MERGE_BYTES`].
    #[error("cannot merge content larger than {MAX_MERGE_BYTES} bytes")]
    TooLarge,
}

/// Largest input [`merge3`] accepts (git's limit for `merge-file`, 1023 MiB).
pub const MAX_MERGE_BYTES: usize = 1023 << 20;

/// Merge `ours` (the user's file) and `theirs` (new upstream) on top of
/// `base`, with the result `git merge-file -L yours -L base -L upstream`
/// gives.
///
/// # Errors
///
/// [`MergeError::Binary`] when any input is binary (git's test: a NUL byte
/// in the first 8,000 bytes), [`MergeError::TooLarge`] when any input is
/// larger than [`MAX_MERGE_BYTES`].
pub fn merge3(base: &[u8], ours: &[u8], theirs: &[u8]) -> Result<MergeOutcome, MergeError> {
    for data in [base, ours, theirs] {
        if data.len() > MAX_MERGE_BYTES {
            return Err(MergeError::TooLarge);
        }
        if is_binary(data) {
            return Err(MergeError::Binary);
        }
    }
    let labels = xmerge::Labels {
        ours: "yours",
        theirs: "upstream",
    };
    let merged = xmerge::merge(base, ours, theirs, &labels);
    Ok(MergeOutcome {
        conflicted: !merged.conflicts.is_empty(),
        merged: merged.bytes,
        conflicts: merged.conflicts,
    })
}
