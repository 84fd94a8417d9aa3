//! enqueue latency: p50/p99 of single calls (printed), and criterion's per-call estimate.
//!
//! Two situations: a queue that is always full (every call evicts the oldest task), with
//! consumers parked; and a live worker whose consumers drain the queue concurrently.
#![allow(
    missing_docs,
    reason = "criterion_group! makes an undocumented public function"
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use dxforge_worker::{BackgroundTask, BackgroundWorker, WorkerConfig};

fn parked_worker(dir: &std::path::Path, rt: &tokio::runtime::Runtime) -> BackgroundWorker {
    let mut config = WorkerConfig::new(dir, rt.handle().clone());
    config.capacity = 1024;
    BackgroundWorker::new(config)
}

/// Times `n` single calls; returns sorted latencies.
fn sample(worker: &BackgroundWorker, n: usize) -> Vec<Duration> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let task = if i % 2 == 0 {
            BackgroundTask::AnalyzeCodebasePatterns
        } else {
            BackgroundTask::PrefetchPackage("button@^1.2".to_owned())
        };
        let t = Instant::now();
        black_box(worker.enqueue(task));
        out.push(t.elapsed());
    }
    out.sort();
    out
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p) as usize]
}

fn timer_overhead() -> Duration {
    let mut v: Vec<Duration> = (0..100_000)
        .map(|_| {
            let t = Instant::now();
            t.elapsed()
        })
        .collect();
    v.sort();
    v[v.len() / 2]
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    // Never driven: consumers do not run, so the queue stays full and every call evicts.
    let parked = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let full = parked_worker(dir.path(), &parked);
    for _ in 0..2048 {
        full.enqueue(BackgroundTask::CacheCurrentState);
    }
    let lat = sample(&full, 200_000);
    println!(
        "enqueue (queue full, evicting): p50 {:?}  p99 {:?}  p99.9 {:?}  max {:?}  (timer overhead ~{:?} included)",
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        percentile(&lat, 0.999),
        lat[lat.len() - 1],
        timer_overhead()
    );

    // A live worker draining concurrently (tasks fail fast: no registry configured).
    let live_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let live = parked_worker(dir.path(), &live_rt);
    let lat = sample(&live, 200_000);
    println!(
        "enqueue (consumers draining):    p50 {:?}  p99 {:?}  p99.9 {:?}  max {:?}",
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        percentile(&lat, 0.999),
        lat[lat.len() - 1]
    );

    c.bench_function("enqueue/full_queue", |b| {
        b.iter(|| full.enqueue(black_box(BackgroundTask::CacheCurrentState)))
    });
    full.shutdown();
    live.shutdown();
}

criterion_group!(benches, bench);
criterion_main!(benches);
