//! Regression tests of issue 9 (trust): one per class of attack, each named
//! after what it guards, on real files and real processes.

use crate::common;

use std::io::{BufRead, Write};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{TestProject, TestRegistry, entry, snapshot};
use dxforge_fs::{LockMode, Policy, ProjectLock, Root};
use dxforge_traffic::{FileAction, InstallOptions, Lockfile, TrafficError, TrafficLight};

fn hash(data: &[u8]) -> String {
    blake3::hash(data).to_hex().to_string()
}

/// Every regular file and link under `dir`, `.dxforge` included.
fn full_tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries {
            let e = e.unwrap();
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let ft = e.file_type().unwrap();
            if ft.is_symlink() {
                let target = std::fs::read_link(&p).unwrap();
                out.push((
                    format!("{rel} ->"),
                    target.display().to_string().into_bytes(),
                ));
            } else if ft.is_dir() {
                out.push((format!("{rel}/"), Vec::new()));
                walk(root, &p, out);
            } else {
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn install_err(p: &TestProject, name: &str) -> TrafficError {
    p.manager()
        .install_package(name, "", &InstallOptions::default())
        .unwrap_err()
}

// Attack: the repository carries `hooks -> .git/hooks` and a package ships `hooks/pre-commit`.
#[test]
fn add_does_not_write_through_symlink_into_git_hooks() {
    let r = TestRegistry::new();
    r.add(
        "evil",
        "1.0.0",
        &[],
        &[
            ("hooks/pre-commit", b"#!/bin/sh\necho owned\n"),
            ("ok.txt", b"ok\n"),
        ],
    );
    let p = TestProject::new(r.path());
    std::fs::create_dir_all(p.root().join(".git/hooks")).unwrap();
    symlink(".git/hooks", p.root().join("hooks")).unwrap();
    let before = full_tree(p.root());
    let err = install_err(&p, "evil");
    match &err {
        TrafficError::UnsafePath { path, reason, .. } => {
            assert_eq!(path, "hooks/pre-commit");
            assert!(reason.contains("`hooks` is a symbolic link"), "{reason}");
        }
        other => panic!("expected UnsafePath, got {other}"),
    }
    assert!(!p.root().join(".git/hooks/pre-commit").exists());
    assert!(!p.root().join("ok.txt").exists(), "nothing written");
    let after: Vec<_> = full_tree(p.root())
        .into_iter()
        .filter(|(rel, _)| !rel.starts_with(".dxforge"))
        .collect();
    let before: Vec<_> = before
        .into_iter()
        .filter(|(rel, _)| !rel.starts_with(".dxforge"))
        .collect();
    assert_eq!(after, before);
}

// Attack: a package ships `vendor/lib/.git/hooks/pre-commit` into a project holding a nested repository.
#[test]
fn add_does_not_write_into_a_nested_git_directory() {
    let r = TestRegistry::new();
    r.add(
        "evil",
        "1.0.0",
        &[],
        &[(
            "vendor/lib/.git/hooks/pre-commit",
            b"#!/bin/sh\necho owned\n",
        )],
    );
    let p = TestProject::new(r.path());
    std::fs::create_dir_all(p.root().join("vendor/lib/.git/hooks")).unwrap();
    let before = p.tree();
    let err = install_err(&p, "evil");
    assert!(
        matches!(&err, TrafficError::UnsafePath { path, .. } if path.starts_with("vendor/lib/.git")),
        "{err}"
    );
    assert!(err.to_string().contains("reserved"), "{err}");
    assert!(!p.root().join("vendor/lib/.git/hooks/pre-commit").exists());
    assert_eq!(p.tree(), before);
    // The same through a link that stays inside the project.
    let p = TestProject::new(r.path());
    std::fs::create_dir_all(p.root().join("sub/.git/hooks")).unwrap();
    std::fs::create_dir_all(p.root().join("vendor")).unwrap();
    symlink("../sub", p.root().join("vendor/lib")).unwrap();
    let err = install_err(&p, "evil");
    assert!(matches!(err, TrafficError::UnsafePath { .. }), "{err}");
    assert!(!p.root().join("sub/.git/hooks/pre-commit").exists());
}

// Attack: a committed dxforge.lock names a path through `hooks -> .git/hooks`; `remove` would delete there.
#[test]
fn lock_file_paths_through_a_symlink_are_refused() {
    let r = TestRegistry::new();
    r.add("widget", "1.0.0", &[], &[("a.txt", b"a\n")]);
    let p = TestProject::new(r.path());
    std::fs::create_dir_all(p.root().join(".git/hooks")).unwrap();
    std::fs::write(p.root().join(".git/hooks/pre-commit"), b"mine\n").unwrap();
    symlink(".git/hooks", p.root().join("hooks")).unwrap();
    let lock = format!(
        "format = 1\n[packages.widget]\nversion = \"1.0.0\"\n[packages.widget.files]\n\"hooks/pre-commit\" = \"{}\"\n",
        hash(b"mine\n")
    );
    p.write("dxforge.lock", lock.as_bytes());
    let err = p
        .manager()
        .remove_package("widget", &InstallOptions::default())
        .unwrap_err();
    assert!(
        matches!(&err, TrafficError::UnsafePath { path, .. } if path == "hooks/pre-commit"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(p.root().join(".git/hooks/pre-commit")).unwrap(),
        b"mine\n"
    );
    assert!(p.manager().modified_files().is_err());
}

/// A registry whose `evil@1.0.0` has its `files` replaced by `make`.
fn hostile_registry(make: impl FnOnce(&Path, &Path)) -> (TestRegistry, tempfile::TempDir) {
    let r = TestRegistry::new();
    r.add("evil", "1.0.0", &[], &[("readme.txt", b"hi\n")]);
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("id_rsa"), b"-----BEGIN SECRET-----\n").unwrap();
    make(&r.path(), outside.path());
    (r, outside)
}

fn assert_registry_refused(r: &TestRegistry, link: &Path) {
    let p = TestProject::new(r.path());
    let err = install_err(&p, "evil");
    assert!(
        matches!(&err, TrafficError::UnsafePath { path, .. } if Path::new(path) == link),
        "expected the link {} to be named: {err}",
        link.display()
    );
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert!(snapshot(p.root()).is_empty(), "nothing written");
    // prefetch refuses it too and copies nothing into the cache.
    assert!(p.manager().prefetch("evil").is_err());
    assert!(!p.root().join(".dxforge/cache/packages/evil").exists());
}

// Attack: `<registry>/evil/1.0.0/files` is a symlink to a folder holding a private key.
#[test]
fn registry_files_symlink_to_outside_is_refused() {
    let (r, _outside) = hostile_registry(|reg, outside| {
        let files = reg.join("evil/1.0.0/files");
        std::fs::remove_dir_all(&files).unwrap();
        symlink(outside, &files).unwrap();
    });
    assert_registry_refused(&r, &r.path().join("evil/1.0.0/files"));
}

// Attack: the version folder itself is a symlink to a package tree elsewhere.
#[test]
fn registry_version_folder_symlink_is_refused() {
    let (r, outside) = hostile_registry(|_, _| {});
    let elsewhere = outside.path().join("pkg");
    std::fs::rename(r.path().join("evil/1.0.0"), &elsewhere).unwrap();
    symlink(&elsewhere, r.path().join("evil/1.0.0")).unwrap();
    assert_registry_refused(&r, &r.path().join("evil/1.0.0"));
}

// Attack: one file inside `files/` is a symlink to a secret outside the registry.
#[test]
fn registry_symlinked_file_inside_files_is_refused() {
    let (r, _outside) = hostile_registry(|reg, outside| {
        symlink(outside.join("id_rsa"), reg.join("evil/1.0.0/files/id_rsa")).unwrap();
    });
    assert_registry_refused(&r, &r.path().join("evil/1.0.0/files/id_rsa"));
    // A link to a directory deeper down, and `dxpkg.toml` itself, are refused the same way.
    let (r, _outside) = hostile_registry(|reg, outside| {
        std::fs::create_dir_all(reg.join("evil/1.0.0/files/deep")).unwrap();
        symlink(outside, reg.join("evil/1.0.0/files/deep/keys")).unwrap();
    });
    assert_registry_refused(&r, &r.path().join("evil/1.0.0/files/deep/keys"));
    let (r, outside) = hostile_registry(|_, _| {});
    let manifest = r.path().join("evil/1.0.0/dxpkg.toml");
    std::fs::rename(&manifest, outside.path().join("dxpkg.toml")).unwrap();
    symlink(outside.path().join("dxpkg.toml"), &manifest).unwrap();
    assert_registry_refused(&r, &manifest);
}

// Attack: a registry package folder is a symlink (the whole package comes from elsewhere).
#[test]
fn registry_package_folder_symlink_is_refused() {
    let (r, outside) = hostile_registry(|_, _| {});
    let elsewhere = outside.path().join("evil");
    std::fs::rename(r.path().join("evil"), &elsewhere).unwrap();
    symlink(&elsewhere, r.path().join("evil")).unwrap();
    assert_registry_refused(&r, &r.path().join("evil"));
}

// Attack: a package with a huge dxpkg.toml or file exhausts memory.
#[test]
fn oversized_package_files_are_refused_with_the_limit() {
    let r = TestRegistry::new();
    r.add("big", "1.0.0", &[], &[("a.txt", b"a\n")]);
    let manifest = r.path().join("big/1.0.0/dxpkg.toml");
    let mut text = std::fs::read_to_string(&manifest).unwrap();
    text.push_str(&format!("# {}\n", "x".repeat(2 << 20)));
    std::fs::write(&manifest, text).unwrap();
    let p = TestProject::new(r.path());
    let err = install_err(&p, "big");
    assert!(matches!(err, TrafficError::Limit { .. }), "{err}");
    assert!(err.to_string().contains("dxpkg.toml"), "{err}");

    let r = TestRegistry::new();
    r.add("big", "1.0.0", &[], &[]);
    let f = std::fs::File::create(r.path().join("big/1.0.0/files/huge.bin")).unwrap();
    f.set_len(dxforge_traffic::limits::MAX_PACKAGE_FILE_BYTES + 1)
        .unwrap();
    let p = TestProject::new(r.path());
    let err = install_err(&p, "big");
    assert!(matches!(err, TrafficError::Limit { .. }), "{err}");
    assert!(err.to_string().contains("huge.bin"), "{err}");
    assert!(snapshot(p.root()).is_empty());
}

// Attack: a crafted dxforge.lock with bogus hashes or escaping side files.
#[test]
fn crafted_lock_file_is_refused_naming_the_key() {
    let file = Path::new("dxforge.lock");
    let bad_hash = "format = 1\n[packages.w]\nversion = \"1.0.0\"\n[packages.w.files]\n\"a.txt\" = \"../../etc\"\n";
    let err = Lockfile::parse(file, bad_hash).unwrap_err();
    assert!(err.to_string().contains("not a BLAKE3"), "{err}");
    let side = format!(
        "format = 1\n[packages.w]\nversion = \"1.0.0\"\nunresolved = [\"a.txt\"]\n[packages.w.files]\n\"a.txt\" = \"{}\"\n[packages.w.side_files]\n\"a.txt\" = \"../a.txt.new\"\n",
        hash(b"a")
    );
    let err = Lockfile::parse(file, &side).unwrap_err();
    assert!(matches!(err, TrafficError::UnsafePath { .. }), "{err}");
    let mut many = String::from("format = 1\n");
    for i in 0..10_001 {
        many.push_str(&format!("[packages.p{i}]\nversion = \"1.0.0\"\n"));
    }
    let err = Lockfile::parse(file, &many).unwrap_err();
    assert!(
        err.to_string().contains("more than 10000 packages"),
        "{err}"
    );
}

fn plant_journal(p: &TestProject, json: &str) -> PathBuf {
    let path = p.root().join(".dxforge/txn/journal.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, json).unwrap();
    path
}

/// Every way in must refuse the journal, leave it and change nothing anywhere.
fn assert_journal_refused(p: &TestProject, outside: &Path, journal: &Path, why: &str) {
    let raw = std::fs::read(journal).unwrap();
    let before = full_tree(p.root());
    let outside_before = full_tree(outside);
    let m = p.manager();
    let errors = [
        m.recover().unwrap_err(),
        m.diff(None, &Default::default()).unwrap_err(),
        m.install_package("widget", "", &InstallOptions::default())
            .unwrap_err(),
        m.lockfile().unwrap_err(),
    ];
    for err in errors {
        match &err {
            TrafficError::Journal {
                journal: j,
                message,
            } => {
                assert_eq!(j, journal, "{err}");
                assert!(message.contains(why), "{why}: {message}");
            }
            other => panic!("{why}: expected a Journal error, got {other}"),
        }
        let text = err.to_string();
        assert!(
            text.contains("left in place") && text.contains("dxforge install"),
            "{text}"
        );
    }
    assert_eq!(
        std::fs::read(journal).unwrap(),
        raw,
        "journal left as it was"
    );
    let after: Vec<_> = full_tree(p.root())
        .into_iter()
        .filter(|(rel, _)| rel != ".dxforge/lock")
        .collect();
    let before: Vec<_> = before
        .into_iter()
        .filter(|(rel, _)| rel != ".dxforge/lock")
        .collect();
    assert_eq!(after, before, "{why}: project changed");
    assert_eq!(full_tree(outside), outside_before, "{why}: outside changed");
}

// Attack: a cloned repository carries `.dxforge/txn/journal.json` naming files outside the project.
#[test]
fn planted_journal_naming_outside_paths_is_refused_and_left() {
    let r = TestRegistry::new();
    r.add("widget", "1.0.0", &[], &[("w.txt", b"w\n")]);
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim.txt");
    std::fs::write(&victim, b"precious\n").unwrap();
    let temp = outside
        .path()
        .join(".victim.txt.dxforge-0123456789abcdef.tmp");
    std::fs::write(&temp, b"evil\n").unwrap();
    let outside_name = outside.path().file_name().unwrap().to_string_lossy();
    let cases = [
        (
            format!(
                r#"{{"format":1,"state":"committed","dirs":[],"created_dirs":[],"renames":[{{"temp":"{}","target":"{}"}}],"deletions":[],"lock":null}}"#,
                temp.display(),
                victim.display()
            ),
            "absolute path",
        ),
        (
            format!(
                r#"{{"format":1,"state":"committed","dirs":[],"created_dirs":[],"renames":[],"deletions":[{{"path":"../{outside_name}/victim.txt","hash":"{}"}}],"lock":null}}"#,
                hash(b"precious\n")
            ),
            "`..`",
        ),
        (
            format!(
                r#"{{"format":1,"state":"staging","dirs":["../{outside_name}"],"created_dirs":[],"renames":[],"deletions":[],"lock":null}}"#
            ),
            "`..`",
        ),
        (
            r#"{"format":1,"state":"staging","dirs":[".git/hooks"],"created_dirs":[],"renames":[],"deletions":[],"lock":null}"#.to_string(),
            "reserved",
        ),
        (
            // What dxforge before this fix wrote: an absolute root and absolute paths.
            format!(
                r#"{{"state":"committed","root":"/","created_dirs":[],"renames":[{{"temp":"{}","target":"{}"}}],"deletions":[],"lock":null}}"#,
                temp.display(),
                victim.display()
            ),
            "not a dxforge journal",
        ),
        (
            r#"{"format":1,"state":"committed","dirs":[],"created_dirs":[],"renames":[{"temp":"a/.x.dxforge-0123456789abcdef.tmp","target":"b/x"}],"deletions":[],"lock":null}"#.to_string(),
            "not in the directory of its target",
        ),
        (
            r#"{"format":1,"state":"committed","dirs":[],"created_dirs":[],"renames":[{"temp":"x.tmp","target":"x"}],"deletions":[],"lock":null}"#.to_string(),
            "not a dxforge temporary file name",
        ),
    ];
    for (json, why) in cases {
        let p = TestProject::new(r.path());
        p.write("keep.txt", b"mine\n");
        let journal = plant_journal(&p, &json);
        assert_journal_refused(&p, outside.path(), &journal, why);
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious\n");
    }
}

// Attack: the journal's temp file is a symlink to a secret; rolling forward would install the link.
#[test]
fn planted_journal_with_a_symlinked_temp_file_is_refused() {
    let r = TestRegistry::new();
    r.add("widget", "1.0.0", &[], &[("w.txt", b"w\n")]);
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), b"secret\n").unwrap();
    let p = TestProject::new(r.path());
    symlink(
        outside.path().join("secret"),
        p.root().join(".stolen.txt.dxforge-0123456789abcdef.tmp"),
    )
    .unwrap();
    let journal = plant_journal(
        &p,
        r#"{"format":1,"state":"committed","dirs":[""],"created_dirs":[],"renames":[{"temp":".stolen.txt.dxforge-0123456789abcdef.tmp","target":"stolen.txt"}],"deletions":[],"lock":null}"#,
    );
    assert_journal_refused(&p, outside.path(), &journal, "symbolic link");
    assert!(!p.root().join("stolen.txt").exists());
    // A journal reaching through a link inside the project is refused too.
    let p = TestProject::new(r.path());
    std::fs::create_dir_all(p.root().join(".git/hooks")).unwrap();
    std::fs::write(
        p.root()
            .join(".git/hooks/.pre-commit.dxforge-0123456789abcdef.tmp"),
        b"#!/bin/sh\n",
    )
    .unwrap();
    symlink(".git/hooks", p.root().join("hooks")).unwrap();
    let journal = plant_journal(
        &p,
        r#"{"format":1,"state":"committed","dirs":[],"created_dirs":[],"renames":[{"temp":"hooks/.pre-commit.dxforge-0123456789abcdef.tmp","target":"hooks/pre-commit"}],"deletions":[],"lock":null}"#,
    );
    assert_journal_refused(&p, outside.path(), &journal, "symbolic link `hooks`");
    assert!(!p.root().join(".git/hooks/pre-commit").exists());
}

// Attack: links planted at the temp names older dxforge derived from the PID redirect its writes.
#[test]
fn planted_predictable_temp_name_symlinks_do_not_redirect_writes() {
    let r = TestRegistry::new();
    r.add("widget", "1.0.0", &[], &[("src/w.txt", b"w1\n")]);
    r.add("widget", "2.0.0", &[], &[("src/w.txt", b"w2\n")]);
    let p = TestProject::new(r.path());
    p.install("widget", "=1.0.0");
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim");
    std::fs::write(&victim, b"precious\n").unwrap();
    let pid = std::process::id();
    let planted = [
        format!(".dxforge/txn/.journal.json.dxforge-w{pid}.tmp"),
        format!(".dxforge.lock.dxforge-w{pid}.tmp"),
        format!("src/.w.txt.dxforge-{pid}-00000000.tmp"),
        format!(".dxforge/base/packs/.pack.dxforge-p{pid}.tmp"),
        ".dxforge/txn/.journal.json.dxforge-0000000000000000.tmp".to_string(),
        "src/.tmp.dxforge-0000000000000001.tmp".to_string(),
    ];
    for rel in &planted {
        let link = p.root().join(rel);
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        symlink(&victim, &link).unwrap();
    }
    p.install("widget", "^2");
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious\n");
    assert_eq!(p.read("src/w.txt").unwrap(), b"w2\n");
    assert!(
        p.manager().lockfile().unwrap().packages["widget"]
            .version
            .major
            == 2
    );
    for rel in &planted[..4] {
        // Not dxforge temp names: left alone, still links.
        assert!(p.root().join(rel).symlink_metadata().unwrap().is_symlink());
    }
}

fn red_registry(extra: &[(&str, &[u8])]) -> TestRegistry {
    let r = TestRegistry::new();
    r.add("app", "1.0.0", &[], &[("app.txt", b"one\n")]);
    let mut v2: Vec<(&str, &[u8])> = vec![("app.txt", b"two upstream\n")];
    v2.extend_from_slice(extra);
    r.add("app", "2.0.0", &[], &v2);
    r
}

// Attack: `<file>.new` is a directory, so the side-file rename failed after the commit point.
#[test]
fn red_side_file_skips_a_taken_new_name() {
    let r = red_registry(&[]);
    let p = TestProject::new(r.path());
    p.install("app", "=1.0.0");
    p.write("app.txt", b"one mine\n");
    std::fs::create_dir(p.root().join("app.txt.new")).unwrap();
    p.write("app.txt.new.1", b"also taken\n");
    let report = p.install("app", "^2");
    let e = entry(&report.files, "app.txt");
    assert_eq!(
        (e.light, e.action),
        (TrafficLight::Red, FileAction::WriteNew)
    );
    assert_eq!(e.side_file.as_deref(), Some("app.txt.new.2"));
    assert!(e.reason.contains("app.txt.new.2"), "{}", e.reason);
    assert_eq!(p.read("app.txt").unwrap(), b"one mine\n");
    assert_eq!(p.read("app.txt.new.1").unwrap(), b"also taken\n");
    assert_eq!(p.read("app.txt.new.2").unwrap(), b"two upstream\n");
    assert!(p.root().join("app.txt.new").is_dir());
    let lock = p.manager().lockfile().unwrap();
    let app = &lock.packages["app"];
    assert_eq!(app.unresolved, vec!["app.txt".to_string()]);
    assert_eq!(app.side_file("app.txt"), "app.txt.new.2");
    let text = String::from_utf8(p.read("dxforge.lock").unwrap()).unwrap();
    assert!(text.contains("\"app.txt\" = \"app.txt.new.2\""), "{text}");
    // The project is consistent: a second run reuses the recorded side file.
    let again = p.install("app", "^2");
    assert_eq!(
        entry(&again.files, "app.txt").side_file.as_deref(),
        Some("app.txt.new.2")
    );
    assert!(!p.root().join("app.txt.new.3").exists());
}

// Attack: a package ships both `app.txt` and `app.txt.new`; with the user's `app.txt` Red, upstream was lost.
#[test]
fn package_shipping_file_and_its_new_name_keeps_both_when_red() {
    let r = red_registry(&[("app.txt.new", b"shipped new\n")]);
    let p = TestProject::new(r.path());
    p.install("app", "=1.0.0");
    p.write("app.txt", b"one mine\n");
    let report = p.install("app", "^2");
    let e = entry(&report.files, "app.txt");
    assert_eq!(e.light, TrafficLight::Red);
    assert_eq!(e.side_file.as_deref(), Some("app.txt.new.1"));
    assert_eq!(p.read("app.txt").unwrap(), b"one mine\n");
    assert_eq!(p.read("app.txt.new").unwrap(), b"shipped new\n");
    assert_eq!(p.read("app.txt.new.1").unwrap(), b"two upstream\n");
    let lock = p.manager().lockfile().unwrap();
    let app = &lock.packages["app"];
    assert_eq!(app.side_file("app.txt"), "app.txt.new.1");
    assert_eq!(app.files["app.txt.new"], hash(b"shipped new\n"));
}

// Attack: a Red side file name whose parent is a symlink is never written through.
#[test]
fn red_side_file_next_to_a_symlinked_new_name_is_not_written_through() {
    let r = red_registry(&[]);
    let p = TestProject::new(r.path());
    p.install("app", "=1.0.0");
    p.write("app.txt", b"one mine\n");
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("victim"), b"precious\n").unwrap();
    symlink(outside.path().join("victim"), p.root().join("app.txt.new")).unwrap();
    let report = p.install("app", "^2");
    assert_eq!(
        entry(&report.files, "app.txt").side_file.as_deref(),
        Some("app.txt.new.1")
    );
    assert_eq!(
        std::fs::read(outside.path().join("victim")).unwrap(),
        b"precious\n"
    );
    assert_eq!(p.read("app.txt.new.1").unwrap(), b"two upstream\n");
}

