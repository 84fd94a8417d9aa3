//! Regression tests of the core's trust fixes (issue 9), one per class, each
//! named after what it guards; the comment above each names the attack.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Arc;

use dxforge::config::{MAX_CONFIG_BYTES, ProjectConfig, ranges};
use dxforge::control::{self, MAX_REQUEST_LINE, parse_request_line};
use dxforge::pipeline::Command;
use dxforge::{DxForge, ErrorKind};

fn parse(text: &str) -> Result<ProjectConfig, String> {
    ProjectConfig::parse(text, Path::new("/p/dxforge.toml")).map_err(|e| e.to_string())
}

/// Asserts `text` is refused with `dxforge.toml:LINE:COL: key `KEY`: …out of range…`.
fn assert_out_of_range(text: &str, line: usize, key: &str) {
    let msg = parse(text).expect_err(text);
    assert!(
        msg.starts_with(&format!("/p/dxforge.toml:{line}:")),
        "{msg}"
    );
    assert!(msg.contains(&format!("key `{key}`")), "{msg}");
    assert!(msg.contains("out of range"), "{msg}");
}

// Attack: `queue_capacity = 4294967296` made the worker allocate it (abort) or run away.
#[test]
fn config_refuses_worker_queue_capacity_beyond_its_range() {
    assert_out_of_range(
        "[worker]\nqueue_capacity = 4294967296\n",
        2,
        "worker.queue_capacity",
    );
    assert_out_of_range("[worker]\nqueue_capacity = 0\n", 2, "worker.queue_capacity");
    assert_out_of_range(
        "[worker]\nqueue_capacity = 1048577\n",
        2,
        "worker.queue_capacity",
    );
    let ok = parse("[worker]\nqueue_capacity = 1048576\nconcurrency = 256\n").unwrap();
    assert_eq!(ok.worker.queue_capacity, 1_048_576);
    // The refusal comes before anything is built: opening the project fails.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("dxforge.toml"),
        "[worker]\nqueue_capacity = 4294967296\n",
    )
    .unwrap();
    let err = DxForge::open(dir.path()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(err.to_string().contains("dxforge.toml:2:"), "{err}");
}

// Attack: `concurrency = 100000000` spawned that many consumers.
#[test]
fn config_refuses_worker_concurrency_beyond_its_range() {
    assert_out_of_range(
        "[worker]\nconcurrency = 100000000\n",
        2,
        "worker.concurrency",
    );
    assert_out_of_range("[worker]\nconcurrency = 0\n", 2, "worker.concurrency");
    // Dotted keys and inline tables are located too.
    assert_out_of_range("worker.concurrency = 257\n", 1, "worker.concurrency");
    assert_out_of_range(
        "worker = { concurrency = 999 }\n\n[project]\nname = \"x\"\n",
        1,
        "worker.concurrency",
    );
}

// Attack: a huge `*_ms` overflowed `Instant + Duration` (panic) or made a wait endless.
#[test]
fn config_refuses_every_tool_number_out_of_its_range() {
    let cases = [
        ("health_interval_ms", ranges::HEALTH_INTERVAL_MS),
        ("startup_timeout_ms", ranges::STARTUP_TIMEOUT_MS),
        ("max_restarts", ranges::MAX_RESTARTS),
        ("stop_timeout_ms", ranges::STOP_TIMEOUT_MS),
    ];
    for (field, range) in cases {
        let text = |v: u64| format!("[tools.db]\nbinary_path = \"x\"\n{field} = {v}\n");
        assert_out_of_range(&text(range.end() + 1), 3, &format!("tools.db.{field}"));
        // Beyond the type (u32 fields): refused by the type, still naming line and key.
        let msg = parse(&text(i64::MAX as u64)).unwrap_err();
        assert!(
            msg.starts_with("/p/dxforge.toml:3:") && msg.contains(&format!("tools.db.{field}")),
            "{msg}"
        );
        if *range.start() > 0 {
            assert_out_of_range(&text(range.start() - 1), 3, &format!("tools.db.{field}"));
        }
        parse(&text(*range.end())).unwrap();
        parse(&text(*range.start())).unwrap();
    }
    // priority is the whole u32 range: beyond it the type refuses, naming the key.
    let msg = parse("[tools.db]\nbinary_path = \"x\"\npriority = 4294967296\n").unwrap_err();
    assert!(
        msg.contains(":3:") && msg.contains("tools.db.priority"),
        "{msg}"
    );
    // Negative numbers: refused by the type, naming the key.
    let msg = parse("[tools.db]\nbinary_path = \"x\"\nstop_timeout_ms = -1\n").unwrap_err();
    assert!(
        msg.contains(":3:") && msg.contains("tools.db.stop_timeout_ms"),
        "{msg}"
    );
}

