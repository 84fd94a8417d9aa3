//! The lifecycle logic: claiming a start, readiness, supervision with
//! restarts and backoff (the stop is in [`super::stopping`]). Written against
//! [`Launcher`] and [`ChildProcess`] only, so that it runs unchanged on
//! real processes and on the scripted mock of the unit tests.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::child::{ChildProcess, Launcher};
use super::control::{Control, RunHandle, guarded};
use super::state::{Life, Tool};
use super::stopping::{stop_sequence, terminate};
use crate::error::{OrchestratorError, Result};
use crate::{ExitStatus, RestartPolicy, ToolStatus};

/// Outcome of [`claim`].
pub(crate) enum Claim {
    /// Already running or healthy.
    Up(ToolStatus),
    /// The caller owns the start: it must call [`launch_claimed`].
    Claimed,
    /// Replaced by a re-registration: look the tool up again.
    Retired,
}

/// Claims a start of an idle tool, or waits for a start or restart in
/// progress to settle. The caller holds `tool.gate`.
pub(crate) async fn claim(tool: &Tool) -> Result<Claim> {
    loop {
        let life = tool.life();
        match life {
            Life::Retired => return Ok(Claim::Retired),
            _ if life.is_up() => return Ok(Claim::Up(life.status())),
            // Checked before waiting on a supervisor: after a shutdown
            // nothing may start, and nothing is worth waiting for.
            _ if tool.shutting_down() => return Err(OrchestratorError::ShutDown),
            _ if life.is_idle() => {
                tool.set(Life::Spawning { attempt: 0 }, "starting", |rec| {
                    rec.restarts = 0;
                    rec.last_error = None;
                });
                return Ok(Claim::Claimed);
            }
            _ => {}
        }
        // A supervisor is restarting or stopping the tool: wait for it.
        tool.wait_for(|rec| rec.life.is_up() || rec.life.is_idle() || rec.life == Life::Retired)
            .await;
    }
}

/// Spawns a claimed tool (on the calling thread) and hands the process to
/// a new supervising task on `rt`. Without a health check the tool is
/// `Running` at once (`Some`); with one, `None`: [`settle`] waits for it.
/// Never suspends, so a dropped caller cannot strand a spawned process.
pub(crate) fn launch_claimed<L: Launcher>(
    tool: &Arc<Tool>,
    launcher: Arc<L>,
    rt: &tokio::runtime::Handle,
) -> Result<Option<ToolStatus>> {
    let child = match launcher.launch() {
        Ok(child) => child,
        Err(OrchestratorError::ShutDown) => {
            tool.set(Life::Stopped, "shut down", |_| {});
            return Err(OrchestratorError::ShutDown);
        }
        Err(e) => {
            let reason = e.to_string();
            tool.set(Life::Degraded { reason }, "start failed", |_| {});
            return Err(e);
        }
    };
    let pid = child.pid();
    *tool.remote.lock() = Some(child.remote());
    let (tx, rx) = mpsc::unbounded_channel();
    let phase = if tool.policy.has_health {
        tool.set(
            Life::Starting { attempt: 0, pid },
            format!("spawned, pid {pid}"),
            |_| {},
        );
        Phase::Ready { attempt: 0 }
    } else {
        tool.set(Life::Running { pid }, format!("started, pid {pid}"), |_| {});
        Phase::Up
    };
    let task = rt.spawn(guarded(
        tool.clone(),
        supervise(tool.clone(), launcher, child, rx, phase),
    ));
    *tool.run.lock() = Some(RunHandle { tx, task });
    if tool.policy.has_health {
        Ok(None)
    } else {
        Ok(Some(ToolStatus::Running(pid)))
    }
}

