//! Runs one allocation: its directory, its tasks, and its status as the server sees it.
//! A new allocation is recorded in the state DB first; a restored one resumes from the
//! task states recorded there.

use std::collections::BTreeMap;

use caravan_drivers::Drivers;
use caravan_structs::{
    ALLOC_CLIENT_COMPLETE, ALLOC_CLIENT_FAILED, ALLOC_CLIENT_PENDING, ALLOC_CLIENT_RUNNING,
    AllocClientUpdate, Allocation, Node, TASK_STATE_DEAD, TASK_STATE_PENDING, TASK_STATE_RUNNING,
    TaskState, ZERO_TIME,
};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::alloc_dir::AllocDir;
use crate::state_db::{PersistedTask, StateDb};
use crate::task_env::TaskEnv;
use crate::task_runner::{KillReason, TaskRunner, event};

/// Nomad's `ClientStatus` and `ClientDescription` from the task states: failed if any task
/// failed, running if any runs, pending while any waits, complete when all are done.
pub fn client_status(states: &BTreeMap<String, TaskState>) -> (&'static str, &'static str) {
    let dead = states
        .values()
        .filter(|s| s.state == TASK_STATE_DEAD)
        .count();
    if states
        .values()
        .any(|s| s.state == TASK_STATE_DEAD && s.failed)
    {
        return (ALLOC_CLIENT_FAILED, "Failed tasks");
    }
    if states.values().any(|s| s.state == TASK_STATE_RUNNING) {
        return (ALLOC_CLIENT_RUNNING, "Tasks are running");
    }
    if dead == states.len() && !states.is_empty() {
        return (ALLOC_CLIENT_COMPLETE, "All tasks have completed");
    }
    (ALLOC_CLIENT_PENDING, "No tasks have started")
}

/// What the client needs to start an allocation.
pub struct AllocRunner {
    pub alloc: Allocation,
    pub node: Node,
    pub region: String,
    pub dir: AllocDir,
    pub raw_exec_enabled: bool,
    /// Starts tasks (under executors) and re-attaches to them.
    pub driver: Drivers,
    /// Where the allocation and its tasks' states are persisted.
    pub state_db: StateDb,
    /// The task states found in the state DB when the client restarted; `None` for an
    /// allocation the client has just received.
    pub restored: Option<BTreeMap<String, PersistedTask>>,
    /// Status reports for the server.
    pub updates: mpsc::UnboundedSender<AllocClientUpdate>,
    /// Becomes `Some` when the server stops the allocation.
    pub kill: watch::Receiver<Option<KillReason>>,
}

