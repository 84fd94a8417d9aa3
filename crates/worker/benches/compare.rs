//! Snapshots against `git add -A && git write-tree`, analysis against `tokei`, on the same
//! generated 10,000-file tree in the same run. `benches/compare.sh` prints the ratios.
//!
//! - snapshot/first: a fresh store each iteration vs a fresh repository (`git init`).
//! - snapshot/incremental: 10 files changed since the previous snapshot vs the same git
//!   command on a repository whose index is current.
//! - restore: every file of the tree deleted, then restored from a snapshot, vs
//!   `git checkout-index -a -f` after the same deletion in a repository whose index has
//!   the tree.
//! - analyze: the full analysis (written to `.dxforge/analysis.json`) vs `tokei DIR`.
#![allow(
    missing_docs,
    reason = "criterion_group! makes an undocumented public function"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use dxforge_worker::{BackgroundWorker, WorkerConfig};

const DIRS: usize = 100;
const FILES_PER_DIR: usize = 100;

/// 10,000 source-like files of 2–6 KiB (about 40 MB) in 100 directories, plus a
/// `.gitignore`.
fn generate_tree(root: &Path) {
    std::fs::write(root.join(".gitignore"), "target/\n*.tmp\n").unwrap();
    for d in 0..DIRS {
        let dir = root.join(format!("src/mod{d:03}"));
        std::fs::create_dir_all(&dir).unwrap();
        for f in 0..FILES_PER_DIR {
            let ext = ["rs", "ts", "py", "tsx"][f % 4];
            // 2048..=6143 bytes, spread evenly: 4 KiB on average.
            let size = 2048 + (d * 7919 + f * 104_729) % 4096;
            let mut body = String::with_capacity(size + 80);
            let mut line = 0;
            while body.len() < size {
                body.push_str(&format!(
                    "    let value_{line} = compute({d}, {f}, {line}); // <Button {line}\n"
                ));
                line += 1;
            }
            body.truncate(size);
            std::fs::write(dir.join(format!("file{f:03}.{ext}")), body).unwrap();
        }
    }
}

/// Deletes every file of the generated tree (the `src` directory and `.gitignore`).
fn delete_tree(root: &Path) {
    let _ = std::fs::remove_dir_all(root.join("src"));
    let _ = std::fs::remove_file(root.join(".gitignore"));
}

fn git(root: &Path, script: &str) {
    let status = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(root)
        .env("GIT_AUTHOR_NAME", "bench")
        .env("GIT_AUTHOR_EMAIL", "bench@localhost")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "{script}");
}

fn touch_ten(root: &Path, round: usize) {
    for i in 0..10 {
        let path = root.join(format!(
            "src/mod{:03}/file{:03}.rs",
            i * 9,
            (i * 4) % FILES_PER_DIR
        ));
        std::fs::write(path, format!("// round {round} file {i}\nfn main() {{}}\n")).unwrap();
    }
}

struct Trees {
    _tmp: tempfile::TempDir,
    ours: PathBuf,
    theirs: PathBuf,
}

