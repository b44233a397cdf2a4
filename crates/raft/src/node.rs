//! A server's Raft: opened from its data directory, bootstrapped or joined, and the
//! handlers for what its peers send it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use caravan_server::{Applied, ReplicationError, Replicator};
use caravan_state::{Command, Refused, StateStore};
use openraft::error::{ClientWriteError, RaftError};
use openraft::{ChangeMembers, Config, ServerState, SnapshotPolicy};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::log_store::LogStore;
use crate::network::Network;
use crate::state_machine::StateMachine;
use crate::transport::PeerClient;
use crate::types::{Raft, ServerNode, raft_id};

/// What a server's Raft is started with (the agent's `server` block).
#[derive(Debug, Clone)]
pub struct RaftSettings {
    /// `<data_dir>/server`: holds `node-id` and `raft/`.
    pub directory: PathBuf,
    /// This server; its `id` is filled from `node-id`.
    pub me: ServerNode,
    /// `bootstrap_expect`: how many servers form the cluster.
    pub bootstrap_expect: u32,
    /// Serf addresses (`host[:port]`, port 4648 by default) of servers to join:
    /// `server_join { retry_join start_join }` and `-join`/`-retry-join`.
    pub join: Vec<String>,
    pub retry_interval: Duration,
    /// How many rounds to try before giving up; 0 = forever.
    pub retry_max: u32,
    /// Nomad's `raft_multiplier`: scales the heartbeat and election timeouts.
    pub raft_multiplier: u32,
    /// Entries between snapshots (`raft_snapshot_threshold`, Nomad's default 8192).
    pub snapshot_threshold: u64,
    /// Entries kept in the log after a snapshot (`raft_trailing_logs`, 10240).
    pub trailing_logs: u64,
    /// How this server calls the others (plaintext, or mutual TLS with `tls.rpc`).
    pub peers: PeerClient,
}

impl RaftSettings {
    /// Nomad's defaults around the given directory and server.
    pub fn new(directory: PathBuf, me: ServerNode) -> RaftSettings {
        RaftSettings {
            directory,
            me,
            bootstrap_expect: 1,
            join: Vec::new(),
            retry_interval: Duration::from_secs(30),
            retry_max: 0,
            raft_multiplier: 1,
            snapshot_threshold: 8192,
            trailing_logs: 10240,
            peers: PeerClient::new(),
        }
    }

    /// The election timeout's lower bound: 500 ms per multiplier (it is drawn between
    /// this and twice this; Nomad's is 1 s to 2 s).
    pub fn election_timeout(&self) -> Duration {
        Duration::from_millis(500 * u64::from(self.raft_multiplier.max(1)))
    }
}

/// Why a server's Raft could not start; each is one line for the operator.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Log(#[from] crate::log_store::OpenError),
    #[error(transparent)]
    Snapshot(#[from] crate::state_machine::SnapshotError),
    #[error("{0}")]
    Other(String),
}

/// One server's Raft and what the server asks of it.
pub struct RaftNode {
    pub(crate) raft: Raft,
    pub(crate) id: u64,
    pub(crate) me: ServerNode,
    pub(crate) settings: RaftSettings,
    pub(crate) peers: PeerClient,
    leadership: watch::Receiver<u64>,
    /// When the leader last sent entries or a heartbeat (followers).
    last_contact: Mutex<Option<Instant>>,
    /// Whether this server's log holds anything yet (set once it bootstrapped, joined,
    /// or was sent entries).
    pub(crate) had_state: bool,
    /// Servers that made themselves known to this one before it was in a cluster (a
    /// `server join` from either side, a server whose `retry_join` lists this one):
    /// counted towards `bootstrap_expect` like the ones this server found itself.
    pub(crate) discovered: Mutex<BTreeMap<u64, ServerNode>>,
    /// Wakes the bootstrap loop when `discovered` or the join addresses grow.
    pub(crate) joins_changed: tokio::sync::Notify,
    /// Serf addresses given by `server join` after start.
    pub(crate) join_later: Mutex<Vec<String>>,
}

