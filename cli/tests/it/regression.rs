//! Regression tests of the command line's trust fixes (issue 9), with the
//! real `dxforge` binary on generated registries and projects. Each is named
//! after what it guards; the comment above it names the attack.

use crate::support;

use std::process::Stdio;

use support::{Workspace, check_lock, crashed, many_files, text};

/// Lines of a command's stdout and stderr together.
fn all_lines(out: &std::process::Output) -> Vec<String> {
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    lines.extend(
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .map(str::to_owned),
    );
    lines
}

// Attack: a package file named "a\nGREEN   evil.txt  new file" faked a line of the add report.
#[test]
fn add_report_cannot_be_faked_by_a_file_name_with_a_newline() {
    let ws = Workspace::new("dxesc");
    let fake = "a\nGREEN   evil.txt  new file";
    ws.package(
        "trick",
        "1.0.0",
        &[
            ("ok.txt".to_owned(), b"ok\n".to_vec()),
            (fake.to_owned(), b"x\n".to_vec()),
        ],
    );
    let out = ws.dx(&["add", "trick"]);
    assert!(!crashed(&out.status), "{}", text(&out));
    for line in all_lines(&out) {
        assert!(
            !line.starts_with("GREEN   evil.txt"),
            "a faked line: {line:?}\n{}",
            text(&out)
        );
    }
    // Refused or installed, the name shows on one line, escaped.
    let shown =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(shown.contains("a\\nGREEN"), "{}", text(&out));
    assert!(!ws.project().join("evil.txt").exists());
}

// Attack: a file name with a bidirectional override or line separator reordered or split a report line.
#[test]
fn add_report_escapes_unicode_controls_and_json_keeps_the_exact_name() {
    let ws = Workspace::new("dxesc");
    let name = "x\u{202e}txt.exe\u{2028}GREEN   fake";
    ws.package("bidi", "1.0.0", &[(name.to_owned(), b"x\n".to_vec())]);
    let out = ws.dx(&["add", "bidi"]);
    assert!(!crashed(&out.status), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !stdout.contains('\u{202e}') && !stdout.contains('\u{2028}'),
        "{stdout:?}"
    );
    assert!(
        !stderr.contains('\u{202e}') && !stderr.contains('\u{2028}'),
        "{stderr:?}"
    );
    if out.status.success() {
        assert!(
            stdout.contains("\"x\\u{202e}txt.exe\\u{2028}GREEN   fake\""),
            "{stdout}"
        );
        // JSON output carries the exact name.
        let json = ws.dx(&["--json", "remove", "bidi", "--dry-run"]);
        let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
        assert_eq!(doc["files"][0]["path"], name, "{}", text(&json));
    }
}

// Attack: a FIFO named "f\nsnapshot FAKE: 0 files" in the project faked a line of the snapshot report.
#[test]
fn snapshot_report_cannot_be_faked_by_a_file_name_with_a_newline() {
    let ws = Workspace::new("dxesc");
    let project = ws.project();
    std::fs::write(project.join("a\nerror: fake"), "x\n").unwrap();
    let fifo = project.join("f\nsnapshot FAKE: 0 files");
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: mkfifo with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let out = ws.dx(&["snapshot"]);
    assert!(out.status.success(), "{}", text(&out));
    for line in all_lines(&out) {
        assert!(
            !line.starts_with("snapshot FAKE") && !line.starts_with("error: fake"),
            "a faked line: {line:?}\n{}",
            text(&out)
        );
    }
    // The FIFO is listed as skipped, on one line, escaped.
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("\"f\\nsnapshot FAKE: 0 files\" (named pipe)"),
        "{}",
        text(&out)
    );
    let out = ws.dx(&["snapshots"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        1,
        "{}",
        text(&out)
    );
    // An id from outside in an error message: one line, escaped.
    let out = ws.dx(&["restore", "x\nrestored FAKE"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("x\\nrestored FAKE"), "{stderr}");
}

// Attack: `restore` while `add` ran on the same project: both exited 0 and the lock listed missing files.
#[test]
fn restore_during_add_never_leaves_the_lock_listing_missing_files() {
    let ws = Workspace::new("dxlock");
    ws.package("big", "1.0.0", &many_files(200, 1));
    let snap = ws.dx(&["--json", "snapshot"]);
    assert!(snap.status.success(), "{}", text(&snap));
    let doc: serde_json::Value = serde_json::from_slice(&snap.stdout).unwrap();
    let empty = doc["id"].as_str().unwrap().to_owned();
    // How long an add takes alone: `restore` starts at 20 points spread over it.
    let t = std::time::Instant::now();
    let out = ws.dx(&["add", "big"]);
    assert!(out.status.success(), "{}", text(&out));
    let add_takes = t.elapsed();
    let out = ws.dx(&["restore", &empty]);
    assert!(out.status.success(), "{}", text(&out));
    let (mut busy, mut both) = (0, 0);
    for round in 0..20 {
        let add = ws
            .cmd(&["add", "big"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(add_takes * round / 20);
        let restore = ws
            .cmd(&["restore", &empty])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let add = add.wait_with_output().unwrap();
        let restore = restore.wait_with_output().unwrap();
        for out in [&add, &restore] {
            assert!(!crashed(&out.status), "round {round}: {}", text(out));
            if !out.status.success() {
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(
                    err.contains("busy") && err.contains("pid"),
                    "round {round}: failed for another reason than the lock: {}",
                    text(out)
                );
                busy += 1;
            }
        }
        if add.status.success() && restore.status.success() {
            both += 1;
        }
        if let Err(e) = check_lock(&ws.project()) {
            panic!(
                "round {round}: {e}\nadd: {}\nrestore: {}",
                text(&add),
                text(&restore)
            );
        }
        // Back to the empty project for the next round.
        let reset = ws.dx(&["restore", &empty]);
        assert!(reset.status.success(), "{}", text(&reset));
    }
    eprintln!(
        "20 rounds: {busy} refused as busy, {both} rounds where both ran one after the other"
    );
}
