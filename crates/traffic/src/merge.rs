//! Three-way text merge with gix-merge's built-in text driver (Myers diff,
//! git's default `merge` conflict style), plus the line ranges of each
//! conflicting region.
//!
//! Myers, not histogram: it is `git merge-file`'s default, so results are
//! byte-identical to what users get from git (the differential test in
//! `tests/merge_vs_git.rs` checks verdicts and clean results), and on a
//! 10,000-line file imara-diff's Myers took 77 µs against histogram's 1.05 ms.

use std::num::NonZeroU8;

use gix_imara_diff as imara;
use gix_merge::blob::Resolution;
use gix_merge::blob::builtin_driver::text::{Conflict, ConflictStyle, Labels, Merge};
use serde::Serialize;

/// A 1-based range of lines: `start..start+count` (`count` may be 0 for an insertion point).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LineRange {
    /// First line (1-based).
    pub start: u32,
    /// Number of lines.
    pub count: u32,
}

/// One region where the user's edit and the upstream change collide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ConflictRegion {
    /// Lines of the user's file.
    pub ours: LineRange,
    /// Lines of the recorded base (pristine) content.
    pub base: LineRange,
    /// Lines of the new upstream content.
    pub theirs: LineRange,
}

/// Result of a three-way merge.
#[derive(Debug, Clone)]
pub struct MergeOutcome {
    /// The merged bytes; with git-style conflict markers when `conflicts` is not empty.
    pub merged: Vec<u8>,
    /// Whether the merge conflicted.
    pub conflicted: bool,
    /// Conflicting regions (empty on a clean merge).
    pub conflicts: Vec<ConflictRegion>,
}

/// Merge `ours` (the user's file) and `theirs` (new upstream) on top of `base`.
pub fn merge3(base: &[u8], ours: &[u8], theirs: &[u8]) -> MergeOutcome {
    let mut input = imara::InternedInput::default();
    // Sized up front: growing the interner's table while interning is a large share of the cost.
    let lines = |d: &[u8]| u32::try_from(bytecount_lines(d)).unwrap_or(u32::MAX);
    input.reserve(lines(base), lines(ours).saturating_add(lines(theirs)));
    let mut merged = Vec::with_capacity(ours.len().max(theirs.len()));
    let merge = Merge::new(&mut input, ours, base, theirs, imara::Algorithm::Myers);
    let style = Conflict::Keep {
        style: ConflictStyle::Merge,
        marker_size: NonZeroU8::new(Conflict::DEFAULT_MARKER_SIZE).unwrap_or(NonZeroU8::MIN),
    };
    let labels = Labels {
        ancestor: Some("base".into()),
        current: Some("yours".into()),
        other: Some("upstream".into()),
    };
    let resolution = merge.run(&mut merged, labels, style);
    let conflicted = resolution == Resolution::Conflict;
    let conflicts = if conflicted {
        conflict_regions(base, ours, theirs)
    } else {
        Vec::new()
    };
    MergeOutcome {
        merged,
        conflicted,
        conflicts,
    }
}

#[derive(Clone)]
struct SideHunk {
    before: std::ops::Range<u32>,
    after: std::ops::Range<u32>,
    ours: bool,
}

/// Group the hunks of base->ours and base->theirs that touch each other;
/// a group holding both sides whose two results differ is a conflict.
fn conflict_regions(base: &[u8], ours: &[u8], theirs: &[u8]) -> Vec<ConflictRegion> {
    let mut input = imara::InternedInput::new(
        imara::sources::byte_lines(base),
        imara::sources::byte_lines(ours),
    );
    let mut hunks = side_hunks(&input, true);
    let ours_tokens = std::mem::take(&mut input.after);
    input.update_after(imara::sources::byte_lines(theirs));
    hunks.extend(side_hunks(&input, false));
    let theirs_tokens = &input.after;
    hunks.sort_by_key(|h| (h.before.start, h.before.end));

    let mut regions = Vec::new();
    let (mut delta_ours, mut delta_theirs) = (0i64, 0i64);
    let mut i = 0;
    while i < hunks.len() {
        let start = hunks[i].before.start;
        let mut end = hunks[i].before.end;
        let mut j = i + 1;
        while j < hunks.len() && hunks[j].before.start <= end {
            end = end.max(hunks[j].before.end);
            j += 1;
        }
        let group = &hunks[i..j];
        let (mut grow_ours, mut grow_theirs) = (0i64, 0i64);
        for h in group {
            let grow =
                i64::from(h.after.end - h.after.start) - i64::from(h.before.end - h.before.start);
            if h.ours {
                grow_ours += grow;
            } else {
                grow_theirs += grow;
            }
        }
        let has_both = group.iter().any(|h| h.ours) && group.iter().any(|h| !h.ours);
        let span = i64::from(end - start);
        let ours_range = to_range(i64::from(start) + delta_ours, span + grow_ours);
        let theirs_range = to_range(i64::from(start) + delta_theirs, span + grow_theirs);
        if has_both && slice(&ours_tokens, ours_range) != slice(theirs_tokens, theirs_range) {
            regions.push(ConflictRegion {
                ours: line_range(ours_range),
                base: line_range((start, end - start)),
                theirs: line_range(theirs_range),
            });
        }
        delta_ours += grow_ours;
        delta_theirs += grow_theirs;
        i = j;
    }
    if regions.is_empty() {
        // gix reported a conflict our grouping did not see: report the whole files.
        regions.push(ConflictRegion {
            ours: line_range((0, ours_tokens.len() as u32)),
            base: line_range((0, input.before.len() as u32)),
            theirs: line_range((0, theirs_tokens.len() as u32)),
        });
    }
    regions
}

fn side_hunks(input: &imara::InternedInput<&[u8]>, ours: bool) -> Vec<SideHunk> {
    let mut diff = imara::Diff::compute(imara::Algorithm::Myers, input);
    diff.postprocess_lines(input);
    diff.hunks()
        .map(|h| SideHunk {
            before: h.before,
            after: h.after,
            ours,
        })
        .collect()
}

fn to_range(start: i64, count: i64) -> (u32, u32) {
    (start.max(0) as u32, count.max(0) as u32)
}

fn slice(tokens: &[imara::Token], (start, count): (u32, u32)) -> &[imara::Token] {
    let s = (start as usize).min(tokens.len());
    let e = (s + count as usize).min(tokens.len());
    &tokens[s..e]
}

fn line_range((start, count): (u32, u32)) -> LineRange {
    LineRange {
        start: start + 1,
        count,
    }
}

fn bytecount_lines(data: &[u8]) -> usize {
    data.iter().filter(|b| **b == b'\n').count() + 1
}
