//! The three-way merge of git's xdiff (`xdl_merge`) at the level and style
//! `git merge-file` uses by default: "zealous alnum" conflict minimisation
//! and the two-sided `merge` conflict style with 7-character markers.
//!
//! 1. Diff base->ours and base->theirs ([`diff`]).
//! 2. Walk both edit scripts in base order: a change only one side made is
//!    taken from that side; overlapping (or touching) changes are a conflict
//!    unless both sides made the very same change.
//! 3. Refine each conflict whose sides are both non-empty by diffing ours
//!    against theirs: lines they share drop out, one conflict may become
//!    several, and one whose sides turn out equal is no conflict at all.
//! 4. Join neighbouring conflicts separated by at most three lines, or by
//!    lines without any ASCII letter or digit.
//! 5. Write the result: unchanged and one-sided lines, and each conflict
//!    between `<<<<<<<`, `=======` and `>>>>>>>` markers whose line ending is
//!    CRLF only when the lines around it use CRLF.

use super::xdiff::{Change, Interner, Lines, diff, occurrences};
use super::{ConflictRegion, LineRange};

/// Length of the conflict markers (git's default).
const MARKER_SIZE: usize = 7;

/// Gaps of at most this many lines between two conflicts are absorbed.
const JOIN_GAP: isize = 3;

/// What the merged result takes for a stretch of lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Take {
    /// Both sides, between conflict markers.
    Conflict,
    /// Our side's change.
    Ours,
    /// Their side's change.
    Theirs,
    /// Both sides made the same change (found while refining); the lines
    /// come out with the unchanged text that follows.
    Same,
}

/// One stretch of the merge: base lines `i0..i0+chg0` became ours
/// `i1..i1+chg1` and theirs `i2..i2+chg2`. (The base range is not kept up
/// to date by refining and joining, as in git; regions recompute it.)
#[derive(Debug, Clone, Copy)]
struct Hunk {
    take: Take,
    i0: isize,
    chg0: isize,
    i1: isize,
    chg1: isize,
    i2: isize,
    chg2: isize,
}

/// The merged bytes and the conflicting regions (empty when clean).
pub(super) struct Merged {
    pub bytes: Vec<u8>,
    pub conflicts: Vec<ConflictRegion>,
}

/// Marker labels: `<<<<<<< ours` and `>>>>>>> theirs`.
pub(super) struct Labels<'l> {
    pub ours: &'l str,
    pub theirs: &'l str,
}

/// Merge `ours` and `theirs` on top of `base` exactly as `git merge-file`
/// does with its defaults.
pub(super) fn merge(base: &[u8], ours: &[u8], theirs: &[u8], labels: &Labels<'_>) -> Merged {
    let mut interner = Interner::with_capacity(base.len() / 32 + 16);
    let b = interner.lines(base);
    let o = interner.lines_like(ours, &b);
    let t = interner.lines_like(theirs, &b);
    let ids = interner.count();
    let count_b = occurrences(&b.ids, ids);
    let mut count_o = occurrences(&o.ids, ids);
    let mut count_t = occurrences(&t.ids, ids);

    let ours_script = diff(&b.ids, &o.ids, &count_b, &count_o);
    let theirs_script = diff(&b.ids, &t.ids, &count_b, &count_t);
    if ours_script.is_empty() {
        return Merged {
            bytes: theirs.to_vec(),
            conflicts: Vec::new(),
        };
    }
    if theirs_script.is_empty() {
        return Merged {
            bytes: ours.to_vec(),
            conflicts: Vec::new(),
        };
    }

    let hunks = combine(&ours_script, &theirs_script, &b, &o, &t);
    let hunks = if hunks.iter().any(|h| h.take == Take::Conflict) {
        // The occurrence tables become the scratch counts of the refining diffs.
        count_o.fill(0);
        count_t.fill(0);
        let refined = refine(hunks, &o, &t, &mut count_o, &mut count_t);
        join_close_conflicts(refined, &o)
    } else {
        hunks
    };
    let bytes = write(&hunks, &b, &o, &t, labels);
    let conflicts = regions(&hunks, &ours_script, &theirs_script);
    Merged { bytes, conflicts }
}

