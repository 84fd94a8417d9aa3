//! Stopping: the stop command to a supervising task, the stop escalation
//! it runs, and the blocking stop of the shutdown path.

use std::time::{Duration, Instant};

use super::child::{ChildProcess, Signal};
use super::control::{Control, panic_message};
use super::state::{Life, Tool};
use crate::ExitStatus;
use crate::error::{OrchestratorError, Result};

/// Stops the tool's supervised run, if any; a `Degraded` (or `Broken`)
/// tool becomes `Stopped`. The caller holds `tool.gate`. A supervising task
/// that panicked during the stop is an internal error.
pub(crate) async fn stop(tool: &Tool) -> Result<()> {
    let run = tool.run.lock().take();
    if let Some(run) = run {
        let was_broken = matches!(tool.life(), Life::Broken { .. });
        // A finished task ignores the command; the send only fails then.
        let _ = run.tx.send(Control::Stop);
        if let Err(e) = run.task.await
            && let Ok(payload) = e.try_into_panic()
        {
            return Err(OrchestratorError::Internal {
                tool: tool.name.clone(),
                message: panic_message(payload.as_ref()),
            });
        }
        if let Life::Broken { message } = tool.life()
            && !was_broken
        {
            // The task panicked during this stop; its guard killed the tree.
            tool.set(Life::Stopped, "stopped", |_| {});
            return Err(OrchestratorError::Internal {
                tool: tool.name.clone(),
                message,
            });
        }
    }
    if matches!(tool.life(), Life::Degraded { .. } | Life::Broken { .. }) {
        tool.set(Life::Stopped, "stopped", |_| {});
    }
    Ok(())
}

/// Stops the live process with blocking waits, no runtime needed (the
/// shutdown path): stop signal, tree kill after the grace, hard kill.
pub(crate) fn stop_blocking(tool: &Tool) {
    if let Some(run) = tool.run.lock().as_ref() {
        let _ = run.tx.send(Control::Stop);
    }
    let remote = tool.remote.lock().clone();
    if let Some(remote) = remote {
        let policy = &tool.policy;
        if remote.signal(first_signal(policy.stop_signal))
            && !remote.wait_exit_blocking(policy.stop_timeout)
        {
            remote.signal(Signal::KillTree);
            if !remote.wait_exit_blocking(policy.kill_grace) {
                remote.signal(Signal::KillHard);
                remote.wait_exit_blocking(Duration::from_secs(1));
            }
        }
    }
    tool.set(Life::Stopped, "shut down", |_| {});
}

fn first_signal(stop_signal: libc::c_int) -> Signal {
    if stop_signal == libc::SIGKILL {
        Signal::KillTree
    } else {
        Signal::Stop(stop_signal)
    }
}

/// A stop asked for: shows `Stopping`, then [`terminate`].
pub(super) async fn stop_sequence<C: ChildProcess>(tool: &Tool, child: &mut C) -> ExitStatus {
    let shown = tool.status();
    // During a shutdown `stop_blocking` may already have declared the tool
    // stopped; showing `Stopping` after that would move it backwards.
    tool.set_unless(
        |life| tool.shutting_down() && matches!(life, Life::Stopped),
        Life::Stopping {
            deadline: Instant::now() + tool.policy.stop_timeout,
            pid: child.pid(),
            shown,
        },
        "stopping",
        |_| {},
    );
    terminate(tool, child).await
}

/// The stop escalation: stop signal to the tree, tree kill after
/// `stop_timeout`, hard kill after `kill_grace`.
pub(super) async fn terminate<C: ChildProcess>(tool: &Tool, child: &mut C) -> ExitStatus {
    let policy = &tool.policy;
    let remote = child.remote();
    if tool.shutting_down() {
        // `stop_blocking` sends the stop signal and escalates after the
        // tool's grace; only reap here, or the grace would be cut short.
        let limit = policy.stop_timeout + policy.kill_grace * 2;
        if let Ok(exit) = tokio::time::timeout(limit, child.wait()).await {
            return exit;
        }
    } else {
        remote.signal(first_signal(policy.stop_signal));
        if let Ok(exit) = tokio::time::timeout(policy.stop_timeout, child.wait()).await {
            return exit;
        }
    }
    remote.signal(Signal::KillTree);
    if let Ok(exit) = tokio::time::timeout(policy.kill_grace, child.wait()).await {
        return exit;
    }
    remote.signal(Signal::KillHard);
    child.wait().await
}