fn pack_indexes(p: &TestProject) -> Vec<PathBuf> {
    std::fs::read_dir(p.root().join(".dxforge/base/packs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "idx"))
        .collect()
}

// Attack: a pack index entry claims a huge length (capacity overflow panic, or abort).
#[test]
fn pack_index_with_huge_length_reads_as_absent_without_panicking() {
    for (offset, len) in [
        (0u64, u64::MAX),
        (0, 1 << 62),
        (u64::MAX - 1, 10),
        (0, 1 << 40),
        (1 << 20, 8),
    ] {
        let r = TestRegistry::new();
        let v1 = b"l1\nl2\nl3\nl4\nl5\n";
        r.add("w", "1.0.0", &[], &[("w.txt", v1)]);
        r.add(
            "w",
            "2.0.0",
            &[],
            &[("w.txt", b"l1\nl2\nl3\nl4\nl5 upstream\n")],
        );
        let p = TestProject::new(r.path());
        p.install("w", "=1.0.0");
        for idx in pack_indexes(&p) {
            let raw = std::fs::read(&idx).unwrap();
            let mut map: std::collections::BTreeMap<String, (u64, u64)> =
                serde_json::from_slice(&raw).unwrap();
            for v in map.values_mut() {
                *v = (offset, len);
            }
            std::fs::write(&idx, serde_json::to_vec(&map).unwrap()).unwrap();
        }
        p.write("w.txt", b"l1 mine\nl2\nl3\nl4\nl5\n");
        // The base reads as absent: the registry copy of 1.0.0 stands in.
        let report = p.install("w", "^2");
        assert_eq!(entry(&report.files, "w.txt").light, TrafficLight::Yellow);
        assert_eq!(
            p.read("w.txt").unwrap(),
            b"l1 mine\nl2\nl3\nl4\nl5 upstream\n"
        );
        let light = p
            .manager()
            .analyze_traffic_safety("w.txt".as_ref(), b"x\n")
            .unwrap();
        assert_eq!(light, TrafficLight::Red);
    }
}

// Attack: kills in the temp-file window leave temp files that recovery never removed.
#[test]
fn recovery_removes_leftover_temp_files_under_dxforge() {
    let r = TestRegistry::new();
    r.add("w", "1.0.0", &[], &[("w.txt", b"w\n")]);
    let p = TestProject::new(r.path());
    p.install("w", "");
    let leftovers = [
        ".dxforge/base/packs/.0123.pack.dxforge-0123456789abcdef.tmp",
        ".dxforge/base/packs/.tmp.dxforge-fedcba9876543210.tmp",
        ".dxforge/txn/.journal.json.dxforge-00000000000000aa.tmp",
        ".dxforge/cache/packages/w/.tmp.dxforge-00000000000000bb.tmp",
    ];
    for rel in leftovers {
        p.write(rel, b"partial");
    }
    // Not a dxforge temp name: kept.
    p.write(".dxforge/txn/notes.tmp", b"mine");
    let report = p.manager().recover_report().unwrap();
    assert_eq!(report.outcome, dxforge_traffic::Recovery::Clean);
    assert_eq!(report.temp_files_removed, leftovers.len());
    for rel in leftovers {
        assert!(!p.root().join(rel).exists(), "{rel}");
    }
    assert!(p.root().join(".dxforge/txn/notes.tmp").exists());
    // Every mutating command sweeps too.
    p.write(leftovers[0], b"partial");
    p.install("w", "");
    assert!(!p.root().join(leftovers[0]).exists());
}

/// The child: holds the project lock as `restore` until its stdin closes.
#[test]
#[ignore = "run only as the child process of install_while_another_command_holds_the_lock_is_busy"]
fn lock_holder_child() {
    let root = std::env::var("DXFORGE_LOCK_ROOT").unwrap();
    let project = Root::open(&root, Policy::Project).unwrap();
    let state = project.subroot(".dxforge", Policy::Plain, true).unwrap();
    let _lock = ProjectLock::acquire(
        &state,
        "restore",
        LockMode::Exclusive,
        std::time::Duration::ZERO,
    )
    .unwrap();
    println!("locked");
    std::io::stdout().flush().unwrap();
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
}

// Attack: `restore` during `add` interleaved and left a lock listing missing files.
#[test]
fn install_while_another_command_holds_the_lock_is_busy() {
    let r = TestRegistry::new();
    r.add("w", "1.0.0", &[], &[("w.txt", b"w\n")]);
    let p = TestProject::new(r.path());
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "regression::lock_holder_child",
            "--nocapture",
            "--quiet",
        ])
        .env("DXFORGE_LOCK_ROOT", p.root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while line.trim() != "locked" {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "child ended early");
    }
    let before = p.tree();
    let err = install_err(&p, "w");
    match &err {
        TrafficError::Busy { holder, lock } => {
            assert_eq!(holder, &format!("restore (pid {})", child.id()));
            assert!(lock.ends_with(".dxforge/lock"), "{}", lock.display());
        }
        other => panic!("expected Busy, got {other}"),
    }
    assert!(err.to_string().starts_with("busy: restore (pid "), "{err}");
    assert!(
        p.manager()
            .remove_package("w", &InstallOptions::default())
            .is_err()
    );
    assert!(matches!(
        p.manager().recover(),
        Err(TrafficError::Busy { .. })
    ));
    assert_eq!(p.tree(), before);
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    p.install("w", "");
    assert_eq!(p.read("w.txt").unwrap(), b"w\n");

    // A holder in this very process (another thread's operation) excludes too.
    let project = Root::open(p.root(), Policy::Project).unwrap();
    let state = project.subroot(".dxforge", Policy::Plain, false).unwrap();
    let held = std::thread::spawn(move || {
        // Waits: a child another test forks in this process shares the
        // install's lock until it execs, which takes a while under load.
        ProjectLock::acquire(
            &state,
            "snapshot",
            LockMode::Exclusive,
            std::time::Duration::from_secs(30),
        )
        .unwrap()
    })
    .join()
    .unwrap();
    let err = p
        .manager()
        .update(None, &Default::default(), &InstallOptions::default())
        .unwrap_err();
    assert!(
        matches!(&err, TrafficError::Busy { holder, .. } if holder.starts_with("snapshot (pid ")),
        "{err}"
    );
    drop(held);
}