impl RaftNode {
    /// Opens the server's Raft from `settings.directory` and starts it, applying into
    /// `store`. A directory that holds a cluster's data starts that cluster; an empty
    /// one waits for [`RaftNode::bootstrap`]. Damaged data is refused, never replaced.
    pub async fn start(
        mut settings: RaftSettings,
        store: Arc<StateStore>,
    ) -> Result<Arc<RaftNode>, StartError> {
        let raft_dir = settings.directory.join("raft");
        let other = |what: &str, path: &Path, e: std::io::Error| {
            StartError::Other(format!("{what} {}: {e}", path.display()))
        };
        std::fs::create_dir_all(&raft_dir)
            .map_err(|e| other("cannot create the raft directory", &raft_dir, e))?;
        let db_path = raft_dir.join("raft.db");
        let snapshot_dir = raft_dir.join("snapshots");
        let had_files = db_path.exists();
        let had_snapshots = std::fs::read_dir(&snapshot_dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(false);
        let id_path = settings.directory.join("node-id");
        let server_id = match std::fs::read_to_string(&id_path) {
            Ok(text) => {
                // redb makes a new log of an empty file. A server that has run before (its
                // node-id is there) whose raft.db was emptied would start with no log and no
                // vote, and could form a new, empty cluster with servers like it.
                if std::fs::metadata(&db_path).is_ok_and(|m| m.len() == 0) {
                    return Err(crate::log_store::OpenError::Damaged {
                        path: db_path.display().to_string(),
                        why: format!(
                            "the file is empty, but this server has run before: {} exists",
                            id_path.display()
                        ),
                    }
                    .into());
                }
                // Nor may it start without one: a voter that forgot its log and its
                // vote can help elect a leader that lacks an acknowledged write.
                if !had_files {
                    return Err(StartError::Other(format!(
                        "{} is missing, but this server has run before ({} exists): restore it, or move the server's directory {} away to start a new server",
                        db_path.display(),
                        id_path.display(),
                        settings.directory.display()
                    )));
                }
                (text.trim().to_string(), false)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if had_snapshots {
                    return Err(StartError::Other(format!(
                        "{} is missing but {} holds raft data: the server's identity is lost; restore node-id or move the raft directory away",
                        id_path.display(),
                        raft_dir.display()
                    )));
                }
                // Written once the log exists (below), so that a first start cut short
                // in between starts afresh rather than being refused.
                (uuid::Uuid::new_v4().to_string(), true)
            }
            Err(e) => return Err(other("cannot read", &id_path, e)),
        };
        let (server_id, new_identity) = server_id;
        if uuid::Uuid::parse_str(&server_id).is_err() {
            return Err(StartError::Other(format!(
                "{} does not hold a server ID (a UUID): {server_id:?}",
                id_path.display()
            )));
        }
        if had_snapshots && !had_files {
            return Err(StartError::Other(format!(
                "{} holds snapshots but raft.db is missing: refusing to start an empty log over them",
                raft_dir.display()
            )));
        }
        settings.me.id = server_id.clone();
        let id = raft_id(&server_id);
        let log = LogStore::open(&db_path)?.with_snapshots_in(&snapshot_dir);
        let had_state = log
            .has_state()
            .map_err(|e| StartError::Other(format!("{}: {e}", db_path.display())))?;
        if new_identity {
            if had_state {
                return Err(StartError::Other(format!(
                    "{} is missing but {} holds raft data: the server's identity is lost; restore node-id or move the raft directory away",
                    id_path.display(),
                    raft_dir.display()
                )));
            }
            std::fs::write(&id_path, &server_id).map_err(|e| other("cannot write", &id_path, e))?;
        }
        let machine = StateMachine::open(&snapshot_dir, store)?;
        let election_ms = settings.election_timeout().as_millis() as u64;
        let config = Config {
            cluster_name: settings.me.region.clone(),
            // Half of Nomad's timings: a follower that has not heard from the leader
            // for 0.5 to 1 s stands for election, and openraft's followers refuse
            // votes for as long (the leader's lease, `election_timeout_max`), so a
            // leader killed is replaced in about 1.5 to 2 s (Nomad: 2 to 4 s).
            // Heartbeats every 100 ms leave room for a loaded machine.
            heartbeat_interval: election_ms / 5,
            election_timeout_min: election_ms,
            election_timeout_max: 2 * election_ms,
            install_snapshot_timeout: 10_000,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(settings.snapshot_threshold.max(1)),
            max_in_snapshot_log_to_keep: settings.trailing_logs,
            ..Config::default()
        }
        .validate()
        .map_err(|e| StartError::Other(format!("raft configuration: {e}")))?;
        let peers = settings.peers.clone();
        let network = Network {
            peers: peers.clone(),
        };
        let lease = Duration::from_millis(config.election_timeout_max);
        let raft = Raft::new(id, Arc::new(config), network, log, machine)
            .await
            .map_err(|e| StartError::Other(format!("starting raft: {e}")))?;
        let leadership = watch_leadership(raft.clone(), id, lease);
        Ok(Arc::new(RaftNode {
            raft,
            id,
            me: settings.me.clone(),
            settings,
            peers,
            leadership,
            last_contact: Mutex::new(None),
            had_state: had_state || had_snapshots,
            discovered: Mutex::default(),
            joins_changed: tokio::sync::Notify::new(),
            join_later: Mutex::default(),
        }))
    }

    /// This server as the membership names it.
    pub fn me(&self) -> &ServerNode {
        &self.me
    }

    /// The Raft node ID.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Whether this server makes a cluster by itself (`bootstrap_expect = 1`, nothing
    /// to join), as `-dev` does: what [`RaftNode::bootstrap`] then does at once. A
    /// server with `bootstrap_expect = 0` waits to be joined, in the background.
    pub fn forms_cluster_alone(&self) -> bool {
        self.settings.bootstrap_expect == 1 && self.settings.join.is_empty()
    }

    /// The election timeout's lower bound.
    pub fn election_timeout(&self) -> Duration {
        self.settings.election_timeout()
    }

    /// True while this server leads and has applied everything committed before.
    pub fn is_leader(&self) -> bool {
        *self.leadership.borrow() != 0
    }

    /// The leader as this server knows it.
    pub fn leader(&self) -> Option<ServerNode> {
        let metrics = self.raft.metrics();
        let metrics = metrics.borrow();
        let leader = metrics.current_leader?;
        metrics
            .membership_config
            .membership()
            .get_node(&leader)
            .cloned()
    }

    /// How long since the leader was last heard from: zero on the leader, `None` on a
    /// follower that never heard from one.
    pub fn last_contact(&self) -> Option<Duration> {
        if self.raft.metrics().borrow().state == ServerState::Leader {
            return Some(Duration::ZERO);
        }
        self.last_contact
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map(|at| at.elapsed())
    }

    /// The servers of the latest membership, each with whether it is a voter, and the
    /// index of the entry that set it. While the membership changes (openraft's joint
    /// configuration: the old voters and the new must both agree), a server is a voter
    /// only if it is one in both: one being added is not yet part of every quorum, so an
    /// operator must not count on it to survive losing others; one being removed is on
    /// its way out.
    pub fn configuration(&self) -> (u64, Vec<(ServerNode, bool)>) {
        let metrics = self.raft.metrics();
        let metrics = metrics.borrow();
        let stored = &metrics.membership_config;
        let membership = stored.membership();
        let joint = membership.get_joint_config();
        let servers = membership
            .nodes()
            .map(|(id, node)| {
                let voter = joint.iter().all(|voters| voters.contains(id));
                (node.clone(), voter)
            })
            .collect();
        (stored.log_id().map(|l| l.index).unwrap_or(0), servers)
    }

    /// The voters of the latest membership (see [`RaftNode::configuration`]).
    pub fn voters(&self) -> Vec<ServerNode> {
        self.configuration()
            .1
            .into_iter()
            .filter(|(_, voter)| *voter)
            .map(|(node, _)| node)
            .collect()
    }

    /// The `raft` section of `/v1/agent/self`'s stats, with Nomad's keys (values as
    /// text, as Nomad reports them).
    pub fn stats(&self) -> BTreeMap<String, String> {
        let metrics = self.metrics();
        let state = match metrics.state {
            ServerState::Leader => "Leader",
            ServerState::Follower => "Follower",
            ServerState::Candidate => "Candidate",
            ServerState::Learner => "Learner",
            ServerState::Shutdown => "Shutdown",
        };
        let last_log_term = metrics
            .last_applied
            .map(|log| log.leader_id.term)
            .unwrap_or(0);
        let peers = metrics
            .membership_config
            .membership()
            .nodes()
            .filter(|(id, _)| **id != metrics.id)
            .count();
        let last_contact = match self.last_contact() {
            Some(age) if age.is_zero() => "0".to_string(),
            Some(age) => format!("{:?}", age),
            None => "never".to_string(),
        };
        [
            ("state", state.to_string()),
            ("term", metrics.current_term.to_string()),
            (
                "last_log_index",
                metrics.last_log_index.unwrap_or(0).to_string(),
            ),
            ("last_log_term", last_log_term.to_string()),
            (
                "applied_index",
                metrics
                    .last_applied
                    .map(|l| l.index)
                    .unwrap_or(0)
                    .to_string(),
            ),
            (
                "last_snapshot_index",
                metrics.snapshot.map(|l| l.index).unwrap_or(0).to_string(),
            ),
            (
                "last_snapshot_term",
                metrics
                    .snapshot
                    .map(|l| l.leader_id.term)
                    .unwrap_or(0)
                    .to_string(),
            ),
            ("num_peers", peers.to_string()),
            ("last_contact", last_contact),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_string(), value))
        .collect()
    }

