//! Criterion benchmarks of Traffic Branching; `compare.sh` prints the ratios.
//!
//! - `merge/dxforge_light_and_merge` (and `dxforge_merge3`, the merge alone)
//!   vs `merge/git_merge_file_process`, `merge/gix_merge_blob` and
//!   `merge/diffy_merge`: a 10,000-line file with 50 edits on each side.
//! - `install_1000/dxforge_install` vs `install_1000/cp_r`: fresh install of a
//!   1,000-file package vs `cp -r` of the same files.
//! - `upgrade_1000/dxforge_upgrade_10pct_edited`: upgrade of 1,000 installed
//!   files of which 100 carry user edits (files per second = 1000 / time);
//!   `upgrade_1000/classify_only`: the same 1,000 verdicts and 100 merges
//!   in memory, the merging share of an upgrade.
#![allow(
    missing_docs,
    reason = "criterion_group! makes an undocumented public function"
)]

use std::hint::black_box;
use std::path::Path;
use std::process::Command;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use dxforge_traffic::light::classify;
use dxforge_traffic::{InstallOptions, TrafficLight, TrafficManager, merge3};

fn big_file(edits: &[(usize, &str)]) -> Vec<u8> {
    let mut out = String::with_capacity(10_000 * 24);
    for i in 0..10_000 {
        match edits.iter().find(|(l, _)| *l == i) {
            Some((_, tag)) => out.push_str(&format!("    let value_{i} = edited_by_{tag}({i});\n")),
            None => out.push_str(&format!("    let value_{i} = compute({i});\n")),
        }
    }
    out.into_bytes()
}

fn merge_bench(c: &mut Criterion) {
    let ours_edits: Vec<(usize, &str)> = (0..50).map(|k| (k * 200 + 10, "user")).collect();
    let theirs_edits: Vec<(usize, &str)> = (0..50).map(|k| (k * 200 + 110, "upstream")).collect();
    let base = big_file(&[]);
    let ours = big_file(&ours_edits);
    let theirs = big_file(&theirs_edits);
    let verdict = classify(Some(&ours), Some(&base), &theirs);
    assert_eq!(verdict.light, TrafficLight::Yellow);

    let dir = tempfile::tempdir().unwrap();
    for (name, data) in [("ours", &ours), ("base", &base), ("theirs", &theirs)] {
        std::fs::write(dir.path().join(name), data).unwrap();
    }
    let git = |d: &Path| {
        Command::new("git")
            .args(["merge-file", "-p"])
            .arg(d.join("ours"))
            .arg(d.join("base"))
            .arg(d.join("theirs"))
            .output()
            .unwrap()
    };
    assert_eq!(
        git(dir.path()).stdout,
        verdict.content.clone().unwrap(),
        "same result as git"
    );

    let mut g = c.benchmark_group("merge");
    g.sample_size(50);
    g.bench_function("dxforge_light_and_merge", |b| {
        b.iter(|| black_box(classify(Some(black_box(&ours)), Some(&base), &theirs)))
    });
    g.bench_function("dxforge_merge3", |b| {
        b.iter(|| black_box(merge3(&base, black_box(&ours), &theirs)))
    });
    let merged = verdict.content.clone().unwrap();
    assert_eq!(gix_merge_blob(&base, &ours, &theirs), merged, "same as gix");
    g.bench_function("gix_merge_blob", |b| {
        b.iter(|| black_box(gix_merge_blob(&base, black_box(&ours), &theirs)))
    });
    let text = |d: &[u8]| String::from_utf8(d.to_vec()).unwrap();
    let (base_s, ours_s, theirs_s) = (text(&base), text(&ours), text(&theirs));
    let by_diffy = diffy::merge(&base_s, &ours_s, &theirs_s).expect("diffy merges cleanly");
    assert_eq!(by_diffy.as_bytes(), merged, "same as diffy");
    g.bench_function("diffy_merge", |b| {
        b.iter(|| black_box(diffy::merge(&base_s, black_box(&ours_s), &theirs_s)))
    });
    g.bench_function("git_merge_file_process", |b| {
        b.iter(|| black_box(git(dir.path())))
    });
    g.finish();
}

/// gix-merge's blob text merge with its default options (Myers, conflict markers kept).
fn gix_merge_blob(base: &[u8], ours: &[u8], theirs: &[u8]) -> Vec<u8> {
    use gix_merge::blob::builtin_driver::text::{Labels, Options};
    let mut input = gix_imara_diff::InternedInput::default();
    let mut out = Vec::new();
    let resolution = gix_merge::blob::builtin_driver::text(
        &mut out,
        &mut input,
        Labels::default(),
        ours,
        base,
        theirs,
        Options::default(),
    );
    assert_eq!(resolution, gix_merge::blob::Resolution::Complete);
    out
}