impl AllocRunner {
    /// Runs every task to the end and reports each change. Dropping (aborting) the
    /// future stops watching the tasks without stopping them: with a non-dev driver they
    /// run on under their executors and are re-attached by the next client.
    pub async fn run(self) {
        let alloc = &self.alloc;
        let Some(job) = alloc.job.clone() else { return };
        let Some(group) = job.group(&alloc.task_group).cloned() else {
            return;
        };
        if self.restored.is_none()
            && let Err(error) = self.state_db.put_allocation(alloc)
        {
            tracing::warn!(alloc_id = %alloc.id, %error, "client: failed to persist allocation");
        }
        let restored = self.restored.clone().unwrap_or_default();
        let mut tasks: BTreeMap<String, (PersistedTask, bool)> = group
            .tasks
            .iter()
            .map(|t| {
                let task = match restored.get(&t.name) {
                    Some(task) => (task.clone(), true),
                    None => {
                        let state = TaskState {
                            state: TASK_STATE_PENDING.into(),
                            last_restart: ZERO_TIME.into(),
                            started_at: ZERO_TIME.into(),
                            finished_at: ZERO_TIME.into(),
                            events: vec![event("Received", "Task received by client")],
                            ..TaskState::default()
                        };
                        (
                            PersistedTask {
                                state,
                                handle: false,
                            },
                            false,
                        )
                    }
                };
                (t.name.clone(), task)
            })
            .collect();
        let mut states: BTreeMap<String, TaskState> = tasks
            .iter()
            .map(|(name, (task, _))| (name.clone(), task.state.clone()))
            .collect();
        self.report(&states);
        if states.values().all(|s| s.state == TASK_STATE_DEAD) {
            // Finished before the client restarted: the report above re-sends the end.
            return;
        }
        if let Err(error) = self.dir.build() {
            for (name, state) in states.iter_mut() {
                let mut failure = event(
                    "Setup Failure",
                    format!("failed to build alloc directory: {error}"),
                );
                failure.fails_task = true;
                state.events.push(failure);
                state.state = TASK_STATE_DEAD.into();
                state.failed = true;
                let persisted = PersistedTask {
                    state: state.clone(),
                    handle: false,
                };
                let _ = self.state_db.task(&alloc.id, name).save(&persisted);
            }
            self.report(&states);
            return;
        }

        let (task_updates, mut task_states) = mpsc::unbounded_channel();
        // Tasks listen to their own kill switch, so a failing sibling can stop the others
        // while the server's stop still reaches everyone.
        let (task_kill, task_kill_receiver) = watch::channel(None);
        let agent_env: Vec<(String, String)> = std::env::vars().collect();
        // Owned here, so aborting this runner stops its task runners too.
        let mut task_runners = JoinSet::new();
        for task in &group.tasks {
            let Some((persisted, was_restored)) = tasks.remove(&task.name) else {
                continue;
            };
            if persisted.state.state == TASK_STATE_DEAD {
                continue;
            }
            let env = TaskEnv::build(
                alloc,
                &group,
                task,
                &self.node,
                &self.region,
                &self.dir,
                agent_env.iter().cloned(),
            );
            let runner = TaskRunner {
                task: task.clone(),
                batch: job.is_batch(),
                env,
                dir: self.dir.clone(),
                raw_exec_enabled: self.raw_exec_enabled,
                driver: self.driver.clone(),
                store: self.state_db.task(&alloc.id, &task.name),
                updates: task_updates.clone(),
                kill: task_kill_receiver.clone(),
            };
            task_runners.spawn(runner.run(persisted, was_restored));
        }
        drop(task_updates);

        let mut server_kill = self.kill.clone();
        let mut server_kill_open = true;
        if let Some(reason) = server_kill.borrow_and_update().clone() {
            task_kill.send_replace(Some(reason));
        }
        // A task that failed before the client restarted still takes its siblings down.
        if let Some((name, _)) = states
            .iter()
            .find(|(_, s)| s.state == TASK_STATE_DEAD && s.failed)
            && task_kill.borrow().is_none()
        {
            task_kill.send_replace(Some(KillReason::SiblingFailed(name.clone())));
        }
        loop {
            tokio::select! {
                update = task_states.recv() => {
                    let Some((name, state)) = update else { break };
                    let failed_now = state.state == TASK_STATE_DEAD && state.failed;
                    states.insert(name.clone(), state);
                    self.report(&states);
                    if failed_now && task_kill.borrow().is_none() {
                        task_kill.send_replace(Some(KillReason::SiblingFailed(name)));
                    }
                    if states.values().all(|s| s.state == TASK_STATE_DEAD) {
                        break;
                    }
                }
                changed = server_kill.changed(), if server_kill_open => {
                    if changed.is_err() {
                        server_kill_open = false;
                        continue;
                    }
                    let reason = server_kill.borrow().clone();
                    if reason.is_some() && task_kill.borrow().is_none() {
                        task_kill.send_replace(reason);
                    }
                }
            }
        }
        while task_runners.join_next().await.is_some() {}
    }

    fn report(&self, states: &BTreeMap<String, TaskState>) {
        let (status, description) = client_status(states);
        let _ = self.updates.send(AllocClientUpdate {
            id: self.alloc.id.clone(),
            client_status: status.to_string(),
            client_description: description.to_string(),
            task_states: states.clone(),
        });
    }
}
