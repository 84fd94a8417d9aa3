//! `prune` (old snapshots, then their objects) and `gc --dry-run` on real stores.

use crate::common;

use std::fs;
use std::path::Path;

use common::{read_tree, runtime, worker, write};
use dxforge_worker::{BackgroundWorker, PruneRule};

/// Three snapshots, each adding one file of a distinct size (1, 22 and 333 bytes).
fn three_snapshots(root: &Path, w: &BackgroundWorker) -> Vec<String> {
    let mut ids = Vec::new();
    for (name, size) in [("a", 1), ("b", 22), ("c", 333)] {
        write(root, name, &vec![b'x' + ids.len() as u8; size]);
        ids.push(w.snapshot().unwrap().id);
        // Distinct creation times, so "newest" is unambiguous.
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    ids
}

fn objects_on_disk(root: &Path) -> usize {
    let dir = root.join(".dxforge/snapshots/objects");
    fs::read_dir(dir)
        .unwrap()
        .map(|shard| fs::read_dir(shard.unwrap().path()).unwrap().count())
        .sum()
}

#[test]
fn prune_keep_deletes_older_snapshots_and_only_their_objects() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let w = worker(root, &rt);
    let ids = three_snapshots(root, &w);
    // Snapshot 1 holds a; 2 holds a, b; 3 holds a, b, c. Removing a from the tree and
    // snapshotting makes a fourth without a, so pruning 1..=3 frees exactly a.
    fs::remove_file(root.join("a")).unwrap();
    let newest = w.snapshot().unwrap().id;
    let report = w
        .prune(
            PruneRule {
                keep: Some(1),
                older_than_ms: None,
            },
            false,
        )
        .unwrap();
    let removed: Vec<&str> = report.removed.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(removed, ids.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(report.kept, 1);
    assert_eq!((report.gc.removed, report.gc.bytes_freed), (1, 1));
    let left: Vec<String> = w.snapshots().unwrap().into_iter().map(|s| s.id).collect();
    assert_eq!(left, std::slice::from_ref(&newest));
    assert_eq!(objects_on_disk(root), 2);
    // The survivor is whole: restoring it after changing the tree brings b and c back.
    let before = read_tree(root);
    fs::remove_file(root.join("b")).unwrap();
    w.restore(&newest).unwrap();
    assert_eq!(read_tree(root), before);
}

#[test]
fn keep_and_older_than_combine_as_keep_rules() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let w = worker(root, &rt);
    three_snapshots(root, &w);
    let rule = |keep, older_than_ms| PruneRule {
        keep,
        older_than_ms,
    };
    // Younger than a day: the age rule keeps them all, whatever --keep says.
    let r = w.prune(rule(Some(0), Some(86_400_000)), false).unwrap();
    assert_eq!((r.removed.len(), r.kept), (0, 3));
    // Every snapshot is old enough, but --keep 2 keeps the newest two.
    let r = w.prune(rule(Some(2), Some(0)), false).unwrap();
    assert_eq!((r.removed.len(), r.kept), (1, 2));
    // The age rule alone.
    let r = w.prune(rule(None, Some(0)), false).unwrap();
    assert_eq!((r.removed.len(), r.kept), (2, 0));
    assert!(w.snapshots().unwrap().is_empty());
    assert_eq!(objects_on_disk(root), 0);
}

#[test]
fn dry_runs_report_without_deleting() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let w = worker(root, &rt);
    three_snapshots(root, &w);
    let store = root.join(".dxforge/snapshots");
    let before = read_tree(&store);
    let r = w
        .prune(
            PruneRule {
                keep: Some(0),
                older_than_ms: None,
            },
            true,
        )
        .unwrap();
    assert!(r.dry_run);
    assert_eq!(
        (r.removed.len(), r.gc.removed, r.gc.bytes_freed),
        (3, 3, 356)
    );
    let gc = w.gc_with(true).unwrap();
    assert_eq!((gc.removed, gc.kept), (0, 3));
    assert_eq!(read_tree(&store), before, "a dry run changed the store");
}

#[test]
fn a_prune_killed_between_manifests_and_objects_leaves_a_consistent_store() {
    // What a kill after the manifest deletions leaves: manifests gone, objects still
    // there. Every remaining snapshot still restores, and the next gc collects the rest.
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let w = worker(root, &rt);
    let ids = three_snapshots(root, &w);
    fs::remove_file(root.join(format!(".dxforge/snapshots/manifests/{}.json", ids[2]))).unwrap();
    let gc = w.gc().unwrap();
    assert_eq!((gc.removed, gc.bytes_freed), (1, 333));
    fs::write(root.join("a"), b"changed").unwrap();
    w.restore(&ids[1]).unwrap();
    assert_eq!(fs::read(root.join("a")).unwrap(), b"x");
    assert!(!root.join("c").exists());
}
