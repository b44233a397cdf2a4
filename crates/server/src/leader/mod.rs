//! The leader's services. Each owns its own state, kept in memory, and rebuilds it from
//! the state store when the leader starts (Nomad's `establishLeadership`): whatever a
//! previous leader left in the state (pending, delayed and blocked evaluations, nodes
//! that must keep heartbeating, periodic jobs, drains) is picked up where it stood.
//!
//! - [`eval_broker`]: evaluations ready for a worker, highest priority first, one per
//!   job at a time, delivered again if not acked in time, and the delayed ones until due;
//! - [`blocked`]: evaluations waiting for capacity, one per job;
//! - [`heartbeats`]: each node's deadline; a node past it is marked down;
//! - [`periodic`]: each periodic job's next launch;
//! - [`plan_applier`]: the one place plans are committed, each checked first;
//! - [`drainer`]: the drains in the state, resumed on start (it keeps no state);
//! - [`deployment_watcher`]: running deployments moved along as allocation health comes
//!   in (it keeps no state that matters either).
//!
//! `num_schedulers` scheduler workers and the garbage collector run beside them.

pub mod blocked;
pub(crate) mod deployment_watcher;
pub(crate) mod drainer;
pub(crate) mod eval_broker;
pub mod heartbeats;
pub(crate) mod periodic;
pub(crate) mod plan_applier;

use std::sync::Arc;

use blocked::BlockedEvals;
use eval_broker::{BrokerStats, EvalBroker};
use heartbeats::Heartbeats;
use periodic::PeriodicDispatcher;
use plan_applier::PlanApplier;

use crate::Server;

/// The leader's services of one term, empty until [`Leader::establish`] fills them from
/// the state.
#[derive(Default)]
pub(crate) struct Leader {
    pub(crate) broker: EvalBroker,
    pub(crate) blocked: BlockedEvals,
    pub(crate) heartbeats: Heartbeats,
    pub(crate) periodic: PeriodicDispatcher,
    pub(crate) plan_applier: PlanApplier,
}

/// What the leader's services hold, for metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LeaderStats {
    /// Evaluations in the eval broker.
    pub broker: BrokerStats,
    /// Blocked evaluations waiting for capacity.
    pub blocked: usize,
    /// Nodes whose heartbeats are watched.
    pub heartbeat_nodes: usize,
    /// Periodic jobs the launcher tracks.
    pub periodic_jobs: usize,
    /// The clock time (Unix nanoseconds) up to which the periodic launcher has made
    /// every launch, as of the jobs it last looked at.
    pub periodic_checked_through: i64,
}

/// Runs the leader's services while `server`'s replicator says it leads: established
/// (rebuilt from the state) each time leadership is gained, stopped each time it is
/// lost. Leadership comes as a term, so a loss and a regain seen as one change still
/// rebuild the services.
pub(crate) fn follow_leadership(server: &Arc<Server>) {
    let mut leadership = server.replicator.leadership();
    let term = *leadership.borrow_and_update();
    if term != 0 {
        // Established before `start` returns: a server that starts leading (one
        // server, a test) has its services from the first request on.
        Leader::establish(server);
    }
    let weak = Arc::downgrade(server);
    tokio::spawn(async move {
        let mut current = term;
        while leadership.changed().await.is_ok() {
            let term = *leadership.borrow_and_update();
            let Some(server) = weak.upgrade() else {
                return;
            };
            if term != current {
                if term == 0 {
                    Leader::revoke(&server);
                } else {
                    Leader::establish(&server);
                }
            }
            current = term;
        }
    });
}

impl Leader {
    /// Rebuilds every service from the state (Nomad's `establishLeadership`), then
    /// starts their tasks (and the scheduler worker and garbage collector). Needs a
    /// tokio runtime.
    ///
    /// The old services stop first (their tasks must not take work from the new
    /// ones); the new, empty services are published before the state is read, so
    /// that a write applied meanwhile queues its evaluations in them, and one already
    /// in the state is restored from it (the broker takes an evaluation once).
    pub(crate) fn establish(server: &Arc<Server>) {
        tracing::info!("cluster leadership acquired");
        let mut running = server
            .leader_tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        Leader::establish_locked(server, &mut running);
    }

    /// [`Leader::establish`] again if this server still leads (after a restore), under
    /// the same lock as a revoke, so the two cannot interleave.
    pub(crate) fn reestablish_if_leading(server: &Arc<Server>) {
        let mut running = server
            .leader_tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if server.is_leader() {
            Leader::establish_locked(server, &mut running);
        }
    }

    fn establish_locked(server: &Arc<Server>, running: &mut Vec<tokio::task::AbortHandle>) {
        for old in running.drain(..) {
            old.abort();
        }
        let leader = Arc::new(Leader {
            broker: EvalBroker::new(server.config.broker),
            ..Leader::default()
        });
        server.leader.store(leader.clone());
        let snapshot = server.snapshot();
        let now = server.now();
        leader.broker.restore(&snapshot);
        leader.blocked.restore(&snapshot);
        leader
            .heartbeats
            .restore(&snapshot, &server.config.heartbeat, now);
        leader.periodic.restore(&snapshot, now);

        *running = vec![
            tokio::spawn(plan_applier::run(server.clone())).abort_handle(),
            tokio::spawn(eval_broker::run_timer(server.clone())).abort_handle(),
            tokio::spawn(eval_broker::run_reaper(server.clone())).abort_handle(),
            tokio::spawn(heartbeats::watch(server.clone())).abort_handle(),
            tokio::spawn(periodic::launch(server.clone())).abort_handle(),
            tokio::spawn(drainer::resume(server.clone())).abort_handle(),
            tokio::spawn(drainer::enforce_deadlines(server.clone())).abort_handle(),
            tokio::spawn(deployment_watcher::watch(server.clone())).abort_handle(),
            tokio::spawn(crate::gc::collect_periodically(server.clone())).abort_handle(),
            tokio::spawn(crate::keyring::initialize(server.clone())).abort_handle(),
        ];
        for _ in 0..server.config.scheduler_workers() {
            running.push(tokio::spawn(crate::worker::run(server.clone())).abort_handle());
        }
    }

    /// Stops every service (Nomad's `revokeLeadership`): their tasks end and their
    /// queues are dropped; the next leader rebuilds them from the state.
    pub(crate) fn revoke(server: &Server) {
        let mut running = server
            .leader_tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if !running.is_empty() {
            tracing::info!("cluster leadership lost");
        }
        for task in running.drain(..) {
            task.abort();
        }
        server.leader.store(Arc::new(Leader::default()));
    }

    /// What the services hold now.
    pub(crate) fn stats(&self) -> LeaderStats {
        LeaderStats {
            broker: self.broker.stats(),
            blocked: self.blocked.len(),
            heartbeat_nodes: self.heartbeats.len(),
            periodic_jobs: self.periodic.len(),
            periodic_checked_through: self.periodic.checked_through(),
        }
    }
}
