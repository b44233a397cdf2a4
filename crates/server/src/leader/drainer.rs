//! The node drainer: drains resumed when the leader starts, and deadlines enforced. It
//! keeps no state of its own: the draining nodes and their `DrainStrategy` are the
//! state's. A drain ends when its node has nothing left that the drain waits for
//! (`Node::drain_waits_for`: a system job's allocations stay with `IgnoreSystemJobs`);
//! the state store checks that in the same write as whatever finished the node's last
//! such allocation (a client's report), so the drainer only has to catch the drains no
//! such write will end: on start it ends those whose node already has nothing left,
//! and re-evaluates the jobs still running on a draining node that no open evaluation
//! will move. Batch allocations are left to finish (Nomad); once a drain's deadline
//! passes (at once for a forced drain), what is left is marked to migrate.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use caravan_state::{Command, Snapshot};
use caravan_structs::{AllocId, DesiredTransition, EvalTrigger, JobId, NodeId};

use crate::Server;

/// How long the deadline watch waits for a write before it looks again anyway.
const IDLE_WAIT: Duration = Duration::from_secs(60);

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
            snapshot.node(*id).is_some_and(|node| {
                !snapshot
                    .allocs_by_node(id)
                    .iter()
                    .any(|a| node.drain_waits_for(a))
            })
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

/// Forces the drains whose deadline has passed, then sleeps until the next deadline
/// (on the server's clock) or the next write, for as long as this server leads.
/// Looking means walking every node, so it looks again only when the nodes changed, a
/// deadline came, or a drain past its deadline may still have allocations to force;
/// not on every write (thousands a minute with ten thousand clients).
pub(crate) async fn enforce_deadlines(server: Arc<Server>) {
    let mut seen_index = 0;
    let mut looked_at_nodes = None;
    let mut next_deadline = None;
    let mut look = true;
    loop {
        let snapshot = server.state().snapshot();
        seen_index = seen_index.max(snapshot.index);
        let nodes_index = snapshot.table_index().nodes;
        if look || looked_at_nodes != Some(nodes_index) {
            let now = server.now();
            force_past_deadlines(&server, &snapshot, now).await;
            let drains: Vec<_> = snapshot
                .all_nodes()
                .filter(|n| n.drain)
                .filter_map(|n| n.drain_strategy.as_ref())
                .collect();
            next_deadline = drains
                .iter()
                .filter(|s| s.drain_spec.deadline > 0)
                .filter_map(|s| s.force_deadline_nanos())
                .filter(|at| *at > now)
                .min();
            // A forced drain's allocations may still change (a write that failed, an
            // allocation put back): those drains are looked at after every write.
            look = drains.iter().any(|s| s.deadline_passed(now));
            looked_at_nodes = Some(nodes_index);
        }
        // Not held while waiting: every version written meanwhile would stay alive.
        drop(snapshot);
        let state = server.state();
        let written = state.wait_past(seen_index, IDLE_WAIT);
        match next_deadline {
            Some(at) => {
                tokio::select! {
                    snapshot = written => seen_index = snapshot.index,
                    _ = server.clock.sleep_until(at) => look = true,
                }
            }
            None => seen_index = written.await.index,
        }
    }
}

/// Marks to migrate what the drains past their deadline still wait for, with an
/// evaluation of each job so the scheduler moves them (Nomad's forced drain).
/// Allocations already marked are left alone, so a pass over an unchanged state writes
/// nothing.
pub(crate) async fn force_past_deadlines(server: &Server, snapshot: &Snapshot, now: i64) {
    let mut transitions: Vec<(AllocId, DesiredTransition)> = Vec::new();
    let mut jobs: BTreeMap<(String, JobId), ()> = BTreeMap::new();
    for node in snapshot.all_nodes() {
        let Some(strategy) = node.drain_strategy.as_ref().filter(|_| node.drain) else {
            continue;
        };
        if !strategy.deadline_passed(now) {
            continue;
        }
        for alloc in snapshot.allocs_by_node(&node.id) {
            if !node.drain_waits_for(&alloc) || alloc.desired_transition.should_migrate() {
                continue;
            }
            transitions.push((
                alloc.id.clone(),
                DesiredTransition {
                    migrate: Some(true),
                    ..alloc.desired_transition.clone()
                },
            ));
            jobs.insert((alloc.namespace.clone(), alloc.job_id.clone()), ());
        }
    }
    if transitions.is_empty() {
        return;
    }
    let evals = jobs
        .keys()
        .filter_map(|(namespace, job_id)| snapshot.job(namespace, job_id))
        .map(|job| server.new_eval(&job, EvalTrigger::NodeDrain, now))
        .collect();
    let command = Command::AllocDesiredTransition {
        transitions,
        evals,
        now,
    };
    if let Err(error) = server.apply(command).await {
        tracing::warn!(%error, "drainer: could not force the allocations of drains past their deadline");
    }
}
