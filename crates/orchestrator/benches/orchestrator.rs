//! Orchestrator benchmarks.
//!
//! * `cold_ensure_running`: spawn of a tiny binary (`sleep 3600`) through the
//!   orchestrator (reaper shim, pid pipe, pidfd, log capture) until it is
//!   `Running`, against a bare `std::process::Command::spawn` of the same
//!   binary in the same run. Stopping/killing happens outside the timing.
//! * `ensure_running_hot`: `ensure_running` on a tool that is already
//!   running (the future is polled once with a no-op waker, no executor).
//!
//! After criterion, an interleaved run prints both medians and their ratio.

use std::future::Future;
use std::pin::pin;
use std::process::{Command, Stdio};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use dxforge_orchestrator::{DxToolDefinition, Orchestrator, OrchestratorConfig};

const BINARY: &str = "/bin/sleep";

struct Setup {
    rt: tokio::runtime::Runtime,
    orch: Orchestrator,
    _dir: tempfile::TempDir,
}

fn setup() -> Setup {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let orch = Orchestrator::new(OrchestratorConfig {
        root: dir.path().to_path_buf(),
        log_dir: dir.path().join(".dxforge/logs"),
        log_max_bytes: 1 << 20,
        recent_lines: 100,
        runtime: rt.handle().clone(),
    });
    let mut cold = DxToolDefinition::new("cold", BINARY);
    cold.args = vec!["3600".into()];
    let mut hot = cold.clone();
    hot.name = "hot".into();
    orch.register_tools(vec![cold, hot]).unwrap();
    Setup {
        rt,
        orch,
        _dir: dir,
    }
}

fn cold_once(s: &Setup) -> Duration {
    let start = Instant::now();
    s.rt.block_on(s.orch.ensure_running("cold")).unwrap();
    let took = start.elapsed();
    s.rt.block_on(s.orch.stop("cold")).unwrap();
    took
}

fn bare_once() -> Duration {
    let start = Instant::now();
    let mut child = Command::new(BINARY)
        .arg("3600")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let took = start.elapsed();
    child.kill().unwrap();
    child.wait().unwrap();
    took
}

fn poll_once<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("hot path must complete without waiting"),
    }
}

fn benches_spawn(c: &mut Criterion) {
    let s = setup();
    let mut group = c.benchmark_group("spawn");
    group.bench_function("cold_ensure_running", |b| {
        b.iter_custom(|n| (0..n).map(|_| cold_once(&s)).sum())
    });
    group.bench_function("std_command_spawn", |b| {
        b.iter_custom(|n| (0..n).map(|_| bare_once()).sum())
    });
    // Same spawn but forced onto std's fork path (any pre_exec hook disables posix_spawn).
    group.bench_function("std_command_spawn_fork_path", |b| {
        b.iter_custom(|n| {
            (0..n)
                .map(|_| {
                    use std::os::unix::process::CommandExt;
                    let start = Instant::now();
                    let mut cmd = Command::new(BINARY);
                    cmd.arg("3600")
                        .stdin(Stdio::null())
                        .stdout(Stdio::piped())
                        .stderr(Stdio::piped());
                    // SAFETY: the hook does nothing.
                    unsafe { cmd.pre_exec(|| Ok(())) };
                    let mut child = cmd.spawn().unwrap();
                    let took = start.elapsed();
                    child.kill().unwrap();
                    child.wait().unwrap();
                    took
                })
                .sum()
        })
    });
    // The cost of hopping onto a runtime worker and back.
    group.bench_function("runtime_hop", |b| {
        b.iter(|| s.rt.block_on(s.rt.spawn(async { 1 })).unwrap())
    });
    group.finish();
    s.rt.block_on(s.orch.ensure_running("hot")).unwrap();
    c.bench_function("ensure_running_hot", |b| {
        b.iter(|| poll_once(s.orch.ensure_running("hot")).unwrap())
    });
    s.orch.shutdown_blocking();
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Interleaved samples of both spawns, so drift hits both equally.
fn ratio_report() {
    let s = setup();
    let (mut cold, mut bare) = (Vec::new(), Vec::new());
    for _ in 0..300 {
        cold.push(cold_once(&s));
        bare.push(bare_once());
    }
    let (c, b) = (median(cold), median(bare));
    println!(
        "ratio report (300 interleaved samples): cold ensure_running median {:?}, std Command::spawn median {:?}, ratio {:.3}",
        c,
        b,
        c.as_secs_f64() / b.as_secs_f64()
    );
    s.orch.shutdown_blocking();
}

criterion_group!(benches, benches_spawn);

fn main() {
    benches();
    ratio_report();
    Criterion::default().configure_from_args().final_summary();
}