/// Append a stretch, folding it into the previous one when they overlap or
/// touch in ours or in theirs (a fold of different kinds is a conflict).
fn append(out: &mut Vec<Hunk>, h: Hunk) {
    if let Some(m) = out.last_mut()
        && (h.i1 <= m.i1 + m.chg1 || h.i2 <= m.i2 + m.chg2)
    {
        if h.take != m.take {
            m.take = Take::Conflict;
        }
        m.chg0 = h.i0 + h.chg0 - m.i0;
        m.chg1 = h.i1 + h.chg1 - m.i1;
        m.chg2 = h.i2 + h.chg2 - m.i2;
    } else {
        out.push(h);
    }
}

fn signed(c: &Change) -> (isize, isize, isize, isize) {
    (
        c.i1 as isize,
        c.chg1 as isize,
        c.i2 as isize,
        c.chg2 as isize,
    )
}

/// Step 2: walk the two edit scripts (base->ours, base->theirs) together.
fn combine(
    ours_script: &[Change],
    theirs_script: &[Change],
    b: &Lines<'_>,
    o: &Lines<'_>,
    t: &Lines<'_>,
) -> Vec<Hunk> {
    let mut out = Vec::with_capacity(ours_script.len() + theirs_script.len());
    let (mut p1, mut p2) = (0, 0);
    while p1 < ours_script.len() && p2 < theirs_script.len() {
        // (base start, base count, side start, side count) of each change.
        let (b1, n1, s1, m1) = signed(&ours_script[p1]);
        let (b2, n2, s2, m2) = signed(&theirs_script[p2]);
        if b1 + n1 < b2 {
            append(
                &mut out,
                Hunk {
                    take: Take::Ours,
                    i0: b1,
                    chg0: n1,
                    i1: s1,
                    chg1: m1,
                    i2: s2 - b2 + b1,
                    chg2: n1,
                },
            );
            p1 += 1;
            continue;
        }
        if b2 + n2 < b1 {
            append(
                &mut out,
                Hunk {
                    take: Take::Theirs,
                    i0: b2,
                    chg0: n2,
                    i1: s1 - b1 + b2,
                    chg1: n2,
                    i2: s2,
                    chg2: m2,
                },
            );
            p2 += 1;
            continue;
        }
        let same = b1 == b2
            && n1 == n2
            && m1 == m2
            && o.ids[s1 as usize..(s1 + m1) as usize] == t.ids[s2 as usize..(s2 + m2) as usize];
        if !same {
            // Cover both changes: extend each side by the base lines the
            // other change reaches beyond it.
            let before = b1 - b2;
            let after = before + n1 - n2;
            let (mut i0, mut i1, mut i2) = (b1, s1, s2);
            if before > 0 {
                i0 -= before;
                i1 -= before;
            } else {
                i2 += before;
            }
            let mut chg0 = b1 + n1 - i0;
            let mut chg1 = s1 + m1 - i1;
            let mut chg2 = s2 + m2 - i2;
            if after < 0 {
                chg0 -= after;
                chg1 -= after;
            } else {
                chg2 += after;
            }
            append(
                &mut out,
                Hunk {
                    take: Take::Conflict,
                    i0,
                    chg0,
                    i1,
                    chg1,
                    i2,
                    chg2,
                },
            );
        }
        let (end1, end2) = (b1 + n1, b2 + n2);
        if end1 >= end2 {
            p2 += 1;
        }
        if end2 >= end1 {
            p1 += 1;
        }
    }
    let shift_t = t.len() as isize - b.len() as isize;
    for c in &ours_script[p1..] {
        let (b1, n1, s1, m1) = signed(c);
        append(
            &mut out,
            Hunk {
                take: Take::Ours,
                i0: b1,
                chg0: n1,
                i1: s1,
                chg1: m1,
                i2: b1 + shift_t,
                chg2: n1,
            },
        );
    }
    let shift_o = o.len() as isize - b.len() as isize;
    for c in &theirs_script[p2..] {
        let (b2, n2, s2, m2) = signed(c);
        append(
            &mut out,
            Hunk {
                take: Take::Theirs,
                i0: b2,
                chg0: n2,
                i1: b2 + shift_o,
                chg1: n2,
                i2: s2,
                chg2: m2,
            },
        );
    }
    out
}

