//! The node drainer: drains resumed when the leader starts. It keeps no state of its
//! own: the draining nodes are the state's. A drain ends when its node has
//! nothing left running; the state store checks that in the same write as whatever
//! finished the node's last allocation (a client's report), so the drainer only has to
//! catch the drains no such write will end: on start it ends those whose node already
//! has nothing running, and re-evaluates the jobs still running on a draining node that
//! no open evaluation will move.

use std::collections::HashSet;
use std::sync::Arc;

use caravan_state::Command;
use caravan_structs::{EvalTrigger, JobId, NodeId};

use crate::Server;

/// Resumes the drains in the state: ends those with nothing left running, and
/// re-evaluates jobs whose allocations on a draining node still run with no open
/// evaluation to move them.
pub(crate) async fn resume(server: Arc<Server>) {
    let snapshot = server.snapshot();
    let nodes: Vec<NodeId> = snapshot
        .all_nodes()
        .filter(|n| n.drain)
        .map(|n| n.id.clone())
        .collect();
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
            tracing::warn!(%error, "could not end the drains of nodes with nothing left");
        }
    }
    if !evals.is_empty()
        && let Err(error) = server.apply(Command::EvalsUpsert { evals }).await
    {
        tracing::warn!(%error, "could not re-evaluate the jobs of draining nodes");
    }
}
