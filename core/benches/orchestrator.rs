//! Orchestrator benchmarks, through the `DxForge` handle as hosts use it.
//!
//! * `cold_ensure_running`: start of a tiny binary (`sleep 3600`) through the
//!   orchestrator (parked shim pair, exec gate, log capture, status event)
//!   until it is `Running`, against a bare `std::process::Command::spawn` of
//!   the same binary with the same stdio in the same run. Both return once
//!   the exec has passed its point of no return (where `vfork` resumes the
//!   parent). Stopping/killing happens outside the timing. Criterion's
//!   figures are means, which the rare slow sample (a halted vCPU woken)
//!   dominates; the ratio report gives medians.
//! * `ensure_running_hot`: `ensure_running` on a tool that is already
//!   running (the future is polled once with a no-op waker, no executor).
//!
//! After criterion, the ratio report prints both medians (and p90s) and
//! their ratio, back to back and after 2 ms idle.
#![allow(
    missing_docs,
    reason = "criterion_group! makes an undocumented public function"
)]

use std::future::Future;
use std::pin::pin;
use std::process::{Command, Stdio};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use dxforge::runtime::block_on;
use dxforge::{DxForge, DxToolDefinition};

const BINARY: &str = "/bin/sleep";

struct Setup {
    forge: DxForge,
    _dir: tempfile::TempDir,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let forge = DxForge::open(dir.path()).unwrap();
    let mut cold = DxToolDefinition::new("cold", BINARY);
    cold.args = vec!["3600".into()];
    let mut hot = cold.clone();
    hot.name = "hot".into();
    forge.register_tool(cold).unwrap();
    forge.register_tool(hot).unwrap();
    Setup { forge, _dir: dir }
}

fn cold_once(s: &Setup) -> Duration {
    let start = Instant::now();
    block_on(s.forge.ensure_running("cold")).unwrap().unwrap();
    let took = start.elapsed();
    block_on(s.forge.stop("cold")).unwrap().unwrap();
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
    group.finish();
    block_on(s.forge.ensure_running("hot")).unwrap().unwrap();
    c.bench_function("ensure_running_hot", |b| {
        b.iter(|| poll_once(s.forge.ensure_running("hot")).unwrap())
    });
    s.forge.shutdown().unwrap();
}

/// Median and 90th percentile.
fn quantiles(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    (v[v.len() / 2], v[v.len() * 9 / 10])
}

fn report(mode: &str, row: &str, cold: Vec<Duration>, bare: Vec<Duration>) {
    let ns = |v: &[Duration]| v.iter().map(Duration::as_nanos).collect::<Vec<_>>();
    println!(
        "bench-row {{\"row\":\"{row}\",\"mode\":\"in-process\",\"ours_ns\":{:?},\"peer_ns\":{:?}}}",
        ns(&cold),
        ns(&bare)
    );
    let (n, (c50, c90), (b50, b90)) = (cold.len(), quantiles(cold), quantiles(bare));
    println!(
        "ratio report, {mode} ({n} samples each): cold ensure_running median {c50:?} (p90 {c90:?}), \
         std Command::spawn median {b50:?} (p90 {b90:?}), ratio of medians {:.3}",
        c50.as_secs_f64() / b50.as_secs_f64()
    );
}

/// Medians of both spawns in two settings. Back to back, each in its own
/// loop (interleaving would put the orchestrator's background work, such as
/// parking the next shim pair, inside the std samples). After 2 ms idle,
/// interleaved, so that drift hits both equally; this is how a cold start
/// usually happens, and on virtual machines whose idle vCPUs halt it costs
/// both more.
fn ratio_report() {
    let s = setup();
    let cold: Vec<Duration> = (0..600).map(|_| cold_once(&s)).collect();
    let bare: Vec<Duration> = (0..600).map(|_| bare_once()).collect();
    report("back to back", "cold_start", cold, bare);
    let (mut cold, mut bare) = (Vec::new(), Vec::new());
    for _ in 0..300 {
        std::thread::sleep(Duration::from_millis(2));
        cold.push(cold_once(&s));
        std::thread::sleep(Duration::from_millis(2));
        bare.push(bare_once());
    }
    report(
        "after 2 ms idle, interleaved",
        "cold_start_after_idle",
        cold,
        bare,
    );
    s.forge.shutdown().unwrap();
    // The first start of a handle: registration has begun parking a pair in
    // the background; 2 ms later (as after any setup) it is ready.
    let (mut first, mut bare) = (Vec::new(), Vec::new());
    for _ in 0..100 {
        let s = setup();
        std::thread::sleep(Duration::from_millis(2));
        first.push(cold_once(&s));
        s.forge.shutdown().unwrap();
        std::thread::sleep(Duration::from_millis(2));
        bare.push(bare_once());
    }
    report(
        "first start of a fresh handle, interleaved",
        "first_start",
        first,
        bare,
    );
}

criterion_group!(benches, benches_spawn);

fn main() {
    benches();
    ratio_report();
    Criterion::default().configure_from_args().final_summary();
}
