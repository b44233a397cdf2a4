//! The server: owns the state store, turns requests into evaluations and runs them through
//! the scheduler.
//!
//! A job registration writes the job and a `pending` evaluation in one command, then hands
//! the evaluation to the worker. The worker schedules it against a snapshot and commits the
//! plan together with the evaluation's outcome, again in one command. An evaluation that
//! could not place everything leaves a `blocked` evaluation behind, which goes back to the
//! worker whenever capacity may have appeared (a node registered, an allocation finished).

mod blocked;
mod dispatch;
pub mod gc;
mod heartbeat;
mod periodic;
mod plan;
mod revert;
mod unsupported;
mod validate;
mod worker;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use caravan_state::{Command, Snapshot, StateStore};
use caravan_structs::time::rfc3339;
use caravan_structs::validate::{check_submitted_job_id, validate_job};
use caravan_structs::{
    AllocClientUpdate, Allocation, EVAL_STATUS_PENDING, Evaluation, Job, JobDeregisterResponse,
    JobRegisterResponse, NODE_ELIGIBLE, NODE_INELIGIBLE, NODE_STATUS_DOWN, NODE_STATUS_READY, Node,
    NodeEvent, TRIGGER_JOB_DEREGISTER, TRIGGER_JOB_REGISTER, TRIGGER_NODE_DRAIN,
    TRIGGER_NODE_UPDATE,
};
use tokio::sync::mpsc;

pub use blocked::BlockedEvals;
pub use dispatch::{DISPATCH_PAYLOAD_SIZE_LIMIT, JobDispatchResponse};
pub use heartbeat::HeartbeatConfig;
pub use periodic::{PeriodicForceResponse, next_periodic_launch};
pub use validate::JobValidateResponse;

use heartbeat::Heartbeats;

/// What a request to the server can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The job (or other input) breaks one or more rules; each line says which.
    #[error("{}", multi_error(.0))]
    Invalid(Vec<String>),
    /// The named thing does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The named thing does not exist; the message says which (`job "web" in namespace
    /// "default" at version 7 not found`).
    #[error("{0}")]
    Missing(String),
    /// A node called with a secret that is not its own.
    #[error("permission denied: node secret does not match")]
    PermissionDenied,
}

/// [`validate`] for a job a user submits (register, plan, validate): its ID also meets
/// [`check_submitted_job_id`] (bounded, no slash), which children launched by the
/// server need not.
pub(crate) fn validate_submitted(job: &Job) -> Result<(), ServerError> {
    let id_error = check_submitted_job_id(&job.id).err();
    match (validate(job), id_error) {
        (Ok(()), None) => Ok(()),
        (Ok(()), Some(error)) => Err(ServerError::Invalid(vec![error])),
        (Err(ServerError::Invalid(mut errors)), Some(error)) => {
            errors.insert(0, error);
            Err(ServerError::Invalid(errors))
        }
        (Err(other), _) => Err(other),
    }
}

/// Every rule a job must meet to be registered: the model's and the scheduler's
/// (constraint operators and values, affinity weights, spread targets).
pub(crate) fn validate(job: &Job) -> Result<(), ServerError> {
    let mut errors = validate_job(job).err().unwrap_or_default();
    for error in caravan_scheduler::validate_placement_rules(job)
        .err()
        .unwrap_or_default()
        .into_iter()
        .chain(periodic::check_schedule(job))
        .chain(unsupported::refused(job))
    {
        if !errors.contains(&error) {
            errors.push(error);
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ServerError::Invalid(errors))
    }
}

/// A node event of the `Cluster` subsystem.
fn node_event(message: &str, now: i64) -> NodeEvent {
    NodeEvent {
        message: message.to_string(),
        subsystem: "Cluster".to_string(),
        timestamp: rfc3339(now),
        ..NodeEvent::default()
    }
}

