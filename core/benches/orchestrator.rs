//! Orchestrator benchmarks, through the `DxForge` handle as hosts use it.
//!
//! * `cold_ensure_running`: start of a tiny binary (`sleep 3600`) through the
//!   orchestrator (reaper shim, exec wait, pidfd, log capture, status event)
//!   until it is `Running`, against a bare `std::process::Command::spawn` of
//!   the same binary with the same stdio in the same run. Both return once
//!   the exec has happened. Stopping/killing happens outside the timing.
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
    if let Ok(cmd) = std::env::var("PROBE_BIN") {
        let mut parts = cmd.split(' ').map(String::from);
        cold.binary_path = parts.next().unwrap();
        cold.args = parts.collect();
    }
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
    s.forge.shutdown().unwrap();
}

criterion_group!(benches, benches_spawn);

fn probe() {
    let s = setup();
    for pause_us in [0u64, 500, 2000, 10000] {
        let mut v = Vec::new();
        let mut phases = vec![Vec::new(); 16];
        for _ in 0..200 {
            let start = Instant::now();
            block_on(s.forge.ensure_running("cold")).unwrap().unwrap();
            let t7 = dxforge_orchestrator::TRACE_T[0].load(std::sync::atomic::Ordering::Relaxed);
            dxforge_orchestrator::trace_mark(8);
            v.push(start.elapsed());
            let t: Vec<u64> = (0..16).map(|i| dxforge_orchestrator::TRACE_T[i].load(std::sync::atomic::Ordering::Relaxed)).collect();
            let _ = t7;
            for i in 1..9 { phases[i].push(t[i].saturating_sub(t[i - 1]) / 100); }
            block_on(s.forge.stop("cold")).unwrap().unwrap();
            std::thread::sleep(Duration::from_micros(pause_us));
        }
        v.sort();
        println!("pause {pause_us} us: p10 {:?} p50 {:?} p90 {:?}", v[20], v[100], v[180]);
        for (i, p) in phases.iter_mut().enumerate().skip(1).take(8) { p.sort(); println!("  phase {i}: p50 {:.1} us p90 {:.1}", p[100] as f64 / 10.0, p[180] as f64 / 10.0); }
    }
    s.forge.shutdown().unwrap();
}

fn ftrace() {
    use std::io::Write;
    let s = setup();
    let mut m = std::fs::OpenOptions::new().write(true).open("/sys/kernel/tracing/trace_marker").unwrap();
    for _ in 0..50 { cold_once(&s); bare_once(); }
    std::fs::write("/sys/kernel/tracing/tracing_on", "1").unwrap();
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(1));
        m.write_all(b"OURS start").unwrap();
        let d = cold_once(&s);
        m.write_all(format!("OURS took {d:?}").as_bytes()).unwrap();
        std::thread::sleep(Duration::from_millis(1));
        m.write_all(b"STD start").unwrap();
        let d = bare_once();
        m.write_all(format!("STD took {d:?}").as_bytes()).unwrap();
    }
    std::fs::write("/sys/kernel/tracing/tracing_on", "0").unwrap();
    s.forge.shutdown().unwrap();
}

fn main() {
    if std::env::var_os("FTRACE").is_some() {
        return ftrace();
    }
    if std::env::var_os("PROBE").is_some() {
        return probe();
    }
    benches();
    ratio_report();
    Criterion::default().configure_from_args().final_summary();
}