/// Step 3: diff the two sides of each conflict and keep only the parts
/// that differ. `count_o` / `count_t` are all-zero scratch tables indexed
/// by id; they are left all-zero.
fn refine(
    hunks: Vec<Hunk>,
    o: &Lines<'_>,
    t: &Lines<'_>,
    count_o: &mut [u32],
    count_t: &mut [u32],
) -> Vec<Hunk> {
    let mut out = Vec::with_capacity(hunks.len());
    for h in hunks {
        if h.take != Take::Conflict || h.chg1 == 0 || h.chg2 == 0 {
            out.push(h);
            continue;
        }
        let side_o = &o.ids[h.i1 as usize..(h.i1 + h.chg1) as usize];
        let side_t = &t.ids[h.i2 as usize..(h.i2 + h.chg2) as usize];
        for &id in side_o {
            count_o[id as usize] += 1;
        }
        for &id in side_t {
            count_t[id as usize] += 1;
        }
        let script = diff(side_o, side_t, count_o, count_t);
        for &id in side_o {
            count_o[id as usize] = 0;
        }
        for &id in side_t {
            count_t[id as usize] = 0;
        }
        if script.is_empty() {
            out.push(Hunk {
                take: Take::Same,
                ..h
            });
            continue;
        }
        for c in &script {
            out.push(Hunk {
                take: Take::Conflict,
                i1: h.i1 + c.i1 as isize,
                chg1: c.chg1 as isize,
                i2: h.i2 + c.i2 as isize,
                chg2: c.chg2 as isize,
                ..h
            });
        }
    }
    out
}

/// Step 4: absorb the lines between two adjacent conflicts into one
/// conflict when there are at most three of them, or when none of them
/// (in ours) has an ASCII letter or digit.
fn join_close_conflicts(hunks: Vec<Hunk>, o: &Lines<'_>) -> Vec<Hunk> {
    let mut out: Vec<Hunk> = Vec::with_capacity(hunks.len());
    for h in hunks {
        if let Some(m) = out.last_mut()
            && m.take == Take::Conflict
            && h.take == Take::Conflict
        {
            let (gap_start, gap_end) = (m.i1 + m.chg1, h.i1);
            let close = gap_end - gap_start <= JOIN_GAP
                || !(gap_start..gap_end)
                    .any(|i| o.line(i as usize).iter().any(u8::is_ascii_alphanumeric));
            if close {
                m.chg1 = h.i1 + h.chg1 - m.i1;
                m.chg2 = h.i2 + h.chg2 - m.i2;
                continue;
            }
        }
        out.push(h);
    }
    out
}

/// Whether record `i` of `file` ends in CRLF: `Some(true/false)`, or `None`
/// when that cannot be told. A last record without an ending is judged by
/// the record before it.
fn ends_in_crlf(file: &Lines<'_>, i: usize) -> Option<bool> {
    let crlf = |line: &[u8]| line.len() > 1 && line[line.len() - 2] == b'\r';
    let n = file.len();
    if n == 0 {
        return None;
    }
    if i + 1 < n {
        return Some(crlf(file.line(i)));
    }
    let last = file.line(i);
    if last.last() == Some(&b'\n') {
        return Some(crlf(last));
    }
    if i == 0 {
        return None;
    }
    Some(crlf(file.line(i - 1)))
}

/// Whether a conflict's markers (and the endings it adds) use CRLF: the
/// record before it in ours and in theirs (or their first record) must not
/// end in a bare LF, and the base's first record must end in CRLF.
fn needs_cr(h: &Hunk, b: &Lines<'_>, o: &Lines<'_>, t: &Lines<'_>) -> bool {
    let before = |i: isize| if i > 0 { i as usize - 1 } else { 0 };
    ends_in_crlf(o, before(h.i1)) != Some(false)
        && ends_in_crlf(t, before(h.i2)) != Some(false)
        && ends_in_crlf(b, 0) == Some(true)
}

/// Copy records `start..start+count` of `file`; with `add_nl`, end a last
/// record that has no line ending with one.
fn copy(out: &mut Vec<u8>, file: &Lines<'_>, start: isize, count: isize, crlf: bool, add_nl: bool) {
    if count < 1 {
        return;
    }
    let (start, count) = (start as usize, count as usize);
    out.extend_from_slice(file.span(start, count));
    if add_nl && file.line(start + count - 1).last() != Some(&b'\n') {
        if crlf {
            out.push(b'\r');
        }
        out.push(b'\n');
    }
}

