//! The client: makes this machine a node, runs the allocations the servers place on it,
//! and reports their state back.
//!
//! It talks to the servers only through [`ServerRpc`]: register, long-poll for its
//! allocations' modify indexes and fetch the changed ones, report status. The dev agent
//! implements that trait in process; a client agent implements it over the network.

pub mod alloc_dir;
pub mod alloc_health;
pub mod alloc_runner;
#[cfg(test)]
mod alloc_sync_tests;
mod alloc_usage;
pub mod artifact;
pub mod checks;
pub mod driver_health;
pub mod exec;
#[cfg(test)]
mod fake_server;
pub mod fingerprint;
pub mod gc;
pub mod hooks;
pub mod host_stats;
pub mod log_files;
pub mod restart;
pub mod services;
mod signal;
pub mod state_db;
pub mod task_env;
pub mod task_order;
pub mod task_runner;
pub mod task_stats;
pub mod task_status;
pub mod template;
pub mod user_rules;

pub use signal::SignalError;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use caravan_api_types::rpc::NodeClientAllocsResponse;
use caravan_drivers::{DriverRegistry, host_path::HostPathError};
use caravan_structs::{
    AllocClientStatus, AllocClientUpdate, AllocId, Allocation, Node, NodeEligibility, NodeId,
    NodeStatus, ServiceRegistration, ServiceRegistrationListStub, Variable, VariableMetadata,
};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::alloc_dir::AllocDir;
use crate::alloc_runner::AllocRunner;
use crate::state_db::StateDb;
use crate::task_runner::KillReason;

/// Why a call to the servers failed, as the client acts on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RpcError {
    /// The servers do not know this node (they lost their state, or collected it): the
    /// client registers again.
    #[error("node not found")]
    NodeNotFound,
    /// The node's secret is not the one the servers hold.
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    /// The servers refused the call as asked (bad input): retrying will not help.
    #[error("refused: {0}")]
    Refused(String),
    /// No server could be reached, or its answer could not be read: retry later.
    #[error("{0}")]
    Unavailable(String),
}

/// What a client asks of the servers.
pub trait ServerRpc: Send + Sync + 'static {
    /// Registers (or re-registers) the node; answers the heartbeat TTL.
    fn register_node(&self, node: Node) -> impl Future<Output = Result<Duration, RpcError>> + Send;
    /// Tells the servers the node is alive; answers the next heartbeat TTL.
    fn heartbeat(
        &self,
        node_id: &NodeId,
        secret_id: &str,
    ) -> impl Future<Output = Result<Duration, RpcError>> + Send;
    /// Nomad's `Node.GetClientAllocs`, the client's long-poll: the node's allocations as
    /// ID → `AllocModifyIndex`, once their index passes `min_index`, with those changed
    /// past it in full; and the new index.
    fn get_client_allocs(
        &self,
        node_id: &NodeId,
        secret_id: &str,
        min_index: u64,
    ) -> impl Future<Output = Result<(NodeClientAllocsResponse, u64), RpcError>> + Send;
    /// Nomad's `Alloc.GetAllocs`: the node's allocations with these IDs, once the
    /// server's state has reached `min_index`. IDs the server no longer holds are left
    /// out.
    fn get_allocs(
        &self,
        node_id: &NodeId,
        secret_id: &str,
        alloc_ids: Vec<AllocId>,
        min_index: u64,
    ) -> impl Future<Output = Result<Vec<Allocation>, RpcError>> + Send;
    /// Reports allocation status.
    fn update_allocations(
        &self,
        node_id: &NodeId,
        secret_id: &str,
        updates: Vec<AllocClientUpdate>,
    ) -> impl Future<Output = Result<(), RpcError>> + Send;
    /// Registers services of allocations the node runs (`provider = "nomad"`).
    fn upsert_services(
        &self,
        node_id: &NodeId,
        secret_id: &str,
        services: Vec<ServiceRegistration>,
    ) -> impl Future<Output = Result<(), RpcError>> + Send;
    /// Removes the registrations of allocations the node stopped.
    fn delete_alloc_services(
        &self,
        node_id: &NodeId,
        secret_id: &str,
        alloc_ids: Vec<AllocId>,
    ) -> impl Future<Output = Result<(), RpcError>> + Send;
    /// Every service of `namespace` with its tags once the services table's index
    /// passes `min_index`, with the new index (`nomadServices` in templates).
    fn service_list(
        &self,
        node_id: &NodeId,
        secret_id: &str,
        namespace: &str,
        min_index: u64,
    ) -> impl Future<Output = Result<(Vec<ServiceRegistrationListStub>, u64), RpcError>> + Send;
    /// A service's registrations in `namespace` once the services table's index
    /// passes `min_index`, with the new index (what templates watch).
    fn service_registrations(
        &self,
        node_id: &NodeId,
        secret_id: &str,
        namespace: &str,
        name: &str,
        min_index: u64,
    ) -> impl Future<Output = Result<(Vec<ServiceRegistration>, u64), RpcError>> + Send;
    /// The variable at `path` as `workload` may read it (`nomadVar`), `None` when there
    /// is none, once its index passes `min_index`.
    fn workload_variable(
        &self,
        node_id: &NodeId,
        secret_id: &str,
        workload: &Workload,
        path: &str,
        min_index: u64,
    ) -> impl Future<Output = Result<(Option<Variable>, u64), RpcError>> + Send;
    /// The variables under `prefix` `workload` may list (`nomadVarList`), once the
    /// variables' index passes `min_index`.
    fn workload_variable_list(
        &self,
        node_id: &NodeId,
        secret_id: &str,
        workload: &Workload,
        prefix: &str,
        min_index: u64,
    ) -> impl Future<Output = Result<(Vec<VariableMetadata>, u64), RpcError>> + Send;
}

