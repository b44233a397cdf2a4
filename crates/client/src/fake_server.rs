//! Whole clients against a fake in-memory server, for the client's tests: the server
//! holds one node's allocations, answers the allocation sync as Caravan's servers do
//! (the long-poll carries what changed and, when nothing was removed, lists only that;
//! the fetch answers the rest), and records what it sent. Executors are the test binary
//! (`state_db::tests::executor_entry`).

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use caravan_drivers::{DriverRegistry, ExecutorCommand, RawExecDriver};
use caravan_structs::{
    AllocClientStatus, AllocClientUpdate, AllocDesiredStatus, AllocId, Allocation, Job, JobType,
    Node, NodeId, RestartPolicy, Task, TaskGroup,
};
use tokio::sync::watch;

use caravan_api_types::rpc::NodeClientAllocsResponse;

use crate::{Client, ClientConfig, RpcError, ServerRpc};

const ENTRY: &str = "state_db::tests::executor_entry";

/// A server that knows one node's allocations. Its state has one index: every change
/// moves it, and a change the servers make to an allocation (not a client's report)
/// sets that allocation's `alloc_modify_index` to it, as the real store does.
pub(crate) struct FakeServer {
    allocs: watch::Sender<(Vec<Allocation>, u64)>,
    pub(crate) updates: Mutex<Vec<AllocClientUpdate>>,
    /// The IDs of the allocations each answer carried (a long-poll's changed ones, a
    /// `get_allocs` call's), in order, with whether a fetch carried them.
    pub(crate) sent: Mutex<Vec<(Vec<AllocId>, Sent)>>,
    /// Whether the long-poll carries the changed allocations; without them the client
    /// fetches each change.
    pub(crate) carries_changed: AtomicBool,
    /// Whether the long-poll lists only what changed when nothing was removed since the
    /// client's index, as Caravan's servers do; without it every answer lists all.
    pub(crate) lists_changed_only: AtomicBool,
    /// The index of the last removal.
    removed_at: AtomicU64,
}

/// Which call carried allocations to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sent {
    LongPoll,
    Fetch,
}

impl FakeServer {
    pub(crate) fn new(allocs: Vec<Allocation>) -> Arc<FakeServer> {
        let allocs = allocs
            .into_iter()
            .map(|a| Allocation {
                alloc_modify_index: 1,
                ..a
            })
            .collect();
        Arc::new(FakeServer {
            allocs: watch::Sender::new((allocs, 1)),
            updates: Mutex::new(Vec::new()),
            sent: Mutex::new(Vec::new()),
            carries_changed: AtomicBool::new(true),
            lists_changed_only: AtomicBool::new(true),
            removed_at: AtomicU64::new(0),
        })
    }

    pub(crate) fn alloc(&self, id: &str) -> Allocation {
        let allocs = self.allocs.borrow();
        allocs.0.iter().find(|a| a.id == id).cloned().unwrap()
    }

    /// The servers stop the allocation (`desired_status = stop`).
    pub(crate) fn stop(&self, id: &str) {
        self.allocs.send_modify(|(allocs, index)| {
            *index += 1;
            for alloc in allocs.iter_mut().filter(|a| a.id == id) {
                alloc.desired_status = AllocDesiredStatus::Stop;
                alloc.alloc_modify_index = *index;
            }
        });
    }

    /// The servers no longer hold the allocation (garbage-collected).
    pub(crate) fn remove(&self, id: &str) {
        self.allocs.send_modify(|(allocs, index)| {
            *index += 1;
            allocs.retain(|a| a.id != id);
            self.removed_at.store(*index, Ordering::Relaxed);
        });
    }
}

impl ServerRpc for FakeServer {
    async fn register_node(&self, _node: Node) -> Result<Duration, RpcError> {
        Ok(Duration::from_secs(60))
    }

    async fn heartbeat(&self, _node_id: &NodeId, _secret_id: &str) -> Result<Duration, RpcError> {
        Ok(Duration::from_secs(60))
    }

    async fn get_client_allocs(
        &self,
        _node_id: &NodeId,
        _secret_id: &str,
        min_index: u64,
    ) -> Result<(NodeClientAllocsResponse, u64), RpcError> {
        let mut receiver = self.allocs.subscribe();
        let (allocs, index) = receiver
            .wait_for(|(_, index)| *index > min_index)
            .await
            .map_err(|e| RpcError::Unavailable(e.to_string()))?
            .clone();
        let incremental = min_index > 0
            && self.lists_changed_only.load(Ordering::Relaxed)
            && self.removed_at.load(Ordering::Relaxed) <= min_index;
        let listed = allocs
            .iter()
            .filter(|a| !incremental || a.alloc_modify_index > min_index)
            .map(|a| (a.id.clone(), a.alloc_modify_index))
            .collect();
        let carries = self.carries_changed.load(Ordering::Relaxed);
        let changed: Vec<Allocation> = allocs
            .into_iter()
            .filter(|a| carries && a.alloc_modify_index > min_index)
            .collect();
        if !changed.is_empty() {
            let mut ids: Vec<AllocId> = changed.iter().map(|a| a.id.clone()).collect();
            ids.sort();
            self.sent.lock().unwrap().push((ids, Sent::LongPoll));
        }
        Ok((
            NodeClientAllocsResponse {
                allocs: listed,
                changed,
                incremental,
            },
            index,
        ))
    }

