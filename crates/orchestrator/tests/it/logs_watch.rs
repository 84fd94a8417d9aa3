//! Captured output (files, rotation, recent lines, broadcast) and watch mode.

use crate::common;

use std::time::Duration;

use common::*;
use dxforge_orchestrator::ToolStatus;

#[test]
fn output_goes_to_the_log_file_and_recent_lines() {
    let p = Project::new();
    p.orch
        .register_tool(tool(
            "talker",
            &["--print", "hello out", "--eprint", "hello err"],
        ))
        .unwrap();
    let mut logs = p.orch.subscribe_logs();
    p.block(p.orch.ensure_running("talker")).unwrap();
    let log = p.path(".dxforge/logs/talker.log");
    assert_eq!(p.orch.log_path("talker").unwrap(), log);
    wait_until(10, "both lines logged", || lines(&log).len() == 2);
    let mut file_lines = lines(&log);
    file_lines.sort();
    assert_eq!(file_lines, vec!["hello err", "hello out"]);
    let recent = p.orch.recent_logs("talker", 10).unwrap();
    assert_eq!(recent.len(), 2);
    assert!(
        recent
            .iter()
            .any(|l| l.stream == "stdout" && l.line == "hello out")
    );
    assert!(
        recent
            .iter()
            .any(|l| l.stream == "stderr" && l.line == "hello err")
    );
    let mut got = Vec::new();
    while let Ok((tool, line)) = logs.try_recv() {
        assert_eq!(tool, "talker");
        got.push(line.line);
    }
    got.sort();
    assert_eq!(got, vec!["hello err", "hello out"]);
}

#[test]
fn recent_lines_keep_only_the_last_ones() {
    let p = Project::new();
    p.orch
        .register_tool(tool("chatty", &["--lines", "250"]))
        .unwrap();
    p.block(p.orch.ensure_running("chatty")).unwrap();
    wait_until(10, "all lines captured", || {
        p.orch
            .recent_logs("chatty", 1)
            .unwrap()
            .first()
            .is_some_and(|l| l.line == "line 249")
    });
    // The buffer holds recent_lines = 100.
    let all = p.orch.recent_logs("chatty", 1000).unwrap();
    assert_eq!(all.len(), 100);
    assert_eq!(all[0].line, "line 150");
    let last3: Vec<String> = p
        .orch
        .recent_logs("chatty", 3)
        .unwrap()
        .into_iter()
        .map(|l| l.line)
        .collect();
    assert_eq!(last3, vec!["line 247", "line 248", "line 249"]);
}

#[test]
fn log_files_rotate_by_size() {
    let p = Project::with_log_limit(1_000);
    p.orch
        .register_tool(tool("chatty", &["--lines", "300"]))
        .unwrap();
    p.block(p.orch.ensure_running("chatty")).unwrap();
    let log = p.path(".dxforge/logs/chatty.log");
    let rotated = p.path(".dxforge/logs/chatty.log.1");
    wait_until(10, "last line written", || {
        lines(&log).last().is_some_and(|l| l == "line 299")
    });
    assert!(rotated.exists(), "rotated file exists");
    assert!(std::fs::metadata(&log).unwrap().len() <= 1_000);
    assert!(std::fs::metadata(&rotated).unwrap().len() <= 1_000);
    // The rotated file holds the lines right before the current file's first.
    let first_current: usize = lines(&log)[0].trim_start_matches("line ").parse().unwrap();
    let last_rotated: usize = lines(&rotated)
        .last()
        .unwrap()
        .trim_start_matches("line ")
        .parse()
        .unwrap();
    assert_eq!(last_rotated + 1, first_current);
}