    /// openraft's metrics, for the telemetry and tests.
    pub fn metrics(&self) -> openraft::RaftMetrics<u64, ServerNode> {
        self.raft.metrics().borrow().clone()
    }

    /// Removes a server from the membership (`operator raft remove-peer`, `server
    /// force-leave`). Only the leader can.
    pub async fn remove_server(&self, id: u64) -> Result<(), String> {
        let (_, servers) = self.configuration();
        let Some((node, _)) = servers.iter().find(|(n, _)| raft_id(&n.id) == id) else {
            return Err(format!("no raft peer with id {id}"));
        };
        // A voter of either half of a joint configuration is removed as a voter.
        let voter = self
            .raft
            .metrics()
            .borrow()
            .membership_config
            .membership()
            .voter_ids()
            .any(|voter| voter == id);
        let change = if voter {
            ChangeMembers::RemoveVoters([id].into())
        } else {
            ChangeMembers::RemoveNodes([id].into())
        };
        self.raft
            .change_membership(change, false)
            .await
            .map_err(|e| format!("removing {node}: {e}"))?;
        Ok(())
    }

    /// Stops Raft (the agent is shutting down).
    pub async fn shutdown(&self) {
        let _ = self.raft.shutdown().await;
    }

    /// Handles an AppendEntries from the leader: MessagePack in, MessagePack out.
    pub async fn handle_append_entries(&self, body: &[u8]) -> Result<Vec<u8>, String> {
        let request = decode(body).await?;
        *self.last_contact.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        encode(&self.raft.append_entries(request).await)
    }

