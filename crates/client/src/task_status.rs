//! One task's state as its runner keeps it: recorded events, persisted to the state DB
//! (off the async runtime) before each change is reported to the allocation runner.

use caravan_structs::time::rfc3339;
use caravan_structs::{TaskEvent, TaskState, TaskStateKind};
use tokio::sync::mpsc;

use crate::now_nanos;
use crate::state_db::{self, PersistedTask, TaskStore};

/// Nomad keeps the last 10 events of a task.
const MAX_EVENTS: usize = 10;

/// Nomad's log line for every task event.
pub(crate) fn log_event(alloc_id: &str, task: &str, event: &TaskEvent) {
    tracing::info!(
        alloc_id,
        task,
        "type" = %event.r#type,
        msg = %event.display_message,
        failed = event.fails_task,
        "Task event"
    );
}

/// A task's persisted state, where it is saved, and where its changes are reported.
pub struct TaskStatus {
    /// The task's name, as its reports carry it.
    name: String,
    /// The allocation the task belongs to, for the log.
    alloc_id: String,
    task: PersistedTask,
    store: TaskStore,
    updates: mpsc::UnboundedSender<(String, TaskState)>,
}

impl TaskStatus {
    /// The status of task `name`, starting from `task`.
    pub fn new(
        name: String,
        task: PersistedTask,
        store: TaskStore,
        updates: mpsc::UnboundedSender<(String, TaskState)>,
    ) -> TaskStatus {
        TaskStatus {
            name,
            alloc_id: String::new(),
            task,
            store,
            updates,
        }
    }

    /// Names the task's allocation in its log lines.
    pub fn for_alloc(mut self, alloc_id: String) -> TaskStatus {
        self.alloc_id = alloc_id;
        self
    }

    /// The task state as last recorded.
    pub fn state(&self) -> &TaskState {
        &self.task.state
    }

    /// The task state, to change before the next [`TaskStatus::publish`].
    pub fn state_mut(&mut self) -> &mut TaskState {
        &mut self.task.state
    }

    /// Whether the task's executor records describe a start in flight or a running task.
    pub fn handle(&self) -> bool {
        self.task.handle
    }

    /// Sets the handle flag, to be persisted with the next write.
    pub fn set_handle(&mut self, handle: bool) {
        self.task.handle = handle;
    }

    /// Appends an event without publishing it (see [`TaskStatus::publish`]).
    pub fn record(&mut self, event: TaskEvent) {
        log_event(&self.alloc_id, &self.name, &event);
        let events = &mut self.task.state.events;
        events.push(event);
        let excess = events.len().saturating_sub(MAX_EVENTS);
        events.drain(..excess);
    }

    /// Persists the task's state (and handle flag) without reporting it.
    pub async fn save(&self) {
        let (store, task) = (self.store.clone(), self.task.clone());
        if let Err(error) = state_db::blocking(move || store.save(&task)).await {
            tracing::warn!(task = %self.name, %error, "failed to persist task state");
        }
    }

    /// Persists the task's state, then reports it.
    pub async fn publish(&self) {
        self.save().await;
        let _ = self
            .updates
            .send((self.name.clone(), self.task.state.clone()));
    }

    /// Records an event and publishes the state.
    pub async fn push(&mut self, event: TaskEvent) {
        self.record(event);
        self.publish().await;
    }

    /// Marks the task running since now, with Nomad's `Started` event, and publishes it.
    pub async fn started(&mut self) {
        let state = &mut self.task.state;
        state.state = TaskStateKind::Running;
        state.started_at = rfc3339(now_nanos());
        self.push(crate::task_runner::event(
            "Started",
            "Task started by client",
        ))
        .await;
    }

    /// Marks the task dead for good (failed or not) and publishes it.
    pub async fn finish(&mut self, failed: bool) {
        let state = &mut self.task.state;
        state.state = TaskStateKind::Dead;
        state.failed = failed;
        state.finished_at = rfc3339(now_nanos());
        self.task.handle = false;
        self.publish().await;
    }
}