/// Formats several errors the way Nomad's go-multierror does.
fn multi_error(errors: &[String]) -> String {
    let noun = if errors.len() == 1 { "error" } else { "errors" };
    let mut text = format!("{} {noun} occurred:\n", errors.len());
    for error in errors {
        text.push_str(&format!("\t* {error}\n"));
    }
    text.push('\n');
    text
}

/// Unix nanoseconds now.
pub fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// A fresh random ID in Nomad's UUID form.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The server half of an agent.
pub struct Server {
    state: Arc<StateStore>,
    evals: mpsc::UnboundedSender<String>,
    blocked: BlockedEvals,
    /// Index of the last write that may have freed or added capacity.
    capacity_index: AtomicU64,
    heartbeats: Heartbeats,
    /// How long scheduling and plan application take, for `/v1/metrics`.
    pub timings: Timings,
    /// Wakes the periodic launcher when a periodic job is registered, changed or stopped.
    periodic_changed: tokio::sync::Notify,
    config: ServerConfig,
    scheduler_config: std::sync::RwLock<SchedulerConfiguration>,
}

/// Count and total milliseconds of timed operations, by Nomad's metric name
/// (`nomad.nomad.worker.invoke_scheduler.service`, `nomad.nomad.plan.apply`).
#[derive(Default)]
pub struct Timings {
    by_name: std::sync::Mutex<std::collections::BTreeMap<String, (u64, f64)>>,
}

impl Timings {
    fn record(&self, name: &str, elapsed: Duration) {
        // Plain counters; a panicked holder cannot leave one half-written.
        let mut by_name = self.by_name.lock().unwrap_or_else(|p| p.into_inner());
        let entry = by_name.entry(name.to_string()).or_default();
        entry.0 += 1;
        entry.1 += elapsed.as_secs_f64() * 1000.0;
    }

    /// Every timed operation: name → (count, total milliseconds).
    pub fn snapshot(&self) -> std::collections::BTreeMap<String, (u64, f64)> {
        self.by_name
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// Server settings from the agent configuration.
#[derive(Debug, Clone, Default)]
pub struct ServerConfig {
    pub heartbeat: HeartbeatConfig,
    /// `default_scheduler_config`; changeable at run time through the operator API.
    pub scheduler: SchedulerConfiguration,
    /// When jobs, evaluations, allocations and nodes are garbage-collected.
    pub gc: gc::GcConfig,
}

/// Nomad's `SchedulerConfiguration` (`/v1/operator/scheduler/configuration`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SchedulerConfiguration {
    /// `binpack` (default) or `spread`.
    pub scheduler_algorithm: String,
    pub memory_oversubscription_enabled: bool,
    pub reject_job_registration: bool,
    pub pause_eval_broker: bool,
    pub create_index: u64,
    pub modify_index: u64,
}

impl Default for SchedulerConfiguration {
    fn default() -> Self {
        SchedulerConfiguration {
            scheduler_algorithm: "binpack".to_string(),
            memory_oversubscription_enabled: false,
            reject_job_registration: false,
            pause_eval_broker: false,
            create_index: 0,
            modify_index: 0,
        }
    }
}

/// What a node registration answers.
#[derive(Debug, Clone, Copy)]
pub struct NodeRegistration {
    pub index: u64,
    /// How long the node may stay silent before it must heartbeat again.
    pub heartbeat_ttl: Duration,
}

/// A number in [0, 1) for TTL staggering.
fn random_fraction() -> f64 {
    (uuid::Uuid::new_v4().as_u128() % 1_000_000) as f64 / 1_000_000.0
}

impl Server {
    /// Starts a server with an empty state and its scheduler worker. Needs a tokio runtime.
    pub fn start(config: ServerConfig) -> Arc<Server> {
        Server::start_with_state(config, Arc::new(StateStore::new()))
    }