/// The task whose templates read variables: the servers grant it the paths of its
/// job, group and task (Nomad's workload identity).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    pub alloc_id: AllocId,
    pub task: String,
}

/// How this client is set up (from the agent configuration).
#[derive(Debug, Clone, Default)]
pub struct ClientConfig {
    /// The client's state lives in `<data_dir>/client`, allocations in `<data_dir>/alloc`.
    pub data_dir: PathBuf,
    /// Node name; empty means the hostname.
    pub node_name: String,
    pub datacenter: String,
    pub region: String,
    pub node_class: String,
    pub node_pool: String,
    pub meta: BTreeMap<String, String>,
    /// Address other agents reach this client's HTTP API on (`host:port`).
    pub http_addr: String,
    /// The IP the node advertises (`unique.network.ip-address`).
    pub advertise_ip: String,
    /// Which users tasks may run as (`user.denylist`, `user.checked_drivers`).
    pub user_rules: user_rules::UserRules,
    /// When finished allocations' directories are collected.
    pub gc: gc::GcConfig,
    /// The longest any task waits between its kill signal and SIGKILL (Nomad's
    /// `max_kill_timeout`, 30 s when unset).
    pub max_kill_timeout: Option<Duration>,
    /// The agent's `host_volume` blocks, by name: reported on the node, mounted into
    /// tasks that ask for them.
    pub host_volumes: BTreeMap<String, caravan_structs::ClientHostVolumeConfig>,
    /// Totals the agent's configuration sets in place of the detected ones.
    pub resource_overrides: fingerprint::ResourceOverrides,
}

/// Unix nanoseconds now.
pub fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// A number in [0, 1) for restart jitter; it need not be strong, only spread out.
pub(crate) fn random_fraction() -> f64 {
    (uuid::Uuid::new_v4().as_u128() % 1_000_000) as f64 / 1_000_000.0
}

/// The node's identity, kept in `<data_dir>/client/node.json` so a restarted client is the
/// same node.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct NodeIdentity {
    id: NodeId,
    secret_id: String,
}

/// The node's identity, created on first start. `node.json` holds the node's secret, so
/// it and its directory are the agent user's alone (modes 600 and 700), also when an
/// earlier version left them readable.
fn load_or_create_identity(data_dir: &std::path::Path) -> std::io::Result<NodeIdentity> {
    use std::os::unix::fs::PermissionsExt;
    let dir = data_dir.join("client");
    state_db::create_private_dir(&dir)?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
    let path = dir.join("node.json");
    if let Ok(text) = std::fs::read_to_string(&path)
        && let Ok(identity) = serde_json::from_str(&text)
    {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        return Ok(identity);
    }
    let identity = NodeIdentity {
        id: uuid::Uuid::new_v4().to_string().into(),
        secret_id: uuid::Uuid::new_v4().to_string(),
    };
    caravan_drivers::executor::write_json_atomic(&path, &identity)?;
    Ok(identity)
}

/// Nomad refuses to start a client whose host volume is not there: a job placed on it
/// would fail to mount it.
fn check_host_volumes(
    volumes: &BTreeMap<String, caravan_structs::ClientHostVolumeConfig>,
) -> std::io::Result<()> {
    for volume in volumes.values() {
        if let Err(error) = std::fs::metadata(&volume.path) {
            return Err(std::io::Error::new(
                error.kind(),
                format!(
                    "failed to validate volume {}, err: stat {}: {error}; create the directory or fix the host_volume's path",
                    volume.name, volume.path
                ),
            ));
        }
    }
    Ok(())
}

/// How far an allocation is from needing its state DB entry no more.
#[derive(Debug, Default)]
struct Finishing {
    /// Its runner returned (not aborted: an aborted runner's tasks are resumed later).
    runner_done: bool,
    /// The servers acknowledged a terminal status as its latest report.
    final_acknowledged: bool,
}

