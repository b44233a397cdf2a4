//! Runs one allocation: its directory, its tasks, and its status as the server sees it.
//! A new allocation is recorded in the state DB first; a restored one resumes from the
//! task states recorded there.

use std::collections::BTreeMap;
use std::path::PathBuf;

use caravan_drivers::DriverRegistry;
use caravan_drivers::host_path::HostPathError;
use caravan_structs::{
    AllocClientStatus, AllocClientUpdate, AllocDeploymentStatus, Allocation, Node, Task, TaskEvent,
    TaskState, TaskStateKind, ZERO_TIME,
};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;

use std::sync::Arc;

use crate::alloc_dir::AllocDir;
use crate::alloc_health::{HealthTracker, Verdict};
use crate::checks::{CheckResults, ChecksHealth, TaskAction, TaskActionKind};
use crate::hooks::{self, AllocHook, TaskHookSetup};
use crate::services::{AllocServices, AllocServicesSetup, ServiceCatalog};
use crate::state_db::{self, PersistedTask, StateDb, TaskStore};
use crate::task_env::TaskEnv;
use crate::task_order::{Phase, Restarting, TaskOrder};
use crate::task_runner::{KillReason, RestartRequest, TaskRunner, event, restarting};

/// Why an allocation or task could not be restarted, in Nomad's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestartError {
    /// No runner for this allocation on this client.
    #[error("Unknown allocation \"{0}\"")]
    UnknownAllocation(String),
    /// The allocation's group has no task of that name.
    #[error("Could not find task runner for task: {0}")]
    UnknownTask(String),
    /// The named task has no running process (not started yet, waiting out a restart
    /// delay, or dead).
    #[error("Task not running")]
    TaskNotRunning,
    /// The allocation is stopping or has finished.
    #[error("restart of an alloc that should not run")]
    ShouldNotRun,
    /// `TaskName` and `AllTasks` together.
    #[error("task name cannot be set when restarting all tasks")]
    TaskNameWithAllTasks,
}

/// Which tasks a restart is for (Nomad's `AllocRestartRequest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestartTarget {
    /// One task, which must be running.
    Task(String),
    /// Every task that is running (`TaskName` empty, `AllTasks` false).
    Running,
    /// Every task, the dead ones started again too (`AllTasks`).
    All,
}

impl RestartTarget {
    /// Nomad's `Restart Signaled` event for this restart, with its reason.
    pub fn event(&self) -> TaskEvent {
        let reason = match self {
            RestartTarget::Task(_) => "User requested task to restart",
            RestartTarget::Running => "User requested running tasks to restart",
            RestartTarget::All => "User requested all tasks to restart",
        };
        let mut signaled = event("Restart Signaled", reason);
        signaled.restart_reason = reason.to_string();
        signaled
    }
}

/// A restart request for an allocation runner, answered once every task it names has
/// been killed (each starts again right after).
pub struct AllocRestart {
    pub target: RestartTarget,
    pub done: oneshot::Sender<Result<(), RestartError>>,
}

/// Nomad's `ClientStatus` and `ClientDescription` from the task states: failed if any task
/// failed, running if any runs, pending while any waits, complete when all are done.
pub fn client_status(states: &BTreeMap<String, TaskState>) -> (AllocClientStatus, &'static str) {
    let dead = states
        .values()
        .filter(|s| s.state == TaskStateKind::Dead)
        .count();
    if states
        .values()
        .any(|s| s.state == TaskStateKind::Dead && s.failed)
    {
        return (AllocClientStatus::Failed, "Failed tasks");
    }
    if states.values().any(|s| s.state == TaskStateKind::Running) {
        return (AllocClientStatus::Running, "Tasks are running");
    }
    if dead == states.len() && !states.is_empty() {
        return (AllocClientStatus::Complete, "All tasks have completed");
    }
    (AllocClientStatus::Pending, "No tasks have started")
}