    /// [`Server::start`] on a given store (a recording one, in tests).
    pub fn start_with_state(config: ServerConfig, state: Arc<StateStore>) -> Arc<Server> {
        let (sender, receiver) = mpsc::unbounded_channel();
        let server = Arc::new(Server {
            state,
            evals: sender,
            blocked: BlockedEvals::default(),
            capacity_index: AtomicU64::new(0),
            heartbeats: Heartbeats::default(),
            timings: Timings::default(),
            periodic_changed: tokio::sync::Notify::new(),
            scheduler_config: std::sync::RwLock::new(config.scheduler.clone()),
            config,
        });
        tokio::spawn(worker::run(server.clone(), receiver));
        tokio::spawn(heartbeat::watch(server.clone()));
        tokio::spawn(periodic::launch(server.clone()));
        tokio::spawn(gc::collect_periodically(server.clone()));
        server
    }

    /// Removes what is old enough to be garbage (Nomad's core scheduler); with `force`
    /// (`PUT /v1/system/gc`) thresholds are ignored. Answers the index of the write, or
    /// the current index when there was nothing to collect.
    pub fn collect_garbage(&self, force: bool) -> u64 {
        let config = if force {
            self.config.gc.forced()
        } else {
            self.config.gc.clone()
        };
        let garbage = gc::find_garbage(&self.snapshot(), now_nanos(), &config);
        if garbage.is_empty() {
            return self.snapshot().index;
        }
        tracing::debug!(
            jobs = garbage.jobs.len(),
            evals = garbage.evals.len(),
            allocs = garbage.allocs.len(),
            nodes = garbage.nodes.len(),
            "server: garbage-collecting"
        );
        let gc::Garbage {
            evals,
            allocs,
            jobs,
            nodes,
        } = garbage;
        self.state.apply(Command::GarbageCollect {
            evals,
            allocs,
            jobs,
            nodes,
        })
    }

    /// The scheduler configuration in force.
    pub fn scheduler_configuration(&self) -> SchedulerConfiguration {
        // A plain value; a panicked writer cannot leave it half-written.
        self.scheduler_config
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Replaces the scheduler configuration (`PUT /v1/operator/scheduler/configuration`).
    pub fn set_scheduler_configuration(
        &self,
        mut update: SchedulerConfiguration,
    ) -> Result<u64, ServerError> {
        if update.scheduler_algorithm.is_empty() {
            update.scheduler_algorithm = "binpack".to_string();
        }
        if update
            .scheduler_algorithm
            .parse::<caravan_scheduler::SchedulerAlgorithm>()
            .is_err()
        {
            return Err(ServerError::Invalid(vec![format!(
                "invalid scheduler algorithm \"{}\": use \"binpack\" or \"spread\"",
                update.scheduler_algorithm
            )]));
        }
        let index = self.snapshot().index;
        let mut current = self
            .scheduler_config
            .write()
            .unwrap_or_else(|p| p.into_inner());
        update.create_index = current.create_index;
        update.modify_index = index;
        *current = update;
        Ok(index)
    }

    pub(crate) fn scheduler_algorithm(&self) -> caravan_scheduler::SchedulerAlgorithm {
        self.scheduler_configuration()
            .scheduler_algorithm
            .parse()
            .unwrap_or_default()
    }

    /// The state store, for reads and blocking queries.
    pub fn state(&self) -> &Arc<StateStore> {
        &self.state
    }

    /// The latest state.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.state.snapshot()
    }