struct RunnerHandle {
    kill: watch::Sender<Option<KillReason>>,
    /// In-place restarts for the runner ([`Client::restart_allocation`]).
    restart: mpsc::UnboundedSender<alloc_runner::AllocRestart>,
    /// The allocation as the servers last sent it.
    alloc: watch::Sender<Allocation>,
    task: JoinHandle<()>,
    /// Garbage-collected: the directory and state are gone, the handle stays until the
    /// servers stop listing the allocation, so that it is never started again.
    destroyed: bool,
}

/// A running client.
pub struct Client {
    /// The node as the client started: its identity and facts.
    node: Node,
    /// The node as last registered: its drivers' health changes while it runs
    /// ([`driver_health`]).
    registered: Mutex<Node>,
    config: ClientConfig,
    runners: Mutex<HashMap<AllocId, RunnerHandle>>,
    /// The allocations this client was given, with the status it last reported: what
    /// its own `fs` endpoints answer from.
    known: Mutex<HashMap<AllocId, Allocation>>,
    /// Allocations on their way out: once the runner has finished and the servers
    /// have acknowledged the final status, the allocation's state DB entry goes.
    finishing: Mutex<HashMap<AllocId, Finishing>>,
    updates: mpsc::UnboundedSender<AllocClientUpdate>,
    /// The drivers tasks start, re-attach and stop through.
    drivers: DriverRegistry,
    /// Allocations and task states, kept across client restarts.
    state_db: StateDb,
    /// The servers' service catalogue, through this node's connection.
    catalog: Arc<dyn services::ServiceCatalog>,
    /// The latest result of every check of every allocation.
    check_results: checks::CheckResults,
    /// The last registration or heartbeat succeeded (`/v1/agent/health`).
    connected: std::sync::atomic::AtomicBool,
}

