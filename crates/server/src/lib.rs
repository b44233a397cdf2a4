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
mod endpoints;
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

use caravan_api_types::{JobDeregisterResponse, JobRegisterResponse};
use caravan_state::{Command, Snapshot, StateStore};
use caravan_structs::time::rfc3339;
use caravan_structs::validate::{check_submitted, validate_job};
use caravan_structs::{
    AllocClientUpdate, Allocation, EVAL_STATUS_PENDING, Evaluation, Job, NODE_ELIGIBLE,
    NODE_INELIGIBLE, NODE_STATUS_DOWN, NODE_STATUS_READY, Node, NodeEvent, TRIGGER_JOB_DEREGISTER,
    TRIGGER_JOB_REGISTER, TRIGGER_NODE_DRAIN, TRIGGER_NODE_UPDATE,
};
use tokio::sync::mpsc;

pub use blocked::BlockedEvals;
pub use caravan_structs::SchedulerConfiguration;
pub use dispatch::DISPATCH_PAYLOAD_SIZE_LIMIT;
pub use heartbeat::HeartbeatConfig;
pub use periodic::next_periodic_launch;

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
    let id_error = check_submitted(&job.id, job.dispatched).err();
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

/// Where the server reads the time. Everything the server writes carries its time in
/// the command, so a test's clock makes a whole run reproducible.
pub trait Clock: Send + Sync {
    /// Unix nanoseconds now.
    fn now_nanos(&self) -> i64;
}

/// Where the server gets fresh IDs (evaluations, allocations, dispatched children).
pub trait IdGen: Send + Sync {
    /// A new ID in Nomad's UUID form.
    fn new_id(&self) -> String;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_nanos(&self) -> i64 {
        now_nanos()
    }
}

/// Random version-4 UUIDs.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomIds;

impl IdGen for RandomIds {
    fn new_id(&self) -> String {
        new_id()
    }
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
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGen>,
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
        Server::start_with(config, state, Arc::new(SystemClock), Arc::new(RandomIds))
    }

    /// [`Server::start`] with every dependency given: the store, the clock, the IDs.
    pub fn start_with(
        config: ServerConfig,
        state: Arc<StateStore>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGen>,
    ) -> Arc<Server> {
        let (sender, receiver) = mpsc::unbounded_channel();
        let server = Arc::new(Server {
            state,
            clock,
            ids,
            evals: sender,
            blocked: BlockedEvals::default(),
            capacity_index: AtomicU64::new(0),
            heartbeats: Heartbeats::default(),
            timings: Timings::default(),
            periodic_changed: tokio::sync::Notify::new(),
            config,
        });
        tokio::spawn(worker::run(server.clone(), receiver));
        tokio::spawn(heartbeat::watch(server.clone()));
        tokio::spawn(periodic::launch(server.clone()));
        tokio::spawn(gc::collect_periodically(server.clone()));
        server
    }

    /// Unix nanoseconds now, by the server's clock.
    pub(crate) fn now(&self) -> i64 {
        self.clock.now_nanos()
    }

    /// A fresh ID from the server's generator.
    pub(crate) fn id(&self) -> String {
        self.ids.new_id()
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
            std::time::Duration::from_nanos(at_nanos.saturating_sub(self.now()).max(0) as u64);
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
            id: self.id(),
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
                eval.modify_time = self.now();
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
