//! The server: owns the state store, turns requests into evaluations and runs them through
//! the scheduler.
//!
//! Every change is one `Command` handed to a [`Replicator`] (`endpoints/`: a job
//! registration writes the job and a `pending` evaluation in one command). Written
//! evaluations go to the leader's eval broker; the worker schedules each against a
//! snapshot and the plan applier commits the plan together with the evaluation's outcome,
//! again in one command. An evaluation that could not place everything leaves a `blocked`
//! evaluation behind, which goes back to the broker whenever capacity may have appeared
//! (a node registered, an allocation finished). The leader's services (`leader/`) are
//! rebuilt from the state when the server starts.

mod clock;
mod dispatch;
mod endpoints;
pub mod gc;
mod keyring;
mod leader;
mod periodic;
mod plan;
mod replicator;
mod revert;
pub mod search;
mod unsupported;
mod validate;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use caravan_api_types::{JobDeregisterResponse, JobRegisterResponse};
use caravan_state::{Command, Snapshot, StateStore};
use caravan_structs::driver_schema::DriverSchemas;
use caravan_structs::ids::AsId;
use caravan_structs::time::rfc3339;
use caravan_structs::validate::{check_submitted, validate_job_with_drivers};
use caravan_structs::{
    AllocClientStatus, AllocClientUpdate, AllocId, Allocation, EvalId, EvalStatus, EvalTrigger,
    Evaluation, Job, JobId, Node, NodeEligibility, NodeEvent, NodeId, NodeStatus,
};

pub use caravan_structs::SchedulerConfiguration;
pub use clock::{Clock, IdGen, ManualClock, RandomIds, Sleep, SystemClock, new_id, now_nanos};
pub use dispatch::DISPATCH_PAYLOAD_SIZE_LIMIT;
pub use endpoints::acl::{
    ACL_DISABLED, ACL_TOKEN_EXPIRED, ACL_TOKEN_NOT_FOUND, AclConfig, Caller, PERMISSION_DENIED,
    secrets_equal,
};
pub use endpoints::variable::{LockOperation, VariableWrite};
pub use keyring::KeyringError;
pub use leader::LeaderStats;
pub use leader::blocked::BlockedEvals;
pub use leader::eval_broker::{BrokerConfig, BrokerStats};
pub use leader::heartbeats::HeartbeatConfig;
pub use periodic::next_periodic_launch;
pub use replicator::{Applied, LocalReplicator, ReplicationError, Replicator};

use leader::Leader;

/// What a request to the server can fail with.
#[derive(Debug, Clone, thiserror::Error)]
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
    /// A request that cannot be served as asked, in one sentence (a 400 without the
    /// multi-error list: `ACL bootstrap already done (reset index: 7)`).
    #[error("{0}")]
    BadRequest(String),
    /// The caller's token is unknown or expired, or lacks the capability (a 403 with
    /// Nomad's words: `ACL token not found`, `Permission denied`).
    #[error("{0}")]
    Forbidden(String),
    /// The operation cannot be done in the state things are in, in Nomad's words,
    /// answered as Nomad does (a 500 with the plain message: `can't promote terminal
    /// deployment`).
    #[error("{0}")]
    Rejected(String),
    /// The change could not be written (see [`ReplicationError::Unavailable`]); the
    /// caller may retry.
    #[error("{0}")]
    Unavailable(String),
}

/// [`validate`] for a job a user submits (register, plan, validate): its ID also meets
/// [`check_submitted_job_id`] (bounded, no slash), which children launched by the
/// server need not.
pub(crate) fn validate_submitted(job: &Job, drivers: &DriverSchemas) -> Result<(), ServerError> {
    let id_error = check_submitted(job.id.as_str(), job.dispatched).err();
    match (validate(job, drivers), id_error) {
        (Ok(()), None) => Ok(()),
        (Ok(()), Some(error)) => Err(ServerError::Invalid(vec![error])),
        (Err(ServerError::Invalid(mut errors)), Some(error)) => {
            errors.insert(0, error);
            Err(ServerError::Invalid(errors))
        }
        (Err(other), _) => Err(other),
    }
}

