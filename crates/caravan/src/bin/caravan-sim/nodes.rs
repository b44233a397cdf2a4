//! Simulated client nodes: each registers over the real client RPC, heartbeats once per
//! TTL the server answers (as Nomad's client does; the server's grace covers the trip),
//! syncs its allocations as a client does (the long-poll on their modify indexes, which
//! carries the changed ones and lists only those when nothing was removed, then a fetch
//! of any it did not carry) and reports the new ones running without starting anything.
//!
//! Every node's long-poll is one blocking query held on its own connection, as a real
//! client's is; the server wakes a long-poll only when its node's allocations change.
//! Where the open-files limit leaves fewer descriptors than nodes, the nodes take turns
//! for `-watchers` places: with more nodes than places a query waits at most
//! [`SHARED_WAIT`] before handing its place on.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use caravan_api_client::{QueryOptions, RpcClient};
use caravan_api_types::rpc::{AllocUpdateRequest, AllocsGetRequest, HeartbeatRequest};
use caravan_structs::{
    AllocClientStatus, AllocClientUpdate, AllocDesiredStatus, AllocId, CpuResources, DiskResources,
    DriverInfo, MemoryResources, Node, NodeEligibility, NodeResources, NodeStatus,
};
use serde::Deserialize;
use tokio::sync::Semaphore;

use crate::flags::Flags;

/// A node's long-poll when every node holds one at once (the client's own).
const OWN_WAIT: Duration = Duration::from_secs(300);
/// A node's long-poll when nodes take turns for the places.
const SHARED_WAIT: Duration = Duration::from_secs(2);
pub const DATACENTERS: [&str; 4] = ["dc1", "dc2", "dc3", "dc4"];

/// What the nodes did, counted as they do it.
#[derive(Default)]
pub struct Counters {
    pub registered: AtomicU64,
    pub heartbeats: AtomicU64,
    /// Allocations the nodes received.
    pub received: AtomicU64,
    /// Allocations the server acknowledged as running.
    pub running: AtomicU64,
    pub errors: AtomicU64,
    /// The first failed call of each kind, to say what went wrong.
    pub first_errors: std::sync::Mutex<BTreeMap<&'static str, String>>,
}

impl Counters {
    fn failed(&self, call: &'static str, error: &caravan_api_client::Error) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut first = self.first_errors.lock().unwrap_or_else(|p| p.into_inner());
        first.entry(call).or_insert_with(|| error.to_string());
    }
}

/// Node `index` of a run tagged `run`: in `dc1`..`dc4` by turn, three in four in the
/// `general` tier (what the sim's jobs are constrained to), the rest `reserved`.
pub fn node(run: u32, index: usize, flags: &Flags) -> Node {
    let id = format!("{run:08x}-0000-4000-8000-{index:012x}");
    let tier = if index % 4 == 3 {
        "reserved"
    } else {
        "general"
    };
    let attributes = [
        ("kernel.name", "linux"),
        ("os.name", "simulated"),
        ("cpu.arch", "amd64"),
        ("driver.raw_exec", "1"),
    ];
    Node {
        secret_id: format!("{run:08x}-5ec2-4000-8000-{index:012x}"),
        name: format!("sim-{index}"),
        datacenter: DATACENTERS[index % DATACENTERS.len()].into(),
        node_pool: "default".into(),
        attributes: attributes
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        meta: BTreeMap::from([("sim_tier".to_string(), tier.to_string())]),
        node_resources: NodeResources {
            cpu: CpuResources {
                cpu_shares: flags.cpu,
            },
            memory: MemoryResources {
                memory_mb: flags.memory,
                memory_max_mb: 0,
            },
            disk: DiskResources { disk_mb: 1_000_000 },
        },
        drivers: BTreeMap::from([(
            "raw_exec".to_string(),
            DriverInfo {
                detected: true,
                healthy: true,
                ..DriverInfo::default()
            },
        )]),
        status: NodeStatus::Initializing,
        scheduling_eligibility: NodeEligibility::Eligible,
        id: id.into(),
        ..Node::default()
    }
}

fn ttl_of(nanos: i64) -> Duration {
    Duration::from_nanos(nanos.max(0) as u64)
}