// Attack: the repository carries `.dxforge` as a symlink to a directory elsewhere (state written outside).
#[test]
fn planted_dxforge_symlink_is_refused() {
    let r = TestRegistry::new();
    r.add("w", "1.0.0", &[], &[("w.txt", b"w\n")]);
    let p = TestProject::new(r.path());
    let elsewhere = tempfile::tempdir().unwrap();
    symlink(elsewhere.path(), p.root().join(".dxforge")).unwrap();
    let err = install_err(&p, "w");
    assert!(
        matches!(&err, TrafficError::UnsafePath { .. }) && err.to_string().contains(".dxforge"),
        "{err}"
    );
    assert!(p.manager().check("w.txt".as_ref(), b"w\n").is_err());
    assert!(
        full_tree(elsewhere.path()).is_empty(),
        "nothing written there"
    );
    assert!(!p.root().join("w.txt").exists());
}

// A 252-byte UTF-8 file name: the temp file staged next to it used to cut the
// name at 200 bytes, inside a character, and the install failed with "temporary
// file name is not UTF-8".
#[test]
fn install_of_a_long_non_ascii_file_name_stages_a_utf8_temp_name() {
    let name = format!("{}.txt", "\u{4e2d}".repeat(82));
    assert!(name.len() > 200 && name.len() <= 255);
    let r = TestRegistry::new();
    r.add("wide", "1.0.0", &[], &[(name.as_str(), b"wide\n")]);
    let p = TestProject::new(r.path());
    let report = p
        .manager()
        .install_package("wide", "", &InstallOptions::default())
        .unwrap();
    assert_eq!(report.files.len(), 1);
    assert_eq!(p.read(&name).as_deref(), Some(&b"wide\n"[..]));
}
