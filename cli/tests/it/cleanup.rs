//! `snapshots prune` and `gc` through the binary: sizes reclaimed in text and exact
//! bytes in `--json`, links never followed.

use crate::support::{Workspace, text};

fn json(out: &std::process::Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", text(out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn prune_reports_exact_bytes_and_keeps_the_newest() {
    let ws = Workspace::new("dx-prune");
    let root = ws.project();
    std::fs::write(root.join("big.bin"), vec![7u8; 10_000]).unwrap();
    let first = json(&ws.dx(&["--json", "snapshot"]));
    std::fs::remove_file(root.join("big.bin")).unwrap();
    let second = json(&ws.dx(&["--json", "snapshot"]));
    let usage = ws.dx(&["snapshots", "prune"]);
    assert_eq!(usage.status.code(), Some(2), "{}", text(&usage));
    let usage = ws.dx(&["snapshots", "prune", "--dry-run"]);
    assert_eq!(usage.status.code(), Some(2), "{}", text(&usage));
    assert!(text(&usage).contains("--keep"), "{}", text(&usage));

    let dry = json(&ws.dx(&["--json", "snapshots", "prune", "--keep", "1", "--dry-run"]));
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["gc"]["bytes_freed"], 10_000);
    assert_eq!(
        json(&ws.dx(&["--json", "snapshots"]))["snapshots"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let out = ws.dx(&["snapshots", "prune", "--keep", "1", "--older-than", "0s"]);
    assert!(out.status.success(), "{}", text(&out));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("pruned 1 snapshots, 1 kept"), "{shown}");
    assert!(shown.contains("9.8 KiB (10000 bytes"), "{shown}");
    assert!(shown.contains(first["id"].as_str().unwrap()), "{shown}");
    let left = json(&ws.dx(&["--json", "snapshots"]));
    assert_eq!(left["snapshots"][0]["id"], second["id"]);
    assert_eq!(left["snapshots"].as_array().unwrap().len(), 1);
    // The age rule keeps what is younger than a week.
    let none = json(&ws.dx(&["--json", "snapshots", "prune", "--older-than", "7d"]));
    assert_eq!(none["removed"].as_array().unwrap().len(), 0);
    let bad = ws.dx(&["snapshots", "prune", "--older-than", "7 days"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad).contains("7 days"), "{}", text(&bad));
}

#[test]
fn gc_frees_package_bases_the_lock_dropped_and_snapshot_objects() {
    let ws = Workspace::new("dx-gc");
    ws.package("kit", "1.0.0", &[("kit/a.txt".into(), vec![b'k'; 3000])]);
    let add = ws.dx(&["add", "kit@^1"]);
    assert!(add.status.success(), "{}", text(&add));
    // While the lock names kit, its base stays.
    let kept = json(&ws.dx(&["--json", "gc"]));
    assert_eq!(kept["base"]["packs_removed"], 0);
    assert_eq!(kept["base"]["kept"], 1);
    let remove = ws.dx(&["remove", "kit"]);
    assert!(remove.status.success(), "{}", text(&remove));
    // A snapshot object no manifest names, and a link planted among the objects that
    // points at a file outside: the link is not an object and its target survives.
    let objects = ws.project().join(".dxforge/snapshots/objects/ab");
    std::fs::create_dir_all(&objects).unwrap();
    let stray = format!("ab{}", "0".repeat(62));
    std::fs::write(objects.join(&stray[2..]), b"stray object").unwrap();
    let outside = ws.base().join("outside.txt");
    std::fs::write(&outside, b"precious").unwrap();
    std::os::unix::fs::symlink(&outside, objects.join(format!("{}1", "0".repeat(61)))).unwrap();

    let dry = json(&ws.dx(&["--json", "gc", "--dry-run"]));
    assert_eq!(dry["dry_run"], true);
    let out = json(&ws.dx(&["--json", "gc"]));
    assert_eq!(out["base"]["packs_removed"], 1);
    assert_eq!(out["snapshots"]["removed"], 1);
    assert_eq!(out["snapshots"]["bytes_freed"], 12);
    let base = out["base"]["bytes_freed"].as_u64().unwrap();
    assert!(base >= 3000, "{out}");
    assert_eq!(out["bytes_freed"].as_u64().unwrap(), base + 12);
    assert_eq!(dry["bytes_freed"], out["bytes_freed"]);
    assert_eq!(std::fs::read(&outside).unwrap(), b"precious");
    assert!(!objects.join(&stray[2..]).exists());
    let again = ws.dx(&["gc"]);
    let shown = String::from_utf8_lossy(&again.stdout);
    assert!(shown.starts_with("freed 0 B (0 bytes)"), "{}", text(&again));
}

/// Every object each manifest names, as paths under the store.
fn missing_objects(root: &std::path::Path) -> Vec<String> {
    let store = root.join(".dxforge/snapshots");
    let mut missing = Vec::new();
    for manifest in std::fs::read_dir(store.join("manifests")).unwrap() {
        let path = manifest.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        for entry in doc["entries"].as_array().unwrap() {
            if let Some(hash) = entry["hash"].as_str() {
                let object = store.join("objects").join(&hash[..2]).join(&hash[2..]);
                if !object.exists() {
                    missing.push(format!("{}: {hash}", path.display()));
                }
            }
        }
    }
    missing
}

#[test]
fn kill_9_during_prune_never_leaves_a_snapshot_without_its_objects() {
    let ws = Workspace::new("dx-prune-kill");
    let root = ws.project();
    for round in 0..7u32 {
        for i in 0..150 {
            let dir = root.join(format!("d{}", i % 10));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(
                dir.join(format!("f{i}")),
                format!("{round}-{i}\n").repeat(50),
            )
            .unwrap();
        }
        let out = ws.dx(&["snapshot"]);
        assert!(out.status.success(), "{}", text(&out));
    }
    // A prune here takes about 0.7 s, most of it the syncfs between the manifest
    // deletions and the object deletions: the delays spread over all of it.
    let mut killed = 0;
    for (round, delay_ms) in [10u64, 100, 250, 400, 600, 900].into_iter().enumerate() {
        let mut child = ws
            .cmd(&["snapshots", "prune", "--keep", &(6 - round).to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            killed += 1;
        }
        child.wait().unwrap();
        let missing = missing_objects(&root);
        assert!(
            missing.is_empty(),
            "after a kill at {delay_ms} ms: {missing:?}"
        );
        let manifests = std::fs::read_dir(root.join(".dxforge/snapshots/manifests"))
            .unwrap()
            .count();
        eprintln!("kill at {delay_ms} ms: {manifests} manifests left");
    }
    eprintln!("{killed} of 6 prunes killed before they finished");
    // What a killed prune leaves is collected by the next gc; the survivor restores.
    let gc = ws.dx(&["gc"]);
    assert!(gc.status.success(), "{}", text(&gc));
    assert!(missing_objects(&root).is_empty());
    let list = json(&ws.dx(&["--json", "snapshots"]));
    let newest = list["snapshots"].as_array().unwrap().last().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let restore = ws.dx(&["restore", &newest]);
    assert!(restore.status.success(), "{}", text(&restore));
}
