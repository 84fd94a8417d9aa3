//! Callback subscriptions to status changes, for hosts without async Rust.
//!
//! Each subscription gets its own thread that blocks on the event channel and
//! calls the callback there, never on a runtime thread: a callback may block
//! (take the GIL, call into Node) without stalling supervision. Events wait
//! for a slow callback in a queue of [`CALLBACK_QUEUE`]; past it they are
//! skipped and counted in a warning, as when the broadcast lags.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use dxforge_orchestrator::{Orchestrator, ToolEvent, WatchHandle};
use parking_lot::Mutex;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::oneshot;

use super::DxForge;
use crate::Result;

/// Events queued for one callback before further ones are skipped.
const CALLBACK_QUEUE: usize = 1024;

/// Identifies one callback subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SubscriptionId(pub u64);

pub(crate) struct Subscriptions {
    orchestrator: Orchestrator,
    next: AtomicU64,
    /// Per subscription: the forwarding task's cancel and the flag the
    /// callback thread checks before each call.
    active: Mutex<HashMap<u64, Active>>,
    pub(crate) watch: Mutex<Option<WatchHandle>>,
}

struct Active {
    _cancel: oneshot::Sender<()>,
    cancelled: Arc<AtomicBool>,
}

impl Drop for Active {
    fn drop(&mut self) {
        // Before the forwarding task sees its cancel: an event it has
        // already passed on is not delivered either.
        self.cancelled.store(true, Ordering::Release);
    }
}

impl Subscriptions {
    pub(crate) fn new(orchestrator: Orchestrator) -> Self {
        Self {
            orchestrator,
            next: AtomicU64::new(1),
            active: Mutex::new(HashMap::new()),
            watch: Mutex::new(None),
        }
    }

    /// Cancels every subscription and watch mode.
    pub(crate) fn clear(&self) {
        // Dropping the senders cancels the forwarding tasks.
        self.active.lock().clear();
        self.watch.lock().take();
    }
}

impl DxForge {
    /// Calls `callback` for every status change until [`unsubscribe`](Self::unsubscribe)
    /// or the handle closes. The callback runs on a dedicated thread, which
    /// ends (dropping the callback) as soon as the subscription is cancelled.
    pub fn on_status_change<F>(&self, callback: F) -> Result<SubscriptionId>
    where
        F: Fn(&ToolEvent) + Send + 'static,
    {
        let inner = self.live()?;
        let subs = &inner.events;
        let id = subs.next.fetch_add(1, Ordering::Relaxed);
        let (cancel_tx, mut cancel_rx) = oneshot::channel::<()>();
        let (deliver_tx, deliver_rx) = std::sync::mpsc::sync_channel::<ToolEvent>(CALLBACK_QUEUE);
        let mut rx = subs.orchestrator.subscribe();
        let cancelled = Arc::new(AtomicBool::new(false));
        let cancelled_here = cancelled.clone();
        // The runtime task forwards events to the callback thread; when it
        // ends (cancelled or channel closed), the thread's receiver
        // disconnects and the thread exits.
        crate::runtime::handle()?.spawn(async move {
            let mut skipped = 0u64;
            loop {
                tokio::select! {
                    biased;
                    _ = &mut cancel_rx => break,
                    event = rx.recv() => match event {
                        Ok(event) => match deliver_tx.try_send(event) {
                            Ok(()) => {}
                            Err(std::sync::mpsc::TrySendError::Full(_)) => {
                                // Said at 1, 2, 4, … skipped: never a flood of warnings.
                                skipped += 1;
                                if skipped.is_power_of_two() {
                                    tracing::warn!(skipped, "status callback too slow; events skipped");
                                }
                            }
                            Err(std::sync::mpsc::TrySendError::Disconnected(_)) => break,
                        },
                        Err(RecvError::Lagged(n)) => tracing::warn!(skipped = n, "status callback too slow; events skipped"),
                        Err(RecvError::Closed) => break,
                    },
                }
            }
        });
        std::thread::Builder::new()
            .name(format!("dxforge-events-{id}"))
            .spawn(move || {
                while let Ok(event) = deliver_rx.recv() {
                    if cancelled_here.load(Ordering::Acquire) {
                        break;
                    }
                    callback(&event);
                }
            })
            .map_err(|e| crate::Error::io("<thread>", e))?;
        subs.active.lock().insert(
            id,
            Active {
                _cancel: cancel_tx,
                cancelled,
            },
        );
        Ok(SubscriptionId(id))
    }

    /// Cancels a subscription; no event arriving after this returns is
    /// delivered (one whose callback is already running finishes). Unknown
    /// ids are ignored. May be called from within the callback.
    pub fn unsubscribe(&self, id: SubscriptionId) -> Result<()> {
        self.live()?.events.active.lock().remove(&id.0);
        Ok(())
    }
}
