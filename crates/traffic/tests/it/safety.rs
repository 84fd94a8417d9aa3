//! Unsafe input is refused before anything is written; a held project lock gives Busy.

use crate::common;

use std::io::BufRead;
use std::os::unix::fs::symlink;
use std::process::{Command, Stdio};

use common::{TestProject, TestRegistry, snapshot};
use dxforge_fs::{Policy, Root};
use dxforge_traffic::safety::{check_target, validate_relative};
use dxforge_traffic::{InstallOptions, TrafficError};

fn widget() -> TestRegistry {
    let r = TestRegistry::new();
    r.add(
        "widget",
        "1.0.0",
        &[],
        &[("src/ui/widget.ts", b"w\n"), ("top.ts", b"t\n")],
    );
    r
}

/// Install must fail with UnsafePath naming `path`, leaving project and `outside` untouched.
fn assert_refused(p: &TestProject, outside: &std::path::Path, path: &str) {
    let before = snapshot(p.root());
    let before_state = p.root().join(".dxforge").exists();
    let outside_before = snapshot(outside);
    let err = p
        .manager()
        .install_package("widget", "", &InstallOptions::default())
        .unwrap_err();
    match &err {
        TrafficError::UnsafePath { path: refused, .. } => assert_eq!(refused, path, "{err}"),
        other => panic!("expected UnsafePath, got {other}"),
    }
    assert!(err.to_string().contains(path));
    assert_eq!(snapshot(p.root()), before, "project changed");
    assert_eq!(snapshot(outside), outside_before, "outside changed");
    assert!(!p.root().join("dxforge.lock").exists());
    if !before_state {
        // Only the (empty) lock/state directory may have appeared.
        assert!(!p.root().join(".dxforge/base").exists());
    }
}

#[test]
fn lexical_checks_refuse_absolute_dotdot_and_reserved_paths() {
    for (rel, why) in [
        ("/etc/passwd", "absolute"),
        ("../outside.txt", ".."),
        ("a/../../b", ".."),
        ("a//b", "empty"),
        ("./a", "`.`"),
        ("a\\b", "backslash"),
        (".dxforge/base/x", "reserved"),
        (".git/config", "reserved"),
        ("vendor/lib/.git/hooks/pre-commit", "reserved"),
        ("a/.GIT/x", "reserved"),
        ("a\nb", "control character"),
        ("a/.x.dxforge-0123456789abcdef.tmp", "temporary"),
        ("dxforge.lock", "reserved"),
        ("", "empty"),
    ] {
        let err = validate_relative("pkg", rel).unwrap_err().to_string();
        assert!(err.contains(why), "{rel}: {err}");
        assert!(err.contains(&format!("`{rel}`")), "{err}");
    }
    validate_relative("pkg", "components/ui/button.tsx").unwrap();
}

#[test]
fn symlinked_directory_pointing_outside_is_refused() {
    let r = widget();
    let p = TestProject::new(r.path());
    let outside = tempfile::tempdir().unwrap();
    symlink(outside.path(), p.root().join("src")).unwrap();
    assert_refused(&p, outside.path(), "src/ui/widget.ts");
}

#[test]
fn symlinked_final_component_pointing_outside_is_refused() {
    let r = widget();
    let p = TestProject::new(r.path());
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("victim"), b"precious").unwrap();
    symlink(outside.path().join("victim"), p.root().join("top.ts")).unwrap();
    assert_refused(&p, outside.path(), "top.ts");
    assert_eq!(
        std::fs::read(outside.path().join("victim")).unwrap(),
        b"precious"
    );
}

#[test]
fn dangling_symlink_is_refused() {
    let r = widget();
    let p = TestProject::new(r.path());
    let outside = tempfile::tempdir().unwrap();
    symlink(outside.path().join("not-yet"), p.root().join("top.ts")).unwrap();
    assert_refused(&p, outside.path(), "top.ts");
    assert!(!outside.path().join("not-yet").exists());
}

#[test]
fn symlink_inside_the_root_is_refused_too() {
    // Decision: dxforge never writes through a symlink, even one that stays
    // inside the project (it could point into `.git/hooks`).
    let r = widget();
    let p = TestProject::new(r.path());
    std::fs::create_dir_all(p.root().join("real/ui")).unwrap();
    symlink(p.root().join("real"), p.root().join("src")).unwrap();
    let outside = tempfile::tempdir().unwrap();
    assert_refused(&p, outside.path(), "src/ui/widget.ts");
    assert!(!p.root().join("real/ui/widget.ts").exists());
}

