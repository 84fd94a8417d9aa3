//! If the host process dies, its tools and their escaped descendants die too.

use crate::common;

use common::*;

/// Runs only inside the child host started by `tools_die_with_their_host`.
#[test]
#[ignore = "helper host process, run by tools_die_with_their_host"]
fn host_process() {
    let Ok(dir) = std::env::var("DXFORGE_TEST_HOST_DIR") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let p = Project::new();
    let pidfile = dir.join("grandchild.pid");
    let pid = start_forker(&p, &pidfile);
    publish_pid(&dir, "tool.pid", pid);
    std::thread::sleep(std::time::Duration::from_secs(60));
}

#[test]
fn tools_die_with_their_host() {
    let dir = tempfile::tempdir().unwrap();
    let mut host = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "host_death::host_process",
            "--ignored",
            "--nocapture",
        ])
        .env("DXFORGE_TEST_HOST_DIR", dir.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let tool_pid = read_pid(&dir.path().join("tool.pid"));
    let grandchild = read_pid(&dir.path().join("grandchild.pid"));
    assert!(proc_state(tool_pid).is_some_and(|s| s != 'Z'));
    host.kill().unwrap();
    host.wait().unwrap();
    wait_until(10, "tool killed and reaped after host death", || {
        gone(tool_pid)
    });
    wait_until(
        10,
        "escaped grandchild killed and reaped after host death",
        || gone(grandchild),
    );
}