#[test]
fn watch_restarts_a_tool_on_a_matching_change_and_ignores_dxforge() {
    let p = Project::new();
    std::fs::create_dir_all(p.path("src")).unwrap();
    std::fs::create_dir_all(p.path("probe")).unwrap();
    std::fs::create_dir_all(p.path(".dxforge")).unwrap();
    let mut t = tool("server", &[]);
    t.watch = vec!["src/**/*.rs".into(), ".dxforge/**".into()];
    p.orch.register_tool(t).unwrap();
    p.orch.register_tool(tool("other", &[])).unwrap();
    // Restarted by the last change of a batch, so the test can wait for the
    // watcher to have handled every change before it instead of sleeping.
    let mut probe = tool("probe", &[]);
    probe.watch = vec!["probe/*".into()];
    p.orch.register_tool(probe).unwrap();
    let ToolStatus::Running(first) = p.block(p.orch.ensure_running("server")).unwrap() else {
        panic!()
    };
    let ToolStatus::Running(other) = p.block(p.orch.ensure_running("other")).unwrap() else {
        panic!()
    };
    let ToolStatus::Running(probe_pid) = p.block(p.orch.ensure_running("probe")).unwrap() else {
        panic!()
    };
    // No wait: `watch` returns once the root is watched.
    let _watch = p.orch.watch(Duration::from_millis(100)).unwrap();

    // Under .dxforge/ (even though a glob matches) and non-matching files: no restart.
    std::fs::write(p.path(".dxforge/state"), "x").unwrap();
    std::fs::write(p.path("src/notes.txt"), "x").unwrap();
    std::fs::write(p.path("probe/seen"), "x").unwrap();
    wait_until(
        10,
        "the probe restarted (every earlier change handled)",
        || matches!(p.orch.status("probe").unwrap(), ToolStatus::Running(pid) if pid != probe_pid),
    );
    assert_eq!(p.orch.status("server").unwrap(), ToolStatus::Running(first));

    std::fs::write(p.path("src/main.rs"), "fn main() {}").unwrap();
    wait_until(
        10,
        "server restarted with a new pid",
        || matches!(p.orch.status("server").unwrap(), ToolStatus::Running(pid) if pid != first),
    );
    wait_until(10, "old process gone", || gone(first));
    assert_eq!(
        p.orch.status("other").unwrap(),
        ToolStatus::Running(other),
        "non-matching tool untouched"
    );
}

#[test]
fn a_tool_writing_its_own_watched_files_does_not_restart_forever() {
    let p = Project::new();
    std::fs::create_dir_all(p.path("gen")).unwrap();
    let out = p.path("gen/out.txt");
    let record = p.path("starts");
    let mut t = tool(
        "writer",
        &[
            "--record",
            record.to_str().unwrap(),
            "--touch",
            out.to_str().unwrap(),
        ],
    );
    t.watch = vec!["gen/*".into()];
    p.orch.register_tool(t).unwrap();
    p.block(p.orch.ensure_running("writer")).unwrap();
    let _watch = p.orch.watch(Duration::from_millis(100)).unwrap();
    std::fs::write(p.path("gen/input.txt"), "go").unwrap();
    wait_until(10, "one restart", || lines(&record).len() >= 2);
    // Its own write on restart falls into the quiet period: it settles.
    std::thread::sleep(Duration::from_millis(1500));
    let settled = lines(&record).len();
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(lines(&record).len(), settled, "no endless restart loop");
    assert!(settled <= 3, "restarted {settled} times");
}

#[test]
fn dropping_the_watch_handle_stops_watching() {
    let p = Project::new();
    std::fs::create_dir_all(p.path("src")).unwrap();
    let mut t = tool("server", &[]);
    t.watch = vec!["src/*".into()];
    p.orch.register_tool(t).unwrap();
    let ToolStatus::Running(first) = p.block(p.orch.ensure_running("server")).unwrap() else {
        panic!()
    };
    let watch = p.orch.watch(Duration::from_millis(100)).unwrap();
    drop(watch);
    std::fs::write(p.path("src/a"), "x").unwrap();
    // Nothing happening cannot be awaited: wait eight debounce periods.
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(p.orch.status("server").unwrap(), ToolStatus::Running(first));
}
