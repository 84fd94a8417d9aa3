//! Shared test scaffolding: a runtime, an orchestrator in a temp project, the
//! helper tool, polling waits and /proc inspection.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use dxforge_orchestrator::{DxToolDefinition, Orchestrator, OrchestratorConfig, ToolStatus};

/// One multi-thread runtime per test binary (long-lived worker threads).
pub static RT: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
});

/// Path of the helper tool binary.
pub fn helper() -> String {
    env!("CARGO_BIN_EXE_dxforge-test-tool").to_owned()
}

/// A temp project with an orchestrator.
pub struct Project {
    pub dir: tempfile::TempDir,
    pub orch: Orchestrator,
}

impl Project {
    pub fn new() -> Self {
        Self::with_log_limit(1 << 20)
    }
    pub fn with_log_limit(log_max_bytes: u64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let orch = Orchestrator::new(OrchestratorConfig {
            root: dir.path().to_path_buf(),
            log_dir: dir.path().join(".dxforge/logs"),
            log_max_bytes,
            recent_lines: 100,
            runtime: RT.handle().clone(),
            env_file: None,
        });
        Self { dir, orch }
    }
    pub fn root(&self) -> &Path {
        self.dir.path()
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    /// Runs a future on the shared runtime.
    pub fn block<F: std::future::Future>(&self, f: F) -> F::Output {
        RT.block_on(f)
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        self.orch.shutdown_blocking();
    }
}

/// A helper-tool definition with the given flags.
pub fn tool(name: &str, args: &[&str]) -> DxToolDefinition {
    let mut def = DxToolDefinition::new(name, helper());
    def.args = args.iter().map(|s| s.to_string()).collect();
    def.stop_timeout_ms = 2_000;
    def
}

/// Polls `cond` every 20 ms for up to `secs` seconds.
pub fn wait_until(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for: {what}");
}

/// A free local TCP port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The process state letter from /proc/<pid>/stat, or None when gone.
pub fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    after.trim_start().chars().next()
}

/// True when the process no longer exists at all (not even as a zombie).
pub fn gone(pid: u32) -> bool {
    proc_state(pid).is_none()
}

/// Zombie children of this test process.
pub fn our_zombies() -> Vec<u32> {
    let me = std::process::id().to_string();
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        if fields.first() == Some(&"Z") && fields.get(1) == Some(&me.as_str()) {
            out.push(pid);
        }
    }
    out
}

/// Reads a pid written by the helper into `path` (waits for it).
pub fn read_pid(path: &Path) -> u32 {
    wait_until(10, "pid file", || path.exists());
    std::fs::read_to_string(path)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Registers `forker` (a helper tool that double-forks an orphan grandchild
/// outside its process group, which writes its pid to `pidfile`) and starts
/// it; returns the tool's pid.
pub fn start_forker(p: &Project, pidfile: &Path) -> u32 {
    p.orch
        .register_tool(tool(
            "forker",
            &["--double-fork", pidfile.to_str().unwrap()],
        ))
        .unwrap();
    match p.block(p.orch.ensure_running("forker")).unwrap() {
        ToolStatus::Running(pid) => pid,
        status => panic!("forker: {status:?}"),
    }
}

/// Writes `pid` to `dir/name` whole (a temp file, then a rename): the test
/// process polls for the file with [`read_pid`] and must never read half.
pub fn publish_pid(dir: &Path, name: &str, pid: u32) {
    let tmp = dir.join(format!("{name}.tmp"));
    std::fs::write(&tmp, pid.to_string()).unwrap();
    std::fs::rename(tmp, dir.join(name)).unwrap();
}

/// Lines of a file (empty when missing).
pub fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .map(|s| s.lines().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// (comm, ppid) of a process, from /proc/<pid>/stat.
fn comm_and_ppid(pid: u32) -> Option<(String, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat[open + 1..close].to_owned();
    let ppid = stat[close + 1..].split_whitespace().nth(1)?.parse().ok()?;
    Some((comm, ppid))
}

/// Parked tool processes (crate docs, "Spawning") whose shim is a child of
/// this test process, as (tool pid, shim pid).
pub fn parked_tools() -> Vec<(u32, u32)> {
    let me = std::process::id();
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Some((comm, shim)) = comm_and_ppid(pid) else {
            continue;
        };
        if comm == "dxforge-parked" && comm_and_ppid(shim).is_some_and(|(_, host)| host == me) {
            out.push((pid, shim));
        }
    }
    out
}

/// The descriptor numbers a process has open.
pub fn open_fds(pid: u32) -> Vec<u32> {
    let mut fds: Vec<u32> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| {
            dir.flatten()
                .filter_map(|e| e.file_name().to_string_lossy().parse().ok())
                .collect()
        })
        .unwrap_or_default();
    fds.sort_unstable();
    fds
}

/// Asserts that `reader` reaches EOF (with nothing left to read) within
/// 10 s: nobody else holds the pipe's write end any more.
pub fn assert_reaches_eof(mut reader: std::io::PipeReader) {
    use std::io::Read;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut rest = Vec::new();
        tx.send(reader.read_to_end(&mut rest).map(|_| rest.len()))
            .unwrap();
    });
    let read = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the pipe must reach EOF once the host closed its end");
    assert_eq!(read.unwrap(), 0);
}