    /// Hands a delayed evaluation to the worker when its time comes (Nomad's delay heap).
    pub(crate) fn enqueue_at(&self, eval_id: String, at_nanos: i64) {
        let wait =
            std::time::Duration::from_nanos(at_nanos.saturating_sub(now_nanos()).max(0) as u64);
        let sender = self.evals.clone();
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            let _ = sender.send(eval_id);
        });
    }

    fn enqueue(&self, eval_id: String) {
        // The receiver lives as long as the worker, which lives as long as the runtime.
        let _ = self.evals.send(eval_id);
    }

    fn new_eval(&self, job: &Job, triggered_by: &str, now: i64) -> Evaluation {
        Evaluation {
            id: new_id(),
            namespace: job.namespace.clone(),
            priority: job.priority,
            r#type: job.r#type.clone(),
            triggered_by: triggered_by.to_string(),
            job_id: job.id.clone(),
            status: EVAL_STATUS_PENDING.to_string(),
            create_time: now,
            modify_time: now,
            ..Evaluation::default()
        }
    }

    /// Registers (or updates) a job and schedules it. Periodic and parameterized jobs are
    /// stored without an evaluation: only the children they launch are scheduled.
    pub fn register_job(&self, mut job: Job) -> Result<JobRegisterResponse, ServerError> {
        job.canonicalize();
        job.stop = false;
        validate_submitted(&job)?;
        let snapshot = self.snapshot();
        validate::check_update(snapshot.job(&job.namespace, &job.id).as_deref(), &job)?;
        Ok(self.commit_job(job))
    }

    /// Stores a canonicalized, valid job with the evaluation it needs (none for a
    /// periodic or parameterized parent) and hands the evaluation to the worker.
    fn commit_job(&self, job: Job) -> JobRegisterResponse {
        let now = now_nanos();
        let parent = job.is_periodic() || job.is_parameterized();
        // Nomad: periodic and parameterized jobs are never evaluated themselves.
        let eval = (!parent).then(|| self.new_eval(&job, TRIGGER_JOB_REGISTER, now));
        let eval_id = eval.as_ref().map(|e| e.id.clone()).unwrap_or_default();
        let index = self.state.apply(Command::JobRegister {
            job: job.clone(),
            eval,
            now,
        });
        let snapshot = self.snapshot();
        let stored = snapshot.job(&job.namespace, &job.id);
        if job.is_periodic() {
            self.periodic_changed.notify_one();
        }
        if !eval_id.is_empty() {
            self.enqueue(eval_id.clone());
        }
        JobRegisterResponse {
            eval_create_index: if eval_id.is_empty() { 0 } else { index },
            eval_id,
            job_modify_index: stored.map(|j| j.job_modify_index).unwrap_or(index),
            index,
            known_leader: true,
            warnings: unsupported::warnings(&job),
            ..JobRegisterResponse::default()
        }
    }

    /// Stops a job (`purge` also removes it) and schedules the stop.
    pub fn deregister_job(
        &self,
        namespace: &str,
        job_id: &str,
        purge: bool,
    ) -> Result<JobDeregisterResponse, ServerError> {
        let snapshot = self.snapshot();
        let job = snapshot
            .job(namespace, job_id)
            .ok_or(ServerError::NotFound("job"))?;
        let now = now_nanos();
        // Nomad: stopping a periodic or parameterized parent needs no evaluation (it has
        // no allocations); its children are left alone.
        let parent = job.is_periodic() || job.is_parameterized();
        let eval = (!parent).then(|| self.new_eval(&job, TRIGGER_JOB_DEREGISTER, now));
        let eval_id = eval.as_ref().map(|e| e.id.clone()).unwrap_or_default();
        let index = self.state.apply(Command::JobDeregister {
            namespace: namespace.to_string(),
            job_id: job_id.to_string(),
            purge,
            eval,
            now,
        });
        if job.is_periodic() {
            self.periodic_changed.notify_one();
        }
        if !eval_id.is_empty() {
            self.enqueue(eval_id.clone());
        }
        Ok(JobDeregisterResponse {
            eval_create_index: if eval_id.is_empty() { 0 } else { index },
            eval_id,
            job_modify_index: index,
            index,
        })
    }

    /// Registers a client node (or refreshes one that registers again) as ready. A node
    /// that registers again keeps the eligibility and drain the operator gave it.
    pub fn register_node(&self, mut node: Node) -> Result<NodeRegistration, ServerError> {
        let now = now_nanos();
        let existing = self.snapshot().node(&node.id);
        if let Some(existing) = &existing {
            if existing.secret_id != node.secret_id {
                return Err(ServerError::PermissionDenied);
            }
            node.scheduling_eligibility = existing.scheduling_eligibility.clone();
            node.drain = existing.drain;
        }
        node.status = NODE_STATUS_READY.to_string();
        if node.scheduling_eligibility.is_empty() {
            node.scheduling_eligibility = NODE_ELIGIBLE.to_string();
        }
        node.events.push(node_event(
            if existing.is_some() {
                "Node re-registered"
            } else {
                "Node registered"
            },
            now,
        ));
        let node_id = node.id.clone();
        let was_ready = existing
            .as_ref()
            .is_some_and(|n| n.status == NODE_STATUS_READY);
        let index = self.state.apply(Command::NodeRegister { node, now });
        let heartbeat_ttl =
            self.heartbeats
                .reset(&self.config.heartbeat, &node_id, random_fraction());
        self.capacity_changed(index);
        if !was_ready {
            self.evaluate_system_jobs(&node_id);
        }
        Ok(NodeRegistration {
            index,
            heartbeat_ttl,
        })
    }

    /// Checks that a caller is a registered node holding its own secret (client agents
    /// forwarding API calls over the RPC port).
    pub fn authenticate_node(&self, node_id: &str, secret_id: &str) -> Result<(), ServerError> {
        self.check_secret(node_id, secret_id).map(drop)
    }

    fn check_secret(&self, node_id: &str, secret_id: &str) -> Result<Arc<Node>, ServerError> {
        let node = self
            .snapshot()
            .node(node_id)
            .ok_or(ServerError::NotFound("node"))?;
        if node.secret_id != secret_id {
            return Err(ServerError::PermissionDenied);
        }
        Ok(node)
    }

    /// A node says it is alive; answers its next TTL. A node marked down comes back.
    pub fn heartbeat(&self, node_id: &str, secret_id: &str) -> Result<Duration, ServerError> {
        let node = self.check_secret(node_id, secret_id)?;
        let ttl = self
            .heartbeats
            .reset(&self.config.heartbeat, node_id, random_fraction());
        if node.status != NODE_STATUS_READY {
            let now = now_nanos();
            let index = self.state.apply(Command::NodeUpdateStatus {
                node_id: node_id.to_string(),
                status: NODE_STATUS_READY.to_string(),
                event: Some(node_event(
                    "Node heartbeat received; node is ready again",
                    now,
                )),
                now,
            });
            self.capacity_changed(index);
            self.evaluate_system_jobs(node_id);
        }
        Ok(ttl)
    }

    /// A node missed its heartbeat: mark it down and re-evaluate every job it ran, so its
    /// allocations are replaced elsewhere.
    pub(crate) fn node_down(&self, node_id: &str) {
        let snapshot = self.snapshot();
        let Some(node) = snapshot.node(node_id) else {
            return;
        };
        if node.status == NODE_STATUS_DOWN {
            return;
        }
        tracing::warn!(node_id, name = %node.name, "server: node missed its heartbeat, marking it down");
        let now = now_nanos();
        self.state.apply(Command::NodeUpdateStatus {
            node_id: node_id.to_string(),
            status: NODE_STATUS_DOWN.to_string(),
            event: Some(node_event("Node heartbeat missed", now)),
            now,
        });
        self.evaluate_node_jobs(node_id, TRIGGER_NODE_UPDATE);
    }

    /// Nomad's `createNodeEvals` for system jobs: a node that can take work (it joined,
    /// came back, or became eligible) gets an evaluation of every system and sysbatch
    /// job, which places their allocations on it.
    fn evaluate_system_jobs(&self, node_id: &str) {
        let snapshot = self.snapshot();
        let now = now_nanos();
        let evals: Vec<Evaluation> = snapshot
            .all_jobs()
            .filter(|job| {
                job.is_system() && !job.stop && !job.is_periodic() && !job.is_parameterized()
            })
            .map(|job| {
                let mut eval = self.new_eval(job, TRIGGER_NODE_UPDATE, now);
                eval.node_id = node_id.to_string();
                eval
            })
            .collect();
        if evals.is_empty() {
            return;
        }
        let ids: Vec<String> = evals.iter().map(|e| e.id.clone()).collect();
        self.state.apply(Command::EvalsUpsert { evals });
        for id in ids {
            self.enqueue(id);
        }
    }

    /// Creates an evaluation for each job with live allocations on the node.
    fn evaluate_node_jobs(&self, node_id: &str, triggered_by: &str) -> Vec<String> {
        let snapshot = self.snapshot();
        let now = now_nanos();
        let mut seen = std::collections::BTreeSet::new();
        let mut evals = Vec::new();
        for alloc in snapshot.allocs_by_node(node_id) {
            if alloc.terminal() || !seen.insert((alloc.namespace.clone(), alloc.job_id.clone())) {
                continue;
            }
            let Some(job) = snapshot.job(&alloc.namespace, &alloc.job_id) else {
                continue;
            };
            let mut eval = self.new_eval(&job, triggered_by, now);
            eval.node_id = node_id.to_string();
            evals.push(eval);
        }
        let ids: Vec<String> = evals.iter().map(|e| e.id.clone()).collect();
        if !evals.is_empty() {
            self.state.apply(Command::EvalsUpsert { evals });
            for id in &ids {
                self.enqueue(id.clone());
            }
        }
        ids
    }

    /// Sets a node's scheduling eligibility (`node eligibility -enable|-disable`).
    pub fn set_eligibility(&self, node_id: &str, eligible: bool) -> Result<u64, ServerError> {
        let node = self
            .snapshot()
            .node(node_id)
            .ok_or(ServerError::NotFound("node"))?;
        if node.drain && eligible {
            return Err(ServerError::Invalid(vec![
                "can not set node's scheduling eligibility to eligible while it is draining"
                    .to_string(),
            ]));
        }
        let eligibility = if eligible {
            NODE_ELIGIBLE
        } else {
            NODE_INELIGIBLE
        };
        let now = now_nanos();
        let message = if eligible {
            "Node marked as eligible for scheduling"
        } else {
            "Node marked as ineligible for scheduling"
        };
        let index = self.state.apply(Command::NodeUpdateEligibility {
            node_id: node_id.to_string(),
            eligibility: eligibility.to_string(),
            event: Some(node_event(message, now)),
            now,
        });
        if eligible {
            self.capacity_changed(index);
            self.evaluate_system_jobs(node_id);
        }
        Ok(index)
    }

    /// Starts (or cancels) a drain: the node takes no new work and every allocation on it
    /// is migrated to other nodes. Returns the evaluations created.
    pub fn set_drain(
        &self,
        node_id: &str,
        enable: bool,
        mark_eligible: bool,
    ) -> Result<(u64, Vec<String>), ServerError> {
        self.snapshot()
            .node(node_id)
            .ok_or(ServerError::NotFound("node"))?;
        let now = now_nanos();
        let index = self.state.apply(Command::NodeUpdateDrain {
            node_id: node_id.to_string(),
            drain: enable,
            eligible: !enable && mark_eligible,
            event: Some(node_event(
                if enable {
                    "Node drain strategy set"
                } else {
                    "Node drain strategy unset"
                },
                now,
            )),
            now,
        });
        let evals = if enable {
            self.evaluate_node_jobs(node_id, TRIGGER_NODE_DRAIN)
        } else {
            Vec::new()
        };
        if !enable && mark_eligible {
            self.capacity_changed(index);
            self.evaluate_system_jobs(node_id);
        }
        Ok((index, evals))
    }

    /// Ends a drain whose node has nothing left running (Nomad: "Node drain complete").
    fn complete_drains(&self, snapshot: &Snapshot) {
        for node in snapshot.all_nodes().filter(|n| n.drain) {
            if snapshot
                .allocs_by_node(&node.id)
                .iter()
                .all(|a| a.terminal() || a.client_terminal())
            {
                let now = now_nanos();
                self.state.apply(Command::NodeUpdateDrain {
                    node_id: node.id.clone(),
                    drain: false,
                    eligible: false,
                    event: Some(node_event("Node drain complete", now)),
                    now,
                });
            }
        }
    }

    /// A node's allocations, once their index passes `min_index` (or `wait` ends).
    pub async fn node_allocations(
        &self,
        node_id: &str,
        secret_id: &str,
        min_index: u64,
        wait: Duration,
    ) -> Result<(Vec<Allocation>, u64), ServerError> {
        self.check_secret(node_id, secret_id)?;
        let (allocs, index) = self
            .state
            .blocking_query(min_index, wait, |snapshot| {
                (
                    snapshot.allocs_by_node(node_id),
                    snapshot.node_allocs_index(node_id),
                )
            })
            .await;
        Ok((allocs.iter().map(|a| Allocation::clone(a)).collect(), index))
    }

    /// Records what a client reports about its own allocations.
    pub fn update_allocations(
        &self,
        node_id: &str,
        secret_id: &str,
        updates: Vec<AllocClientUpdate>,
    ) -> Result<u64, ServerError> {
        self.check_secret(node_id, secret_id)?;
        let snapshot = self.snapshot();
        if let Some(foreign) = updates
            .iter()
            .find(|u| snapshot.alloc(&u.id).is_some_and(|a| a.node_id != node_id))
        {
            return Err(ServerError::Invalid(vec![format!(
                "allocation {} does not run on node {node_id}",
                foreign.id
            )]));
        }
        let frees_capacity = updates.iter().any(|u| {
            let was_live = snapshot.alloc(&u.id).is_some_and(|a| !a.client_terminal());
            was_live && matches!(u.client_status.as_str(), "complete" | "failed" | "lost")
        });
        // Nomad: an allocation that just failed, and should still run, gets its job
        // re-evaluated so the reschedule policy can act.
        let mut failed_jobs = std::collections::BTreeSet::new();
        for update in &updates {
            if update.client_status != caravan_structs::ALLOC_CLIENT_FAILED {
                continue;
            }
            if let Some(alloc) = snapshot.alloc(&update.id)
                && !alloc.client_terminal()
                && !alloc.server_terminal()
            {
                failed_jobs.insert((alloc.namespace.clone(), alloc.job_id.clone()));
            }
        }
        let now = now_nanos();
        let index = self
            .state
            .apply(Command::AllocClientUpdate { updates, now });
        if frees_capacity {
            self.capacity_changed(index);
            self.complete_drains(&self.snapshot());
        }
        let after = self.snapshot();
        let evals: Vec<Evaluation> = failed_jobs
            .iter()
            .filter_map(|(namespace, job_id)| after.job(namespace, job_id))
            .filter(|job| !job.stop)
            .map(|job| self.new_eval(&job, caravan_structs::TRIGGER_ALLOC_FAILURE, now))
            .collect();
        if !evals.is_empty() {
            let ids: Vec<String> = evals.iter().map(|e| e.id.clone()).collect();
            self.state.apply(Command::EvalsUpsert { evals });
            for id in ids {
                self.enqueue(id);
            }
        }
        Ok(index)
    }

    /// Something may have made room: re-run the blocked evaluations.
    fn capacity_changed(&self, index: u64) {
        self.capacity_index.fetch_max(index, Ordering::SeqCst);
        let evals = self.blocked.take_all();
        if evals.is_empty() {
            return;
        }
        let snapshot = self.snapshot();
        let mut pending = Vec::new();
        for id in evals {
            if let Some(eval) = snapshot.eval(&id) {
                let mut eval = Evaluation::clone(&eval);
                eval.status = EVAL_STATUS_PENDING.to_string();
                eval.modify_time = now_nanos();
                pending.push(eval);
            }
        }
        let ids: Vec<String> = pending.iter().map(|e| e.id.clone()).collect();
        self.state.apply(Command::EvalsUpsert { evals: pending });
        for id in ids {
            self.enqueue(id);
        }
    }
}
