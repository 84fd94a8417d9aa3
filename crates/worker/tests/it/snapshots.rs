//! CacheCurrentState, restore and gc against real trees on disk.

use crate::common;

use std::collections::BTreeMap;
use std::fs;

use common::{Node, read_tree, runtime, set_exec, worker, write};
use dxforge_worker::WorkerError;
use proptest::prelude::*;

#[test]
fn snapshot_respects_gitignore_and_skips_state_and_git_dirs() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, ".gitignore", b"target/\n*.log\n");
    write(root, "src/main.rs", b"fn main() {}\n");
    write(root, "target/debug/app", b"binary");
    write(root, "build.log", b"noise");
    write(root, ".git/HEAD", b"ref: refs/heads/main\n");
    write(root, ".env.example", b"A=1\n");
    let w = worker(root, &rt);
    let summary = w.snapshot().unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(
        &fs::read(root.join(format!(".dxforge/snapshots/manifests/{}.json", summary.id))).unwrap(),
    )
    .unwrap();
    let paths: Vec<&str> = manifest["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, [".env.example", ".gitignore", "src/main.rs"]);
    assert_eq!(summary.files, 3);
    // Objects are content-addressed: the file at objects/ab/cdef… hashes to ab cdef….
    let hash = manifest["entries"][2]["hash"].as_str().unwrap();
    let object = root.join(format!(
        ".dxforge/snapshots/objects/{}/{}",
        &hash[..2],
        &hash[2..]
    ));
    assert_eq!(fs::read(object).unwrap(), b"fn main() {}\n");
    assert_eq!(blake3::hash(b"fn main() {}\n").to_hex().as_str(), hash);
}

#[test]
fn second_snapshot_reuses_the_stat_cache_and_rehashes_only_changes() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for i in 0..50 {
        write(root, &format!("f{i}.txt"), format!("file {i}\n").as_bytes());
    }
    // Let the file-system clock move past the files' mtimes, so none is "racy".
    std::thread::sleep(std::time::Duration::from_millis(50));
    let w = worker(root, &rt);
    let first = w.snapshot().unwrap();
    assert_eq!((first.hashed, first.reused, first.new_objects), (50, 0, 50));
    write(root, "f7.txt", b"changed\n");
    write(root, "new.txt", b"new\n");
    let second = w.snapshot().unwrap();
    assert_eq!(second.files, 51);
    assert_eq!(second.hashed, 2, "{second:?}");
    assert_eq!(second.reused, 49);
    assert_eq!(second.new_objects, 2);
}

#[test]
fn racy_files_are_rehashed_even_when_stat_data_is_unchanged() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "future.txt", b"aaaa");
    write(root, "old.txt", b"old");
    std::thread::sleep(std::time::Duration::from_millis(50));
    // An mtime not older than the scan start is racy: it must not be trusted later.
    let future = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
    let f = fs::File::options()
        .write(true)
        .open(root.join("future.txt"))
        .unwrap();
    f.set_modified(future).unwrap();
    let w = worker(root, &rt);
    w.snapshot().unwrap();
    let again = w.snapshot().unwrap();
    assert_eq!(again.hashed, 1, "the racy file is re-read: {again:?}");
    assert_eq!(again.reused, 1);
}

#[test]
fn restore_brings_back_contents_modes_links_and_deletes_new_files() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, ".gitignore", b"ignored/\n");
    write(root, "a/b/c.txt", b"one");
    write(root, "run.sh", b"#!/bin/sh\necho hi\n");
    set_exec(root, "run.sh", true);
    std::os::unix::fs::symlink("a/b/c.txt", root.join("link")).unwrap();
    write(root, "ignored/keep.bin", b"not tracked");
    let w = worker(root, &rt);
    let snap = w.snapshot().unwrap();
    let before = read_tree(root);

    write(root, "a/b/c.txt", b"two");
    set_exec(root, "run.sh", false);
    fs::remove_file(root.join("link")).unwrap();
    std::os::unix::fs::symlink("elsewhere", root.join("link")).unwrap();
    write(root, "a/new/deep.txt", b"new");
    write(root, "ignored/other.bin", b"also untracked");
    let changed = read_tree(root);

    let report = w.restore(&snap.id).unwrap();
    let mut expected = before.clone();
    expected.insert(
        "ignored/other.bin".into(),
        changed["ignored/other.bin"].clone(),
    );
    assert_eq!(read_tree(root), expected, "ignored files are left alone");
    assert!(
        !root.join("a/new").exists(),
        "emptied directories are removed"
    );
    assert_eq!(report.deleted, 1);
    assert_eq!(report.mode_changed, 1);

    // Undo: the safety snapshot gives the changed tree back.
    w.restore(&report.safety_snapshot).unwrap();
    assert_eq!(read_tree(root), changed);
}