/// What the client needs to start an allocation.
pub struct AllocRunner {
    pub alloc: Allocation,
    pub node: Node,
    pub region: String,
    pub dir: AllocDir,
    /// Which users tasks may run as.
    pub user_rules: crate::user_rules::UserRules,
    /// The client's `max_kill_timeout`.
    pub max_kill_timeout: std::time::Duration,
    /// The client's drivers: each task starts, re-attaches and stops through its own.
    pub drivers: DriverRegistry,
    /// Where the allocation and its tasks' states are persisted.
    pub state_db: StateDb,
    /// The task states found in the state DB when the client restarted; `None` for an
    /// allocation the client has just received.
    pub restored: Option<BTreeMap<String, PersistedTask>>,
    /// Status reports for the server.
    pub updates: mpsc::UnboundedSender<AllocClientUpdate>,
    /// Becomes `Some` when the server stops the allocation.
    pub kill: watch::Receiver<Option<KillReason>>,
    /// User-requested in-place restarts ([`crate::Client::restart_allocation`]).
    pub restart: mpsc::UnboundedReceiver<AllocRestart>,
    /// The allocation as the servers update it in place (a new job version that needs
    /// no restart, a new deployment to be judged healthy in).
    pub alloc_updates: watch::Receiver<Allocation>,
    /// The servers' service catalogue: the allocation's services are registered there
    /// and its templates read it.
    pub catalog: Arc<dyn ServiceCatalog>,
    /// Where its checks' results go.
    pub check_results: CheckResults,
}

