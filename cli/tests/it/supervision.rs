//! Regression tests of issue 10's output and control-socket classes, with
//! the real `dxforge` binary supervising real tools: a reader that stops
//! reading, a burst larger than the broadcast, a crowd of idle control
//! connections, a `run` client that is interrupted, configured arguments.
//! Each is named after what it guards.

use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdout, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Project, pid_alive, text, wait_exit, wait_until};

impl Project {
    /// `status --json`'s entry for `tool`.
    fn tool_state(&self, tool: &str) -> serde_json::Value {
        let out = self.dx(&["--json", "status"]);
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("status answered no JSON ({e}): {}", text(&out)));
        doc["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == tool)
            .unwrap()
            .clone()
    }

    fn wait_status(&self, tool: &str, want: &str) -> serde_json::Value {
        let mut last = serde_json::Value::Null;
        wait_until(60, &format!("{tool} to be {want}"), || {
            last = self.tool_state(tool);
            last["status"]["status"] == want
        });
        last
    }
}

/// A running `dxforge up`, killed if the test fails before stopping it
/// (its tools die with it: they are armed with `PDEATHSIG`).
struct Up(Child);

impl std::ops::Deref for Up {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Up {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Up {
    /// Starts `dxforge up ARGS…` with its stdout as given and stderr discarded.
    fn start(p: &Project, args: &[&str], stdout: Stdio) -> Up {
        Up(p.cmd(args)
            .stdout(stdout)
            .stderr(Stdio::null())
            .spawn()
            .unwrap())
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Reads `up`'s stdout into `seen` until `done(seen)`. Fails after 60 s
/// without it: a supervisor that stopped printing must not hang the test.
/// Only the last 64 KiB are kept once `seen` passes 8 MiB.
fn read_until(stdout: &mut ChildStdout, seen: &mut String, done: impl Fn(&str) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut buf = vec![0u8; 1 << 16];
    while !done(seen) {
        assert!(
            Instant::now() < deadline,
            "timed out reading up's output: {}",
            &seen[seen.len().saturating_sub(2000)..]
        );
        let mut pfd = libc::pollfd {
            fd: stdout.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll on one valid pollfd we own.
        if unsafe { libc::poll(&mut pfd, 1, 200) } <= 0 {
            continue;
        }
        let n = stdout.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "up's output ended: {}",
            &seen[seen.len().saturating_sub(2000)..]
        );
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        if seen.len() > (8 << 20) && !done(seen) {
            *seen = seen.split_off(seen.len() - (1 << 16));
        }
    }
}

/// A `sh -c SCRIPT` tool, run in the project root.
fn sh_tool(name: &str, script: &str, extra: &str) -> String {
    format!(
        "[tools.{name}]\nbinary_path = \"/bin/sh\"\nargs = [\"-c\", {script:?}]\n{extra}\n",
        script = script
    )
}

/// A tool that waits for the file `crash-now`, exits 3 once, and after its
/// restart sleeps: its restart count says whether supervision went on.
fn crasher() -> String {
    sh_tool(
        "crasher",
        "if [ -e restarted ]; then exec sleep 1000; fi; \
         while [ ! -e crash-now ]; do sleep 0.05; done; touch restarted; exit 3",
        "restart = \"always\"\nmax_restarts = 5\nstop_timeout_ms = 1000",
    )
}

/// Bytes waiting in a pipe (FIONREAD).
fn pipe_fill(fd: &impl AsRawFd) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int into `n`.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::FIONREAD, &mut n) };
    assert_eq!(rc, 0);
    n as usize
}

fn open_descriptors(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Class 2: with `up`'s stdout a pipe nobody reads (a paused pager), the
/// supervisor used to block in `println!` on its runtime threads: `status`
/// got no answer and a crashed tool was never restarted.
#[test]
fn up_keeps_supervising_when_nobody_reads_its_stdout() {
    let mut config = sh_tool("chatty", "while :; do seq 1 2000; sleep 0.01; done", "");
    config.push_str(&crasher());
    let p = Project::new("dxsup", &config);
    let mut up = Up::start(&p, &["up"], Stdio::piped());
    let stdout = up.stdout.take().unwrap();
    // The pipe is (about) full: `up`'s writes to stdout block.
    wait_until(60, "up's stdout pipe to fill", || {
        pipe_fill(&stdout) >= 32 * 1024
    });
    assert_eq!(p.tool_state("chatty")["status"]["status"], "running");
    std::fs::write(p.path("crash-now"), "").unwrap();
    wait_until(60, "the crashed tool's restart", || {
        let s = p.tool_state("crasher");
        s["restarts"] == 1 && s["status"]["status"] == "running"
    });
    // The reader resumes: output goes on, with the loss marked.
    let mut stdout = stdout;
    let mut seen = String::new();
    read_until(&mut stdout, &mut seen, |s| {
        s.contains("lines dropped") && s.ends_with('\n')
    });
    assert!(seen.contains("[chatty] "));
    // Keep draining so that `up` can print its last lines and exit.
    let drain = std::thread::spawn(move || {
        let _ = std::io::copy(&mut stdout, &mut std::io::sink());
    });
    let stop = p.dx(&["stop"]);
    assert!(stop.status.success(), "{}", text(&stop));
    assert!(wait_exit(&mut up, 60).success());
    drain.join().unwrap();
}

/// Class 2, the other half: `dxforge stop` reaches an `up` whose stdout
/// nobody reads, stops the tools, and `up` exits (it gives the reader a
/// moment for the last lines, then leaves them).
#[test]
fn stop_ends_up_while_nobody_reads_its_stdout() {
    let p = Project::new(
        "dxsup",
        &sh_tool("chatty", "while :; do seq 1 2000; sleep 0.01; done", ""),
    );
    let mut up = Up::start(&p, &["up"], Stdio::piped());
    let stdout = up.stdout.take().unwrap();
    wait_until(60, "up's stdout pipe to fill", || {
        pipe_fill(&stdout) >= 32 * 1024
    });
    let pid = p.tool_state("chatty")["pid"].as_u64().unwrap() as u32;
    let stop = p.dx(&["stop"]);
    assert!(stop.status.success(), "{}", text(&stop));
    assert!(wait_exit(&mut up, 60).success());
    assert!(!pid_alive(pid), "the tool survived `dxforge stop`");
    drop(stdout);
}

/// Class 3: after a burst of more lines than the log broadcast holds (4,096),
/// the printer task ended on `Lagged` and `up` printed nothing more for the
/// rest of its life.
#[test]
fn output_resumes_after_a_burst_larger_than_the_broadcast() {
    let config = sh_tool(
        "burst",
        "seq 1 100000; touch burst-done; \
         while [ ! -e go ]; do sleep 0.05; done; echo after-the-burst; exec sleep 1000",
        "restart = \"never\"",
    );
    let p = Project::new("dxsup", &config);
    let mut up = Up::start(&p, &["up"], Stdio::piped());
    let mut stdout = up.stdout.take().unwrap();
    // Not read during the burst: the broadcast and the print queue overflow.
    wait_until(60, "the burst to end", || p.path("burst-done").exists());
    std::fs::write(p.path("go"), "").unwrap();
    let mut seen = String::new();
    read_until(&mut stdout, &mut seen, |s| {
        s.contains("[burst] after-the-burst\n")
    });
    let shown = seen
        .lines()
        .filter(|l| {
            l.strip_prefix("[burst] ")
                .is_some_and(|n| n.parse::<u64>().is_ok())
        })
        .count() as u64;
    let dropped: u64 = seen
        .lines()
        .filter(|l| l.starts_with("[dxforge] ") && l.contains(" dropped"))
        .map(|l| l.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap())
        .sum();
    assert!(dropped > 0, "the burst was not larger than the queues");
    // Every line of the burst is shown or counted (a few of dxforge's own
    // lines may be among the counted ones).
    assert!(
        shown + dropped >= 100_000,
        "shown {shown}, dropped {dropped}"
    );
    assert!(shown < 100_000);
    let drain = std::thread::spawn(move || {
        let _ = std::io::copy(&mut stdout, &mut std::io::sink());
    });
    assert!(p.dx(&["stop"]).status.success());
    assert!(wait_exit(&mut up, 60).success());
    drain.join().unwrap();
}

/// Class 4: a line without a newline was buffered whole. It is cut at
/// 64 KiB, and the rest follows as marked continuation lines.
#[test]
fn line_without_newline_is_capped() {
    let config = sh_tool(
        "blob",
        "head -c 200000 /dev/zero | tr '\\0' a; echo; echo end-of-blob; exec sleep 1000",
        "",
    );
    let p = Project::new("dxsup", &config);
    let mut up = Up::start(&p, &["up"], Stdio::null());
    let mut doc = serde_json::Value::Null;
    wait_until(60, "the blob's last line", || {
        let out = p.dx(&["--json", "logs", "blob", "-n", "10"]);
        doc = serde_json::from_slice(&out.stdout).unwrap_or_default();
        doc["lines"]
            .as_array()
            .is_some_and(|l| l.last().is_some_and(|l| l == "end-of-blob"))
    });
    let lines: Vec<&str> = doc["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    let pieces = &lines[..lines.len() - 1];
    assert_eq!(pieces.len(), 4, "200,000 bytes in 64 KiB pieces");
    assert_eq!(pieces[0].len(), 65536);
    let mut total = pieces[0].len();
    for piece in &pieces[1..] {
        let rest = piece
            .strip_prefix("[continued] ")
            .expect("marked continuation");
        assert!(rest.len() <= 65536);
        assert!(rest.bytes().all(|b| b == b'a'));
        total += rest.len();
    }
    assert_eq!(total, 200_000, "nothing lost");
    assert!(p.dx(&["stop"]).status.success());
    assert!(wait_exit(&mut up, 60).success());
}

/// Class 5: idle connections to the control socket exhausted `up`'s
/// descriptors; accept then spun on EMFILE, `status` hung, and a tool that
/// crashed meanwhile was never restarted. Here `up` runs under a hard
/// limit of 512 descriptors and gets 2,000 connections that never send.
#[test]
fn two_thousand_idle_connections_do_not_stop_status() {
    let p = Project::new("dxsup", &crasher());
    let mut cmd = p.cmd(&["up"]);
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    // SAFETY: setrlimit is async-signal-safe; nothing else runs in the child.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 256,
                rlim_max: 512,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut up = Up(cmd.spawn().unwrap());
    p.wait_status("crasher", "running");
    let sock = p.path(".dxforge/control.sock");
    // From a thread: a server that stopped accepting makes `connect` block
    // (full backlog), and the test must fail, not hang.
    let idle = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let connected = idle.clone();
    std::thread::spawn(move || {
        for _ in 0..2000 {
            let Ok(conn) = UnixStream::connect(&sock) else {
                return;
            };
            connected.lock().unwrap().push(conn);
        }
    });
    wait_until(60, "2,000 connections", || {
        idle.lock().unwrap().len() == 2000
    });
    let status = p.dx(&["status"]);
    assert!(status.status.success(), "{}", text(&status));
    assert!(String::from_utf8_lossy(&status.stdout).contains("crasher"));
    assert!(open_descriptors(up.id()) < 512);
    // A crash while the socket is flooded is still restarted.
    std::fs::write(p.path("crash-now"), "").unwrap();
    wait_until(60, "the crashed tool's restart", || {
        let s = p.tool_state("crasher");
        s["restarts"] == 1 && s["status"]["status"] == "running"
    });
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", up.id())).unwrap();
    let soft = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .unwrap()
        .to_owned();
    assert_eq!(soft, "512", "up raises its soft limit to the hard one");

    idle.lock().unwrap().clear();
    assert!(p.dx(&["stop"]).status.success());
    assert!(wait_exit(&mut up, 60).success());
}

/// Class 6: Ctrl-C of a `dxforge run` served by a running `up` left the run
/// going inside `up`, invisible in `status`. Now the server drops the run
/// when its client goes away, and the run's whole tree is killed.
#[test]
fn ctrl_c_of_run_client_stops_the_run_inside_up() {
    let mut config = sh_tool("svc", "exec sleep 1000", "");
    config.push_str(&sh_tool(
        "long",
        "sleep 1000 & echo $! > grandchild.pid; wait",
        "",
    ));
    let p = Project::new("dxsup", &config);
    let mut up = Up::start(&p, &["up", "svc"], Stdio::null());
    p.wait_status("svc", "running");
    let mut run = p
        .cmd(&["run", "long"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid_file = p.path("grandchild.pid");
    let mut grandchild = 0;
    wait_until(60, "the run's grandchild", || {
        grandchild = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        grandchild != 0
    });
    assert!(pid_alive(grandchild));
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(run.id() as i32, libc::SIGINT) };
    assert!(!wait_exit(&mut run, 60).success());
    wait_until(60, "the run's tree to be killed", || !pid_alive(grandchild));
    assert_eq!(p.tool_state("svc")["status"]["status"], "running");
    assert!(p.dx(&["stop"]).status.success());
    assert!(wait_exit(&mut up, 60).success());
}

/// Class 8: `run TOOL` without `-- ARGS` ran the binary with no arguments;
/// it runs the configured `args`, and `-- ARGS` are appended to them.
#[test]
fn run_without_args_uses_configured_args() {
    let mut config = sh_tool("svc", "exec sleep 1000", "");
    config.push_str(
        "[tools.show]\nbinary_path = \"/bin/sh\"\nargs = [\"-c\", \"echo \\\"args:$*\\\"\", \"sh\", \"configured\"]\n",
    );
    let p = Project::new("dxsup", &config);
    let out = p.dx(&["run", "show"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "args:configured"
    );
    let out = p.dx(&["run", "show", "--", "more", "x y"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "args:configured more x y",
        "{}",
        text(&out)
    );
    // The same through a running `up`'s control socket.
    let mut up = Up::start(&p, &["up", "svc"], Stdio::null());
    p.wait_status("svc", "running");
    let out = p.dx(&["run", "show", "--", "via-up"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "args:configured via-up",
        "{}",
        text(&out)
    );
    assert!(p.dx(&["stop"]).status.success());
    assert!(wait_exit(&mut up, 60).success());
}

/// Stress (class 4): a tool printing 100 MB as fast as it can, with `up`'s
/// stdout never read. The supervisor's peak RSS (VmHWM) is printed and
/// must stay far below the flood's size.
#[test]
fn flood_of_100_mb_keeps_the_supervisor_memory_bounded() {
    for (name, script) in [
        (
            "lines",
            "yes 'a line of a hundred bytes ........................................................................' | head -c 100000000; touch flood-done; exec sleep 1000",
        ),
        (
            "no-newline",
            "head -c 100000000 /dev/zero; touch flood-done; exec sleep 1000",
        ),
    ] {
        let p = Project::new("dxsup", &sh_tool("flood", script, ""));
        let mut up = Up::start(&p, &["up"], Stdio::piped());
        let pid = up.id();
        let mut peak_kb = 0u64;
        wait_until(60, "the flood to end", || {
            if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
                peak_kb = status
                    .lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.split_whitespace().next())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(peak_kb);
            }
            p.path("flood-done").exists()
        });
        // The tool's output may still be in its pipe: wait for the log.
        wait_until(60, "the log to take the flood", || {
            std::fs::metadata(p.path(".dxforge/logs/flood.log")).is_ok_and(|m| m.len() > 0)
        });
        let status = p.dx(&["status"]);
        assert!(status.status.success(), "{}", text(&status));
        if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            peak_kb = s
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(peak_kb);
        }
        println!("flood {name}: supervisor VmHWM {peak_kb} kB under a 100 MB flood");
        assert!(peak_kb < 100 * 1024, "{name}: VmHWM {peak_kb} kB");
        let mut stdout = up.stdout.take().unwrap();
        let drain = std::thread::spawn(move || {
            let _ = std::io::copy(&mut stdout, &mut std::io::sink());
        });
        assert!(p.dx(&["stop"]).status.success());
        assert!(wait_exit(&mut up, 60).success());
        drain.join().unwrap();
    }
}
