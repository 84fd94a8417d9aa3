//! Stress: many tools in one orchestrator, and a long crash loop with the
//! supervisor's CPU time sampled. Figures are printed (run with
//! `--nocapture`), never asserted: speed is the benchmarks' business.

#[path = "it/common.rs"]
mod common;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::*;
use dxforge_orchestrator::{RestartPolicy, ToolStatus};

/// CPU time (user + system) of this process, from /proc/self/stat.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .collect();
    // Fields 14 and 15 of stat(5); the slice starts at field 3.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_millis(ticks * 1000 / hz)
}

/// The same from getrusage(2), in microseconds rather than clock ticks.
fn cpu_time_fine() -> Duration {
    // SAFETY: getrusage writes into the zeroed struct we pass and nothing else.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    Duration::from_micros(us(usage.ru_utime) + us(usage.ru_stime))
}

/// The CPU figures are the whole test process's: one test at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Raises the soft descriptor limit to the hard one, as a host holding
/// hundreds of tools must (each holds a pidfd and two pipes).
fn raise_nofile_limit() {
    // SAFETY: getrlimit/setrlimit read and write only the struct passed.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

#[test]
fn three_hundred_tools_all_reach_running_and_all_stop() {
    const N: usize = 300;
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    raise_nofile_limit();
    let p = Project::new();
    let defs = (0..N)
        .map(|i| tool(&format!("t{i:03}"), &["--sleep", "600000"]))
        .collect();
    p.orch.register_tools(defs).unwrap();
    let started = Instant::now();
    p.block(p.orch.ensure_all_running()).unwrap();
    let took = started.elapsed();
    let states = p.orch.states();
    assert_eq!(states.len(), N);
    let mut pids: Vec<u32> = states
        .iter()
        .map(|s| match s.status {
            ToolStatus::Running(pid) => pid,
            other => panic!("{} is {other:?}", s.name),
        })
        .collect();
    pids.sort_unstable();
    pids.dedup();
    assert_eq!(pids.len(), N, "one process per tool");
    assert!(pids.iter().all(|pid| proc_state(*pid).is_some()));
    let fds = open_fds(std::process::id()).len();
    let stopping = Instant::now();
    p.block(p.orch.stop_all()).unwrap();
    let stop_took = stopping.elapsed();
    assert!(
        p.orch
            .states()
            .iter()
            .all(|s| s.status == ToolStatus::Stopped && s.pid.is_none())
    );
    for pid in &pids {
        wait_until(10, "tool process gone", || gone(*pid));
    }
    println!(
        "stress: {N} tools running in {took:?}, {fds} descriptors open in the host, all stopped in {stop_took:?}"
    );
}

/// A tool that crashes at once, restarted forever with backoff, for
/// `secs` seconds; prints the supervisor's CPU time over that period.
fn crash_loop(secs: u64) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = Project::new();
    let mut t = tool("crasher", &["--exit", "1"]);
    t.restart = RestartPolicy::Always;
    t.max_restarts = 10_000;
    p.orch.register_tool(t).unwrap();
    let mut events = p.orch.subscribe();
    let (cpu_before, fine_before) = (cpu_time(), cpu_time_fine());
    let started = Instant::now();
    p.block(p.orch.ensure_running("crasher")).unwrap();
    let mut starts = 1u32;
    p.block(async {
        let end = tokio::time::Instant::now() + Duration::from_secs(secs);
        while let Ok(Ok(event)) = tokio::time::timeout_at(end, events.recv()).await {
            if matches!(event.new, ToolStatus::Running(_)) {
                starts += 1;
            }
            assert_ne!(event.new, ToolStatus::Degraded, "{event:?}");
        }
    });
    let wall = started.elapsed();
    let cpu = cpu_time().saturating_sub(cpu_before);
    let fine = cpu_time_fine().saturating_sub(fine_before);
    let state = p.orch.state("crasher").unwrap();
    assert!(state.restarts >= 3, "{state:?}");
    assert!(
        matches!(state.status, ToolStatus::Starting | ToolStatus::Running(_)),
        "{state:?}"
    );
    p.block(p.orch.stop("crasher")).unwrap();
    assert_eq!(p.orch.status("crasher").unwrap(), ToolStatus::Stopped);
    println!(
        "stress: crash loop for {wall:?}: {} restarts, {starts} starts seen, supervisor CPU {cpu:?} by /proc/self/stat, {fine:?} by getrusage ({:.3}% of one core)",
        state.restarts,
        fine.as_secs_f64() * 100.0 / wall.as_secs_f64()
    );
}

#[test]
fn crash_loop_with_restart_always_for_ten_seconds_keeps_restarting_with_little_cpu() {
    crash_loop(10);
}

#[test]
#[ignore = "a minute long; run with --ignored"]
fn crash_loop_with_restart_always_for_a_minute_keeps_restarting_with_little_cpu() {
    crash_loop(60);
}