fn trees() -> Trees {
    let tmp = tempfile::tempdir().unwrap();
    let ours = tmp.path().join("ours");
    let theirs = tmp.path().join("theirs");
    std::fs::create_dir_all(&ours).unwrap();
    std::fs::create_dir_all(&theirs).unwrap();
    generate_tree(&ours);
    generate_tree(&theirs);
    // Let the file-system clock move on, so no file is "racy" for either tool.
    std::thread::sleep(Duration::from_millis(1100));
    Trees {
        _tmp: tmp,
        ours,
        theirs,
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let t = trees();
    let worker = BackgroundWorker::new(WorkerConfig::new(&t.ours, rt.handle().clone()));

    interleaved(&worker, &t);

    let mut group = c.benchmark_group("snapshot_first");
    group.sample_size(10);
    group.bench_function("dxforge", |b| {
        b.iter_batched(
            || {
                let _ = std::fs::remove_dir_all(t.ours.join(".dxforge"));
            },
            |()| worker.snapshot().unwrap(),
            BatchSize::PerIteration,
        )
    });
    group.bench_function("git", |b| {
        b.iter_batched(
            || {
                let _ = std::fs::remove_dir_all(t.theirs.join(".git"));
                git(&t.theirs, "git init -q");
            },
            |()| git(&t.theirs, "git add -A && git write-tree"),
            BatchSize::PerIteration,
        )
    });
    group.finish();

    // Both sides now have a current index/stat cache.
    worker.snapshot().unwrap();
    git(
        &t.theirs,
        "test -d .git || git init -q; git add -A && git write-tree",
    );
    let mut group = c.benchmark_group("snapshot_incremental_10_changed");
    group.sample_size(20);
    let mut round = 0;
    group.bench_function("dxforge", |b| {
        b.iter_batched(
            || {
                round += 1;
                touch_ten(&t.ours, round);
            },
            |()| {
                let s = worker.snapshot().unwrap();
                assert_eq!(s.hashed, 10, "{s:?}");
            },
            BatchSize::PerIteration,
        )
    });
    let mut round = 0;
    group.bench_function("git", |b| {
        b.iter_batched(
            || {
                round += 1;
                touch_ten(&t.theirs, round);
            },
            |()| git(&t.theirs, "git add -A && git write-tree"),
            BatchSize::PerIteration,
        )
    });
    group.finish();

    // Restore of the whole tree: a snapshot of the full tree, then every file deleted
    // before each run; git restores from an index holding the same tree.
    let full = worker.snapshot().unwrap();
    git(&t.theirs, "git add -A");
    let mut group = c.benchmark_group("restore");
    group.sample_size(10);
    group.bench_function("dxforge", |b| {
        b.iter_batched(
            || delete_tree(&t.ours),
            |()| {
                let r = worker.restore(&full.id).unwrap();
                assert_eq!(r.written, full.files + full.symlinks, "{r:?}");
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("git", |b| {
        b.iter_batched(
            || delete_tree(&t.theirs),
            |()| git(&t.theirs, "git checkout-index -a -f"),
            BatchSize::PerIteration,
        )
    });
    group.finish();

    let mut group = c.benchmark_group("analyze");
    group.sample_size(10);
    group.bench_function("dxforge", |b| b.iter(|| worker.analyze().unwrap()));
    if Command::new("tokei").arg("--version").output().is_ok() {
        group.bench_function("tokei", |b| {
            b.iter(|| {
                let status = Command::new("tokei")
                    .arg(&t.theirs)
                    .stdout(Stdio::null())
                    .status()
                    .unwrap();
                assert!(status.success());
            })
        });
    } else {
        println!("tokei not found on PATH: install it with `cargo install tokei` to compare");
    }
    group.finish();
}

/// Prints the pairs as a `bench-row` line for `scripts/bench/table.py` and a readable
/// line with the medians and their ratio.
fn report(row: &str, what: &str, ours: Vec<Duration>, theirs: Vec<Duration>) {
    let ns = |v: &[Duration]| v.iter().map(Duration::as_nanos).collect::<Vec<_>>();
    println!(
        "bench-row {{\"row\":\"{row}\",\"mode\":\"in-process\",\"ours_ns\":{:?},\"peer_ns\":{:?}}}",
        ns(&ours),
        ns(&theirs)
    );
    let (n, o, g) = (ours.len(), median(ours), median(theirs));
    println!(
        "interleaved {what} ({n} pairs): dxforge {o:?}  git {g:?}  ratio {:.2}x",
        o.as_secs_f64() / g.as_secs_f64()
    );
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Alternates dxforge and git runs, so that load from other processes on the machine hits
/// both sides alike; prints the samples (`bench-row`), medians and ratios (compare.sh
/// shows these lines too).
fn interleaved(worker: &BackgroundWorker, t: &Trees) {
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        let _ = std::fs::remove_dir_all(t.ours.join(".dxforge"));
        let start = std::time::Instant::now();
        worker.snapshot().unwrap();
        ours.push(start.elapsed());
        let _ = std::fs::remove_dir_all(t.theirs.join(".git"));
        git(&t.theirs, "git init -q");
        let start = std::time::Instant::now();
        git(&t.theirs, "git add -A && git write-tree");
        theirs.push(start.elapsed());
    }
    report("snapshot_first", "first snapshot", ours, theirs);
    std::thread::sleep(Duration::from_millis(1100));
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for round in 0..21 {
        touch_ten(&t.ours, 1000 + round);
        let start = std::time::Instant::now();
        worker.snapshot().unwrap();
        ours.push(start.elapsed());
        touch_ten(&t.theirs, 1000 + round);
        let start = std::time::Instant::now();
        git(&t.theirs, "git add -A && git write-tree");
        theirs.push(start.elapsed());
    }
    report(
        "snapshot_incremental",
        "incremental, 10 changed",
        ours,
        theirs,
    );
    let full = worker.snapshot().unwrap();
    git(&t.theirs, "git add -A");
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        delete_tree(&t.ours);
        let start = std::time::Instant::now();
        worker.restore(&full.id).unwrap();
        ours.push(start.elapsed());
        delete_tree(&t.theirs);
        let start = std::time::Instant::now();
        git(&t.theirs, "git checkout-index -a -f");
        theirs.push(start.elapsed());
    }
    report("restore", "restore of every file", ours, theirs);
}

criterion_group!(benches, bench);
criterion_main!(benches);