// Attack: a remote that accepts connections and never answers held a command for 120 s.
#[test]
fn config_remote_timeouts_have_defaults_and_ranges() {
    let c = parse("[remote]\nbucket = \"b\"\n").unwrap();
    let remote = c.remote.unwrap();
    assert_eq!(
        (remote.connect_timeout_ms, remote.request_timeout_ms),
        (5_000, 30_000)
    );
    for key in ["connect_timeout_ms", "request_timeout_ms"] {
        assert_out_of_range(
            &format!("[remote]\nbucket = \"b\"\n{key} = 99\n"),
            3,
            &format!("remote.{key}"),
        );
        assert_out_of_range(
            &format!("[remote]\nbucket = \"b\"\n{key} = 600001\n"),
            3,
            &format!("remote.{key}"),
        );
        parse(&format!("[remote]\nbucket = \"b\"\n{key} = 100\n")).unwrap();
    }
}

// Attack: a 50 MB dxforge.toml took 4.3 GB of memory to parse.
#[test]
fn oversized_config_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dxforge.toml");
    let file = std::fs::File::create(&path).unwrap();
    // Sparse: 50 MB that costs no disk; the size check must come before any read.
    file.set_len(50 * 1024 * 1024).unwrap();
    drop(file);
    let err = DxForge::open(dir.path()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("dxforge.toml") && msg.contains("1048576"),
        "{msg}"
    );
    // One byte over the cap is refused too, exactly at the cap parses (comments).
    let mut text = "#".repeat(MAX_CONFIG_BYTES as usize - 1);
    text.push('\n');
    std::fs::write(&path, &text).unwrap();
    DxForge::open(dir.path()).unwrap().shutdown().unwrap();
    text.push('\n');
    std::fs::write(&path, &text).unwrap();
    assert_eq!(
        DxForge::open(dir.path()).unwrap_err().kind(),
        ErrorKind::Config
    );
    assert!(
        ProjectConfig::parse(&text, &path)
            .unwrap_err()
            .to_string()
            .contains("larger than")
    );
}

// Attack: a planted `dxforge.toml` FIFO (or link to /dev/zero) hung or flooded every command.
#[test]
fn config_that_is_a_fifo_or_a_link_is_refused_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dxforge.toml");
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: mkfifo with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let err = DxForge::open(dir.path()).unwrap_err();
    assert!(err.to_string().contains("dxforge.toml"), "{err}");
    std::fs::remove_file(&path).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &path).unwrap();
    let err = DxForge::open(dir.path()).unwrap_err();
    assert!(err.to_string().contains("dxforge.toml"), "{err}");
}

// Attack: a config that is not UTF-8 must be a located error, not a panic or a silent skip.
#[test]
fn config_that_is_not_utf8_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("dxforge.toml"),
        b"[project]\nname = \"\xff\"\n",
    )
    .unwrap();
    let err = DxForge::open(dir.path()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("dxforge.toml:2:9"), "{err}");
}

// Attack: a control client sending an endless or malformed line made the server buffer it all or panic.
#[test]
fn control_request_line_is_bounded_and_never_panics() {
    assert_eq!(
        parse_request_line(b"{\"command\": \"status\"}\n").unwrap(),
        Command::Status
    );
    let long = format!("{{\"command\": \"logs {}\"}}", "x".repeat(MAX_REQUEST_LINE));
    let err = parse_request_line(long.as_bytes()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Usage);
    assert!(err.to_string().contains("longer than"), "{err}");
    for bad in [
        &b""[..],
        b"\xff\xfe",
        b"[1,2]",
        b"{\"command\": 3}",
        b"{\"command\": \"status\", \"x\": 1}",
        b"{\"command\": \"'unclosed\"}",
        b"{\"command\": \"\\u0000\"}",
        b"{\"command\": \"frobnicate\"}",
        b"{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{",
    ] {
        let err = parse_request_line(bad).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Usage, "{bad:?}: {err}");
    }
    // Deep nesting must not overflow the stack.
    let deep = "[".repeat(100_000);
    assert!(parse_request_line(deep.as_bytes()).is_err());
    // Seeded random bytes and mutated requests: never a panic.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let seed = b"{\"command\": \"add button@^1.2 --dry-run\"}";
    for _ in 0..20_000 {
        let mut line = seed.to_vec();
        for _ in 0..(next() % 6) {
            let i = (next() as usize) % line.len();
            line[i] = next() as u8;
        }
        let _ = parse_request_line(&line);
    }
}

