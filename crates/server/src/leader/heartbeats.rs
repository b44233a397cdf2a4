//! Node heartbeats: each node gets a TTL; a node silent for TTL + grace is `down`.
//! Rebuilt from the state on start: every node not already down gets a fresh deadline,
//! so a node that never speaks to this server again is marked down in time.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use caravan_state::Snapshot;
use caravan_structs::{NodeId, NodeStatus};
use tokio::sync::Notify;

use crate::Server;

/// Nomad's defaults: `min_heartbeat_ttl = 10s`, `heartbeat_grace = 10s`,
/// `max_heartbeats_per_second = 50`.
#[derive(Debug, Clone, Copy)]
pub struct HeartbeatConfig {
    pub min_ttl: Duration,
    pub grace: Duration,
    pub max_per_second: f64,
}

impl Default for HeartbeatConfig {
    fn default() -> Self {
        HeartbeatConfig {
            min_ttl: Duration::from_secs(10),
            grace: Duration::from_secs(10),
            max_per_second: 50.0,
        }
    }
}

/// When each node's heartbeat is due, at the latest (Unix nanoseconds, by the server's
/// clock).
#[derive(Default)]
pub(crate) struct Heartbeats {
    deadlines: Mutex<Deadlines>,
    /// Wakes the watcher: the earliest deadline moved earlier.
    earlier: Notify,
}

#[derive(Default)]
struct Deadlines {
    by_node: HashMap<NodeId, i64>,
    /// `(deadline, node ID)`, earliest first.
    order: BTreeSet<(i64, NodeId)>,
}

impl Deadlines {
    fn set(&mut self, node_id: &NodeId, deadline: i64) {
        if let Some(old) = self.by_node.insert(node_id.clone(), deadline) {
            self.order.remove(&(old, node_id.clone()));
        }
        self.order.insert((deadline, node_id.clone()));
    }

    fn earliest(&self) -> Option<i64> {
        self.order.first().map(|(at, _)| *at)
    }
}

fn nanos(duration: Duration) -> i64 {
    duration.as_nanos().min(i64::MAX as u128) as i64
}

impl Heartbeats {
    fn lock(&self) -> std::sync::MutexGuard<'_, Deadlines> {
        // Plain deadlines; a panicked holder cannot leave one half-written.
        self.deadlines
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Nomad's TTL: `max(min_ttl, nodes / max_per_second)` plus a random stagger of up to
    /// the same again, so that clients do not heartbeat in lockstep. The node is due by
    /// `now` + TTL + grace.
    pub(crate) fn reset(
        &self,
        config: &HeartbeatConfig,
        node_id: &NodeId,
        jitter: f64,
        now: i64,
    ) -> Duration {
        let mut deadlines = self.lock();
        let ttl = ttl(config, deadlines.by_node.len().max(1), jitter);
        let deadline = now.saturating_add(nanos(ttl + config.grace));
        let was_earliest = deadlines.earliest();
        deadlines.set(node_id, deadline);
        drop(deadlines);
        if was_earliest.is_none_or(|at| deadline < at) {
            self.earlier.notify_one();
        }
        ttl
    }

    /// Takes the nodes whose deadline is at or before `now`.
    fn expired(&self, now: i64) -> Vec<NodeId> {
        let mut deadlines = self.lock();
        let mut expired = Vec::new();
        while let Some((at, _)) = deadlines.order.first() {
            if *at > now {
                break;
            }
            if let Some((_, id)) = deadlines.order.pop_first() {
                deadlines.by_node.remove(&id);
                expired.push(id);
            }
        }
        expired
    }

    /// How many nodes are watched.
    pub(crate) fn len(&self) -> usize {
        self.lock().by_node.len()
    }

    /// Nomad's `initializeHeartbeatTimers`: every node not already down is due within
    /// a fresh TTL + grace of `now`.
    pub(crate) fn restore(&self, snapshot: &Snapshot, config: &HeartbeatConfig, now: i64) {
        let live: Vec<&NodeId> = snapshot
            .all_nodes()
            .filter(|n| n.status != NodeStatus::Down)
            .map(|n| &n.id)
            .collect();
        let mut deadlines = self.lock();
        for node_id in &live {
            let ttl = ttl(config, live.len(), crate::random_fraction());
            deadlines.set(node_id, now.saturating_add(nanos(ttl + config.grace)));
        }
        drop(deadlines);
        self.earlier.notify_one();
    }
}

/// A node's TTL among `nodes` nodes, with a stagger of `jitter` (0 to 1) of the base.
fn ttl(config: &HeartbeatConfig, nodes: usize, jitter: f64) -> Duration {
    let scaled = Duration::from_secs_f64(nodes as f64 / config.max_per_second.max(1.0));
    let base = config.min_ttl.max(scaled);
    base + base.mul_f64(jitter.clamp(0.0, 1.0))
}

/// Marks nodes down as their deadlines pass, sleeping on the server's clock until the
/// earliest one.
pub(crate) async fn watch(server: Arc<Server>) {
    let leader = server.leader();
    let heartbeats = &leader.heartbeats;
    loop {
        for node_id in heartbeats.expired(server.now()) {
            server.node_down(&node_id).await;
        }
        let earliest = heartbeats.lock().earliest();
        match earliest {
            Some(at) => {
                tokio::select! {
                    _ = server.clock.sleep_until(at) => {}
                    _ = heartbeats.earlier.notified() => {}
                }
            }
            None => heartbeats.earlier.notified().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn few_nodes_get_the_minimum_ttl_plus_a_stagger_of_up_to_as_much() {
        let config = HeartbeatConfig::default();
        assert_eq!(ttl(&config, 1, 0.0), secs(10));
        assert_eq!(ttl(&config, 100, 0.5), secs(15));
        // 500 nodes at 50/s is 10 s: still the minimum.
        assert_eq!(ttl(&config, 500, 1.0), secs(20));
    }

    #[test]
    fn many_nodes_get_a_ttl_scaled_to_max_heartbeats_per_second() {
        let config = HeartbeatConfig::default();
        assert_eq!(ttl(&config, 10_000, 0.0), secs(200));
        assert_eq!(ttl(&config, 10_000, 1.0), secs(400));
        let faster = HeartbeatConfig {
            max_per_second: 100.0,
            ..config
        };
        assert_eq!(ttl(&faster, 10_000, 0.0), secs(100));
    }

    #[test]
    fn ten_thousand_nodes_heartbeating_at_their_ttl_stay_under_the_maximum_rate() {
        let config = HeartbeatConfig::default();
        let heartbeats = Heartbeats::default();
        let ids: Vec<NodeId> = (0..10_000).map(|i| format!("node-{i}").into()).collect();
        // Registration: the first nodes see a small cluster and get short TTLs.
        for (i, id) in ids.iter().enumerate() {
            heartbeats.reset(&config, id, (i % 100) as f64 / 100.0, 0);
        }
        assert_eq!(heartbeats.len(), 10_000);
        // Their next heartbeat gets a TTL scaled to the whole cluster.
        let rate: f64 = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let ttl = heartbeats.reset(&config, id, (i % 100) as f64 / 100.0, 0);
                1.0 / ttl.as_secs_f64()
            })
            .sum();
        assert!(rate <= config.max_per_second, "{rate} heartbeats/s");
        // The stagger spreads them: well under the maximum, not at it.
        assert!(rate < 0.8 * config.max_per_second, "{rate} heartbeats/s");
    }
}