/// A registry with `big` 1.0.0 and 2.0.0 of 1,000 files (2.0.0 changes each file's last line).
fn big_registry() -> tempfile::TempDir {
    let reg = tempfile::tempdir().unwrap();
    for (version, tail) in [("1.0.0", "v1"), ("2.0.0", "v2")] {
        let dir = reg.path().join("big").join(version);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("dxpkg.toml"),
            format!("name = \"big\"\nversion = \"{version}\"\n"),
        )
        .unwrap();
        for i in 0..1000 {
            let f = dir.join(format!("files/components/group{}/file{i}.tsx", i % 20));
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            let mut text = String::new();
            for l in 0..40 {
                text.push_str(&format!("export const item{i}_{l} = \"{l}\";\n"));
            }
            text.push_str(&format!("export const version = \"{tail}\";\n"));
            std::fs::write(f, text).unwrap();
        }
    }
    reg
}

fn cp_r(from: &Path, to: &Path) {
    let ok = Command::new("cp")
        .arg("-r")
        .arg(from)
        .arg(to)
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

fn install_bench(c: &mut Criterion) {
    let reg = big_registry();
    let files = reg.path().join("big/1.0.0/files");
    let scratch = tempfile::tempdir().unwrap();
    let mut g = c.benchmark_group("install_1000");
    g.sample_size(20);
    let mut n = 0;
    g.bench_function("dxforge_install", |b| {
        b.iter_batched(
            || {
                n += 1;
                let root = scratch.path().join(format!("p{n}"));
                std::fs::create_dir(&root).unwrap();
                TrafficManager::new(root, Some(reg.path().to_path_buf()))
            },
            |m| {
                let r = m
                    .install_package("big", "=1.0.0", &InstallOptions::default())
                    .unwrap();
                assert_eq!(r.files.len(), 1000);
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("cp_r", |b| {
        b.iter_batched(
            || {
                n += 1;
                scratch.path().join(format!("c{n}"))
            },
            |dest| cp_r(&files, &dest),
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn upgrade_bench(c: &mut Criterion) {
    let reg = big_registry();
    let template = tempfile::tempdir().unwrap();
    let m = TrafficManager::new(
        template.path().to_path_buf(),
        Some(reg.path().to_path_buf()),
    );
    m.install_package("big", "=1.0.0", &InstallOptions::default())
        .unwrap();
    for i in (0..1000).step_by(10) {
        let f = template
            .path()
            .join(format!("components/group{}/file{i}.tsx", i % 20));
        let text = std::fs::read_to_string(&f)
            .unwrap()
            .replacen("\"0\"", "\"user edit\"", 1);
        std::fs::write(f, text).unwrap();
    }
    // The merging share of an upgrade: the same 1,000 verdicts (100 real
    // three-way merges) on contents already in memory, no I/O.
    let triples: Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> = (0..1000)
        .map(|i| {
            let rel = format!("components/group{}/file{i}.tsx", i % 20);
            let current = std::fs::read(template.path().join(&rel)).unwrap();
            let base = std::fs::read(reg.path().join("big/1.0.0/files").join(&rel)).unwrap();
            let new = std::fs::read(reg.path().join("big/2.0.0/files").join(&rel)).unwrap();
            (current, base, new)
        })
        .collect();
    let scratch = tempfile::tempdir().unwrap();
    let mut n = 0;
    let mut g = c.benchmark_group("upgrade_1000");
    g.bench_function("classify_only", |b| {
        b.iter(|| {
            for (current, base, new) in &triples {
                let v = classify(Some(current), Some(base), new);
                assert_eq!(v.light, TrafficLight::Yellow);
                black_box(v);
            }
        })
    });
    g.sample_size(20);
    g.bench_function("dxforge_upgrade_10pct_edited", |b| {
        b.iter_batched(
            || {
                n += 1;
                let root = scratch.path().join(format!("u{n}"));
                cp_r(template.path(), &root);
                TrafficManager::new(root, Some(reg.path().to_path_buf()))
            },
            |m| {
                let r = m
                    .install_package("big", "^2", &InstallOptions::default())
                    .unwrap();
                assert!(!r.has_red());
                assert_eq!(
                    r.files
                        .iter()
                        .filter(|f| f.light == TrafficLight::Yellow)
                        .count(),
                    1000
                );
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, merge_bench, install_bench, upgrade_bench);
criterion_main!(benches);