#[test]
fn unknown_and_malformed_snapshot_ids_are_errors() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "x", b"x");
    let w = worker(dir.path(), &rt);
    let err = w.restore("20200101T000000Z-deadbeef").unwrap_err();
    assert!(matches!(err, WorkerError::SnapshotNotFound { .. }), "{err}");
    assert!(err.to_string().contains("20200101T000000Z-deadbeef"));
    let err = w.restore("../../etc/passwd").unwrap_err();
    assert!(
        matches!(err, WorkerError::InvalidSnapshotId { .. }),
        "{err}"
    );
    assert_eq!(read_tree(dir.path()).len(), 1);
}

#[test]
fn corrupted_object_is_detected_and_nothing_is_restored() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "a.txt", b"alpha");
    write(root, "b.txt", b"beta");
    let w = worker(root, &rt);
    let snap = w.snapshot().unwrap();
    write(root, "a.txt", b"ALPHA");
    write(root, "b.txt", b"BETA");
    write(root, "c.txt", b"new");
    let changed = read_tree(root);
    let snapshots_before = w.snapshots().unwrap().len();

    let hash = blake3::hash(b"beta").to_hex();
    let object = root.join(format!(
        ".dxforge/snapshots/objects/{}/{}",
        &hash[..2],
        &hash[2..]
    ));
    let mut perms = fs::metadata(&object).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    fs::set_permissions(&object, perms).unwrap();
    fs::write(&object, b"bet4").unwrap();

    let err = w.restore(&snap.id).unwrap_err();
    match &err {
        WorkerError::CorruptObject { hash: h, .. } => assert_eq!(h, hash.as_str()),
        other => panic!("expected CorruptObject, got {other}"),
    }
    assert_eq!(read_tree(root), changed, "nothing restored");
    assert_eq!(
        w.snapshots().unwrap().len(),
        snapshots_before,
        "no safety snapshot either"
    );
}

#[test]
fn ignored_file_in_the_way_is_a_conflict_and_changes_nothing() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "out/report.txt", b"tracked");
    let w = worker(root, &rt);
    let snap = w.snapshot().unwrap();
    fs::remove_dir_all(root.join("out")).unwrap();
    write(root, ".gitignore", b"out\n");
    write(root, "out", b"an ignored file where a directory was");
    let changed = read_tree(root);
    let err = w.restore(&snap.id).unwrap_err();
    assert!(
        matches!(err, WorkerError::RestoreConflict { ref path, .. } if path == "out"),
        "{err}"
    );
    assert_eq!(read_tree(root), changed);
}

#[test]
fn gc_removes_only_unreferenced_objects() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "keep.txt", b"keep");
    write(root, "gone.txt", b"gone");
    let w = worker(root, &rt);
    let first = w.snapshot().unwrap();
    fs::remove_file(root.join("gone.txt")).unwrap();
    w.snapshot().unwrap();
    let manifest = root.join(format!(".dxforge/snapshots/manifests/{}.json", first.id));
    fs::remove_file(manifest).unwrap();
    let report = w.gc().unwrap();
    assert_eq!((report.kept, report.removed, report.bytes_freed), (1, 1, 4));
    let report = w.gc().unwrap();
    assert_eq!((report.kept, report.removed), (1, 0));
}

#[test]
fn snapshots_are_listed_oldest_first() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "a", b"1");
    let w = worker(root, &rt);
    let s1 = w.snapshot().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(5));
    write(root, "a", b"2");
    let s2 = w.snapshot().unwrap();
    let ids: Vec<String> = w.snapshots().unwrap().into_iter().map(|s| s.id).collect();
    assert_eq!(ids, [s1.id, s2.id]);
}

/// A random tree: paths from a small alphabet so that changes collide with existing files.
fn tree_strategy() -> impl Strategy<Value = BTreeMap<String, (Vec<u8>, bool)>> {
    let path = prop::collection::vec(
        prop::sample::select(vec!["a", "b", "c", "d.txt", "e.rs"]),
        1..4,
    )
    .prop_map(|parts| parts.join("/"));
    let content = prop::collection::vec(any::<u8>(), 0..64);
    prop::collection::btree_map(path, (content, any::<bool>()), 0..12)
}

