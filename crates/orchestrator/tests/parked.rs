//! The parked shim pair each orchestrator keeps for its next cold start
//! (crate docs, "Spawning"). Real processes. These tests count processes of
//! the whole test binary, so they take turns.

#[path = "it/common.rs"]
mod common;

use std::sync::{Mutex, MutexGuard};

use common::*;
use dxforge_orchestrator::ToolStatus;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A project with a long-running tool `svc`, holding this binary's turn
/// until it is dropped (fields drop in order: the project first).
struct Turn {
    p: Project,
    _turn: MutexGuard<'static, ()>,
}

fn svc_project() -> Turn {
    let turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let p = Project::new();
    p.orch
        .register_tool(tool("svc", &["--sleep", "60000"]))
        .unwrap();
    Turn { p, _turn: turn }
}

fn one_parked() -> (u32, u32) {
    wait_until(10, "exactly one parked tool", || parked_tools().len() == 1);
    parked_tools()[0]
}

#[test]
fn a_cold_start_uses_the_parked_tool_and_parks_the_next_one() {
    let turn = svc_project();
    let p = &turn.p;
    // (A pair of the previous test may still be winding down.)
    wait_until(10, "nothing parked before a start", || {
        parked_tools().is_empty()
    });
    p.block(p.orch.ensure_running("svc")).unwrap();
    let (parked, _) = one_parked();
    p.block(p.orch.stop("svc")).unwrap();
    p.block(p.orch.ensure_running("svc")).unwrap();
    assert_eq!(
        p.orch.state("svc").unwrap().pid,
        Some(parked),
        "the second start runs in the parked process"
    );
    let (next, _) = one_parked();
    assert_ne!(next, parked);
    p.orch.shutdown_blocking();
    // A pair still being made when the orchestrator closed is cancelled by
    // the thread making it, a moment later.
    wait_until(10, "shutdown cancels the parked pair", || {
        parked_tools().is_empty()
    });
    wait_until(10, "no zombies", || our_zombies().is_empty());
}

#[test]
fn a_parked_tool_holds_no_descriptor_of_the_host() {
    let turn = svc_project();
    let p = &turn.p;
    // Open before the pair is made, so its processes start with a copy.
    let (reader, writer) = std::io::pipe().unwrap();
    p.block(p.orch.ensure_running("svc")).unwrap();
    let (parked, _) = one_parked();
    assert_eq!(open_fds(parked), vec![0, 1, 2]);
    drop(writer);
    assert_reaches_eof(reader);
}

#[test]
fn a_killed_parked_tool_is_replaced_not_used() {
    let turn = svc_project();
    let p = &turn.p;
    p.block(p.orch.ensure_running("svc")).unwrap();
    let (parked, shim) = one_parked();
    p.block(p.orch.stop("svc")).unwrap();
    // SAFETY: kill(2) on a process of this test.
    assert_eq!(unsafe { libc::kill(parked as i32, libc::SIGKILL) }, 0);
    wait_until(10, "the killed tool's shim exits", || {
        proc_state(shim).is_none_or(|s| s == 'Z')
    });
    p.block(p.orch.ensure_running("svc")).unwrap();
    let state = p.orch.state("svc").unwrap();
    assert!(matches!(state.status, ToolStatus::Running(_)), "{state:?}");
    assert_ne!(state.pid, Some(parked));
    p.orch.shutdown_blocking();
    wait_until(10, "no zombies", || our_zombies().is_empty());
}

/// Regression guard: a parked tool is kept off the starting thread's CPU
/// until its exec is committed; it must get its own CPU mask back.
#[test]
fn a_tool_started_from_a_parked_pair_gets_its_cpu_mask_back() {
    let allowed = |pid: &str| {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap()
            .lines()
            .find_map(|l| {
                l.strip_prefix("Cpus_allowed_list:")
                    .map(|v| v.trim().to_owned())
            })
            .unwrap()
    };
    let turn = svc_project();
    let p = &turn.p;
    p.block(p.orch.ensure_running("svc")).unwrap();
    let (parked, _) = one_parked();
    p.block(p.orch.stop("svc")).unwrap();
    p.block(p.orch.ensure_running("svc")).unwrap();
    assert_eq!(p.orch.state("svc").unwrap().pid, Some(parked));
    assert_eq!(allowed(&parked.to_string()), allowed("self"));
}