fn marker(out: &mut Vec<u8>, c: u8, label: Option<&str>, crlf: bool) {
    out.extend(std::iter::repeat_n(c, MARKER_SIZE));
    if let Some(label) = label {
        out.push(b' ');
        out.extend_from_slice(label.as_bytes());
    }
    if crlf {
        out.push(b'\r');
    }
    out.push(b'\n');
}

/// Step 5: the merged bytes.
fn write(
    hunks: &[Hunk],
    b: &Lines<'_>,
    o: &Lines<'_>,
    t: &Lines<'_>,
    labels: &Labels<'_>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(o.bytes().len().max(t.bytes().len()) + 64);
    // Next line of ours not yet written (unchanged lines come from ours).
    let mut next = 0isize;
    for h in hunks {
        match h.take {
            Take::Conflict => {
                let crlf = needs_cr(h, b, o, t);
                copy(&mut out, o, next, h.i1 - next, false, false);
                marker(&mut out, b'<', Some(labels.ours), crlf);
                copy(&mut out, o, h.i1, h.chg1, crlf, true);
                marker(&mut out, b'=', None, crlf);
                copy(&mut out, t, h.i2, h.chg2, crlf, true);
                marker(&mut out, b'>', Some(labels.theirs), crlf);
            }
            Take::Ours => {
                copy(&mut out, o, next, h.i1 + h.chg1 - next, false, false);
            }
            Take::Theirs => {
                copy(&mut out, o, next, h.i1 - next, false, false);
                copy(&mut out, t, h.i2, h.chg2, false, false);
            }
            Take::Same => continue,
        }
        next = h.i1 + h.chg1;
    }
    copy(&mut out, o, next, o.len() as isize - next, false, false);
    out
}

/// Maps line boundaries of one side to base line boundaries through that
/// side's edit script. Queries must come in non-decreasing order.
struct BaseMap<'s> {
    script: &'s [Change],
    /// Changes wholly before the last query, and their net growth.
    passed: usize,
    growth: isize,
}

impl<'s> BaseMap<'s> {
    fn new(script: &'s [Change]) -> Self {
        BaseMap {
            script,
            passed: 0,
            growth: 0,
        }
    }

    /// Base boundary for side boundary `p`. A change the boundary falls
    /// inside (or, for a deletion, sits on) widens the result: to the
    /// change's base start when `p` opens a region, to its base end when
    /// `p` closes one.
    fn map(&mut self, p: isize, opening: bool) -> isize {
        while let Some(c) = self.script.get(self.passed) {
            let (b0, n0, s0, m0) = signed(c);
            let wholly_before = if opening {
                s0 + m0 < p || (m0 > 0 && s0 + m0 == p)
            } else {
                s0 + m0 <= p
            };
            if wholly_before {
                self.growth += m0 - n0;
                self.passed += 1;
                continue;
            }
            if opening && s0 <= p {
                return b0;
            }
            if !opening && s0 < p {
                return b0 + n0;
            }
            break;
        }
        p - self.growth
    }
}

fn line_range(start: isize, count: isize) -> LineRange {
    LineRange {
        start: start.max(0) as u32 + 1,
        count: count.max(0) as u32,
    }
}

/// The conflicting regions, with base ranges mapped back through both
/// edit scripts.
fn regions(
    hunks: &[Hunk],
    ours_script: &[Change],
    theirs_script: &[Change],
) -> Vec<ConflictRegion> {
    let (mut open_o, mut close_o) = (BaseMap::new(ours_script), BaseMap::new(ours_script));
    let (mut open_t, mut close_t) = (BaseMap::new(theirs_script), BaseMap::new(theirs_script));
    hunks
        .iter()
        .filter(|h| h.take == Take::Conflict)
        .map(|h| {
            let start = open_o.map(h.i1, true).min(open_t.map(h.i2, true));
            let end = close_o
                .map(h.i1 + h.chg1, false)
                .max(close_t.map(h.i2 + h.chg2, false));
            ConflictRegion {
                ours: line_range(h.i1, h.chg1),
                base: line_range(start, end - start),
                theirs: line_range(h.i2, h.chg2),
            }
        })
        .collect()
}