// Attack: the same, against the running server: an overlong line is answered with an error.
#[test]
fn control_server_answers_an_overlong_request_with_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let forge = DxForge::open(dir.path()).unwrap();
    let _lock = control::lock_up(forge.root()).unwrap();
    let server = control::serve(forge.clone(), Arc::new(tokio::sync::Notify::new())).unwrap();
    let mut stream = UnixStream::connect(control::socket_path(forge.root())).unwrap();
    // No newline, far past the bound: the server stops reading at the bound.
    let junk = vec![b'x'; 4 * MAX_REQUEST_LINE];
    let _ = stream.write_all(&junk);
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let doc: serde_json::Value = serde_json::from_str(answer.trim()).unwrap();
    assert_eq!(doc["ok"], false, "{answer}");
    assert_eq!(doc["code"], "USAGE", "{answer}");
    // The server still works.
    let outcome = control::request(forge.root(), "status").unwrap().unwrap();
    assert_eq!(outcome.exit_code, 0);
    drop(server);
    forge.shutdown().unwrap();
}

// Attack: a planted `.dxforge/up.lock` link made `dxforge up` truncate a file outside the project.
#[test]
fn up_lock_is_not_written_through_a_planted_link() {
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".dxforge")).unwrap();
    std::os::unix::fs::symlink(&victim, dir.path().join(".dxforge/up.lock")).unwrap();
    assert!(control::lock_up(dir.path()).is_err());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    // A `.dxforge` that is itself a link is refused as well.
    let dir2 = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), dir2.path().join(".dxforge")).unwrap();
    std::fs::write(outside.path().join("up.lock"), "precious\n").unwrap();
    let err = control::lock_up(dir2.path()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnsafePath, "{err}");
    assert_eq!(
        std::fs::read_to_string(outside.path().join("up.lock")).unwrap(),
        "precious\n"
    );
}

// Attack: `init` in a cloned repository whose `.gitignore` is a link wrote through it.
#[test]
fn init_does_not_write_through_a_planted_gitignore_link() {
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(&victim, dir.path().join(".gitignore")).unwrap();
    let forge = DxForge::open(dir.path()).unwrap();
    let err = dxforge::runtime::block_on(forge.run_pipeline("init"))
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnsafePath, "{err}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    forge.shutdown().unwrap();
}

// Attack: a tool or file name with a newline or escape sequence faked lines of the status table.
#[test]
fn status_table_escapes_tool_names() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("dxforge.toml"),
        "[tools.\"ok\\nfake  healthy  1  0\"]\nbinary_path = \"/bin/true\"\n",
    )
    .unwrap();
    let forge = DxForge::open(dir.path()).unwrap();
    let out = dxforge::runtime::block_on(forge.run_pipeline("status"))
        .unwrap()
        .unwrap();
    assert_eq!(out.text.lines().count(), 2, "{}", out.text);
    assert!(
        out.text.contains("\"ok\\nfake  healthy  1  0\""),
        "{}",
        out.text
    );
    // JSON keeps the exact name.
    assert_eq!(out.json["tools"][0]["name"], "ok\nfake  healthy  1  0");
    forge.shutdown().unwrap();
}

// Attack (crash): a restore killed mid-way left temporary files in the tree that no later command removed.
#[test]
fn restore_removes_temp_files_a_killed_restore_left() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("src")).unwrap();
    std::fs::write(dir.path().join("src/app.txt"), "v1\n").unwrap();
    let forge = DxForge::open(dir.path()).unwrap();
    let snap = forge.snapshot().unwrap();
    let leftover = dir.path().join("src/.app.txt.dxforge-0123456789abcdef.tmp");
    std::fs::write(&leftover, "half").unwrap();
    // Not ours to touch: a look-alike inside `.git`.
    std::fs::create_dir_all(dir.path().join(".git")).unwrap();
    let in_git = dir.path().join(".git/.x.dxforge-0123456789abcdef.tmp");
    std::fs::write(&in_git, "git's").unwrap();
    forge.restore(&snap.id).unwrap();
    assert!(
        !leftover.exists(),
        "the leftover temp file survived restore"
    );
    assert!(in_git.exists());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("src/app.txt")).unwrap(),
        "v1\n"
    );
    forge.shutdown().unwrap();
}

// Attack: a planted `.dxforge/control.sock` link sent `status`/`run` to another program's socket and trusted its answer.
#[test]
fn control_client_ignores_a_planted_socket_link() {
    let outside = tempfile::tempdir().unwrap();
    let other = outside.path().join("other.sock");
    let listener = std::os::unix::net::UnixListener::bind(&other).unwrap();
    listener.set_nonblocking(true).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".dxforge")).unwrap();
    std::os::unix::fs::symlink(&other, dir.path().join(".dxforge/control.sock")).unwrap();
    // Treated as "no supervisor": the command runs locally.
    assert!(control::request(dir.path(), "status").unwrap().is_none());
    assert!(
        listener.accept().is_err(),
        "the planted socket was contacted"
    );
}
