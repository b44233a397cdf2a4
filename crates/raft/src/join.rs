//! Forming and growing a cluster without gossip: servers find each other through the
//! serf addresses in `server_join` (a `GET` of each one's [`MemberInfo`]), the server
//! with the lowest Raft ID bootstraps once `bootstrap_expect` servers are known, and a
//! server that finds an existing cluster asks its leader to add it (as a learner that
//! catches up, then as a voter).

use std::collections::BTreeMap;
use std::time::Duration;

use openraft::ChangeMembers;

use crate::node::{MemberInfo, RaftNode, members};
use crate::transport::paths;
use crate::types::{ServerNode, raft_id};

/// How long one membership ping may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a join may take: the leader answers once the new server has caught up
/// (a snapshot, then the log) and votes.
const JOIN_TIMEOUT: Duration = Duration::from_secs(120);

/// A serf address with Nomad's default port (4648) when none is given.
pub fn serf_address(address: &str) -> String {
    if address
        .rsplit_once(':')
        .is_some_and(|(_, port)| port.parse::<u16>().is_ok())
    {
        address.to_string()
    } else {
        format!("{address}:4648")
    }
}

impl RaftNode {
    /// Brings an empty server into a cluster: bootstraps one with `bootstrap_expect`
    /// servers, or joins the cluster a `server_join` address belongs to. A server
    /// whose log already holds a cluster returns at once: it is never bootstrapped
    /// again. Fails (one line) when the servers found belong to another region, or when
    /// `retry_max` rounds found too few servers.
    pub async fn bootstrap(&self) -> Result<(), String> {
        if self.had_state || self.is_initialized().await {
            return Ok(());
        }
        // 0: this server only joins a cluster that exists, it never starts one.
        let expect = self.settings.bootstrap_expect as usize;
        if expect == 1 && self.settings.join.is_empty() {
            return self.initialize(vec![self.me.clone()]).await;
        }
        let mut round = 0u32;
        loop {
            round += 1;
            let mut known: BTreeMap<u64, ServerNode> = members(std::slice::from_ref(&self.me));
            known.extend(
                self.discovered
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone(),
            );
            let mut unreachable = Vec::new();
            // A cluster answered (in an election, or its leader refused this round):
            // this server joins it later, it never starts a second one beside it.
            let mut cluster_seen = false;
            let mut addresses = self.settings.join.clone();
            addresses.extend(
                self.join_later
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone(),
            );
            for address in &addresses {
                let address = serf_address(address);
                match self.ask_member(&address).await {
                    Ok(info) => {
                        self.check_region(&address, &info.node)?;
                        if info.initialized {
                            cluster_seen = true;
                            if let Some(leader) = &info.leader {
                                match self.ask_leader_to_add(leader, &self.me).await {
                                    Ok(()) => {
                                        tracing::info!(%leader, "joined the cluster");
                                        return Ok(());
                                    }
                                    Err(why) => tracing::warn!(%address, %why, "join refused"),
                                }
                            }
                        } else {
                            known.extend(members(std::slice::from_ref(&info.node)));
                        }
                    }
                    Err(why) => unreachable.push(why),
                }
            }
            if self.is_voter() {
                return Ok(());
            }
            if expect > 0 && !cluster_seen && known.len() >= expect {
                let lowest = *known.keys().next().unwrap_or(&self.id);
                if lowest == self.id {
                    let servers = known.into_values().collect();
                    return self.initialize(servers).await;
                }
            }
            let found = known.len();
            if self.settings.retry_max > 0 && round >= self.settings.retry_max {
                let mut line = if expect == 0 {
                    format!(
                        "server_join: gave up after {round} attempts: no cluster to join was found"
                    )
                } else {
                    format!(
                        "server_join: gave up after {round} attempts: found {found} of the {expect} servers bootstrap_expect asks for"
                    )
                };
                if let Some(first) = unreachable.first() {
                    line.push_str(&format!(" (unreachable: {first})"));
                }
                return Err(line);
            }
            if found < expect || expect == 0 {
                tracing::warn!(
                    found,
                    expect,
                    unreachable = ?unreachable,
                    "waiting for servers to join before bootstrapping the cluster"
                );
            } else {
                tracing::info!(
                    "waiting for the server with the lowest ID to bootstrap the cluster"
                );
            }
            // A follower of a cluster that was just bootstrapped by another server is
            // initialized by its first entries: look again soon, however long the
            // retry interval.
            // A server that joins this one (or is joined by `server join`) starts the
            // next round at once.
            let deadline = tokio::time::Instant::now() + self.settings.retry_interval;
            while tokio::time::Instant::now() < deadline {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                    _ = self.joins_changed.notified() => break,
                }
                if self.is_voter() {
                    return Ok(());
                }
            }
        }
    }

    /// Whether this server votes in the cluster's membership: one that joined is
    /// added as a learner first, and keeps asking until it is made a voter (the
    /// promotion can fail, e.g. while another membership change is under way).
    fn is_voter(&self) -> bool {
        self.voters().iter().any(|node| node.id == self.me.id)
    }

    async fn is_initialized(&self) -> bool {
        self.raft.is_initialized().await.unwrap_or(false)
    }

    async fn initialize(&self, servers: Vec<ServerNode>) -> Result<(), String> {
        let names: Vec<String> = servers.iter().map(|s| s.to_string()).collect();
        tracing::info!(servers = ?names, "bootstrapping the cluster");
        match self.raft.initialize(members(&servers)).await {
            Ok(()) => Ok(()),
            // Another round already did, or entries arrived meanwhile.
            Err(_) if self.is_initialized().await => Ok(()),
            Err(error) => Err(format!("bootstrapping the cluster: {error}")),
        }
    }

    fn check_region(&self, address: &str, node: &ServerNode) -> Result<(), String> {
        if node.region != self.me.region {
            return Err(format!(
                "server_join: {address} is a server of region \"{}\", this server is of region \"{}\": servers of one cluster share a region",
                node.region, self.me.region
            ));
        }
        Ok(())
    }

    /// Asks the server at a serf address about itself, telling it about this one.
    pub async fn ask_member(&self, address: &str) -> Result<MemberInfo, String> {
        self.peers
            .post_json(address, paths::MEMBER, &self.me, CALL_TIMEOUT)
            .await
            .map_err(|e| e.to_string())
    }

    /// A server told this one about itself ([`RaftNode::ask_member`]): while this
    /// server is not in a cluster, it counts towards `bootstrap_expect`.
    pub fn introduced(&self, node: ServerNode) {
        if node.region != self.me.region || node.id == self.me.id || node.id.is_empty() {
            return;
        }
        let added = self
            .discovered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(raft_id(&node.id), node)
            .is_none();
        if added {
            self.joins_changed.notify_one();
        }
    }

    /// Handles a server's request to join this cluster: the leader adds it as a
    /// learner, waits for it to catch up (a snapshot, then the log), and makes it a
    /// voter; a follower passes the request to the leader.
    pub async fn handle_join(&self, node: ServerNode) -> Result<(), String> {
        if node.region != self.me.region {
            return Err(format!(
                "{} is a server of region \"{}\", this cluster is of region \"{}\"",
                node.name, node.region, self.me.region
            ));
        }
        if !self.is_leader() {
            // Between being elected and confirmed, openraft names this server the
            // leader already: asking "the leader" would be asking itself, again.
            let Some(leader) = self.leader().filter(|l| l.id != self.me.id) else {
                return Err("No cluster leader".into());
            };
            return self.ask_leader_to_add(&leader, &node).await;
        }
        let id = raft_id(&node.id);
        if self.voters().iter().any(|s| raft_id(&s.id) == id) {
            return Ok(());
        }
        tracing::info!(server = %node, "adding a server to the cluster");
        self.raft
            .add_learner(id, node.clone(), true)
            .await
            .map_err(|e| format!("adding {node} as a learner: {e}"))?;
        self.raft
            .change_membership(ChangeMembers::AddVoterIds([id].into()), false)
            .await
            .map_err(|e| format!("making {node} a voter: {e}"))?;
        Ok(())
    }

    /// Asks `leader` (at its serf address) to add `node` to the cluster.
    async fn ask_leader_to_add(
        &self,
        leader: &ServerNode,
        node: &ServerNode,
    ) -> Result<(), String> {
        let _: serde_json::Value = self
            .peers
            .post_json(&leader.serf_addr, paths::JOIN, node, JOIN_TIMEOUT)
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    /// `server join`/`PUT /v1/agent/join`: brings the servers at these serf addresses
    /// and this one into one cluster. Answers how many were joined.
    pub async fn join(&self, addresses: &[String]) -> Result<usize, String> {
        let mut joined = 0;
        let mut errors = Vec::new();
        for address in addresses {
            let address = serf_address(address);
            let info = match self.ask_member(&address).await {
                Ok(info) => info,
                Err(why) => {
                    errors.push(why);
                    continue;
                }
            };
            if let Err(why) = self.check_region(&address, &info.node) {
                errors.push(why);
                continue;
            }
            let mine = self.is_initialized().await;
            let result = match (mine, info.initialized) {
                (_, true) if info.servers.iter().any(|s| s.id == self.me.id) => Ok(()),
                (false, true) => match &info.leader {
                    Some(leader) => self.ask_leader_to_add(leader, &self.me).await,
                    None => Err(format!("{address}: its cluster has no leader")),
                },
                (true, false) => self.handle_join(info.node.clone()).await,
                (true, true) => Err(format!("{address} is already a member of another cluster")),
                // Both wait for `bootstrap_expect` servers: each now counts the other
                // (asking introduced this one), and this one asks again each round.
                (false, false) => {
                    self.join_later
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(address.clone());
                    self.joins_changed.notify_one();
                    Ok(())
                }
            };
            match result {
                Ok(()) => joined += 1,
                Err(why) => errors.push(why),
            }
        }
        if joined == 0 && !errors.is_empty() {
            return Err(errors.join("; "));
        }
        Ok(joined)
    }

    /// Each server of the membership with whether it answers a ping on its serf port
    /// (`server members`: `alive` or `failed`).
    pub async fn members_alive(&self) -> Vec<(ServerNode, bool)> {
        let (_, servers) = self.configuration();
        let servers: Vec<ServerNode> = if servers.is_empty() {
            vec![self.me.clone()]
        } else {
            servers.into_iter().map(|(node, _)| node).collect()
        };
        let pings = servers.into_iter().map(|node| async move {
            if node.id == self.me.id {
                return (node, true);
            }
            let alive = self
                .peers
                .get_json::<MemberInfo>(&node.serf_addr, paths::MEMBER, Duration::from_secs(1))
                .await
                .is_ok();
            (node, alive)
        });
        futures::future::join_all(pings).await
    }
}

#[cfg(test)]
mod tests {
    use super::serf_address;

    #[test]
    fn a_join_address_without_a_port_gets_the_serf_port() {
        for (given, expected) in [
            ("10.0.0.1", "10.0.0.1:4648"),
            ("10.0.0.1:5648", "10.0.0.1:5648"),
            ("server.example", "server.example:4648"),
            ("server.example:9999", "server.example:9999"),
        ] {
            assert_eq!(serf_address(given), expected, "{given}");
        }
    }
}
