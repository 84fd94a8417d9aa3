//! The bounded drop-oldest queue and the table of task states.
//!
//! `enqueue` touches only lock-free structures plus one short critical section (inserting
//! the `Queued` state into a hash map); consumers take that same lock only to write one
//! state, never while running a task, so `enqueue` never waits behind work.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crossbeam_queue::ArrayQueue;
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::BackgroundTask;
use crate::error::{Result, WorkerError};
use crate::state::{Counters, TaskId, TaskState};

/// How many final states are remembered; older ones are forgotten (`task` returns `None`).
pub(crate) const KEPT_FINAL_STATES: usize = 10_000;

/// One queued unit of work.
pub(crate) struct QueuedTask {
    pub(crate) id: TaskId,
    pub(crate) task: BackgroundTask,
}

#[derive(Default)]
struct StateTable {
    states: HashMap<u64, TaskState>,
    /// Ids in the order they became final, for forgetting the oldest.
    finished: VecDeque<u64>,
}

impl StateTable {
    fn finish(&mut self, id: TaskId, state: TaskState) {
        self.states.insert(id.0, state);
        self.finished.push_back(id.0);
        while self.finished.len() > KEPT_FINAL_STATES {
            if let Some(old) = self.finished.pop_front() {
                self.states.remove(&old);
            }
        }
    }
}

#[derive(Default)]
struct CounterCells {
    enqueued: AtomicU64,
    queued: AtomicU64,
    running: AtomicU64,
    succeeded: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
}

/// Queue, states, counters and the two wake-up signals.
pub(crate) struct TaskQueue {
    queue: ArrayQueue<QueuedTask>,
    /// Wakes consumers; a permit is stored if none is waiting, so no push is missed.
    wake: Notify,
    /// Wakes `wait`ers whenever a task reaches a final state.
    finished: Notify,
    next_id: AtomicU64,
    table: Mutex<StateTable>,
    counters: CounterCells,
    closed: AtomicBool,
}

impl TaskQueue {
    pub(crate) fn new(capacity: usize) -> Self {
        TaskQueue {
            queue: ArrayQueue::new(capacity.max(1)),
            wake: Notify::new(),
            finished: Notify::new(),
            next_id: AtomicU64::new(1),
            table: Mutex::new(StateTable::default()),
            counters: CounterCells::default(),
            closed: AtomicBool::new(false),
        }
    }

    /// Adds a task; when the queue is full the oldest queued task is evicted and marked
    /// `Dropped`. Never blocks on a consumer.
    pub(crate) fn enqueue(&self, task: BackgroundTask) -> TaskId {
        let id = TaskId(self.next_id.fetch_add(1, Ordering::Relaxed));
        self.counters.enqueued.fetch_add(1, Ordering::Relaxed);
        if self.closed.load(Ordering::Acquire) {
            tracing::warn!(task = %id, "background worker is shut down; task dropped");
            self.mark_dropped(id);
            return id;
        }
        // The state must exist before a consumer can pop the task and mark it Running.
        self.table.lock().states.insert(id.0, TaskState::Queued);
        self.counters.queued.fetch_add(1, Ordering::Relaxed);
        if let Some(evicted) = self.queue.force_push(QueuedTask { id, task }) {
            self.counters.queued.fetch_sub(1, Ordering::Relaxed);
            tracing::warn!(
                dropped = %evicted.id,
                kind = ?evicted.task,
                capacity = self.queue.capacity(),
                "background queue full; dropped the oldest task"
            );
            self.mark_dropped(evicted.id);
        }
        self.wake.notify_one();
        id
    }

    /// Takes the oldest queued task and marks it `Running`.
    pub(crate) fn pop(&self) -> Option<QueuedTask> {
        let next = self.queue.pop()?;
        self.counters.queued.fetch_sub(1, Ordering::Relaxed);
        self.counters.running.fetch_add(1, Ordering::Relaxed);
        self.table
            .lock()
            .states
            .insert(next.id.0, TaskState::Running);
        Some(next)
    }

    /// Records the final state of a task that was `Running`.
    pub(crate) fn complete(&self, id: TaskId, state: TaskState) {
        self.counters.running.fetch_sub(1, Ordering::Relaxed);
        match &state {
            TaskState::Failed(_) => self.counters.failed.fetch_add(1, Ordering::Relaxed),
            TaskState::Dropped => self.counters.dropped.fetch_add(1, Ordering::Relaxed),
            _ => self.counters.succeeded.fetch_add(1, Ordering::Relaxed),
        };
        self.table.lock().finish(id, state);
        self.finished.notify_waiters();
    }

    fn mark_dropped(&self, id: TaskId) {
        self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        self.table.lock().finish(id, TaskState::Dropped);
        self.finished.notify_waiters();
    }

    pub(crate) fn state(&self, id: TaskId) -> Option<TaskState> {
        self.table.lock().states.get(&id.0).cloned()
    }

    pub(crate) fn counters(&self) -> Counters {
        let c = &self.counters;
        Counters {
            enqueued: c.enqueued.load(Ordering::Relaxed),
            queued: c.queued.load(Ordering::Relaxed),
            running: c.running.load(Ordering::Relaxed),
            succeeded: c.succeeded.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Wakes one more consumer (used when a consumer sees more work behind its task).
    pub(crate) fn wake_one(&self) {
        self.wake.notify_one();
    }

    /// A future resolving at the next wake-up; enable it before checking for work.
    pub(crate) fn woken(&self) -> tokio::sync::futures::Notified<'_> {
        self.wake.notified()
    }

    /// Stops accepting work: every queued task becomes `Dropped`, consumers are woken so
    /// they exit after their current task. Returns how many tasks were dropped.
    pub(crate) fn close(&self) -> usize {
        self.closed.store(true, Ordering::Release);
        let mut dropped = 0;
        while let Some(task) = self.queue.pop() {
            self.counters.queued.fetch_sub(1, Ordering::Relaxed);
            self.mark_dropped(task.id);
            dropped += 1;
        }
        self.wake.notify_waiters();
        dropped
    }

    /// Waits until `id` is final or `timeout` passes.
    pub(crate) async fn wait(&self, id: TaskId, timeout: Duration) -> Result<TaskState> {
        // A huge timeout (Duration::MAX from a binding's "forever") must not
        // overflow the deadline: clamp it to a century.
        let now = tokio::time::Instant::now();
        let deadline = now
            .checked_add(timeout)
            .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600));
        loop {
            let notified = self.finished.notified();
            tokio::pin!(notified);
            // Register before looking, so a completion between the look and the await wakes us.
            notified.as_mut().enable();
            match self.state(id) {
                None => return Err(WorkerError::UnknownTask { id }),
                Some(state) if state.is_final() => return Ok(state),
                Some(_) => {}
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(WorkerError::Timeout {
                    id,
                    waited: timeout,
                });
            }
        }
    }
}