/// Writes `files`, skipping paths that collide with an existing file or directory.
fn write_tree(root: &std::path::Path, files: &BTreeMap<String, (Vec<u8>, bool)>) {
    for (rel, (bytes, exec)) in files {
        let path = root.join(rel);
        let blocked = path
            .ancestors()
            .skip(1)
            .take_while(|p| *p != root)
            .any(|p| p.is_file())
            || path.is_dir();
        if blocked {
            continue;
        }
        write(root, rel, bytes);
        set_exec(root, rel, *exec);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, .. ProptestConfig::default() })]

    /// Snapshot, random changes, restore gives the snapshot's tree byte for byte; restoring
    /// the safety snapshot gives the changed tree back.
    #[test]
    fn restore_round_trips_random_trees(
        initial in tree_strategy(),
        changes in tree_strategy(),
        deletions in prop::collection::vec(any::<prop::sample::Index>(), 0..4),
    ) {
        let rt = runtime();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write_tree(root, &initial);
        let w = worker(root, &rt);
        let snap = w.snapshot().unwrap();
        let original = read_tree(root);

        let existing: Vec<String> = original.keys().cloned().collect();
        for idx in &deletions {
            if !existing.is_empty() {
                let _ = fs::remove_file(root.join(idx.get(&existing)));
            }
        }
        write_tree(root, &changes);
        let changed = read_tree(root);

        let report = w.restore(&snap.id).unwrap();
        prop_assert_eq!(&read_tree(root), &original);
        w.restore(&report.safety_snapshot).unwrap();
        prop_assert_eq!(&read_tree(root), &changed);
        let kinds_ok = changed.values().all(|n| matches!(n, Node::File { .. }));
        prop_assert!(kinds_ok);
    }
}

/// The entries of a snapshot's manifest, as JSON.
fn manifest_entries(root: &std::path::Path, id: &str) -> serde_json::Value {
    let bytes = fs::read(root.join(format!(".dxforge/snapshots/manifests/{id}.json"))).unwrap();
    serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()["entries"].clone()
}

/// The paths a snapshot's manifest records, in manifest order.
fn manifest_paths(root: &std::path::Path, id: &str) -> Vec<String> {
    manifest_entries(root, id)
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap().to_owned())
        .collect()
}

/// Past one file-system timestamp tick, so stat data is trusted by the next scan.
fn tick() {
    std::thread::sleep(std::time::Duration::from_millis(25));
}

#[test]
fn incremental_scans_see_in_place_edits_new_files_deletions_and_gitignore_edits() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, ".gitignore", b"*.log\n");
    write(root, "src/a.rs", b"a");
    write(root, "src/deep/b.rs", b"b");
    write(root, "src/debug.log", b"ignored for now");
    tick();
    let w = worker(root, &rt);
    w.snapshot().unwrap();
    tick();

    // In place: no directory changes, so the known paths are just stat'ed.
    write(root, "src/a.rs", b"A");
    let s = w.snapshot().unwrap();
    assert_eq!((s.files, s.hashed, s.full_walk), (3, 1, false), "{s:?}");
    let entries = manifest_entries(root, &s.id);
    assert_eq!(entries[1]["hash"], blake3::hash(b"A").to_hex().as_str());
    tick();

    // Editing .gitignore in place un-ignores a file without touching any directory.
    write(root, ".gitignore", b"# nothing ignored\n");
    let s = w.snapshot().unwrap();
    assert!(s.full_walk, "an ignore file changed");
    let paths = manifest_paths(root, &s.id);
    assert_eq!(
        paths,
        [".gitignore", "src/a.rs", "src/debug.log", "src/deep/b.rs"]
    );
    tick();

    // New and deleted files change their directory.
    fs::remove_file(root.join("src/deep/b.rs")).unwrap();
    write(root, "src/deep/c.rs", b"c");
    write(root, "new/dir/d.rs", b"d");
    let s = w.snapshot().unwrap();
    assert!(s.full_walk, "directories changed");
    let paths = manifest_paths(root, &s.id);
    assert_eq!(
        paths,
        [
            ".gitignore",
            "new/dir/d.rs",
            "src/a.rs",
            "src/debug.log",
            "src/deep/c.rs"
        ]
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, .. ProptestConfig::default() })]

    /// An incremental snapshot (stat cache and directory cache in use) records exactly
    /// what a snapshot without any cache records.
    #[test]
    fn incremental_snapshot_equals_a_fresh_one(
        initial in tree_strategy(),
        changes in tree_strategy(),
        deletions in prop::collection::vec(any::<prop::sample::Index>(), 0..4),
        wait in any::<bool>(),
    ) {
        let rt = runtime();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write_tree(root, &initial);
        if wait { tick(); }
        let w = worker(root, &rt);
        w.snapshot().unwrap();
        if wait { tick(); }
        let existing: Vec<String> = read_tree(root).keys().cloned().collect();
        for idx in &deletions {
            if !existing.is_empty() {
                let _ = fs::remove_file(root.join(idx.get(&existing)));
            }
        }
        write_tree(root, &changes);
        let incremental = w.snapshot().unwrap();
        let cached = manifest_entries(root, &incremental.id);
        fs::remove_file(root.join(".dxforge/snapshots/index")).unwrap();
        let fresh = w.snapshot().unwrap();
        prop_assert_eq!(cached, manifest_entries(root, &fresh.id));
    }
}