    /// Handles a RequestVote.
    pub async fn handle_vote(&self, body: &[u8]) -> Result<Vec<u8>, String> {
        let request = decode(body).await?;
        encode(&self.raft.vote(request).await)
    }

    /// Handles one chunk of an InstallSnapshot.
    pub async fn handle_install_snapshot(&self, body: &[u8]) -> Result<Vec<u8>, String> {
        let request = decode(body).await?;
        *self.last_contact.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        encode(&self.raft.install_snapshot(request).await)
    }

    /// What this server tells a server that asks about it (the join handshake and
    /// membership pings, on the serf port).
    pub fn member_info(&self) -> MemberInfo {
        let (_, servers) = self.configuration();
        MemberInfo {
            node: self.me.clone(),
            initialized: !servers.is_empty(),
            leader: self.leader(),
            servers: servers.into_iter().map(|(node, _)| node).collect(),
        }
    }
}

/// A server's answer to `GET /v1/internal/serf/member`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemberInfo {
    pub node: ServerNode,
    /// Whether it is part of a cluster (its membership is not empty).
    pub initialized: bool,
    pub leader: Option<ServerNode>,
    /// The servers in its membership.
    pub servers: Vec<ServerNode>,
}

/// Reads a peer's message; a large one (a batch of entries, a snapshot chunk) off the
/// runtime.
async fn decode<T: serde::de::DeserializeOwned + Send + 'static>(body: &[u8]) -> Result<T, String> {
    let read = |body: &[u8]| {
        rmp_serde::from_slice(body).map_err(|e| format!("unreadable raft message: {e}"))
    };
    if body.len() < LARGE_MESSAGE {
        return read(body);
    }
    let body = body.to_vec();
    tokio::task::spawn_blocking(move || read(&body))
        .await
        .map_err(|e| e.to_string())?
}