/// Waits for the outcome of a start handed over by [`launch_claimed`]
/// (the health check passing or failing). Needs no gate: a stop may come
/// in meanwhile.
pub(crate) async fn settle(tool: &Tool) -> Result<ToolStatus> {
    let rec = tool
        .wait_for(|rec| rec.life.is_up() || rec.life.is_idle())
        .await;
    match rec.life {
        life if life.is_up() => Ok(life.status()),
        Life::Degraded { reason } => Err(OrchestratorError::StartupFailed {
            tool: tool.name.clone(),
            reason,
        }),
        Life::Broken { message } => Err(OrchestratorError::Internal {
            tool: tool.name.clone(),
            message,
        }),
        _ => Err(OrchestratorError::ShutDown),
    }
}

/// Where a supervision starts.
enum Phase {
    /// Spawned; readiness still to wait for (restart `attempt`, 0 = first start).
    Ready { attempt: u32 },
    /// Already up.
    Up,
}

enum Readiness {
    Ready,
    Failed(String),
    Exited(ExitStatus),
    Stop,
}

/// The supervising task of one run: readiness, exits, restarts, stop.
/// Every path ends in an idle state (`Stopped` or `Degraded`).
async fn supervise<L: Launcher>(
    tool: Arc<Tool>,
    launcher: Arc<L>,
    mut child: L::Child,
    mut rx: mpsc::UnboundedReceiver<Control>,
    mut phase: Phase,
) {
    child.attach();
    loop {
        if let Phase::Ready { attempt } = phase {
            match wait_ready(&tool, &*launcher, &mut child, &mut rx).await {
                Readiness::Ready => {
                    let pid = child.pid();
                    let life = if tool.policy.has_health {
                        Life::Healthy { pid }
                    } else {
                        Life::Running { pid }
                    };
                    let what = if attempt == 0 { "started" } else { "restarted" };
                    tool.set(life, format!("{what}, pid {pid}"), |_| {});
                }
                Readiness::Exited(exit) if attempt == 0 => {
                    let reason = format!("{} while starting", describe(exit));
                    return finish(&tool, Life::Degraded { reason }, "exited", Some(exit));
                }
                Readiness::Exited(exit) => {
                    match after_exit(&tool, &*launcher, exit, &mut rx).await {
                        Some(next) => {
                            child = next;
                            phase = Phase::Ready {
                                attempt: tool.state.borrow().restarts,
                            };
                        }
                        None => return,
                    }
                    continue;
                }
                Readiness::Failed(reason) => {
                    let exit = terminate(&tool, &mut child).await;
                    return finish(&tool, Life::Degraded { reason }, "unhealthy", Some(exit));
                }
                Readiness::Stop => {
                    let exit = stop_sequence(&tool, &mut child).await;
                    let reason = if attempt == 0 {
                        "stopped while starting"
                    } else {
                        "stopped while restarting"
                    };
                    return finish(&tool, Life::Stopped, reason, Some(exit));
                }
            }
        }
        // Up: wait for an exit or a command.
        let exit = tokio::select! {
            exit = child.wait() => exit,
            _ = rx.recv() => {
                // `Stop`, or the handle is gone: either way the run ends.
                let exit = stop_sequence(&tool, &mut child).await;
                return finish(&tool, Life::Stopped, "stopped", Some(exit));
            }
        };
        match after_exit(&tool, &*launcher, exit, &mut rx).await {
            Some(next) => {
                child = next;
                phase = Phase::Ready {
                    attempt: tool.state.borrow().restarts,
                };
            }
            None => return,
        }
    }
}