/// Registers the node, retrying until the server takes it; answers its TTL.
pub async fn register(rpc: &RpcClient, node: &Node, counters: &Counters) -> Duration {
    let mut delay = Duration::from_millis(100);
    loop {
        match rpc.register_node(node).await {
            Ok(answer) => {
                counters.registered.fetch_add(1, Ordering::Relaxed);
                return ttl_of(answer.heartbeat_ttl);
            }
            Err(error) => {
                counters.failed("register", &error);
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Heartbeats once per TTL: the TTLs are what spread 10,000 nodes' heartbeats to the
/// server's `max_heartbeats_per_second`.
pub async fn heartbeat(
    rpc: RpcClient,
    node: Arc<Node>,
    mut ttl: Duration,
    counters: Arc<Counters>,
) {
    let request = HeartbeatRequest {
        node_id: node.id.clone(),
        secret_id: node.secret_id.clone(),
    };
    loop {
        tokio::time::sleep(ttl).await;
        match rpc.heartbeat(&request).await {
            Ok(answer) => {
                counters.heartbeats.fetch_add(1, Ordering::Relaxed);
                ttl = ttl_of(answer.heartbeat_ttl);
            }
            Err(error) => {
                counters.failed("heartbeat", &error);
                ttl = ttl.min(Duration::from_secs(2));
            }
        }
    }
}

/// What a simulated node reads of an allocation it fetched: it starts nothing, so it
/// decodes only the fields it acts on and skips the rest (the job above all).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PulledAlloc {
    #[serde(rename = "ID")]
    id: AllocId,
    desired_status: AllocDesiredStatus,
    client_status: AllocClientStatus,
    alloc_modify_index: u64,
}

/// Syncs the node's allocations as a client does (the long-poll on their modify
/// indexes, which carries the changed ones, then one fetch of those it has not seen
/// and the long-poll did not carry) and reports each new one running.
pub async fn watch_allocations(
    rpc: RpcClient,
    node: Arc<Node>,
    places: Arc<Semaphore>,
    wait: Duration,
    counters: Arc<Counters>,
) {
    let mut index = 0;
    // Keyed by the typed ID, as the listing is: the checks against the listing below
    // compare IDs inline, where strings cost the simulator a tenth of its time.
    let mut seen: BTreeMap<AllocId, u64> = BTreeMap::new();
    let mut reported: BTreeSet<AllocId> = BTreeSet::new();
    loop {
        let answer = {
            let Ok(_place) = places.acquire().await else {
                return;
            };
            rpc.node_client_allocs::<PulledAlloc>(
                node.id.as_str(),
                &node.secret_id,
                QueryOptions {
                    index,
                    wait: Some(wait),
                },
            )
            .await
        };
        let (listed, mut pulled, incremental, next) = match answer {
            Ok(read) => (
                read.value.allocs,
                read.value.changed,
                read.value.incremental,
                read.index,
            ),
            Err(error) => {
                counters.failed("allocations", &error);
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if next <= index {
            continue;
        }
        seen.extend(pulled.iter().map(|a| (a.id.clone(), a.alloc_modify_index)));
        let stale: Vec<AllocId> = listed
            .iter()
            .filter(|(id, modify)| seen.get(*id).is_none_or(|seen| seen < *modify))
            .map(|(id, _)| id.clone())
            .collect();
        // An incremental listing names only what changed, and nothing was removed.
        if !incremental {
            seen.retain(|id, _| listed.contains_key(id));
            reported.retain(|id| listed.contains_key(id));
        }
        if stale.is_empty() {
            index = next;
        } else {
            let newest = stale.iter().filter_map(|id| listed.get(id)).max().copied();
            let request = AllocsGetRequest {
                node_id: node.id.clone(),
                alloc_ids: stale,
                min_query_index: newest.unwrap_or(0).saturating_sub(1),
            };
            let fetched: Vec<PulledAlloc> = match rpc.get_allocs(&node.secret_id, &request).await {
                Ok(answer) => answer.allocs,
                Err(error) => {
                    counters.failed("get allocations", &error);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if fetched.len() == request.alloc_ids.len() {
                index = next;
            }
            seen.extend(fetched.iter().map(|a| (a.id.clone(), a.alloc_modify_index)));
            pulled.extend(fetched);
        }
        let fresh: Vec<AllocClientUpdate> = pulled
            .iter()
            .filter(|a| a.desired_status == AllocDesiredStatus::Run)
            .filter(|a| a.client_status == AllocClientStatus::Pending)
            .filter(|a| !reported.contains(&a.id))
            .map(|a| AllocClientUpdate {
                id: a.id.clone(),
                client_status: AllocClientStatus::Running,
                client_description: "Tasks are running".into(),
                ..AllocClientUpdate::default()
            })
            .collect();
        if fresh.is_empty() {
            continue;
        }
        counters
            .received
            .fetch_add(fresh.len() as u64, Ordering::Relaxed);
        let request = AllocUpdateRequest {
            node_id: node.id.clone(),
            allocs: fresh,
        };
        loop {
            match rpc.update_allocations(&node.secret_id, &request).await {
                Ok(_) => break,
                Err(error) => {
                    counters.failed("update", &error);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        counters
            .running
            .fetch_add(request.allocs.len() as u64, Ordering::Relaxed);
        reported.extend(request.allocs.iter().map(|a| a.id.clone()));
    }
}

/// How long each node's long-poll waits: the client's own when every node holds a
/// place, short when they take turns.
pub fn long_poll_wait(nodes: usize, places: usize) -> Duration {
    if nodes <= places {
        OWN_WAIT
    } else {
        SHARED_WAIT
    }
}
