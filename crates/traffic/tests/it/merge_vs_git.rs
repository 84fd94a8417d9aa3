//! Differential test: our three-way merge against the real `git merge-file`
//! (its defaults: Myers diff, `merge` conflict style, the labels merge3
//! writes) on generated cases: same verdict, byte-identical output, clean or
//! with conflict markers, and conflict regions holding exactly the lines
//! between git's markers. `DXFORGE_MERGE_CASES` sets how many cases the
//! property runs (default 3000).
//!
//! The `regression` module pins cases that once differed from git, and the
//! behaviours the property may meet too rarely: binary refusal, CRLF
//! markers, joining of close conflicts.

use std::process::Command;

use dxforge_traffic::{MergeError, MergeOutcome, merge3};
use proptest::prelude::*;

/// What `git merge-file -p -L yours -L base -L upstream ours base theirs` did.
struct Git {
    /// Exit status: 0 clean, n > 0 for n conflicts, other values for errors.
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
}

fn git_merge_file(base: &[u8], ours: &[u8], theirs: &[u8]) -> Git {
    let dir = tempfile::tempdir().unwrap();
    let (o, b, t) = (
        dir.path().join("ours"),
        dir.path().join("base"),
        dir.path().join("theirs"),
    );
    std::fs::write(&o, ours).unwrap();
    std::fs::write(&b, base).unwrap();
    std::fs::write(&t, theirs).unwrap();
    let out = Command::new("git")
        .current_dir(dir.path())
        // No user or system configuration (merge.conflictStyle would change the output).
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .args([
            "merge-file",
            "-p",
            "-L",
            "yours",
            "-L",
            "base",
            "-L",
            "upstream",
        ])
        .arg(&o)
        .arg(&b)
        .arg(&t)
        .output()
        .expect("git must be installed for this test");
    Git {
        code: out.status.code().expect("git exited by signal"),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn show(b: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(b))
}

/// The two sides of each conflict block of merged output: the lines between
/// `<<<<<<< yours` and `=======`, and between `=======` and `>>>>>>> upstream`.
fn conflict_blocks(merged: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let is = |line: &[u8], marker: &str| {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        line == marker.as_bytes()
    };
    let mut blocks = Vec::new();
    let mut lines = merged.split_inclusive(|b| *b == b'\n');
    while let Some(line) = lines.next() {
        if !is(line, "<<<<<<< yours") {
            continue;
        }
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for line in lines.by_ref() {
            if is(line, "=======") {
                break;
            }
            ours.extend_from_slice(line);
        }
        for line in lines.by_ref() {
            if is(line, ">>>>>>> upstream") {
                break;
            }
            theirs.extend_from_slice(line);
        }
        blocks.push((ours, theirs));
    }
    blocks
}

/// Lines `start..start+count` (1-based) of `data`.
fn lines_of(data: &[u8], start: u32, count: u32) -> Vec<u8> {
    data.split_inclusive(|b| *b == b'\n')
        .skip(start as usize - 1)
        .take(count as usize)
        .flatten()
        .copied()
        .collect()
}

fn line_count(data: &[u8]) -> u32 {
    data.split_inclusive(|b| *b == b'\n').count() as u32
}

/// A conflict side as git prints it: a last line without a line ending gets one.
fn same_side(printed: &[u8], lines: &[u8]) -> bool {
    printed == lines
        || (!lines.is_empty()
            && !lines.ends_with(b"\n")
            && printed.starts_with(lines)
            && matches!(&printed[lines.len()..], b"\n" | b"\r\n"))
}

/// Everything the differential test requires of one case; `Err` says why not.
fn check_against_git(base: &[u8], ours: &[u8], theirs: &[u8]) -> Result<MergeOutcome, String> {
    let git = git_merge_file(base, ours, theirs);
    let case = format!(
        "base={}\nours={}\ntheirs={}\ngit(exit {})={}",
        show(base),
        show(ours),
        show(theirs),
        git.code,
        show(&git.stdout)
    );
    if !(0..=127).contains(&git.code) {
        return Err(format!("git merge-file failed: {}\n{case}", git.stderr));
    }
    let m = merge3(base, ours, theirs).map_err(|e| format!("merge3 refused: {e}\n{case}"))?;
    if m.conflicted != (git.code != 0) {
        return Err(format!(
            "verdict differs: merge3 conflicted={}\n{case}\nmerge3={}",
            m.conflicted,
            show(&m.merged)
        ));
    }
    if m.merged != git.stdout {
        return Err(format!(
            "output differs\n{case}\nmerge3={}",
            show(&m.merged)
        ));
    }
    // git's exit status counts the conflicts, up to 127.
    if m.conflicts.len().min(127) != git.code as usize {
        return Err(format!(
            "{} regions for git's {} conflicts\n{case}",
            m.conflicts.len(),
            git.code
        ));
    }
    let blocks = conflict_blocks(&git.stdout);
    if blocks.len() != m.conflicts.len() {
        return Err(format!(
            "{} regions for {} marker blocks\n{case}",
            m.conflicts.len(),
            blocks.len()
        ));
    }
    // Ours and theirs ranges follow each other; base ranges may overlap
    // (pieces of one refined conflict share the base lines they replace)
    // but start in order.
    let (mut last_ours, mut last_base, mut last_theirs) = (0, 0, 0);
    for (r, (printed_ours, printed_theirs)) in m.conflicts.iter().zip(&blocks) {
        let in_order = r.ours.start >= last_ours
            && r.base.start >= last_base
            && r.theirs.start >= last_theirs
            && r.ours.start + r.ours.count <= line_count(ours) + 1
            && r.base.start + r.base.count <= line_count(base) + 1
            && r.theirs.start + r.theirs.count <= line_count(theirs) + 1;
        if !in_order {
            return Err(format!("region {r:?} out of order or bounds\n{case}"));
        }
        (last_ours, last_base, last_theirs) = (
            r.ours.start + r.ours.count,
            r.base.start,
            r.theirs.start + r.theirs.count,
        );
        if !same_side(printed_ours, &lines_of(ours, r.ours.start, r.ours.count))
            || !same_side(
                printed_theirs,
                &lines_of(theirs, r.theirs.start, r.theirs.count),
            )
        {
            return Err(format!(
                "region {r:?} is not the lines between git's markers\n{case}"
            ));
        }
    }
    Ok(m)
}

// ---------------------------------------------------------------------------
// Generated cases
// ---------------------------------------------------------------------------

/// A line of a generated file: its text and whether it ends in CRLF.
#[derive(Debug, Clone, PartialEq)]
struct Line {
    text: &'static str,
    crlf: bool,
}

/// Short lines that repeat a lot: blank and brace-only lines, indentation-only
/// differences (`x` / `  x`), a few with letters.
const ALPHABET: &[&str] = &[
    "L1", "{", "}", "", "  y", "  x", "x", "y", "  {", "  }", "\tx", "L2",
];

fn text() -> impl Strategy<Value = &'static str> {
    prop::sample::select(ALPHABET)
}