/// Every rule a job must meet to be registered: the model's, its tasks' `config` against
/// their drivers' schemas, and the scheduler's (constraint operators and values, affinity
/// weights, spread targets).
pub(crate) fn validate(job: &Job, drivers: &DriverSchemas) -> Result<(), ServerError> {
    let mut errors = validate_job_with_drivers(job, drivers)
        .err()
        .unwrap_or_default();
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

/// The server half of an agent.
pub struct Server {
    /// What the server reads; written only through `replicator`.
    state: Arc<StateStore>,
    replicator: Arc<dyn Replicator>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGen>,
    /// The leader's services of the current term; empty and idle on a follower.
    leader: arc_swap::ArcSwap<Leader>,
    /// The tasks of the current term's services, aborted when leadership is lost.
    leader_tasks: std::sync::Mutex<Vec<tokio::task::AbortHandle>>,
    /// How long scheduling and plan application take, for `/v1/metrics`.
    pub timings: Timings,
    config: ServerConfig,
    /// ACLs compiled from policies, by policy set.
    acl_cache: endpoints::acl::AclCache,
    /// Clients' allocation reports waiting to be written together.
    pending_alloc_updates: endpoints::alloc_batch::PendingUpdates,
    /// The nodes evaluations may place on, per pool and datacenters, shared by the
    /// scheduler workers until the node table changes.
    candidates: caravan_scheduler::CandidateCache,
}

/// Count and total milliseconds of timed operations, by Nomad's metric name
/// (`nomad.nomad.worker.invoke_scheduler.service`, `nomad.nomad.plan.apply`).
/// Also counters and gauges (`nomad.nomad.plan.node_rejected`,
/// `nomad.nomad.plan.queue_depth`), by name.
#[derive(Default)]
pub struct Timings {
    by_name: std::sync::Mutex<std::collections::BTreeMap<String, (u64, f64)>>,
    values: std::sync::Mutex<std::collections::BTreeMap<String, f64>>,
}

impl Timings {
    fn record(&self, name: &str, elapsed: Duration) {
        // Plain counters; a panicked holder cannot leave one half-written.
        let mut by_name = self.by_name.lock().unwrap_or_else(|p| p.into_inner());
        let entry = by_name.entry(name.to_string()).or_default();
        entry.0 += 1;
        entry.1 += elapsed.as_secs_f64() * 1000.0;
    }

    /// Adds to a counter.
    fn add(&self, name: &str, amount: f64) {
        let mut values = self.values.lock().unwrap_or_else(|p| p.into_inner());
        *values.entry(name.to_string()).or_default() += amount;
    }

    /// Sets a gauge.
    fn set_gauge(&self, name: &str, value: f64) {
        let mut values = self.values.lock().unwrap_or_else(|p| p.into_inner());
        values.insert(name.to_string(), value);
    }

    /// Every counter and gauge: name → value.
    pub fn values(&self) -> std::collections::BTreeMap<String, f64> {
        self.values
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
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
    /// The task config schemas of the drivers clients run, checked at submit (the
    /// binary fills them from the driver registry; none means configs are unchecked).
    pub driver_schemas: DriverSchemas,
    /// The `acl {}` block.
    pub acl: AclConfig,
    /// The `search {}` block.
    pub search: search::SearchConfig,
    /// `num_schedulers`: how many scheduler workers take evaluations at once; 0 for
    /// Nomad's default, one per core.
    pub num_schedulers: usize,
    /// `eval_nack_timeout` and `eval_delivery_limit`.
    pub broker: leader::eval_broker::BrokerConfig,
}

impl ServerConfig {
    /// How many scheduler workers run on the leader.
    pub fn scheduler_workers(&self) -> usize {
        if self.num_schedulers > 0 {
            return self.num_schedulers;
        }
        std::thread::available_parallelism().map_or(1, usize::from)
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
    /// Starts a server with an empty state, its leader's services and its scheduler
    /// worker. Needs a tokio runtime.
    pub fn start(config: ServerConfig) -> Arc<Server> {
        Server::start_with_state(config, Arc::new(StateStore::new()))
    }

    /// [`Server::start`] on a given store (a recording one, in tests).
    pub fn start_with_state(config: ServerConfig, state: Arc<StateStore>) -> Arc<Server> {
        Server::start_with(config, state, Arc::new(SystemClock), Arc::new(RandomIds))
    }

    /// [`Server::start`] with every dependency given: the store (which may already
    /// hold state: the leader's services pick it up), the clock, the IDs. Writes are
    /// applied to the store directly ([`LocalReplicator`]).
    pub fn start_with(
        config: ServerConfig,
        state: Arc<StateStore>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGen>,
    ) -> Arc<Server> {
        let replicator = Arc::new(LocalReplicator::new(state.clone()));
        Server::start_replicated(config, state, replicator, clock, ids)
    }

    /// [`Server::start_with`] writing through `replicator`, which applies to `state`.
    /// The leader's services run while the replicator says this server leads.
    pub fn start_replicated(
        config: ServerConfig,
        state: Arc<StateStore>,
        replicator: Arc<dyn Replicator>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGen>,
    ) -> Arc<Server> {
        let server = Arc::new(Server {
            state,
            replicator,
            clock,
            ids,
            leader: arc_swap::ArcSwap::from_pointee(Leader::default()),
            leader_tasks: std::sync::Mutex::default(),
            timings: Timings::default(),
            config,
            acl_cache: Default::default(),
            pending_alloc_updates: Default::default(),
            candidates: Default::default(),
        });
        leader::follow_leadership(&server);
        server
    }

    /// The leader's services of the current term.
    pub(crate) fn leader(&self) -> Arc<Leader> {
        self.leader.load_full()
    }

    /// Whether this server runs the leader's services now.
    pub fn is_leader(&self) -> bool {
        *self.replicator.leadership().borrow() != 0
    }

    /// Unix nanoseconds now, by the server's clock.
    pub(crate) fn now(&self) -> i64 {
        self.clock.now_nanos()
    }

    /// A fresh ID from the server's generator.
    pub(crate) fn id(&self) -> String {
        self.ids.new_id()
    }

    /// The `search {}` settings `/v1/search/fuzzy` follows.
    pub fn search_config(&self) -> search::SearchConfig {
        self.config.search
    }

    /// The state store, for reads and blocking queries.
    pub fn state(&self) -> &Arc<StateStore> {
        &self.state
    }

    /// The latest state.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.state.snapshot()
    }

    /// What the leader's services hold (queued, delayed and blocked evaluations, watched
    /// nodes, periodic jobs), for metrics and tests.
    pub fn leader_stats(&self) -> LeaderStats {
        self.leader().stats()
    }
}