/// Locks a mutex whose data stays consistent even if a holder panicked (plain maps of
/// handles and copies, each change a single insert or remove).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Client {
    /// Fingerprints the machine and its drivers, builds the node, re-attaches to the
    /// allocations recorded in `<data_dir>/client` by an earlier run, registers the node
    /// and starts watching for allocations. Tasks run through `drivers`; drivers whose
    /// executors have `die_with_agent: false` are for agents that keep their tasks across
    /// restarts (and leave with [`Client::shutdown`]). Needs a tokio runtime.
    pub async fn start<S: ServerRpc>(
        config: ClientConfig,
        drivers: DriverRegistry,
        server: Arc<S>,
    ) -> std::io::Result<Arc<Client>> {
        let data_dir = config.data_dir.clone();
        let host_volumes = config.host_volumes.clone();
        let identity = state_db::blocking(move || {
            check_host_volumes(&host_volumes)?;
            std::fs::create_dir_all(data_dir.join("alloc"))?;
            load_or_create_identity(&data_dir)
        })
        .await?;
        let mut facts = fingerprint::fingerprint_host(&config.data_dir, &config.advertise_ip).await;
        facts.apply(&config.resource_overrides);
        let attributes = facts.attributes;
        let now = caravan_structs::time::rfc3339(now_nanos());
        // Fingerprints may run programs (`java -version`): off the runtime.
        let fingerprinted = drivers.clone();
        let driver_infos = tokio::task::spawn_blocking(move || fingerprinted.fingerprint())
            .await
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "fingerprinting the drivers failed; the node offers none");
                BTreeMap::new()
            });
        let name = if config.node_name.is_empty() {
            facts.hostname.clone()
        } else {
            config.node_name.clone()
        };
        let (identity_node_id, identity_secret) = (identity.id.clone(), identity.secret_id.clone());
        let node = Node {
            id: identity.id,
            secret_id: identity.secret_id,
            datacenter: config.datacenter.clone(),
            name,
            http_addr: config.http_addr.clone(),
            attributes,
            meta: config.meta.clone(),
            node_class: config.node_class.clone(),
            node_pool: if config.node_pool.is_empty() {
                "default".into()
            } else {
                config.node_pool.clone()
            },
            node_resources: facts.resources,
            host_volumes: config.host_volumes.clone(),
            status: NodeStatus::Initializing,
            scheduling_eligibility: NodeEligibility::Eligible,
            ..Node::default()
        };
        let mut node = node;
        driver_health::apply(&mut node, driver_infos, &now);
        let (updates, receiver) = mpsc::unbounded_channel();
        let client = Arc::new(Client {
            registered: Mutex::new(node.clone()),
            node,
            state_db: StateDb::new(&config.data_dir),
            config,
            runners: Mutex::new(HashMap::new()),
            known: Mutex::new(HashMap::new()),
            finishing: Mutex::new(HashMap::new()),
            updates,
            drivers,
            catalog: Arc::new(services::NodeCatalog {
                server: server.clone(),
                node_id: identity_node_id.clone(),
                secret_id: identity_secret.clone(),
            }),
            check_results: checks::CheckResults::default(),
            connected: std::sync::atomic::AtomicBool::new(false),
        });
        tracing::info!(node_id = %client.node.id, "started client");
        tokio::spawn(send_updates(client.clone(), server.clone(), receiver));
        let state_db = client.state_db.clone();
        if client.drivers.executor().die_with_agent {
            // Tasks never outlive such an agent (dev mode: the servers' state is gone
            // too), so an earlier run's records describe nothing to resume.
            if let Err(error) = state_db::blocking(move || state_db.clear()).await {
                tracing::warn!(%error, "failed to clear the state DB");
            }
        } else {
            // Before registering: re-attaching must not wait for a server.
            let persisted = state_db::blocking(move || Ok(state_db.allocations()))
                .await
                .unwrap_or_default();
            client.restore(persisted);
        }
        let ttl = register(&client, server.as_ref()).await;
        tokio::spawn(client.clone().collect_periodically());
        tokio::spawn(heartbeat(client.clone(), server.clone(), ttl));
        tokio::spawn(refresh_drivers(client.clone(), server.clone()));
        tokio::spawn(watch_allocations(client.clone(), server));
        Ok(client)
    }

    /// Whether the servers know this node: its last registration or heartbeat
    /// succeeded.
    pub fn is_connected(&self) -> bool {
        self.connected.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn set_connected(&self, connected: bool) {
        self.connected
            .store(connected, std::sync::atomic::Ordering::Relaxed);
    }

    /// The allocation as this client knows it (with the status it last reported).
    pub fn allocation(&self, alloc_id: &str) -> Option<Allocation> {
        lock(&self.known).get(alloc_id).cloned()
    }

    /// Allocations this client knows whose ID starts with `prefix`.
    pub fn allocations_by_prefix(&self, prefix: &str) -> Vec<Allocation> {
        lock(&self.known)
            .values()
            .filter(|a| a.id.starts_with(prefix))
            .cloned()
            .collect()
    }

    fn record_update(&self, update: &AllocClientUpdate) {
        if let Some(alloc) = lock(&self.known).get_mut(&update.id) {
            alloc.client_status = update.client_status;
            alloc.client_description = update.client_description.clone();
            alloc.task_states = update.task_states.clone();
            if let Some(status) = &update.deployment_status {
                alloc.deployment_status = Some(status.clone());
            }
        }
    }

    /// The latest result of each check of an allocation this client runs, by check ID
    /// (`GET /v1/client/allocation/:id/checks`); `None` for an allocation it does not
    /// know.
    pub fn allocation_checks(
        &self,
        alloc_id: &str,
    ) -> Option<BTreeMap<String, caravan_api_types::CheckQueryResult>> {
        self.allocation(alloc_id)?;
        Some(self.check_results.of(alloc_id))
    }

    /// The node this client registered.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// The directory of an allocation on this client (an error for an ID that could
    /// name anything but one directory under the client's `alloc` root).
    pub fn alloc_dir(&self, alloc_id: &str) -> Result<AllocDir, HostPathError> {
        AllocDir::new(&self.config.data_dir.join("alloc"), alloc_id)
    }

    fn lock_runners(&self) -> std::sync::MutexGuard<'_, HashMap<AllocId, RunnerHandle>> {
        lock(&self.runners)
    }

    /// Resumes every allocation recorded in the state DB: runners re-attach to live tasks,
    /// act on exits recorded while no client watched, and re-send the final state of
    /// those that had finished. `reconcile` then finds them among its runners.
    fn restore(self: &Arc<Self>, persisted: Vec<state_db::PersistedAlloc>) {
        let mut known = lock(&self.known);
        let mut runners = self.lock_runners();
        for state_db::PersistedAlloc { alloc, tasks } in persisted {
            let states: BTreeMap<String, caravan_structs::TaskState> = tasks
                .iter()
                .map(|(name, task)| (name.clone(), task.state.clone()))
                .collect();
            let (status, description) = alloc_runner::client_status(&states);
            let mut copy = alloc.clone();
            copy.client_status = status;
            copy.client_description = description.to_string();
            copy.task_states = states;
            known.insert(alloc.id.clone(), copy);
            let dir = match self.alloc_dir(&alloc.id) {
                Ok(dir) => dir,
                Err(error) => {
                    tracing::warn!(%error, "state DB: skipping an allocation");
                    continue;
                }
            };
            tracing::info!(alloc_id = %alloc.id, "restoring allocation");
            let handle = self.spawn_runner(alloc.clone(), dir, Some(tasks));
            runners.insert(alloc.id, handle);
        }
    }

    /// Starts an allocation's runner: `restored` holds its tasks' states from the state
    /// DB after a client restart, `None` for an allocation just received.
    fn spawn_runner(
        self: &Arc<Self>,
        alloc: Allocation,
        dir: AllocDir,
        restored: Option<BTreeMap<String, state_db::PersistedTask>>,
    ) -> RunnerHandle {
        let (kill, kill_receiver) = watch::channel(None);
        let (restart, restart_receiver) = mpsc::unbounded_channel();
        let (alloc_sender, alloc_updates) = watch::channel(alloc.clone());
        let runner = AllocRunner {
            alloc_updates,
            dir,
            alloc,
            node: self.node.clone(),
            region: self.config.region.clone(),
            user_rules: self.config.user_rules.clone(),
            max_kill_timeout: self
                .config
                .max_kill_timeout
                .unwrap_or(task_runner::MAX_KILL_TIMEOUT),
            drivers: self.drivers.clone(),
            state_db: self.state_db.clone(),
            restored,
            updates: self.updates.clone(),
            kill: kill_receiver,
            restart: restart_receiver,
            catalog: self.catalog.clone(),
            check_results: self.check_results.clone(),
        };
        let (client, alloc_id) = (Arc::downgrade(self), runner.alloc.id.clone());
        let task = tokio::spawn(async move {
            runner.run().await;
            if let Some(client) = client.upgrade() {
                client.finishing(&alloc_id, |f| f.runner_done = true);
            }
        });
        RunnerHandle {
            kill,
            restart,
            alloc: alloc_sender,
            task,
            destroyed: false,
        }
    }

    /// Notes how far an allocation is from finished; once its runner is done and the
    /// servers hold its final status, nothing is left to resume after a restart, so
    /// its state DB entry goes (its directory stays until it is collected).
    fn finishing(&self, alloc_id: &AllocId, note: impl FnOnce(&mut Finishing)) {
        {
            let mut finishing = lock(&self.finishing);
            let entry = finishing.entry(alloc_id.clone()).or_default();
            note(entry);
            if !(entry.runner_done && entry.final_acknowledged) {
                return;
            }
            finishing.remove(alloc_id);
        }
        let (state_db, id) = (self.state_db.clone(), alloc_id.clone());
        tokio::spawn(async move {
            let removed = state_db::blocking(move || state_db.remove_allocation(&id)).await;
            if let Err(error) = removed {
                tracing::warn!(%error, "failed to remove allocation state");
            }
        });
    }

    /// Starts runners for new allocations and stops those the server stopped; collects
    /// finished allocations the servers no longer list, and the oldest finished ones
    /// beyond `gc_max_allocs`.
    ///
    /// `listed` is every allocation the servers hold for this node (ID → modify index);
    /// `pulled` the ones fetched because their modify index moved since last seen.
    fn reconcile(self: &Arc<Self>, listed: &BTreeMap<AllocId, u64>, allocs: Vec<Allocation>) {
        self.forget_unlisted(listed);
        {
            let mut known = lock(&self.known);
            for alloc in &allocs {
                let mut copy = alloc.clone();
                if let Some(previous) = known.get(&alloc.id) {
                    // The server may not have our newest report yet; keep ours.
                    copy.task_states = previous.task_states.clone();
                    copy.client_status = previous.client_status;
                    copy.client_description = previous.client_description.clone();
                }
                known.insert(alloc.id.clone(), copy);
            }
        }
        let mut runners = self.lock_runners();
        for alloc in allocs {
            match runners.get(&alloc.id) {
                Some(handle) => {
                    handle.alloc.send_if_modified(|known| {
                        let changed = known.alloc_modify_index != alloc.alloc_modify_index;
                        if changed {
                            *known = alloc.clone();
                        }
                        changed
                    });
                    if alloc.server_terminal() && handle.kill.borrow().is_none() {
                        handle.kill.send_replace(Some(KillReason::AllocStopped));
                    }
                }
                None => {
                    // Already finished (or never to run): nothing to start.
                    if alloc.terminal() {
                        continue;
                    }
                    let dir = match self.alloc_dir(&alloc.id) {
                        Ok(dir) => dir,
                        Err(error) => {
                            tracing::warn!(%error, "refusing an allocation");
                            continue;
                        }
                    };
                    let handle = self.spawn_runner(alloc.clone(), dir, None);
                    runners.insert(alloc.id.clone(), handle);
                }
            }
        }
        drop(runners);
        self.make_room();
    }

    /// Nomad's `MakeRoomFor`: past `gc_max_allocs` allocations, the oldest finished ones
    /// are collected. Run when allocations arrive and when one finishes.
    fn make_room(self: &Arc<Self>) {
        let live = self
            .lock_runners()
            .values()
            .filter(|h| !h.destroyed)
            .count();
        let excess = self.config.gc.excess(live);
        if excess > 0 {
            let oldest: Vec<AllocId> = self.collectable().into_iter().take(excess).collect();
            if !oldest.is_empty() {
                tokio::spawn(self.clone().destroy(oldest));
            }
        }
    }

    /// Drops what the servers no longer list: finished allocations are destroyed (their
    /// directory and state go) and forgotten. One still running is left alone: a server
    /// that lost its state must not take running work down with it.
    fn forget_unlisted(self: &Arc<Self>, listed: &BTreeMap<AllocId, u64>) {
        let mut gone = Vec::new();
        {
            let mut runners = self.lock_runners();
            runners.retain(|id, handle| {
                if listed.contains_key(id) || !handle.task.is_finished() {
                    return true;
                }
                if !handle.destroyed {
                    gone.push(id.clone());
                }
                false
            });
            lock(&self.finishing).retain(|id, _| runners.contains_key(id));
            let mut known = lock(&self.known);
            known.retain(|id, _| listed.contains_key(id) || runners.contains_key(id));
            // A burst of allocations must not keep its table's size once it is gone.
            if known.capacity() > 4 * known.len().max(16) {
                known.shrink_to_fit();
            }
            if runners.capacity() > 4 * runners.len().max(16) {
                runners.shrink_to_fit();
            }
        }
        if !gone.is_empty() {
            tokio::spawn(self.clone().destroy(gone));
        }
    }

    /// Finished allocations not collected yet, oldest first (by when their last task
    /// finished).
    fn collectable(&self) -> Vec<AllocId> {
        let runners = self.lock_runners();
        let known = lock(&self.known);
        let mut finished: Vec<(i64, AllocId)> = runners
            .iter()
            .filter(|(_, h)| !h.destroyed && h.task.is_finished())
            .map(|(id, _)| {
                let at = known.get(id).map_or(0, |alloc| {
                    alloc
                        .task_states
                        .values()
                        .filter_map(|t| caravan_structs::time::parse_rfc3339(&t.finished_at))
                        .max()
                        .unwrap_or(alloc.modify_time)
                });
                (at, id.clone())
            })
            .collect();
        finished.sort();
        finished.into_iter().map(|(_, id)| id).collect()
    }

    /// Removes the directories and state of finished allocations, a few at a time.
    async fn destroy(self: Arc<Self>, alloc_ids: Vec<AllocId>) {
        // Claimed all at once, under the lock: two collections that picked the same
        // allocation (a full client and its periodic pass) remove it once.
        let alloc_ids: Vec<AllocId> = {
            let mut runners = self.lock_runners();
            alloc_ids
                .into_iter()
                .filter(|id| match runners.get_mut(id) {
                    Some(handle) if handle.destroyed => false,
                    Some(handle) => {
                        handle.destroyed = true;
                        true
                    }
                    // Forgotten by `forget_unlisted`, which hands each one over once.
                    None => true,
                })
                .collect()
        };
        let parallel = self.config.gc.parallel_destroys.max(1);
        for batch in alloc_ids.chunks(parallel) {
            let mut removals = tokio::task::JoinSet::new();
            for id in batch {
                self.check_results.forget(id);
                let dir = self.alloc_dir(id).map(|d| d.root);
                let state_db = self.state_db.clone();
                let id = id.clone();
                removals.spawn_blocking(move || {
                    tracing::debug!(alloc_id = %id, "garbage-collecting allocation");
                    if let Err(error) = state_db.remove_allocation(&id) {
                        tracing::warn!(alloc_id = %id, %error, "failed to remove allocation state");
                    }
                    if let Ok(dir) = dir
                        && let Err(error) = std::fs::remove_dir_all(&dir)
                        && error.kind() != std::io::ErrorKind::NotFound
                    {
                        tracing::warn!(alloc_id = %id, %error, "failed to remove the allocation directory");
                    }
                });
            }
            while removals.join_next().await.is_some() {}
        }
    }

    /// Collects every finished allocation now (`PUT /v1/client/gc`).
    pub async fn collect_all(self: &Arc<Self>) {
        let all = self.collectable();
        self.clone().destroy(all).await;
    }

    /// Removes one finished allocation's directory and state (Nomad's
    /// `ClientAllocations.GarbageCollect`). False when this client holds no finished
    /// allocation of that ID: unknown, still running, or already collected.
    pub async fn collect_allocation(self: &Arc<Self>, alloc_id: &AllocId) -> bool {
        if !self.collectable().contains(alloc_id) {
            return false;
        }
        self.clone().destroy(vec![alloc_id.clone()]).await;
        true
    }

    /// Every `gc_interval`, collects the oldest finished allocations past
    /// `gc_max_allocs`, and while the disk holding them is over its usage thresholds.
    async fn collect_periodically(self: Arc<Self>) {
        let alloc_root = self.config.data_dir.join("alloc");
        loop {
            tokio::time::sleep(self.config.gc.interval.max(Duration::from_secs(1))).await;
            self.make_room();
            let mut oldest = self.collectable().into_iter();
            loop {
                // statvfs of the allocation directory's disk: off the runtime.
                let root = alloc_root.clone();
                let usage = tokio::task::spawn_blocking(move || gc::disk_usage(&root))
                    .await
                    .ok()
                    .flatten();
                if !usage.is_some_and(|u| self.config.gc.over_threshold(u)) {
                    break;
                }
                let Some(id) = oldest.next() else { break };
                self.clone().destroy(vec![id]).await;
            }
        }
    }

    /// Restarts an allocation's tasks in place (Nomad's `Allocations.Restart`): `task`
    /// alone if not empty, else every running task, or with `all_tasks` every task, the
    /// dead ones too. Each task gets `Restart Signaled`, is killed with its
    /// `kill_signal` and starts again at once; the restart does not count against the
    /// restart policy. Answers once the tasks have been killed.
    pub async fn restart_allocation(
        &self,
        alloc_id: &str,
        task: &str,
        all_tasks: bool,
    ) -> Result<(), alloc_runner::RestartError> {
        use alloc_runner::{AllocRestart, RestartError, RestartTarget};
        if all_tasks && !task.is_empty() {
            return Err(RestartError::TaskNameWithAllTasks);
        }
        let target = match (task, all_tasks) {
            (_, true) => RestartTarget::All,
            ("", false) => RestartTarget::Running,
            (name, false) => RestartTarget::Task(name.to_string()),
        };
        let restart = self
            .lock_runners()
            .get(alloc_id)
            .map(|handle| handle.restart.clone())
            .ok_or_else(|| RestartError::UnknownAllocation(alloc_id.to_string()))?;
        let (done, answer) = tokio::sync::oneshot::channel();
        // A runner that has finished has dropped its end: nothing runs to restart.
        restart
            .send(AllocRestart { target, done })
            .map_err(|_| RestartError::ShouldNotRun)?;
        answer.await.unwrap_or(Err(RestartError::ShouldNotRun))
    }

    /// Stops every allocation's tasks and waits for them (dev agents do this on exit).
    pub async fn stop_all(&self) {
        let tasks: Vec<JoinHandle<()>> = {
            let mut runners = self.lock_runners();
            runners
                .drain()
                .map(|(_, handle)| {
                    handle.kill.send_replace(Some(KillReason::AllocStopped));
                    handle.task
                })
                .collect()
        };
        for task in tasks {
            let _ = task.await;
        }
    }

    /// Stops watching allocations WITHOUT stopping their tasks (non-dev agents on exit):
    /// the tasks run on under their executors, and the next client started on the same
    /// `data_dir` re-attaches to them. Needs executors started with `die_with_agent:
    /// false` ([`Client::start_with`]); with `true` the dropped handles kill their tasks.
    pub async fn shutdown(&self) {
        let tasks: Vec<JoinHandle<()>> = {
            let mut runners = self.lock_runners();
            runners
                .drain()
                .map(|(_, handle)| {
                    handle.task.abort();
                    handle.task
                })
                .collect()
        };
        for task in tasks {
            let _ = task.await;
        }
    }
}

