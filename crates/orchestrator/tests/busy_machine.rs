//! Descendant tracking does not depend on how many processes the machine
//! has (issue 10, class 1): with more than 1,024 processes, a descendant
//! that left the tool's process group used to survive `stop`, and after the
//! host's SIGKILL its shim spun forever.
//!
//! Each test runs twice: in this process (a cgroup v2 leaf per tool where
//! the host allows it) and in a child test process with `DXFORGE_CGROUP=off`
//! (the `/proc` scan, which is what every host is guaranteed to have).

#[path = "it/common.rs"]
mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::*;
use dxforge_orchestrator::ToolStatus;

/// The crowds of the tests in this file are started one test at a time.
static ONE_CROWD: Mutex<()> = Mutex::new(());

/// Extra `sleep` processes that make the machine busy; killed and reaped on
/// drop. Started before the tool, so the tool's tree has higher PIDs than
/// the first 1,024 `/proc` entries.
struct Crowd(Vec<Child>);

impl Crowd {
    fn new(n: usize) -> Self {
        let children = (0..n)
            .map(|_| {
                Command::new("sleep")
                    .arg("600")
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        Self(children)
    }
}

impl Drop for Crowd {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
        }
        for child in &mut self.0 {
            let _ = child.wait();
        }
    }
}

fn proc_entries() -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .count()
}

/// Runs the ignored test `name` in a child test process with the cgroup
/// leaves turned off, passing `dir`; asserts that it passed.
fn run_without_cgroups(name: &str, dir: &Path) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            name,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("DXFORGE_CGROUP", "off")
        .env("DXFORGE_TEST_DIR", dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("1 passed"),
        "{name} without cgroups:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The test's scratch directory when run by [`run_without_cgroups`].
fn child_dir() -> Option<std::path::PathBuf> {
    std::env::var_os("DXFORGE_TEST_DIR").map(Into::into)
}

/// A tool (`sh`) whose child `setsid sleep` leaves its process group and
/// session; `pidfile` receives that child's PID.
fn setsid_tool(pidfile: &Path) -> dxforge_orchestrator::DxToolDefinition {
    let p = pidfile.display();
    let mut def = dxforge_orchestrator::DxToolDefinition::new("setsid", "/bin/sh");
    def.args = vec![
        "-c".into(),
        format!("setsid sleep 600 & echo $! > {p}.tmp && mv {p}.tmp {p}; exec sleep 600"),
    ];
    def.stop_timeout_ms = 2_000;
    def
}

fn setsid_descendant_dies_on_stop() {
    let p = Project::new();
    let pidfile = p.path("escaped.pid");
    p.orch.register_tool(setsid_tool(&pidfile)).unwrap();
    let ToolStatus::Running(tool_pid) = p.block(p.orch.ensure_running("setsid")).unwrap() else {
        panic!("not running")
    };
    let escaped = read_pid(&pidfile);
    // `sh` writes the PID as soon as it forked; `setsid` follows.
    wait_until(10, "the descendant left the tool's process group", || {
        process_group(escaped).is_some_and(|g| g != tool_pid)
    });
    assert!(proc_entries() > 1_024, "the machine is busy");

    p.block(p.orch.stop("setsid")).unwrap();
    assert_eq!(p.orch.status("setsid").unwrap(), ToolStatus::Stopped);
    // The shim reaps the whole tree before it exits, and stop waits for it.
    assert!(gone(escaped), "the setsid descendant survived stop");
    assert!(gone(tool_pid));
}

#[test]
#[ignore = "run by setsid_descendant_dies_on_stop_with_1100_other_processes_on_the_machine"]
fn setsid_descendant_dies_on_stop_without_cgroups() {
    if child_dir().is_some() {
        setsid_descendant_dies_on_stop();
    }
}

#[test]
fn setsid_descendant_dies_on_stop_with_1100_other_processes_on_the_machine() {
    let _one = ONE_CROWD.lock().unwrap_or_else(|e| e.into_inner());
    let _crowd = Crowd::new(1_100);
    setsid_descendant_dies_on_stop();
    let dir = tempfile::tempdir().unwrap();
    run_without_cgroups("setsid_descendant_dies_on_stop_without_cgroups", dir.path());
}

/// Runs only inside the child host started by `shim_stays_quiet_after_host_sigkill`.
#[test]
#[ignore = "helper host process, run by shim_does_not_spin_after_host_sigkill_on_a_busy_machine"]
fn busy_host_process() {
    let Ok(dir) = std::env::var("DXFORGE_TEST_HOST_DIR") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let p = Project::new();
    let pidfile = dir.join("grandchild.pid");
    let pid = start_forker(&p, &pidfile);
    // The tool's cgroup leaf as a path, or "" when it has none.
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let rel = cg.lines().find_map(|l| l.strip_prefix("0::")).unwrap_or("");
    let leaf = if rel.contains("/dxforge-") {
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let mount = mounts
            .lines()
            .find_map(|l| {
                let (left, right) = l.split_once(" - ")?;
                let f: Vec<&str> = left.split(' ').collect();
                (right.starts_with("cgroup2 ") && f.get(3) == Some(&"/")).then(|| f[4].to_owned())
            })
            .unwrap();
        format!("{mount}{rel}")
    } else {
        String::new()
    };
    std::fs::write(dir.join("leaf"), leaf).unwrap();
    publish_pid(&dir, "tool.pid", pid);
    std::thread::sleep(Duration::from_secs(600));
}

/// utime + stime of `pid` in clock ticks, or `None` once it is gone.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    // Fields 14 and 15 of stat(5); index 0 here is field 3 (state).
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

fn process_group(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    fields.get(2)?.parse().ok()
}

fn parent_of(pid: u32) -> u32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .collect();
    fields[1].parse().unwrap()
}

