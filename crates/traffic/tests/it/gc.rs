//! `gc_base`: the base store keeps exactly what `dxforge.lock` names.

use std::collections::BTreeSet;
use std::path::Path;

use crate::common::{TestProject, TestRegistry};
use dxforge_traffic::InstallOptions;

fn registry() -> TestRegistry {
    let r = TestRegistry::new();
    r.add("alpha", "1.0.0", &[], &[("src/alpha.ts", b"alpha one\n")]);
    r.add("alpha", "2.0.0", &[], &[("src/alpha.ts", b"alpha two\n")]);
    r.add("beta", "1.0.0", &[], &[("src/beta.ts", b"beta\n")]);
    r
}

/// Names in `.dxforge/base/packs`.
fn packs(root: &Path) -> BTreeSet<String> {
    std::fs::read_dir(root.join(".dxforge/base/packs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}

/// Every hash the pack indexes hold.
fn packed_hashes(root: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for name in packs(root).iter().filter(|n| n.ends_with(".idx")) {
        let raw = std::fs::read(root.join(".dxforge/base/packs").join(name)).unwrap();
        let index: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&raw).unwrap();
        out.extend(index.keys().cloned());
    }
    out
}

fn locked_hashes(p: &TestProject) -> BTreeSet<String> {
    p.manager()
        .lockfile()
        .unwrap()
        .packages
        .values()
        .flat_map(|pkg| pkg.files.values().cloned())
        .collect()
}

#[test]
fn gc_deletes_bases_the_lock_no_longer_names_and_keeps_the_rest() {
    let r = registry();
    let p = TestProject::new(r.path());
    p.install("alpha", "^1");
    p.install("beta", "^1");
    p.install("alpha", "^2");
    p.manager()
        .remove_package("beta", &InstallOptions::default())
        .unwrap();
    // A loose object and a pack without its index, as an interrupted run leaves them.
    let loose = blake3::hash(b"stray").to_hex().to_string();
    let shard = p.root().join(".dxforge/base").join(&loose[..2]);
    std::fs::create_dir_all(&shard).unwrap();
    std::fs::write(shard.join(&loose), b"stray").unwrap();
    let orphan = format!("{}.pack", blake3::hash(b"orphan").to_hex());
    std::fs::write(
        p.root().join(".dxforge/base/packs").join(&orphan),
        b"orphan",
    )
    .unwrap();

    let before = crate::common::snapshot(&p.root().join(".dxforge/base"));
    let dry = p.manager().gc_base(true).unwrap();
    assert_eq!(
        crate::common::snapshot(&p.root().join(".dxforge/base")),
        before,
        "a dry run changed the store"
    );
    let report = p.manager().gc_base(false).unwrap();
    assert_eq!(report, dry);
    // Three transactions wrote packs (alpha 1, beta, alpha 2); only alpha 2's is named.
    assert_eq!(report.objects_removed, 1);
    assert_eq!(
        report.packs_removed, 3,
        "alpha 1, beta and the orphan: {report:?}"
    );
    assert_eq!(report.kept, 1);
    assert!(report.bytes_freed >= (b"stray".len() + b"orphan".len()) as u64);
    assert!(!shard.join(&loose).exists());
    let locked = locked_hashes(&p);
    assert_eq!(locked.len(), 1);
    assert!(locked.is_subset(&packed_hashes(p.root())));
    // Nothing left to collect.
    let again = p.manager().gc_base(false).unwrap();
    assert_eq!(
        (again.objects_removed, again.packs_removed, again.kept),
        (0, 0, 1)
    );
}

#[test]
fn gc_with_an_unreadable_lock_deletes_nothing() {
    let r = registry();
    let p = TestProject::new(r.path());
    p.install("alpha", "^1");
    let before = packs(p.root());
    p.write("dxforge.lock", b"format = 1\n[packages.alpha\n");
    let err = p.manager().gc_base(false).unwrap_err();
    assert!(err.to_string().contains("dxforge.lock"), "{err}");
    assert_eq!(packs(p.root()), before);
}
