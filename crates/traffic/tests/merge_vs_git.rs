//! Differential test: our three-way merge against the real `git merge-file`
//! (its default, Myers diff) on generated cases: same clean/conflict verdict, and
//! byte-identical results on clean merges.

use std::process::Command;

use proptest::prelude::*;

fn git_merge_file(base: &[u8], ours: &[u8], theirs: &[u8]) -> (bool, Vec<u8>) {
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
    let code = out.status.code().expect("git exited by signal");
    assert!(
        code >= 0,
        "git merge-file failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (code == 0, out.stdout)
}

/// Lines from a small alphabet so that diffs have to choose between many matches.
fn base_lines() -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec(
        prop_oneof!["[a-e]", "line [0-9]{1,2}", Just("}".to_string())],
        0..40,
    )
}

#[derive(Debug, Clone)]
enum Edit {
    Replace(usize, String),
    Insert(usize, String),
    Delete(usize),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    proptest::collection::vec(
        prop_oneof![
            (any::<usize>(), "[a-e]|new [xyz]").prop_map(|(i, s)| Edit::Replace(i, s)),
            (any::<usize>(), "[a-e]|added [xyz]").prop_map(|(i, s)| Edit::Insert(i, s)),
            any::<usize>().prop_map(Edit::Delete),
        ],
        0..6,
    )
}

fn apply(lines: &[String], edits: &[Edit]) -> Vec<String> {
    let mut out = lines.to_vec();
    for e in edits {
        match e {
            Edit::Replace(i, s) if !out.is_empty() => {
                let n = out.len();
                out[i % n] = s.clone();
            }
            Edit::Insert(i, s) => {
                let n = out.len() + 1;
                out.insert(i % n, s.clone());
            }
            Edit::Delete(i) if !out.is_empty() => {
                let n = out.len();
                out.remove(i % n);
            }
            _ => {}
        }
    }
    out
}

fn join(lines: &[String], crlf: bool, final_newline: bool) -> Vec<u8> {
    let nl = if crlf { "\r\n" } else { "\n" };
    let mut s = lines.join(nl);
    if final_newline && !lines.is_empty() {
        s.push_str(nl);
    }
    s.into_bytes()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Same verdict as git, byte-identical clean merges.
    #[test]
    fn merge_matches_git_merge_file(
        base in base_lines(),
        ours_edits in edits(),
        theirs_edits in edits(),
        crlf in any::<bool>(),
        final_newline in prop::bool::weighted(0.85),
    ) {
        let ours = apply(&base, &ours_edits);
        let theirs = apply(&base, &theirs_edits);
        let (b, o, t) = (join(&base, crlf, final_newline), join(&ours, crlf, final_newline), join(&theirs, crlf, final_newline));
        let (git_clean, git_out) = git_merge_file(&b, &o, &t);
        let ours_merge = dxforge_traffic::merge3(&b, &o, &t);
        prop_assert_eq!(!ours_merge.conflicted, git_clean, "verdict differs\nbase={:?}\nours={:?}\ntheirs={:?}\ngit={:?}",
            String::from_utf8_lossy(&b), String::from_utf8_lossy(&o), String::from_utf8_lossy(&t), String::from_utf8_lossy(&git_out));
        if git_clean {
            prop_assert_eq!(&ours_merge.merged, &git_out, "clean merge differs\nbase={:?}\nours={:?}\ntheirs={:?}",
                String::from_utf8_lossy(&b), String::from_utf8_lossy(&o), String::from_utf8_lossy(&t));
        } else {
            prop_assert!(!ours_merge.conflicts.is_empty());
        }
    }
}

#[test]
fn conflict_markers_look_like_gits() {
    let base = b"a\nb\nc\n";
    let ours = b"a\nB mine\nc\n";
    let theirs = b"a\nB theirs\nc\n";
    let m = dxforge_traffic::merge3(base, ours, theirs);
    assert!(m.conflicted);
    let (clean, git) = git_merge_file(base, ours, theirs);
    assert!(!clean);
    assert_eq!(
        String::from_utf8_lossy(&m.merged),
        String::from_utf8_lossy(&git)
    );
    assert_eq!(m.conflicts.len(), 1);
    assert_eq!(
        (m.conflicts[0].ours.start, m.conflicts[0].ours.count),
        (2, 1)
    );
    assert_eq!(
        (m.conflicts[0].base.start, m.conflicts[0].base.count),
        (2, 1)
    );
}