/// After an exit on its own: the restart policy, backoff, and the next
/// spawn. `None` when the supervision has ended (state already final).
async fn after_exit<L: Launcher>(
    tool: &Tool,
    launcher: &L,
    exit: ExitStatus,
    rx: &mut mpsc::UnboundedReceiver<Control>,
) -> Option<L::Child> {
    let policy = &tool.policy;
    let what = describe(exit);
    // A stop that arrived with the exit wins over a restart.
    if tool.shutting_down() || rx.try_recv().is_ok() {
        finish(
            tool,
            Life::Stopped,
            &format!("stopped ({what})"),
            Some(exit),
        );
        return None;
    }
    if !wants_restart(policy.restart, exit) {
        let life = if exit == ExitStatus::Code(0) {
            Life::Stopped
        } else {
            Life::Degraded {
                reason: what.clone(),
            }
        };
        finish(tool, life, &what, Some(exit));
        return None;
    }
    let done = tool.state.borrow().restarts;
    if done >= policy.max_restarts {
        let reason = format!(
            "{what}; gave up after max_restarts = {} restarts",
            policy.max_restarts
        );
        finish(
            tool,
            Life::Degraded { reason },
            "out of restarts",
            Some(exit),
        );
        return None;
    }
    let restarts = done.saturating_add(1);
    let until = Instant::now() + policy.backoff(restarts);
    *tool.remote.lock() = None;
    tool.set(
        Life::Backoff { until, restarts },
        format!("{what}; restart {restarts}/{}", policy.max_restarts),
        |rec| {
            rec.restarts = restarts;
            rec.last_exit = Some(exit);
        },
    );
    tokio::select! {
        _ = tokio::time::sleep_until(until.into()) => {}
        _ = rx.recv() => {
            finish(tool, Life::Stopped, "stopped while waiting to restart", None);
            return None;
        }
    }
    tool.set(Life::Spawning { attempt: restarts }, "restarting", |_| {});
    match launcher.launch() {
        Ok(mut child) => {
            let pid = child.pid();
            *tool.remote.lock() = Some(child.remote());
            child.attach();
            if policy.has_health {
                tool.set(
                    Life::Starting {
                        attempt: restarts,
                        pid,
                    },
                    format!("respawned, pid {pid}"),
                    |_| {},
                );
            }
            Some(child)
        }
        Err(OrchestratorError::ShutDown) => {
            finish(tool, Life::Stopped, "shut down", None);
            None
        }
        Err(e) => {
            let reason = e.to_string();
            finish(tool, Life::Degraded { reason }, "restart failed", None);
            None
        }
    }
}

/// Waits for the health check to pass (at once without one), for an exit,
/// or for a stop command.
async fn wait_ready<L: Launcher>(
    tool: &Tool,
    launcher: &L,
    child: &mut L::Child,
    rx: &mut mpsc::UnboundedReceiver<Control>,
) -> Readiness {
    let policy = &tool.policy;
    if !policy.has_health {
        return Readiness::Ready;
    }
    let deadline = Instant::now() + policy.startup_timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let limit = policy.per_check().min(left.max(Duration::from_millis(1)));
        // The check races the exit and a stop: dropping it kills a command
        // check's whole process tree.
        let last = tokio::select! {
            result = launcher.check(limit) => match result {
                Ok(()) => return Readiness::Ready,
                Err(why) => why,
            },
            exit = child.wait() => return Readiness::Exited(exit),
            _ = rx.recv() => return Readiness::Stop,
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Readiness::Failed(format!(
                "not ready within startup_timeout_ms = {}: {last}",
                policy.startup_timeout.as_millis()
            ));
        }
        tokio::select! {
            _ = tokio::time::sleep(policy.health_interval.min(left)) => {}
            exit = child.wait() => return Readiness::Exited(exit),
            _ = rx.recv() => return Readiness::Stop,
        }
    }
}

/// Ends a supervision in an idle state.
fn finish(tool: &Tool, life: Life, reason: &str, exit: Option<ExitStatus>) {
    *tool.remote.lock() = None;
    tool.set(life, reason, |rec| {
        if exit.is_some() {
            rec.last_exit = exit;
        }
    });
}

/// "exited with code 1", "killed by signal 9".
pub(crate) fn describe(exit: ExitStatus) -> String {
    crate::spawn::describe_exit(exit)
}

/// Whether the policy restarts after `exit`.
fn wants_restart(policy: RestartPolicy, exit: ExitStatus) -> bool {
    let failed = exit != ExitStatus::Code(0);
    match policy {
        RestartPolicy::Never => false,
        RestartPolicy::OnFailure => failed,
        RestartPolicy::Always => true,
    }
}