/// Starts a host with a double-forking tool, SIGKILLs the host, and checks
/// that the shim uses little CPU over about a second (or until it is gone)
/// and that the whole tree, the shim included, goes away.
fn shim_stays_quiet_after_host_sigkill(cgroups: bool) {
    let dir = tempfile::tempdir().unwrap();
    let mut host = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "busy_host_process", "--ignored", "--nocapture"])
        .env("DXFORGE_TEST_HOST_DIR", dir.path())
        .env("DXFORGE_CGROUP", if cgroups { "on" } else { "off" })
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let tool_pid = read_pid(&dir.path().join("tool.pid"));
    let grandchild = read_pid(&dir.path().join("grandchild.pid"));
    let shim = parent_of(tool_pid);
    assert!(proc_entries() > 1_024, "the machine is busy");
    host.kill().unwrap();
    host.wait().unwrap();

    // CPU time of the shim over about a second of wall time.
    // SAFETY: sysconf has no preconditions.
    let ticks_per_s = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let started = Instant::now();
    let before = cpu_ticks(shim);
    let mut last = before;
    while started.elapsed() < Duration::from_secs(1) {
        match cpu_ticks(shim) {
            Some(t) => last = Some(t),
            None => break,
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let wall = started.elapsed().as_secs_f64();
    if let (Some(a), Some(b)) = (before, last) {
        let share = (b - a) as f64 / ticks_per_s / wall;
        assert!(
            share < 0.2,
            "the shim used {:.0}% of a CPU after its host died",
            share * 100.0
        );
    }
    wait_until(10, "escaped grandchild killed after host death", || {
        gone(grandchild)
    });
    wait_until(10, "tool killed after host death", || gone(tool_pid));
    // Its host is gone, so nobody reaps it (PID 1 may not): a zombie is fine.
    wait_until(10, "shim ended once its tree was gone", || {
        proc_state(shim).is_none_or(|s| s == 'Z')
    });
    // An orphaned shim removes its tool's cgroup leaf.
    let leaf = std::fs::read_to_string(dir.path().join("leaf")).unwrap();
    if cgroups && !leaf.is_empty() {
        wait_until(10, "the dead host's leaf removed", || {
            !Path::new(&leaf).exists()
        });
    }
}

#[test]
fn shim_does_not_spin_after_host_sigkill_on_a_busy_machine() {
    let _one = ONE_CROWD.lock().unwrap_or_else(|e| e.into_inner());
    let _crowd = Crowd::new(1_100);
    shim_stays_quiet_after_host_sigkill(false);
    shim_stays_quiet_after_host_sigkill(true);
}
