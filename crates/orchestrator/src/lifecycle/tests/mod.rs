//! The state machine against a scripted mock child: crash loops, stops in
//! every phase, stop escalation, health, panics, dependency waits. No real
//! process; each test takes milliseconds.

mod deps;
mod health;
mod mock;
mod restarts;
mod sequences;
mod stopping;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use tokio::sync::broadcast;

use super::child::Signal;
use super::machine::{Claim, claim, launch_claimed, settle};
use super::state::{Life, Policy, Tool};
use super::stopping::{stop, stop_blocking};
use crate::error::{OrchestratorError, Result};
use crate::{ExitStatus, RestartPolicy, ToolEvent, ToolStatus};
use mock::*;

fn policy() -> Policy {
    Policy {
        restart: RestartPolicy::Always,
        max_restarts: 3,
        backoff_start: Duration::from_millis(1),
        backoff_cap: Duration::from_millis(4),
        stop_signal: SIGTERM,
        stop_timeout: Duration::from_millis(20),
        kill_grace: Duration::from_millis(20),
        has_health: false,
        health_interval: Duration::from_millis(1),
        startup_timeout: Duration::from_secs(10),
    }
}

fn tool(policy: Policy) -> (Arc<Tool>, broadcast::Receiver<ToolEvent>) {
    let (events, rx) = broadcast::channel(1024);
    let tool = Tool::new("t".into(), policy, events, Arc::new(AtomicBool::new(false)));
    (Arc::new(tool), rx)
}

/// What `start_one` does: claim, launch, settle.
async fn start(tool: &Arc<Tool>, launcher: &Arc<MockLauncher>) -> Result<ToolStatus> {
    {
        let _gate = tool.gate.lock().await;
        match claim(tool).await? {
            Claim::Up(status) => return Ok(status),
            Claim::Retired => return Err(OrchestratorError::ShutDown),
            Claim::Claimed => {
                let rt = tokio::runtime::Handle::current();
                if let Some(status) = launch_claimed(tool, launcher.clone(), &rt)? {
                    return Ok(status);
                }
            }
        }
    }
    settle(tool).await
}

async fn stop_tool(tool: &Tool) -> Result<()> {
    let _gate = tool.gate.lock().await;
    stop(tool).await
}

/// Waits until the supervision has ended (an idle state).
async fn idle(tool: &Tool) -> Life {
    tool.wait_for(|r| r.life.is_idle()).await.life
}

fn statuses(rx: &mut broadcast::Receiver<ToolEvent>) -> Vec<ToolStatus> {
    std::iter::from_fn(|| rx.try_recv().ok())
        .map(|e| e.new)
        .collect()
}