#[test]
fn file_where_a_directory_is_needed_is_refused() {
    let r = widget();
    let p = TestProject::new(r.path());
    p.write("src", b"I am a file");
    let outside = tempfile::tempdir().unwrap();
    assert_refused(&p, outside.path(), "src/ui/widget.ts");
}

#[test]
fn crafted_lock_paths_are_refused_on_remove() {
    let r = widget();
    let p = TestProject::new(r.path());
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("victim.txt"), b"v\n").unwrap();
    let hash = blake3::hash(b"v\n").to_hex().to_string();
    for evil in [
        format!(
            "../{}/victim.txt",
            outside.path().file_name().unwrap().to_string_lossy()
        ),
        outside.path().join("victim.txt").display().to_string(),
    ] {
        let lock = format!(
            "format = 1\n[packages.widget]\nversion = \"1.0.0\"\n[packages.widget.files]\n\"{evil}\" = \"{hash}\"\n"
        );
        p.write("dxforge.lock", lock.as_bytes());
        let before = snapshot(p.root());
        let err = p
            .manager()
            .remove_package("widget", &InstallOptions::default())
            .unwrap_err();
        assert!(matches!(err, TrafficError::UnsafePath { .. }), "{err}");
        assert!(err.to_string().contains(&evil), "{err}");
        assert_eq!(
            std::fs::read(outside.path().join("victim.txt")).unwrap(),
            b"v\n"
        );
        assert_eq!(snapshot(p.root()), before);
    }
}

#[test]
fn check_target_refuses_links_and_accepts_plain_paths() {
    let dir = tempfile::tempdir().unwrap();
    let root = Root::open(dir.path(), Policy::Project).unwrap();
    let outside = tempfile::tempdir().unwrap();
    symlink(outside.path(), dir.path().join("out")).unwrap();
    std::fs::create_dir(dir.path().join("real")).unwrap();
    symlink(dir.path().join("real"), dir.path().join("inside")).unwrap();
    let err = check_target(&root, "p", "out/x").unwrap_err().to_string();
    assert!(err.contains("`out` is a symbolic link"), "{err}");
    assert!(check_target(&root, "p", "inside/x").is_err());
    check_target(&root, "p", "in/x").unwrap();
    check_target(&root, "p", "real/x").unwrap();
}

#[test]
fn invalid_names_and_versions_are_refused() {
    let r = widget();
    let p = TestProject::new(r.path());
    let m = p.manager();
    for name in ["", "../widget", "Widget", "a/b", "-x", ".hidden", "wíd"] {
        let err = m
            .install_package(name, "", &InstallOptions::default())
            .unwrap_err();
        assert!(
            matches!(err, TrafficError::InvalidName { .. }),
            "{name}: {err}"
        );
    }
    for req in ["not a version", "^1.x.y.z", ">>1"] {
        let err = m
            .install_package("widget", req, &InstallOptions::default())
            .unwrap_err();
        assert!(
            matches!(err, TrafficError::InvalidVersion { .. }),
            "{req}: {err}"
        );
        assert!(err.to_string().contains(req));
    }
    assert!(m.prefetch("bad name@1").is_err());
    assert_eq!(snapshot(p.root()), Default::default());
}

#[test]
fn package_with_a_symlink_is_refused() {
    let r = widget();
    symlink("/etc/passwd", r.path().join("widget/1.0.0/files/passwd")).unwrap();
    let p = TestProject::new(r.path());
    let err = p
        .manager()
        .install_package("widget", "", &InstallOptions::default())
        .unwrap_err();
    assert!(err.to_string().contains("symlink"), "{err}");
    assert_eq!(snapshot(p.root()), Default::default());
}

#[test]
fn second_installer_gets_busy() {
    let r = widget();
    let p = TestProject::new(r.path());
    std::fs::create_dir_all(p.root().join(".dxforge")).unwrap();
    let lock = p.root().join(".dxforge/lock");
    // A real second process holds the project lock.
    let mut holder = Command::new("flock")
        .arg(&lock)
        .args(["sh", "-c", "echo locked; read _; exit 0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("flock(1) from util-linux");
    let mut line = String::new();
    std::io::BufReader::new(holder.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "locked");
    let before = snapshot(p.root());
    let err = p
        .manager()
        .install_package("widget", "", &InstallOptions::default())
        .unwrap_err();
    assert!(matches!(err, TrafficError::Busy { .. }), "{err}");
    assert!(err.to_string().contains(".dxforge/lock"), "{err}");
    assert_eq!(snapshot(p.root()), before);
    // Closing its stdin ends the holder, which releases the lock.
    drop(holder.stdin.take());
    assert!(holder.wait().unwrap().success());
    p.install("widget", "");
    assert!(p.read("top.ts").is_some());
}
