//! The Rust side of `bench/run.sh`: the same calls as `bench_calls.c`, with
//! the same method (median of 31 rounds of batched calls), straight on the
//! `dxforge` crate. Run with `cargo run -p dxforge-c --release --example bench_calls_rust`.

use std::hint::black_box;
use std::time::Instant;

use dxforge_core::{BackgroundTask, DxForge, DxToolDefinition};

const ROUNDS: usize = 31;

fn median(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

/// Median and 99th percentile of the per-call time over 20,000 batches of
/// 100 calls (as python/bench/bench_calls.py and node/bench/status.mjs report).
fn batch_percentiles(mut call: impl FnMut()) -> (f64, f64) {
    const BATCHES: usize = 20_000;
    let mut per_call = Vec::with_capacity(BATCHES);
    for _ in 0..BATCHES {
        let t = Instant::now();
        for _ in 0..100 {
            call();
        }
        per_call.push(t.elapsed().as_nanos() as f64 / 100.0);
    }
    per_call.sort_by(f64::total_cmp);
    (per_call[BATCHES / 2], per_call[BATCHES * 99 / 100])
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("dxforge-rust-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    // One consumer and no registry: prefetch tasks fail at once and the queue
    // stays full, as in the C, Python and Node benches.
    std::fs::write(
        dir.join("dxforge.toml"),
        "[project]\nname = \"bench\"\n\n[worker]\nconcurrency = 1\n",
    )?;
    let forge = DxForge::open(&dir)?;
    forge.register_tool(DxToolDefinition::new("db", "/bin/true"))?;
    let calls: usize = std::env::var("BENCH_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let rounds = if calls < 1000 { 1 } else { ROUNDS };

    let mut per_call = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..calls {
            black_box(forge.status(black_box("db"))?);
        }
        per_call.push(t.elapsed().as_nanos() as f64 / calls as f64);
    }
    let (med, min, max) = median(per_call);
    println!("rust status_registered_tool: median {med:.1} ns/call (min {min:.1}, max {max:.1})");

    if std::env::var_os("BENCH_CALLS").is_some() {
        // callgrind mode: the status loop only.
        forge.shutdown()?;
        std::fs::remove_dir_all(&dir)?;
        return Ok(());
    }
    let batch = (calls / 10).max(1);
    let mut per_call = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..batch {
            black_box(forge.enqueue(BackgroundTask::PrefetchPackage("button@^1.2".to_owned()))?);
        }
        per_call.push(t.elapsed().as_nanos() as f64 / batch as f64);
    }
    let (med, min, max) = median(per_call);
    println!("rust enqueue: median {med:.1} ns/call (min {min:.1}, max {max:.1})");
    let (p50, p99) = batch_percentiles(|| {
        black_box(forge.status(black_box("db")).ok());
    });
    println!("rust status, batches of 100: median {p50:.1} ns/call, p99 {p99:.1}");
    let (p50, p99) = batch_percentiles(|| {
        black_box(
            forge
                .enqueue(BackgroundTask::PrefetchPackage("button@^1.2".to_owned()))
                .ok(),
        );
    });
    println!("rust enqueue, batches of 100: median {p50:.1} ns/call, p99 {p99:.1}");
    forge.shutdown()?;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
