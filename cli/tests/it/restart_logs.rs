//! `dxforge restart` and `dxforge logs` (follow, since, every tool) against
//! a real `dxforge up` supervising real `sh` tools.

use std::process::{Child, Stdio};

use crate::support::{Project, text, wait_exit, wait_until};

/// A running `dxforge up`, killed if the test fails before it ends.
struct Up(Child);

impl Up {
    fn start(p: &Project, args: &[&str]) -> Up {
        let up = Up(p
            .cmd(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap());
        wait_until(60, "up's control socket", || {
            p.path(".dxforge/control.sock").exists()
        });
        up
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

/// `status --json`'s entry for `tool`.
fn state(p: &Project, tool: &str) -> serde_json::Value {
    let out = p.dx(&["--json", "status"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("status answered no JSON ({e}): {}", text(&out)));
    doc["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == tool)
        .cloned()
        .unwrap_or_else(|| panic!("no {tool} in {doc}"))
}

fn pid(p: &Project, tool: &str) -> Option<u64> {
    state(p, tool)["pid"].as_u64()
}

fn wait_up(p: &Project, tool: &str) -> u64 {
    let mut found = None;
    wait_until(60, &format!("{tool} to be up"), || {
        let s = state(p, tool);
        let st = &s["status"]["status"];
        found = s["pid"].as_u64();
        (st == "running" || st == "healthy") && found.is_some()
    });
    found.unwrap()
}

/// `db` becomes healthy half a second after it starts (its `db.pid` file
/// appears, and goes on SIGTERM); `web` depends on it and records, when it
/// starts, which `db` it saw.
const DB_AND_WEB: &str = r#"
[tools.db]
binary_path = "/bin/sh"
args = ["-c", "trap 'rm -f db.pid; exit 0' TERM; sleep 0.5; echo $$ > db.pid; while :; do sleep 0.05; done"]
health = { command = ["/bin/sh", "-c", "test -s db.pid"] }
health_interval_ms = 20
stop_timeout_ms = 2000

[tools.web]
binary_path = "/bin/sh"
args = ["-c", "cat db.pid >> web-saw 2>/dev/null || echo none >> web-saw; exec sleep 1000"]
dependencies = ["db"]
stop_timeout_ms = 2000
"#;

#[test]
fn restart_through_up_restarts_dependents_after_the_dependency_is_ready_again() {
    let p = Project::new("dxrestart", DB_AND_WEB);
    let mut up = Up::start(&p, &["up"]);
    let db1 = wait_up(&p, "db");
    let web1 = wait_up(&p, "web");
    let out = p.dx(&["--json", "restart", "db"]);
    assert!(out.status.success(), "{}", text(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["restarted"], serde_json::json!(["db", "web"]), "{doc}");
    let db2 = wait_up(&p, "db");
    let web2 = wait_up(&p, "web");
    assert_ne!(db1, db2, "db has a new process");
    assert_ne!(web1, web2, "web has a new process");
    // Each start of web saw a ready db: the second one the new db. (Web is
    // running once spawned: its line may still be on its way.)
    let lines = || std::fs::read_to_string(p.path("web-saw")).unwrap_or_default();
    wait_until(60, "web's second start to write", || {
        lines().lines().count() >= 2
    });
    let saw = lines();
    let saw: Vec<&str> = saw.lines().collect();
    assert_eq!(saw.len(), 2, "{saw:?}");
    let db_shell_pids: Vec<String> = vec![db1.to_string(), db2.to_string()];
    assert_eq!(saw, db_shell_pids, "web started after db was ready again");
    // Restarting only the dependent leaves its dependency alone.
    let out = p.dx(&["restart", "web"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("restarted web"), "{}", text(&out));
    assert_eq!(pid(&p, "db"), Some(db2));
    assert_ne!(wait_up(&p, "web"), web2);
    // An unknown tool is an error naming it, and nothing is restarted.
    let out = p.dx(&["restart", "web", "nosuch"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("nosuch"), "{}", text(&out));
    assert_eq!(pid(&p, "db"), Some(db2));
    assert!(p.dx(&["stop"]).status.success());
    assert!(wait_exit(&mut up.0, 60).success());
}

#[test]
fn restart_without_up_is_an_error_that_says_so_and_starts_nothing() {
    let p = Project::new("dxrestart", DB_AND_WEB);
    let out = p.dx(&["restart", "web"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("no `dxforge up` is running"),
        "{}",
        text(&out)
    );
    assert!(!p.path("web-saw").exists(), "nothing was started");
    // No tool names: a usage error.
    assert_eq!(p.dx(&["restart"]).status.code(), Some(2));
}

/// A one-shot `migrate` (its exit code from the file `migrate-exit`) that
/// `web` waits for, and a project `.env` that `web`'s `env` and `args` use.
const MIGRATE_AND_WEB: &str = r#"
[project]
env_file = ".env"

[tools.migrate]
binary_path = "/bin/sh"
args = ["-c", "sleep 0.2; exit $(cat migrate-exit)"]
restart = "never"

[tools.web]
binary_path = "/bin/sh"
args = ["-c", "echo \"$GREETING $1\" > web-saw; exec sleep 1000", "sh", "${TARGET:-nobody}"]
env = { GREETING = "${WORD}, migrated" }
dependencies = [{ name = "migrate", condition = "completed_successfully" }]
health = { command = ["/bin/sh", "-c", "test -s web-saw"] }
health_interval_ms = 20
stop_timeout_ms = 2000
"#;

#[test]
fn up_runs_a_one_shot_dependency_to_success_first_with_the_project_env_file() {
    let p = Project::new("dxcond", MIGRATE_AND_WEB);
    std::fs::write(p.path(".env"), "WORD=hello\nTARGET=world\n").unwrap();
    std::fs::write(p.path("migrate-exit"), "0").unwrap();
    let out = p.dx(&["up", "--once", "web"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(p.path("web-saw")).unwrap(),
        "hello, migrated world\n"
    );
    // A failing migration: web is not started, and the error names both.
    std::fs::remove_file(p.path("web-saw")).unwrap();
    std::fs::write(p.path("migrate-exit"), "5").unwrap();
    let out = p.dx(&["up", "--once", "web"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = text(&out);
    assert!(err.contains("`web`") && err.contains("`migrate`"), "{err}");
    assert!(err.contains("exited with status 5"), "{err}");
    assert!(!p.path("web-saw").exists());
    // A missing env file is an error naming it.
    std::fs::remove_file(p.path(".env")).unwrap();
    std::fs::write(p.path("migrate-exit"), "0").unwrap();
    let out = p.dx(&["up", "--once", "web"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains(".env"), "{}", text(&out));
}

/// `a` and `b` print in a known interleaving; `talker` ticks until the file
/// `stop-now` appears, says bye and exits 0 (so it ends `Stopped`).
const TALKERS: &str = r#"
[tools.a]
binary_path = "/bin/sh"
args = ["-c", "echo a1; sleep 1; echo a2; exec sleep 1000"]
stop_timeout_ms = 2000

[tools.b]
binary_path = "/bin/sh"
args = ["-c", "sleep 0.5; echo b1; exec sleep 1000"]
stop_timeout_ms = 2000

[tools.talker]
binary_path = "/bin/sh"
args = ["-c", "i=0; while [ ! -e stop-now ]; do i=$((i+1)); echo tick $i; sleep 0.05; done; echo bye"]
restart = "on-failure"
stop_timeout_ms = 2000
"#;

/// Reads `child`'s stdout lines until `done(lines)`, in a thread; the lines
/// come back through the returned receiver.
fn line_reader(child: &mut Child) -> std::sync::mpsc::Receiver<String> {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn out_text(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn next_line(rx: &std::sync::mpsc::Receiver<String>) -> String {
    rx.recv_timeout(std::time::Duration::from_secs(60))
        .expect("a line from logs -f")
}

#[test]
fn logs_follow_streams_new_lines_and_ends_when_the_tool_stops() {
    let p = Project::new("dxlogs", TALKERS);
    let mut up = Up::start(&p, &["up"]);
    wait_until(60, "talker's first ticks", || {
        text(&p.dx(&["logs", "talker"])).contains("tick 3")
    });
    let mut follow = p.spawn(&["logs", "talker", "-f", "-n", "1"]);
    let rx = line_reader(&mut follow);
    // The backlog (one line), then new lines as they come, in order.
    let first: u32 = next_line(&rx).trim_start_matches("tick ").parse().unwrap();
    let mut last = first;
    for _ in 0..5 {
        let n: u32 = next_line(&rx).trim_start_matches("tick ").parse().unwrap();
        assert_eq!(n, last + 1, "no line lost or repeated");
        last = n;
    }
    std::fs::write(p.path("stop-now"), "").unwrap();
    let mut rest = Vec::new();
    while let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(60)) {
        rest.push(line);
    }
    assert_eq!(rest.last().map(String::as_str), Some("bye"), "{rest:?}");
    assert!(
        wait_exit(&mut follow, 60).success(),
        "ends cleanly with the tool"
    );
    // Follow of every tool: prefixed lines, and it ends when `up` ends.
    let mut all = p.spawn(&["logs", "-f"]);
    let rx = line_reader(&mut all);
    let line = next_line(&rx);
    assert!(line.starts_with('['), "{line}");
    assert!(!line.contains('\x1b'), "no colour on a pipe: {line:?}");
    assert!(p.dx(&["stop"]).status.success());
    assert!(wait_exit(&mut up.0, 60).success());
    assert!(wait_exit(&mut all, 60).success(), "ends cleanly with up");
}

#[test]
fn logs_without_a_tool_interleave_every_tool_by_time_and_since_filters() {
    let p = Project::new("dxlogs", TALKERS);
    std::fs::write(p.path("stop-now"), "").unwrap();
    let mut up = Up::start(&p, &["up", "a", "b"]);
    wait_until(60, "a2", || text(&p.dx(&["logs", "a"])).contains("a2"));
    let out = p.dx(&["logs"]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout, "[a] a1\n[b] b1\n[a] a2\n");
    let out = p.dx(&["--json", "logs"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["entries"][1]["tool"], "b");
    assert!(doc["entries"][1]["at_ms"].as_u64().unwrap() > 0);
    // --since: a duration and an RFC 3339 time.
    assert_eq!(out_text(&p.dx(&["logs", "a", "--since", "1h"])), "a1\na2\n");
    let out = p.dx(&["logs", "--since", "2999-01-01T00:00:00Z"]);
    assert!(
        out.status.success() && out.stdout.is_empty(),
        "{}",
        text(&out)
    );
    let out = p.dx(&["logs", "--since", "soon"]);
    assert_eq!(out.status.code(), Some(2), "a usage error: {}", text(&out));
    assert!(text(&out).contains("\"soon\""), "{}", text(&out));
    // An unknown tool is an error naming it, followed or not.
    for args in [&["logs", "nosuch"][..], &["logs", "nosuch", "-f"]] {
        let out = p.dx(args);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(text(&out).contains("nosuch"), "{}", text(&out));
    }
    assert!(p.dx(&["stop"]).status.success());
    assert!(wait_exit(&mut up.0, 60).success());
    // Without `up`: the files of the run, but no follow and no times.
    assert_eq!(out_text(&p.dx(&["logs", "b"])), "b1\n");
    for args in [&["logs", "-f"][..], &["logs", "a", "--since", "1h"]] {
        let out = p.dx(args);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(
            text(&out).contains("no `dxforge up` is running"),
            "{}",
            text(&out)
        );
    }
}