    async fn get_allocs(
        &self,
        _node_id: &NodeId,
        _secret_id: &str,
        alloc_ids: Vec<AllocId>,
        _min_index: u64,
    ) -> Result<Vec<Allocation>, RpcError> {
        self.sent
            .lock()
            .unwrap()
            .push((alloc_ids.clone(), Sent::Fetch));
        let allocs = self.allocs.borrow().0.clone();
        Ok(allocs
            .into_iter()
            .filter(|a| alloc_ids.contains(&a.id))
            .collect())
    }

    async fn update_allocations(
        &self,
        _node_id: &NodeId,
        _secret_id: &str,
        updates: Vec<AllocClientUpdate>,
    ) -> Result<(), RpcError> {
        self.allocs.send_modify(|(allocs, index)| {
            for update in &updates {
                for alloc in allocs.iter_mut().filter(|a| a.id == update.id) {
                    alloc.client_status = update.client_status;
                    alloc.client_description = update.client_description.clone();
                    alloc.task_states = update.task_states.clone();
                }
            }
            *index += 1;
        });
        self.updates.lock().unwrap().extend(updates);
        Ok(())
    }

    async fn upsert_services(
        &self,
        _node_id: &NodeId,
        _secret_id: &str,
        _services: Vec<caravan_structs::ServiceRegistration>,
    ) -> Result<(), RpcError> {
        Ok(())
    }

    async fn delete_alloc_services(
        &self,
        _node_id: &NodeId,
        _secret_id: &str,
        _alloc_ids: Vec<AllocId>,
    ) -> Result<(), RpcError> {
        Ok(())
    }

    async fn service_list(
        &self,
        _node_id: &NodeId,
        _secret_id: &str,
        _namespace: &str,
        min_index: u64,
    ) -> Result<(Vec<caravan_structs::ServiceRegistrationListStub>, u64), RpcError> {
        Ok((Vec::new(), min_index.max(1)))
    }

    async fn service_registrations(
        &self,
        _node_id: &NodeId,
        _secret_id: &str,
        _namespace: &str,
        _name: &str,
        min_index: u64,
    ) -> Result<(Vec<caravan_structs::ServiceRegistration>, u64), RpcError> {
        Ok((Vec::new(), min_index.max(1)))
    }

    async fn workload_variable(
        &self,
        _node_id: &NodeId,
        _secret_id: &str,
        _workload: &crate::Workload,
        _path: &str,
        min_index: u64,
    ) -> Result<(Option<caravan_structs::Variable>, u64), RpcError> {
        Ok((None, min_index.max(1)))
    }

    async fn workload_variable_list(
        &self,
        _node_id: &NodeId,
        _secret_id: &str,
        _workload: &crate::Workload,
        _prefix: &str,
        min_index: u64,
    ) -> Result<(Vec<caravan_structs::VariableMetadata>, u64), RpcError> {
        Ok((Vec::new(), min_index.max(1)))
    }
}

/// An allocation of a one-task group running `script` under `/bin/sh`, never restarted.
pub(crate) fn allocation(job_type: &str, script: &str) -> Allocation {
    let job_type: JobType = job_type.parse().expect("a job type");
    let mut config = serde_json::Map::new();
    config.insert("command".into(), "/bin/sh".into());
    config.insert("args".into(), serde_json::json!(["-c", script]));
    let task = Task {
        name: "main".into(),
        driver: "raw_exec".into(),
        config,
        kill_signal: "SIGTERM".into(),
        restart_policy: Some(RestartPolicy {
            attempts: 0,
            mode: "fail".into(),
            ..RestartPolicy::default_for(job_type)
        }),
        ..Task::default()
    };
    let job = Job {
        id: "restore".into(),
        name: "restore".into(),
        r#type: Some(job_type),
        region: "global".into(),
        namespace: "default".into(),
        datacenters: vec!["dc1".into()],
        task_groups: vec![TaskGroup {
            name: "g".into(),
            tasks: vec![task],
            ..TaskGroup::default()
        }],
        ..Job::default()
    };
    Allocation {
        id: uuid::Uuid::new_v4().to_string().into(),
        namespace: "default".into(),
        name: "restore.g[0]".into(),
        job_id: "restore".into(),
        job: Some(std::sync::Arc::new(job)),
        task_group: "g".into(),
        desired_status: AllocDesiredStatus::Run,
        client_status: AllocClientStatus::Pending,
        ..Allocation::default()
    }
}

fn config(data_dir: &Path) -> ClientConfig {
    ClientConfig {
        data_dir: data_dir.to_path_buf(),
        node_name: "restore-test".into(),
        datacenter: "dc1".into(),
        region: "global".into(),
        ..ClientConfig::default()
    }
}

/// raw_exec, enabled, its tasks under executors that outlive the client.
fn drivers() -> DriverRegistry {
    let executor = ExecutorCommand::test_binary(ENTRY, false);
    DriverRegistry::new(executor.clone()).with(Arc::new(RawExecDriver::new(executor, true)))
}

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

pub(crate) fn start_client(
    runtime: &tokio::runtime::Runtime,
    data_dir: &Path,
    server: &Arc<FakeServer>,
) -> Arc<Client> {
    runtime.block_on(async {
        Client::start(config(data_dir), drivers(), server.clone())
            .await
            .unwrap()
    })
}

pub(crate) fn eventually(what: &str, condition: impl FnMut() -> bool) {
    caravan_testkit::wait::blocking(what, Duration::from_secs(20), condition);
}