/// Messages from this size on are decoded off the runtime.
const LARGE_MESSAGE: usize = 64 * 1024;

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, String> {
    rmp_serde::to_vec_named(value).map_err(|e| format!("encoding the raft answer: {e}"))
}

/// The term this server leads in, once it leads and has applied every entry committed
/// before its term (so the leader's services rebuild from the whole state); 0 while it
/// does not lead. Every quarter `lease` a leader asks a quorum to confirm it: one that
/// no quorum has confirmed for a whole `lease` (cut off; another may have been elected
/// meanwhile) turns 0, and leads again only once a quorum answers; openraft itself keeps such a leader until it
/// hears of a newer term.
fn watch_leadership(raft: Raft, id: u64, lease: Duration) -> watch::Receiver<u64> {
    let (sender, receiver) = watch::channel(0u64);
    tokio::spawn(async move {
        let mut metrics = raft.metrics();
        let mut tick = tokio::time::interval(lease / 4);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut confirm = false;
        // When a quorum last confirmed this server: one failed check (a follower busy
        // receiving a large message answers "unreachable") is no reason to step down,
        // a whole lease without an answer is.
        let mut confirmed_at = tokio::time::Instant::now();
        loop {
            let (leading, term, sole_voter) = {
                let now = metrics.borrow_and_update();
                let leading = now.state == ServerState::Leader && now.current_leader == Some(id);
                // The only voter is its own quorum: no other server can have been
                // elected, so a busy runtime (a slow answer) is no reason to step down.
                let sole_voter = now.membership_config.membership().voter_ids().eq([id]);
                (leading, now.current_term, sole_voter)
            };
            let published = *sender.borrow();
            if leading && (published != term || confirm) {
                // Taking office waits for everything committed to be applied; staying
                // in it only needs a quorum's answer (a long apply is no reason to
                // step down).
                let answered = if published != term {
                    tokio::time::timeout(lease, raft.ensure_linearizable())
                        .await
                        .is_ok_and(|r| r.is_ok())
                } else {
                    tokio::time::timeout(lease, raft.get_read_log_id())
                        .await
                        .is_ok_and(|r| r.is_ok())
                };
                let confirmed = (answered || (sole_voter && published == term)) && {
                    let now = raft.metrics();
                    let now = now.borrow();
                    now.current_term == term && now.state == ServerState::Leader
                };
                if confirmed {
                    confirmed_at = tokio::time::Instant::now();
                }
                if confirmed && published != term {
                    tracing::info!(term, "entering leader state");
                    sender.send_replace(term);
                } else if !confirmed && published != 0 && confirmed_at.elapsed() >= lease {
                    tracing::warn!(
                        "no quorum confirms this server as the leader: not serving as one"
                    );
                    sender.send_replace(0);
                }
            } else if !leading && published != 0 {
                tracing::info!("leaving leader state");
                sender.send_replace(0);
            }
            tokio::select! {
                changed = metrics.changed() => {
                    if changed.is_err() {
                        sender.send_replace(0);
                        return;
                    }
                    confirm = false;
                }
                _ = tick.tick() => confirm = true,
            }
        }
    });
    receiver
}

impl Replicator for RaftNode {
    fn apply(&self, command: Command) -> Applied {
        let raft = self.raft.clone();
        Box::pin(async move {
            match raft.client_write(command).await {
                Ok(written) => match written.data.refused {
                    None => Ok(written.data.index),
                    Some(why) => Err(ReplicationError::Refused(Refused(why))),
                },
                Err(RaftError::APIError(ClientWriteError::ForwardToLeader(forward))) => {
                    Err(ReplicationError::Unavailable(match forward.leader_node {
                        Some(leader) => format!("this server is not the leader ({leader} is)"),
                        None => "No cluster leader".to_string(),
                    }))
                }
                Err(error) => Err(ReplicationError::Unavailable(error.to_string())),
            }
        })
    }

    fn leadership(&self) -> watch::Receiver<u64> {
        self.leadership.clone()
    }
}

/// The membership a cluster is bootstrapped with: every server by Raft ID.
pub(crate) fn members(servers: &[ServerNode]) -> BTreeMap<u64, ServerNode> {
    servers
        .iter()
        .map(|s| (raft_id(&s.id), s.clone()))
        .collect()
}