/// A file: its lines, its usual line ending, and whether its last line ends.
#[derive(Debug, Clone)]
struct File {
    lines: Vec<Line>,
    crlf: bool,
    final_newline: bool,
}

impl File {
    fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, l) in self.lines.iter().enumerate() {
            out.extend_from_slice(l.text.as_bytes());
            if i + 1 < self.lines.len() || self.final_newline {
                out.extend_from_slice(if l.crlf { b"\r\n" } else { b"\n" });
            }
        }
        out
    }
}

/// Line endings: all LF, all CRLF, or mostly one with some of the other.
fn endings() -> impl Strategy<Value = (bool, u32)> {
    (any::<bool>(), prop_oneof![4 => Just(0u32), 1 => 1..30u32])
}

fn file() -> impl Strategy<Value = File> {
    (
        proptest::collection::vec((text(), 0..100u32), 0..24),
        endings(),
        prop::bool::weighted(0.8),
    )
        .prop_map(|(lines, (crlf, mixed_pct), final_newline)| File {
            lines: lines
                .into_iter()
                .map(|(text, roll)| Line {
                    text,
                    crlf: crlf != (roll < mixed_pct),
                })
                .collect(),
            crlf,
            final_newline,
        })
}

/// An edit of one side, at a position taken modulo the current length.
#[derive(Debug, Clone)]
enum Edit {
    Insert(usize, Vec<&'static str>),
    Delete(usize, usize),
    Replace(usize, usize, Vec<&'static str>),
    /// Indent or unindent one line (`x` <-> `  x`).
    Reindent(usize),
    /// Flip one line's ending (LF <-> CRLF).
    FlipEnding(usize),
    /// Flip whether the last line ends.
    FlipFinalNewline,
}

fn edit() -> impl Strategy<Value = Edit> {
    let run = || proptest::collection::vec(text(), 1..4);
    prop_oneof![
        3 => (any::<usize>(), run()).prop_map(|(i, r)| Edit::Insert(i, r)),
        3 => (any::<usize>(), 1..4usize).prop_map(|(i, n)| Edit::Delete(i, n)),
        3 => (any::<usize>(), 1..4usize, run()).prop_map(|(i, n, r)| Edit::Replace(i, n, r)),
        1 => any::<usize>().prop_map(Edit::Reindent),
        1 => any::<usize>().prop_map(Edit::FlipEnding),
        1 => Just(Edit::FlipFinalNewline),
    ]
}

fn reindent(text: &'static str) -> &'static str {
    match text {
        "x" => "  x",
        "  x" => "x",
        "y" => "  y",
        "  y" => "y",
        "{" => "  {",
        "  {" => "{",
        "}" => "  }",
        "  }" => "}",
        "\tx" => "x",
        other => other,
    }
}

fn apply(base: &File, edits: &[Edit]) -> File {
    let mut f = base.clone();
    let line = |text, f: &File| Line { text, crlf: f.crlf };
    for e in edits {
        let n = f.lines.len();
        match e {
            Edit::Insert(i, run) => {
                let at = i % (n + 1);
                let new: Vec<Line> = run.iter().map(|t| line(*t, &f)).collect();
                f.lines.splice(at..at, new);
            }
            Edit::Delete(i, len) if n > 0 => {
                let at = i % n;
                f.lines.drain(at..(at + len).min(n));
            }
            Edit::Replace(i, len, run) if n > 0 => {
                let at = i % n;
                let new: Vec<Line> = run.iter().map(|t| line(*t, &f)).collect();
                f.lines.splice(at..(at + len).min(n), new);
            }
            Edit::Reindent(i) if n > 0 => {
                let l = &mut f.lines[i % n];
                l.text = reindent(l.text);
            }
            Edit::FlipEnding(i) if n > 0 => {
                let l = &mut f.lines[i % n];
                l.crlf = !l.crlf;
            }
            Edit::FlipFinalNewline => f.final_newline = !f.final_newline,
            _ => {}
        }
    }
    f
}

/// A side: mostly edits of the base (so that the sides collide often),
/// sometimes unchanged, sometimes a file of its own.
fn side(base: File) -> impl Strategy<Value = File> {
    prop_oneof![
        8 => proptest::collection::vec(edit(), 1..6).prop_map(move |e| apply(&base, &e)),
        1 => file(),
    ]
}

fn case() -> impl Strategy<Value = (File, File, File)> {
    file().prop_flat_map(|base| {
        (
            Just(base.clone()),
            side(base.clone()),
            prop_oneof![9 => side(base.clone()), 1 => Just(base)],
        )
    })
}

fn cases() -> u32 {
    std::env::var("DXFORGE_MERGE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Same verdict as git, byte-identical output (clean or with markers),
    /// regions matching git's marker blocks.
    #[test]
    fn merge_matches_git_merge_file((base, ours, theirs) in case()) {
        let (b, o, t) = (base.bytes(), ours.bytes(), theirs.bytes());
        if let Err(why) = check_against_git(&b, &o, &t) {
            return Err(TestCaseError::fail(why));
        }
    }
}

// ---------------------------------------------------------------------------
// Large generated cases: xdiff's pruning of too-common lines and the Myers
// cost limits only come into play on long files with many differences.
// ---------------------------------------------------------------------------

/// A small deterministic generator, so that a case is just its parameters.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Parameters of a large case.
#[derive(Debug, Clone)]
struct Big {
    seed: u64,
    lines: usize,
    /// Distinct common lines; few means many "too common" lines.
    alphabet: usize,
    /// Percent of base lines that occur nowhere else.
    unique_pct: usize,
    /// Edits per side.
    edits: usize,
    /// Longest edit run.
    run: usize,
    /// Percent of lines each side then replaces, scattered.
    churn_pct: usize,
}

fn big() -> impl Strategy<Value = Big> {
    let big = |lines, alphabet, unique_pct, edits, run, churn_pct| {
        (
            any::<u64>(),
            lines,
            alphabet,
            unique_pct,
            edits,
            run,
            churn_pct,
        )
            .prop_map(
                |(seed, lines, alphabet, unique_pct, edits, run, churn_pct)| Big {
                    seed: seed | 1,
                    lines,
                    alphabet,
                    unique_pct,
                    edits,
                    run,
                    churn_pct,
                },
            )
    };
    prop_oneof![
        // Anything.
        4 => big(100..3_000usize, 2..5_000usize, 0..100usize, 1..600usize, 1..40usize, 0..10usize),
        // Runs of new lines in which a few very common lines are mixed:
        // those are left out of the search.
        4 => big(300..3_000, 2..4, 80..98, 20..200, 10..200, 0..1),
        // Over 32,000 lines a side with many edits: the cost limit doubles
        // and the snake heuristics get their turn.
        1 => big(33_000..36_000, 5_000..5_001, 10..11, 300..800, 1..5, 0..1),
        1 => big(33_000..36_000, 5_000..5_001, 10..11, 0..1, 1..2, 10..20),
    ]
}

impl Big {
    fn line(&self, rng: &mut Rng) -> String {
        if rng.below(100) < self.unique_pct {
            format!("unique {}\n", rng.next())
        } else {
            format!("common {}\n", rng.below(self.alphabet))
        }
    }

    fn side(&self, base: &[String], rng: &mut Rng) -> Vec<String> {
        let mut out: Vec<String> = base
            .iter()
            .map(|l| {
                if rng.below(100) < self.churn_pct {
                    self.line(rng)
                } else {
                    l.clone()
                }
            })
            .collect();
        for _ in 0..self.edits {
            let at = rng.below(out.len() + 1);
            let len = 1 + rng.below(self.run);
            match rng.below(4) {
                0 => {
                    let new: Vec<String> = (0..len).map(|_| self.line(rng)).collect();
                    out.splice(at..at, new);
                }
                1 => {
                    out.drain(at..(at + len).min(out.len()));
                }
                2 => {
                    let new: Vec<String> = (0..len).map(|_| self.line(rng)).collect();
                    out.splice(at..(at + len).min(out.len()), new);
                }
                _ => {
                    // Move a block elsewhere.
                    let block: Vec<String> = out.drain(at..(at + len).min(out.len())).collect();
                    let to = rng.below(out.len() + 1);
                    out.splice(to..to, block);
                }
            }
        }
        out
    }

    fn files(&self) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let mut rng = Rng(self.seed);
        let base: Vec<String> = (0..self.lines).map(|_| self.line(&mut rng)).collect();
        let ours = self.side(&base, &mut rng);
        let theirs = self.side(&base, &mut rng);
        (
            base.concat().into_bytes(),
            ours.concat().into_bytes(),
            theirs.concat().into_bytes(),
        )
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases((cases() / 300).max(4)))]

    /// Same as `merge_matches_git_merge_file` on long files with many edits.
    #[test]
    fn large_merge_matches_git_merge_file(params in big()) {
        let (b, o, t) = params.files();
        if let Err(why) = check_against_git(&b, &o, &t) {
            let why = why.lines().next().unwrap_or_default().to_string();
            return Err(TestCaseError::fail(format!("{why} for {params:?}")));
        }
    }
}

// ---------------------------------------------------------------------------
// Regressions and rare behaviours
// ---------------------------------------------------------------------------

mod regression {
    use super::*;

    /// Merge, require git's exact result, and return ours.
    fn agree(base: &str, ours: &str, theirs: &str) -> MergeOutcome {
        check_against_git(base.as_bytes(), ours.as_bytes(), theirs.as_bytes())
            .unwrap_or_else(|why| panic!("{why}"))
    }

    // A deletion next to an insertion of a copy of the line before it: git conflicts (merge3 once merged it clean).
    #[test]
    fn delete_beside_duplicating_insert_conflicts() {
        let m = agree("L1\n  y\n", "L1\n", "L1\nL1\n  y\n");
        assert!(m.conflicted);
    }

    // Removing a leading brace while upstream duplicates a line below merges clean (merge3 once conflicted).
    #[test]
    fn delete_first_line_and_duplicate_later_line_is_clean() {
        let m = agree("{\n  y\n  x\n", "  y\n  x\n", "{\n  y\n  y\n  x\n");
        assert!(!m.conflicted);
        assert_eq!(m.merged, b"  y\n  y\n  x\n");
    }

    // Both sides adding the same brace line is taken once (merge3 once wrote it twice).
    #[test]
    fn same_insertion_on_both_sides_is_taken_once() {
        let m = agree("}\n\n", "}\n}\n\n", "}\n}\n\n  x\n");
        assert!(!m.conflicted);
        assert_eq!(m.merged, b"}\n}\n\n  x\n");
    }

    // Binary input (NUL in the first 8,000 bytes of any input) is refused, as git refuses it.
    #[test]
    fn binary_input_is_refused() {
        let text = b"a\nb\n".as_slice();
        let binary = b"a\0\nb\n".as_slice();
        for (b, o, t) in [
            (binary, text, text),
            (text, binary, text),
            (text, text, binary),
        ] {
            assert_eq!(merge3(b, o, t).unwrap_err(), MergeError::Binary);
            let git = git_merge_file(b, o, t);
            assert!(
                !(0..=127).contains(&git.code) && git.stderr.contains("binary"),
                "git merged binary input: exit {} {}",
                git.code,
                git.stderr
            );
        }
    }

    // A NUL byte after the first 8,000 bytes does not make the input binary (git's rule).
    #[test]
    fn nul_after_first_8000_bytes_is_text() {
        let mut base = "line\n".repeat(1700).into_bytes();
        base.extend_from_slice(b"tail\0\n");
        let mut ours = base.clone();
        ours.splice(0..0, b"mine\n".iter().copied());
        let mut theirs = base.clone();
        theirs.extend_from_slice(b"upstream\n");
        let m = check_against_git(&base, &ours, &theirs).unwrap_or_else(|why| panic!("{why}"));
        assert!(!m.conflicted);
    }

    // Conflict markers end in CRLF when the lines around the conflict do.
    #[test]
    fn crlf_markers_in_crlf_files() {
        let m = agree(
            "a\r\nb\r\nc\r\n",
            "a\r\nmine\r\nc\r\n",
            "a\r\ntheirs\r\nc\r\n",
        );
        assert!(m.conflicted);
        assert_eq!(
            String::from_utf8_lossy(&m.merged),
            "a\r\n<<<<<<< yours\r\nmine\r\n=======\r\ntheirs\r\n>>>>>>> upstream\r\nc\r\n"
        );
    }

    // Conflict markers stay LF when a side's line before the conflict is LF.
    #[test]
    fn lf_markers_when_a_side_is_lf() {
        let m = agree("a\nb\r\nc\r\n", "a\nmine\r\nc\r\n", "a\ntheirs\r\nc\r\n");
        assert!(m.conflicted);
        assert_eq!(
            String::from_utf8_lossy(&m.merged),
            "a\n<<<<<<< yours\nmine\r\n=======\ntheirs\r\n>>>>>>> upstream\nc\r\n"
        );
    }

    // A conflicting last line without a line ending gets one inside the conflict, like git.
    #[test]
    fn missing_final_newline_in_conflict() {
        let m = agree("a\nb", "a\nmine", "a\ntheirs");
        assert!(m.conflicted);
        assert_eq!(
            String::from_utf8_lossy(&m.merged),
            "a\n<<<<<<< yours\nmine\n=======\ntheirs\n>>>>>>> upstream\n"
        );
    }

    // Conflicts three lines apart are joined into one.
    #[test]
    fn conflicts_three_lines_apart_are_joined() {
        let m = agree(
            "1\nk1\nk2\nk3\n2\n",
            "1 ours\nk1\nk2\nk3\n2 ours\n",
            "1 theirs\nk1\nk2\nk3\n2 theirs\n",
        );
        assert_eq!(m.conflicts.len(), 1);
        assert_eq!(
            (m.conflicts[0].ours.start, m.conflicts[0].ours.count),
            (1, 5)
        );
    }

    // Conflicts four lines of text apart stay separate.
    #[test]
    fn conflicts_four_text_lines_apart_stay_apart() {
        let m = agree(
            "1\nk1\nk2\nk3\nk4\n2\n",
            "1 ours\nk1\nk2\nk3\nk4\n2 ours\n",
            "1 theirs\nk1\nk2\nk3\nk4\n2 theirs\n",
        );
        assert_eq!(m.conflicts.len(), 2);
    }

    // Conflicts separated only by lines without letters or digits are joined (zealous alnum).
    #[test]
    fn conflicts_apart_by_punctuation_only_are_joined() {
        let m = agree(
            "1\n}\n\n  }\n{\n)\n2\n",
            "1 ours\n}\n\n  }\n{\n)\n2 ours\n",
            "1 theirs\n}\n\n  }\n{\n)\n2 theirs\n",
        );
        assert_eq!(m.conflicts.len(), 1);
    }

    // A conflict whose sides share lines is split around them (conflict refinement).
    #[test]
    fn refined_conflict_keeps_shared_lines_out() {
        let m = agree(
            "a\nb\nc\nd\ne\nf\ng\nh\n",
            "a\nB1\nc\nd\nshared 1\nshared 2\nshared 3\nshared 4\nE1\nh\n",
            "a\nB2\nc\nd\nshared 1\nshared 2\nshared 3\nshared 4\nE2\nh\n",
        );
        assert_eq!(m.conflicts.len(), 2, "{}", show(&m.merged));
    }

    // Only one side changed: the result is the other side, byte for byte.
    #[test]
    fn one_sided_change_takes_that_side() {
        let m = agree("a\r\nb\n", "a\r\nb\n", "a\nb\nc");
        assert_eq!(m.merged, b"a\nb\nc");
    }

    // The regions of a simple conflict, and markers like git's.
    #[test]
    fn conflict_markers_look_like_gits() {
        let m = agree("a\nb\nc\n", "a\nB mine\nc\n", "a\nB theirs\nc\n");
        assert!(m.conflicted);
        assert_eq!(m.conflicts.len(), 1);
        let r = m.conflicts[0];
        assert_eq!((r.ours.start, r.ours.count), (2, 1));
        assert_eq!((r.base.start, r.base.count), (2, 1));
        assert_eq!((r.theirs.start, r.theirs.count), (2, 1));
    }
}