impl AllocRunner {
    /// Runs every task to the end and reports each change. Dropping (aborting) the
    /// future stops watching the tasks without stopping them: with a non-dev driver they
    /// run on under their executors and are re-attached by the next client.
    pub async fn run(mut self) {
        let alloc = &self.alloc;
        let Some(job) = alloc.job.clone() else { return };
        let Some(group) = job.group(&alloc.task_group).cloned() else {
            return;
        };
        if self.restored.is_none() {
            let (state_db, copy) = (self.state_db.clone(), alloc.clone());
            if let Err(error) = state_db::blocking(move || state_db.put_allocation(&copy)).await {
                tracing::warn!(alloc_id = %alloc.id, %error, "failed to persist allocation");
            }
        }
        let restored = self.restored.clone().unwrap_or_default();
        let mut tasks: BTreeMap<String, (PersistedTask, bool)> = group
            .tasks
            .iter()
            .map(|t| {
                let task = match restored.get(&t.name) {
                    Some(task) => (task.clone(), true),
                    None => {
                        let received = event("Received", "Task received by client");
                        crate::task_status::log_event(alloc.id.as_str(), &t.name, &received);
                        let state = TaskState {
                            state: TaskStateKind::Pending,
                            last_restart: ZERO_TIME.into(),
                            started_at: ZERO_TIME.into(),
                            finished_at: ZERO_TIME.into(),
                            events: vec![received],
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
        if states.values().all(|s| s.state == TaskStateKind::Dead) {
            // Finished before the client restarted: the report above re-sends the end.
            return;
        }
        let mut alloc_hooks = hooks::alloc_hooks(&self.dir, &group);
        for hook in &mut alloc_hooks {
            if let Err(message) = hook.prerun().await {
                return self.fail_setup(&mut states, &message).await;
            }
        }
        // Every task's directory and state, through the checked joins.
        let task_dirs: Result<BTreeMap<String, (PathBuf, TaskStore)>, String> = group
            .tasks
            .iter()
            .map(|t| {
                let dir = self.dir.task(&t.name)?;
                let store = self.state_db.task(&alloc.id, &t.name)?;
                Ok((t.name.clone(), (dir, store)))
            })
            .collect::<Result<_, HostPathError>>()
            .map_err(|error| format!("failed to build task directory: {error}"));
        let task_dirs = match task_dirs {
            Ok(dirs) => dirs,
            Err(message) => return self.fail_setup(&mut states, &message).await,
        };

        // Checks and templates ask for task restarts and signals here.
        let (task_actions, mut task_action_requests) = mpsc::unbounded_channel::<TaskAction>();
        let (mut services, checks_health) = AllocServices::new(AllocServicesSetup {
            alloc: alloc.clone(),
            node: self.node.clone(),
            catalog: self.catalog.clone(),
            results: self.check_results.clone(),
            drivers: self.drivers.clone(),
            state_db: self.state_db.clone(),
            actions: task_actions.clone(),
        });
        // Deployment health reads this (`judge_health`).
        let mut checks_health: watch::Receiver<ChecksHealth> = checks_health;
        let (task_updates, mut task_states) = mpsc::unbounded_channel();
        // Tasks listen to their own kill switch, so a failing sibling can stop the others
        // while the server's stop still reaches everyone. Sidecars hear it only once the
        // others are dead (Nomad stops them last); poststop tasks, the group's cleanup,
        // never: they run after the others whatever ended them.
        let (task_kill, task_kill_receiver) = watch::channel(None);
        let (sidecar_kill, sidecar_kill_receiver) = watch::channel(None);
        let (_poststop_kill, poststop_kill_receiver) = watch::channel(None);
        let order = TaskOrder::new(&group);
        let agent_env: Vec<(String, String)> = std::env::vars().collect();
        // Owned here, so aborting this runner stops its task runners too.
        let mut task_runners = JoinSet::new();
        // Each running task's restart channel; a dead task's runner has dropped its end.
        let mut task_restarts: BTreeMap<String, mpsc::UnboundedSender<RestartRequest>> =
            BTreeMap::new();
        // Each started task's start gate, closed while an `AllTasks` restart waits for
        // the tasks before it in the lifecycle order.
        let mut start_gates: BTreeMap<String, watch::Sender<bool>> = BTreeMap::new();
        let mut restarting = Restarting::default();
        let make_runner = |task: &Task,
                           restored: bool,
                           kill: watch::Receiver<Option<KillReason>>| {
            let (task_dir, store) = task_dirs
                .get(&task.name)
                .cloned()
                .expect("every task of the group has a checked directory");
            let env = TaskEnv::build(
                alloc,
                &group,
                task,
                &self.node,
                &self.region,
                &self.dir,
                &task_dir,
                agent_env.iter().cloned(),
            );
            let (restart, restart_receiver) = mpsc::unbounded_channel();
            let (start_gate, start_gate_receiver) = watch::channel(true);
            let runner = TaskRunner {
                task: task.clone(),
                batch: order.role(&task.name).runs_to_completion(job.is_batch()),
                env,
                dir: self.dir.clone(),
                task_dir,
                network_mode: group.networks.first().map(|n| n.mode().to_string()),
                mounts: hooks::volumes::host_volume_mounts(&group, task, &self.node.host_volumes),
                max_kill_timeout: self.max_kill_timeout,
                driver: self.drivers.get(&task.driver),
                hooks: hooks::task_hooks(TaskHookSetup {
                    alloc,
                    group: &group,
                    task,
                    user_rules: &self.user_rules,
                    restored,
                    catalog: self.catalog.clone(),
                    actions: task_actions.clone(),
                }),
                log_files: None,
                store,
                updates: task_updates.clone(),
                kill,
                restart: restart_receiver,
                start_gate: start_gate_receiver,
            };
            (runner, restart, start_gate)
        };
        // The tasks not started yet: each starts when its lifecycle lets it.
        tasks.retain(|_, (persisted, _)| persisted.state.state != TaskStateKind::Dead);
        let mut waiting = tasks;

        // The allocation's health in its deployment, judged once (see `alloc_health`).
        let mut health = HealthTracker::for_allocation(alloc, tokio::time::Instant::now());
        let mut alloc_updates = self.alloc_updates.clone();
        let mut alloc_updates_open = true;
        let mut server_kill = self.kill.clone();
        let mut server_kill_open = true;
        if let Some(reason) = server_kill.borrow_and_update().clone() {
            task_kill.send_replace(Some(reason));
            health = None;
        }
        // A task that died before the client restarted still takes its siblings down
        // (a failed task; the leader).
        for (name, state) in &states {
            services.task_state_changed(name, state);
        }
        for (name, state) in &states {
            if task_kill.borrow().is_some() {
                break;
            }
            if let Some(reason) = task_state_updated(&mut alloc_hooks, name, state) {
                task_kill.send_replace(Some(reason));
            }
        }
        if task_kill.borrow().is_none() && order.only_sidecars_left(&states) {
            task_kill.send_replace(Some(KillReason::MainDead));
        }
        loop {
            let stopping = task_kill.borrow().clone();
            if let Some(reason) = &stopping {
                services.deregister();
                if sidecar_kill.borrow().is_none() && order.sidecars_may_stop(&states) {
                    sidecar_kill.send_replace(Some(reason.clone()));
                }
            }
            let view = restarting.view(&states);
            let held: std::collections::BTreeSet<String> = start_gates
                .iter()
                .filter(|(_, gate)| !*gate.borrow())
                .map(|(name, _)| name.clone())
                .collect();
            for name in order.ready(&held, &view, stopping.is_some()) {
                if let Some(gate) = start_gates.get(&name) {
                    gate.send_replace(true);
                }
            }
            let names: std::collections::BTreeSet<String> = waiting.keys().cloned().collect();
            for name in order.ready(&names, &view, stopping.is_some()) {
                let (Some(task), Some((persisted, was_restored))) = (
                    group.tasks.iter().find(|t| t.name == name),
                    waiting.remove(&name),
                ) else {
                    continue;
                };
                let role = order.role(&name);
                // A task let go because the group is stopping ends at once, sidecar or not.
                let kill = match role.phase {
                    Phase::Poststop => poststop_kill_receiver.clone(),
                    _ if role.sidecar && stopping.is_none() => sidecar_kill_receiver.clone(),
                    _ => task_kill_receiver.clone(),
                };
                let (runner, restart, start_gate) = make_runner(task, was_restored, kill);
                task_restarts.insert(name.clone(), restart);
                start_gates.insert(name, start_gate);
                task_runners.spawn(runner.run(persisted, was_restored));
            }
            tokio::select! {
                _ = sleep_until_wake(health.as_ref()) => {
                    self.judge_health(&order, &mut health, &states, *checks_health.borrow());
                }
                changed = alloc_updates.changed(), if alloc_updates_open => {
                    if changed.is_err() {
                        alloc_updates_open = false;
                        continue;
                    }
                    let updated = alloc_updates.borrow_and_update().clone();
                    let joined_another = health
                        .as_ref()
                        .is_none_or(|h| h.deployment_id != updated.deployment_id);
                    if joined_another && server_kill.borrow().is_none() {
                        health = HealthTracker::for_allocation(&updated, tokio::time::Instant::now());
                        self.judge_health(&order, &mut health, &states, *checks_health.borrow());
                    }
                }
                update = task_states.recv() => {
                    let Some((name, state)) = update else { break };
                    services.task_state_changed(&name, &state);
                    let reason = task_state_updated(&mut alloc_hooks, &name, &state);
                    restarting.observe(&name, &state);
                    states.insert(name, state);
                    self.report(&states);
                    self.judge_health(&order, &mut health, &states, *checks_health.borrow());
                    // Nomad: when only sidecars are left, the main tasks are done and
                    // the sidecars are stopped.
                    let reason = reason.or_else(|| {
                        order.only_sidecars_left(&states).then_some(KillReason::MainDead)
                    });
                    // The first reason to stop the group is the one its tasks hear.
                    if let Some(reason) = reason
                        && task_kill.borrow().is_none()
                    {
                        task_kill.send_replace(Some(reason));
                    }
                    if states.values().all(|s| s.state == TaskStateKind::Dead) {
                        break;
                    }
                }
                Ok(()) = checks_health.changed() => {
                    let checks = *checks_health.borrow_and_update();
                    tracing::debug!(alloc_id = %alloc.id, ?checks, "checks health changed");
                    self.judge_health(&order, &mut health, &states, checks);
                }
                Some(action) = task_action_requests.recv() => {
                    // A stopping allocation is neither restarted nor signalled.
                    if task_kill.borrow().is_none() {
                        self.act_on_task(action, &task_restarts);
                    }
                }
                changed = server_kill.changed(), if server_kill_open => {
                    if changed.is_err() {
                        server_kill_open = false;
                        continue;
                    }
                    let reason = server_kill.borrow().clone();
                    if reason.is_some() {
                        // Nomad's health watcher stops when the server stops the
                        // allocation: tasks it kills are not a verdict on the version.
                        health = None;
                        if task_kill.borrow().is_none() {
                            task_kill.send_replace(reason);
                        }
                    }
                }
                Some(request) = self.restart.recv() => {
                    // Nomad: a stopping allocation is not restarted.
                    if task_kill.borrow().is_some() {
                        let _ = request.done.send(Err(RestartError::ShouldNotRun));
                        continue;
                    }
                    let AllocRestart { target, done } = request;
                    let named: Vec<&Task> = match &target {
                        RestartTarget::Task(name) => {
                            match group.tasks.iter().find(|t| &t.name == name) {
                                Some(task) => vec![task],
                                None => {
                                    let unknown = RestartError::UnknownTask(name.clone());
                                    let _ = done.send(Err(unknown));
                                    continue;
                                }
                            }
                        }
                        // Poststop tasks run when the group ends, not on a restart.
                        RestartTarget::Running | RestartTarget::All => group
                            .tasks
                            .iter()
                            .filter(|t| order.role(&t.name).phase != Phase::Poststop)
                            .collect(),
                    };
                    let single = matches!(target, RestartTarget::Task(_));
                    let mut answers = Vec::new();
                    let mut refused = None;
                    for task in named {
                        let dead = states
                            .get(&task.name)
                            .is_some_and(|s| s.state == TaskStateKind::Dead);
                        if dead && target == RestartTarget::All {
                            // Nomad's ForceRestart: a dead task runs again, its runner
                            // resuming from a state that says it is restarting, when its
                            // turn in the lifecycle order comes (at the top of the loop).
                            let Some(state) = states.get_mut(&task.name) else { continue };
                            let persisted = restarted_dead_task(state, target.event());
                            restarting.begin(&task.name, Some(state));
                            task_restarts.remove(&task.name);
                            start_gates.remove(&task.name);
                            waiting.insert(task.name.clone(), (persisted, true));
                            self.report(&states);
                            continue;
                        }
                        if target == RestartTarget::All {
                            // Nomad restarts all tasks in their lifecycle order: a main
                            // or poststart task starts again only after those before it.
                            restarting.begin(&task.name, states.get(&task.name));
                            if order.role(&task.name).phase.waits_its_turn()
                                && let Some(gate) = start_gates.get(&task.name)
                            {
                                gate.send_replace(false);
                            }
                        }
                        let (answer, receiver) = oneshot::channel();
                        let sent = task_restarts.get(&task.name).is_some_and(|tx| {
                            tx.send(RestartRequest { event: target.event(), done: answer, signal: None }).is_ok()
                        });
                        if sent {
                            answers.push(receiver);
                        } else if single {
                            refused = Some(RestartError::TaskNotRunning);
                        }
                    }
                    if let Some(error) = refused {
                        let _ = done.send(Err(error));
                        continue;
                    }
                    // Answered off this loop: task states keep flowing while tasks stop.
                    tokio::spawn(async move {
                        let mut result = Ok(());
                        for answer in answers {
                            match answer.await.unwrap_or(Err(RestartError::TaskNotRunning)) {
                                // Nomad: tasks that are not running are not restarted.
                                Err(RestartError::TaskNotRunning) if !single => {}
                                Err(error) => result = Err(error),
                                Ok(()) => {}
                            }
                        }
                        let _ = done.send(result);
                    });
                }
            }
        }
        services.stop();
        while task_runners.join_next().await.is_some() {}
    }

    /// Carries out what a check or a template asks of a task: an in-place restart
    /// (through the same path as `alloc restart`), or a signal to its processes, each
    /// recorded with its event by the task's runner.
    fn act_on_task(
        &self,
        action: TaskAction,
        task_restarts: &BTreeMap<String, mpsc::UnboundedSender<RestartRequest>>,
    ) {
        let (event, signal) = match action.kind {
            TaskActionKind::Restart(event) => (event, None),
            TaskActionKind::Signal(signal, event) => (event, Some(signal)),
        };
        if let Some(runner) = task_restarts.get(&action.task) {
            // Answered once done; nobody waits for it here.
            let (done, _) = oneshot::channel();
            let _ = runner.send(RestartRequest {
                event,
                done,
                signal,
            });
        }
    }

    /// Fails every task with a `Setup Failure` event (nothing was started) and reports it.
    async fn fail_setup(&self, states: &mut BTreeMap<String, TaskState>, message: &str) {
        for (name, state) in states.iter_mut() {
            let mut failure = event("Setup Failure", message);
            failure.fails_task = true;
            state.events.push(failure);
            state.state = TaskStateKind::Dead;
            state.failed = true;
            let persisted = PersistedTask {
                state: state.clone(),
                handle: false,
            };
            if let Ok(store) = self.state_db.task(&self.alloc.id, name) {
                let _ = state_db::blocking(move || store.save(&persisted)).await;
            }
        }
        self.report(states);
    }

    fn report(&self, states: &BTreeMap<String, TaskState>) {
        self.send_report(states, None);
    }

    fn send_report(
        &self,
        states: &BTreeMap<String, TaskState>,
        deployment_status: Option<AllocDeploymentStatus>,
    ) {
        let (status, description) = client_status(states);
        let _ = self.updates.send(AllocClientUpdate {
            id: self.alloc.id.clone(),
            client_status: status,
            client_description: description.to_string(),
            task_states: states.clone(),
            deployment_status,
        });
    }

    /// Lets the health tracker look at the tasks now; reports its verdict, once.
    fn judge_health(
        &self,
        order: &TaskOrder,
        health: &mut Option<HealthTracker>,
        states: &BTreeMap<String, TaskState>,
        checks: ChecksHealth,
    ) {
        let Some(tracker) = health.as_mut() else {
            return;
        };
        let checks_passing = match checks {
            ChecksHealth::NoChecks => None,
            ChecksHealth::Passing => Some(true),
            ChecksHealth::Pending | ChecksHealth::Failing => Some(false),
        };
        let now = tokio::time::Instant::now();
        let judged = order.health_relevant(states);
        let Some(verdict) = tracker.observe(&judged, checks_passing, now) else {
            return;
        };
        let healthy = verdict == Verdict::Healthy;
        if let Verdict::Unhealthy(why) = &verdict {
            tracing::info!(alloc_id = %self.alloc.id, deployment_id = %tracker.deployment_id, why, "allocation unhealthy");
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i64);
        self.send_report(
            states,
            Some(AllocDeploymentStatus {
                healthy: Some(healthy),
                timestamp: caravan_structs::time::rfc3339(now),
                ..AllocDeploymentStatus::default()
            }),
        );
    }
}

/// Sleeps until the health tracker wants to look again; forever without one.
async fn sleep_until_wake(health: Option<&HealthTracker>) {
    match health.and_then(HealthTracker::next_wake) {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Asks every allocation hook whether `task`'s new state stops the group; the first
/// reason wins.
fn task_state_updated(
    hooks: &mut [Box<dyn AllocHook>],
    task: &str,
    state: &TaskState,
) -> Option<KillReason> {
    hooks
        .iter_mut()
        .find_map(|hook| hook.task_state_updated(task, state))
}

/// A dead task made ready to run again by an `AllTasks` restart: `Restart Signaled` and
/// `Restarting` recorded, pending; its runner, resumed from this state with no open
/// handle, waits out the remaining 0s of the delay (counting the restart) and starts it.
fn restarted_dead_task(state: &mut TaskState, signaled: TaskEvent) -> PersistedTask {
    state.events.push(signaled);
    state
        .events
        .push(restarting(std::time::Duration::ZERO, String::new()));
    let excess = state.events.len().saturating_sub(10);
    state.events.drain(..excess);
    state.state = TaskStateKind::Pending;
    state.failed = false;
    PersistedTask {
        state: state.clone(),
        handle: false,
    }
}

#[cfg(test)]
mod restart_tests {
    use super::*;

    #[test]
    fn each_restart_target_signals_with_nomads_reason() {
        for (target, reason) in [
            (
                RestartTarget::Task("web".into()),
                "User requested task to restart",
            ),
            (
                RestartTarget::Running,
                "User requested running tasks to restart",
            ),
            (RestartTarget::All, "User requested all tasks to restart"),
        ] {
            let signaled = target.event();
            assert_eq!(signaled.r#type, "Restart Signaled");
            assert_eq!(signaled.display_message, reason);
            assert_eq!(signaled.restart_reason, reason);
        }
    }

    #[test]
    fn a_dead_task_restarted_by_all_tasks_is_pending_with_a_zero_delay() {
        let mut state = TaskState {
            state: TaskStateKind::Dead,
            failed: true,
            events: (0..10)
                .map(|_| event("Started", "Task started by client"))
                .collect(),
            ..TaskState::default()
        };
        let persisted = restarted_dead_task(&mut state, RestartTarget::All.event());
        assert!(!persisted.handle);
        assert_eq!(persisted.state.state, TaskStateKind::Pending);
        assert!(!persisted.state.failed);
        assert_eq!(persisted.state.events.len(), 10, "Nomad keeps 10 events");
        let last: Vec<&str> = persisted.state.events[8..]
            .iter()
            .map(|e| e.display_message.as_str())
            .collect();
        assert_eq!(
            last,
            [
                "User requested all tasks to restart",
                "Task restarting in 0s"
            ]
        );
        assert_eq!(persisted.state.events[9].start_delay, 0);
        // The runner counts the restart when it has waited out the (zero) delay.
        assert_eq!(persisted.state.restarts, 0);
    }
}
