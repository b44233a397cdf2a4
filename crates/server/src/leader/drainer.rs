//! The node drainer: which nodes are draining, the evaluations that migrate their work
//! away, and drains resumed when the leader starts. A drain ends when its node has
//! nothing left running; the state store checks that in the same write as whatever
//! finished the node's last allocation (a client's report), so the drainer only has to
//! catch the drains no such write will end: on start it ends those whose node already
//! has nothing running, and re-evaluates the jobs still running on a draining node that
//! no open evaluation will move.

use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use caravan_state::{Command, Snapshot};
use caravan_structs::{EvalTrigger, Evaluation, JobId, NodeId};

use crate::Server;

/// The draining nodes, by ID.
#[derive(Default)]
pub(crate) struct Drainer {
    draining: Mutex<BTreeSet<NodeId>>,
}

impl Drainer {
    fn lock(&self) -> MutexGuard<'_, BTreeSet<NodeId>> {
        // Plain IDs; a panicked holder cannot leave the set half-written.
        self.draining.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Notes a drain started (`true`) or ended.
    pub(crate) fn set(&self, node_id: &NodeId, draining: bool) {
        let mut nodes = self.lock();
        if draining {
            nodes.insert(node_id.clone());
        } else {
            nodes.remove(node_id);
        }
    }

    /// The nodes draining as of `snapshot`: a drain the store ended is forgotten here.
    pub(crate) fn draining(&self, snapshot: &Snapshot) -> Vec<NodeId> {
        let mut nodes = self.lock();
        nodes.retain(|id| snapshot.node(id).is_some_and(|n| n.drain));
        nodes.iter().cloned().collect()
    }

    /// Every node the state holds as draining.
    pub(crate) fn restore(&self, snapshot: &Snapshot) {
        let mut nodes = self.lock();
        for node in snapshot.all_nodes().filter(|n| n.drain) {
            nodes.insert(node.id.clone());
        }
    }
}

impl Server {
    /// The evaluations a drain of `node_id` needs: one per job with live allocations on
    /// it, which the scheduler answers by migrating them.
    pub(crate) fn drain_evals(
        &self,
        snapshot: &Snapshot,
        node_id: &NodeId,
        now: i64,
    ) -> Vec<Evaluation> {
        self.node_job_evals(
            snapshot,
            node_id,
            EvalTrigger::NodeDrain,
            now,
            &HashSet::new(),
        )
    }
}

/// Resumes the drains in the state: ends those with nothing left running, and
/// re-evaluates jobs whose allocations on a draining node still run with no open
/// evaluation to move them.
pub(crate) async fn resume(server: Arc<Server>) {
    let snapshot = server.snapshot();
    let nodes = server.leader.drainer.draining(&snapshot);
    if nodes.is_empty() {
        return;
    }
    let now = server.now();
    let done: Vec<NodeId> = nodes
        .iter()
        .filter(|id| {
            snapshot
                .allocs_by_node(id)
                .iter()
                .all(|a| a.terminal() || a.client_terminal())
        })
        .cloned()
        .collect();
    let mut evals = Vec::new();
    for node_id in nodes.iter().filter(|id| !done.contains(id)) {
        // A job with an evaluation still to run (pending or blocked) is moved by it.
        let covered: HashSet<(String, JobId)> = snapshot
            .allocs_by_node(node_id)
            .iter()
            .map(|a| (a.namespace.clone(), a.job_id.clone()))
            .filter(|(namespace, job)| {
                snapshot
                    .evals_by_job(namespace, job)
                    .iter()
                    .any(|e| !e.terminal())
            })
            .collect();
        evals.extend(server.node_job_evals(
            &snapshot,
            node_id,
            EvalTrigger::NodeDrain,
            now,
            &covered,
        ));
    }
    if !done.is_empty() {
        let command = Command::NodeDrainComplete {
            node_ids: done,
            now,
        };
        if let Err(error) = server.apply(command).await {
            tracing::warn!(%error, "drainer: could not end the drains of nodes with nothing left");
        }
    }
    if !evals.is_empty()
        && let Err(error) = server.apply(Command::EvalsUpsert { evals }).await
    {
        tracing::warn!(%error, "drainer: could not re-evaluate the jobs of draining nodes");
    }
}