/// Registers the node, retrying with backoff until a server answers; returns the TTL.
async fn register<S: ServerRpc>(client: &Client, server: &S) -> Duration {
    let mut delay = Duration::from_millis(100);
    loop {
        let node = lock(&client.registered).clone();
        match server.register_node(node).await {
            Ok(ttl) => {
                client.set_connected(true);
                tracing::info!("node registration complete");
                return ttl;
            }
            Err(error) => {
                tracing::warn!(%error, retry_in = ?delay, "failed to register node, retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// Fingerprints the drivers every [`driver_health::REFRESH_INTERVAL`] and registers
/// the node again when their health changed, so the servers place (or stop placing)
/// work for a driver whose daemon came back (or went away).
async fn refresh_drivers<S: ServerRpc>(client: Arc<Client>, server: Arc<S>) {
    loop {
        tokio::time::sleep(driver_health::REFRESH_INTERVAL).await;
        let drivers = client.drivers.clone();
        // Drivers ask their daemons: blocking.
        let Ok(infos) = tokio::task::spawn_blocking(move || drivers.fingerprint()).await else {
            continue;
        };
        let now = caravan_structs::time::rfc3339(now_nanos());
        let changed = driver_health::apply(&mut lock(&client.registered), infos, &now);
        if changed {
            tracing::info!("driver health changed; registering the node again");
            register(&client, server.as_ref()).await;
        }
    }
}

/// Heartbeats at half the TTL the servers gave. A server that no longer knows the node
/// (it restarted) gets a fresh registration.
async fn heartbeat<S: ServerRpc>(client: Arc<Client>, server: Arc<S>, mut ttl: Duration) {
    loop {
        tokio::time::sleep(ttl / 2).await;
        match server
            .heartbeat(&client.node.id, &client.node.secret_id)
            .await
        {
            Ok(next) => {
                client.set_connected(true);
                ttl = next;
            }
            Err(RpcError::NodeNotFound) => {
                client.set_connected(false);
                tracing::warn!("the servers do not know this node; registering again");
                ttl = register(&client, server.as_ref()).await;
            }
            Err(error) => {
                client.set_connected(false);
                tracing::warn!(%error, "heartbeat failed, retrying");
                ttl = Duration::from_secs(1).min(ttl);
            }
        }
    }
}

/// Long-polls the servers for this node's allocations: the long-poll answers each
/// allocation's modify index (Nomad's `Node.GetClientAllocs`; only the changed ones
/// when nothing was removed, laid over the last listing) and, in full, those that
/// changed past the client's index; the client fetches, in one more call, only the
/// ones it has not seen that the answer did not carry (`Alloc.GetAllocs`: its last
/// fetch failed, say), and forgets the ones no longer listed. A new allocation arrives
/// as soon as its plan commits: there is no polling interval to wait out, and a change
/// to one allocation costs one allocation, not all of the node's.
async fn watch_allocations<S: ServerRpc>(client: Arc<Client>, server: Arc<S>) {
    let mut index = 0;
    // The node's allocations as last listed: an incremental answer lists only what
    // changed, laid over this.
    let mut listed: BTreeMap<AllocId, u64> = BTreeMap::new();
    // The modify index of each allocation as last fetched.
    let mut seen: HashMap<AllocId, u64> = HashMap::new();
    let mut backoff = Duration::from_millis(100);
    let node = &client.node;
    loop {
        let (mut answer, new_index) = match server
            .get_client_allocs(&node.id, &node.secret_id, index)
            .await
        {
            Ok(answer) => answer,
            Err(error) => {
                tracing::warn!(%error, retry_in = ?backoff, "failed to fetch allocations, retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
                continue;
            }
        };
        if new_index <= index && index != 0 {
            continue;
        }
        answer.update_listing(&mut listed);
        // Only what this client has not seen: after an incomplete round the answer
        // carries again what the last one did.
        let mut pulled = answer.changed;
        pulled.retain(|a| {
            seen.get(&a.id)
                .is_none_or(|seen| *seen < a.alloc_modify_index)
        });
        let carried: HashMap<AllocId, u64> = pulled
            .iter()
            .map(|a| (a.id.clone(), a.alloc_modify_index))
            .collect();
        let (stale, newest) = changed_allocs(&listed, &seen, &carried);
        let fetched = if stale.is_empty() {
            Vec::new()
        } else {
            // The server that answers may lag the one that listed them: it waits until
            // its state holds the newest of them.
            match server
                .get_allocs(
                    &node.id,
                    &node.secret_id,
                    stale.clone(),
                    newest.saturating_sub(1),
                )
                .await
            {
                Ok(allocs) => allocs,
                Err(error) => {
                    tracing::warn!(%error, retry_in = ?backoff, "failed to fetch allocations, retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    continue;
                }
            }
        };
        backoff = Duration::from_millis(100);
        let complete = fetched.len() == stale.len();
        pulled.extend(fetched);
        seen.retain(|id, _| listed.contains_key(id));
        seen.extend(pulled.iter().map(|a| (a.id.clone(), a.alloc_modify_index)));
        client.reconcile(&listed, pulled);
        if complete {
            index = new_index;
        } else {
            // Some were removed since they were listed (the next listing says so), or
            // the server's state had not caught up: list again, as Nomad's client does.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The listed allocations this client has seen neither at their listed modify index
/// nor in the long-poll's answer (`carried`), and the highest of those indexes.
fn changed_allocs(
    listed: &BTreeMap<AllocId, u64>,
    seen: &HashMap<AllocId, u64>,
    carried: &HashMap<AllocId, u64>,
) -> (Vec<AllocId>, u64) {
    let mut newest = 0;
    let changed = listed
        .iter()
        .filter(|(id, modify_index)| {
            let known = seen.get(*id).max(carried.get(*id));
            known.is_none_or(|known| known < *modify_index)
        })
        .map(|(id, modify_index)| {
            newest = newest.max(*modify_index);
            id.clone()
        })
        .collect();
    (changed, newest)
}

/// Sends status updates to the servers. Whatever piles up while one batch is in flight
/// goes in the next, newest state of each allocation only.
async fn send_updates<S: ServerRpc>(
    client: Arc<Client>,
    server: Arc<S>,
    mut receiver: mpsc::UnboundedReceiver<AllocClientUpdate>,
) {
    while let Some(first) = receiver.recv().await {
        let mut batch: BTreeMap<AllocId, AllocClientUpdate> = BTreeMap::new();
        batch.insert(first.id.clone(), first);
        while let Ok(next) = receiver.try_recv() {
            batch.insert(next.id.clone(), next);
        }
        let updates: Vec<AllocClientUpdate> = batch.into_values().collect();
        for update in &updates {
            client.record_update(update);
        }
        if updates.iter().any(|u| {
            matches!(
                u.client_status,
                AllocClientStatus::Complete | AllocClientStatus::Failed
            )
        }) {
            // An allocation finished: one more that may be collected.
            client.make_room();
        }
        let node = &client.node;
        let mut backoff = Duration::from_millis(100);
        let acknowledged: Vec<(AllocId, bool)> = updates
            .iter()
            .map(|u| (u.id.clone(), u.client_status.is_terminal()))
            .collect();
        while let Err(error) = server
            .update_allocations(&node.id, &node.secret_id, updates.clone())
            .await
        {
            tracing::warn!(%error, "failed to send allocation updates, retrying");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
        for (id, terminal) in acknowledged {
            client.finishing(&id, |f| f.final_acknowledged = terminal);
        }
    }
}
