//! Node heartbeats: each node gets a TTL; a node silent for TTL + grace is `down`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// When each node's heartbeat is due, at the latest.
#[derive(Default)]
pub(crate) struct Heartbeats {
    deadlines: Mutex<HashMap<String, Instant>>,
}

impl Heartbeats {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        // Plain deadlines; a panicked holder cannot leave one half-written.
        self.deadlines
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Nomad's TTL: `max(min_ttl, nodes / max_per_second)` plus a random stagger of up to
    /// the same again, so that clients do not heartbeat in lockstep.
    pub(crate) fn reset(&self, config: &HeartbeatConfig, node_id: &str, jitter: f64) -> Duration {
        let mut deadlines = self.lock();
        let nodes = deadlines.len().max(1) as f64;
        let scaled = Duration::from_secs_f64(nodes / config.max_per_second.max(1.0));
        let base = config.min_ttl.max(scaled);
        let ttl = base + base.mul_f64(jitter.clamp(0.0, 1.0));
        deadlines.insert(node_id.to_string(), Instant::now() + ttl + config.grace);
        ttl
    }

    fn expired(&self, now: Instant) -> Vec<String> {
        let mut deadlines = self.lock();
        let expired: Vec<String> = deadlines
            .iter()
            .filter(|(_, deadline)| **deadline <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &expired {
            deadlines.remove(id);
        }
        expired
    }
}

/// Marks nodes down as their deadlines pass.
pub(crate) async fn watch(server: Arc<Server>) {
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        for node_id in server.heartbeats.expired(Instant::now()) {
            server.node_down(&node_id);
        }
    }
}
