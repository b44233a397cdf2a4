//! The plan applier: the one place scheduler plans are committed. Plans come in one
//! queue and are applied one at a time; each is first checked against the newest state,
//! not the snapshot it was computed on, so that several workers can schedule at once
//! and a plan that no longer fits is refused rather than over-committing a node (Nomad's
//! `evaluatePlan`). With one worker only a change between its snapshot and the commit
//! (a node going down, a node made ineligible) can refuse a plan; the worker then
//! schedules again on the newer state.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use caravan_scheduler::select::allocs_fit;
use caravan_state::{Command, Snapshot};
use caravan_structs::{Allocation, Deployment, DeploymentStatusUpdate, Evaluation};
use tokio::sync::{mpsc, oneshot};

use crate::{Server, ServerError};

/// A plan as a worker submits it: what to stop, what to place or update, and the
/// evaluations to write with it (the evaluation's outcome, a blocked evaluation, delayed
/// follow-ups, a superseded one canceled).
pub(crate) struct PlanSubmission {
    /// The index of the snapshot the plan was computed on.
    pub snapshot_index: u64,
    pub stops: Vec<Allocation>,
    pub placements: Vec<Allocation>,
    pub evals: Vec<Evaluation>,
    pub now: i64,
    /// The deployment the plan creates, and the deployment status changes it makes.
    pub deployment: Option<Deployment>,
    pub deployment_updates: Vec<DeploymentStatusUpdate>,
}

/// Why a plan was not committed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PlanError {
    /// The plan does not fit the newest state; nothing was written.
    #[error("plan refused: {0}")]
    Refused(String),
    /// The commit failed.
    #[error(transparent)]
    Commit(#[from] ServerError),
}

type Reply = oneshot::Sender<Result<u64, PlanError>>;

/// The queue of plans waiting to be committed.
pub(crate) struct PlanApplier {
    sender: mpsc::UnboundedSender<(PlanSubmission, Reply)>,
    /// Taken by the applier task when the leader starts.
    receiver: Mutex<Option<mpsc::UnboundedReceiver<(PlanSubmission, Reply)>>>,
}

impl Default for PlanApplier {
    fn default() -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        PlanApplier {
            sender,
            receiver: Mutex::new(Some(receiver)),
        }
    }
}

impl PlanApplier {
    /// Queues a plan and waits for its commit: the index it was written at.
    pub(crate) async fn submit(&self, plan: PlanSubmission) -> Result<u64, PlanError> {
        let (reply, answer) = oneshot::channel();
        let gone =
            || PlanError::Commit(ServerError::Unavailable("the plan applier stopped".into()));
        self.sender.send((plan, reply)).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    fn take_receiver(&self) -> Option<mpsc::UnboundedReceiver<(PlanSubmission, Reply)>> {
        self.receiver
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }
}

/// Commits plans one at a time, in the order they come.
pub(crate) async fn run(server: Arc<Server>) {
    let Some(mut plans) = server.leader().plan_applier.take_receiver() else {
        return;
    };
    while let Some((plan, reply)) = plans.recv().await {
        let result = apply(&server, plan).await;
        // The worker may have gone (the runtime shutting down); nothing to tell then.
        let _ = reply.send(result);
    }
}

async fn apply(server: &Server, plan: PlanSubmission) -> Result<u64, PlanError> {
    let started = Instant::now();
    let snapshot = server.snapshot();
    // Only a state newer than the plan's can disagree with it.
    let plan = if snapshot.index > plan.snapshot_index {
        let checked = tokio::task::spawn_blocking(move || {
            let verdict = evaluate_plan(&snapshot, &plan.stops, &plan.placements);
            (plan, verdict)
        })
        .await
        .map_err(|e| ServerError::Unavailable(e.to_string()))?;
        checked.1.map_err(PlanError::Refused)?;
        checked.0
    } else {
        plan
    };
    let PlanSubmission {
        stops,
        placements,
        evals,
        now,
        deployment,
        deployment_updates,
        ..
    } = plan;
    let mut allocs = stops;
    allocs.extend(placements);
    let index = server
        .apply(Command::PlanApply {
            allocs,
            evals,
            now,
            deployment,
            deployment_updates,
        })
        .await?;
    server
        .timings
        .record("nomad.nomad.plan.apply", started.elapsed());
    Ok(index)
}

/// Whether a plan still fits `snapshot`: every node that gets a new allocation exists,
/// takes new work (ready, eligible, not draining) and has the cpu, memory and disk for
/// what it would run once the plan's stops and updates are counted. Nodes that only lose
/// allocations or have them updated in place are not checked (Nomad: a plan that only
/// stops is always allowed). Ports and reserved cores are left to the scheduler.
pub(crate) fn evaluate_plan(
    snapshot: &Snapshot,
    stops: &[Allocation],
    placements: &[Allocation],
) -> Result<(), String> {
    let mut by_node: BTreeMap<&str, Vec<&Allocation>> = BTreeMap::new();
    for alloc in placements {
        by_node
            .entry(alloc.node_id.as_str())
            .or_default()
            .push(alloc);
    }
    let replaced: HashSet<&str> = stops
        .iter()
        .chain(placements)
        .map(|a| a.id.as_str())
        .collect();
    for (node_id, placed) in by_node {
        if placed.iter().all(|a| snapshot.alloc(&a.id).is_some()) {
            continue;
        }
        let Some(node) = snapshot.node(node_id) else {
            return Err(format!("node {node_id} does not exist"));
        };
        if !node.is_schedulable() {
            return Err(format!("node {node_id} is not ready for placements"));
        }
        let live = snapshot.allocs_by_node(node_id);
        let staying = live
            .iter()
            .filter(|a| !a.terminal() && !replaced.contains(a.id.as_str()))
            .map(|a| a.as_ref());
        let exhausted = allocs_fit(&node, staying.chain(placed.iter().copied())).err();
        if let Some(dimension) = exhausted {
            return Err(format!("node {node_id} is out of {dimension}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use caravan_structs::{
        AllocatedResources, CpuResources, MemoryResources, Node, NodeResources, NodeStatus,
    };

    fn node(id: &str, status: NodeStatus) -> Command {
        Command::NodeRegister {
            node: Node {
                id: id.into(),
                status,
                node_resources: NodeResources {
                    cpu: CpuResources { cpu_shares: 1000 },
                    memory: MemoryResources {
                        memory_mb: 1024,
                        memory_max_mb: 0,
                    },
                    ..NodeResources::default()
                },
                ..Node::default()
            },
            now: 1,
            evals: Vec::new(),
        }
    }

    fn alloc(id: &str, node: &str, cpu: i64) -> Allocation {
        let mut resources = AllocatedResources::default();
        resources.tasks.insert(
            "t".into(),
            caravan_structs::AllocatedTaskResources {
                cpu: CpuResources { cpu_shares: cpu },
                ..Default::default()
            },
        );
        Allocation {
            id: id.into(),
            node_id: node.into(),
            namespace: "default".into(),
            job_id: "web".into(),
            allocated_resources: resources,
            ..Allocation::default()
        }
    }

    #[test]
    fn a_plan_is_checked_against_the_newest_state() {
        let store = caravan_state::StateStore::new();
        store.apply(node("up", NodeStatus::Ready));
        store.apply(node("gone", NodeStatus::Down));
        store.apply(Command::PlanApply {
            allocs: vec![alloc("running", "up", 600)],
            evals: Vec::new(),
            now: 1,
            deployment: None,
            deployment_updates: Vec::new(),
        });
        let snapshot = store.snapshot();
        let check = |stops: &[Allocation], placements: &[Allocation]| {
            evaluate_plan(&snapshot, stops, placements)
        };
        assert_eq!(check(&[], &[alloc("new", "up", 400)]), Ok(()));
        assert_eq!(
            check(&[], &[alloc("new", "up", 500)]),
            Err("node up is out of cpu".to_string())
        );
        // Room the same plan frees counts, and so does an in-place update's own share.
        assert_eq!(
            check(&[alloc("running", "up", 600)], &[alloc("new", "up", 900)]),
            Ok(())
        );
        assert_eq!(
            check(&[], &[alloc("running", "up", 600), alloc("new", "up", 400)]),
            Ok(())
        );
        assert_eq!(
            check(&[], &[alloc("new", "gone", 1)]),
            Err("node gone is not ready for placements".to_string())
        );
        assert_eq!(
            check(&[], &[alloc("new", "nowhere", 1)]),
            Err("node nowhere does not exist".to_string())
        );
        // Stops and in-place updates alone are never refused.
        assert_eq!(check(&[alloc("running", "gone", 1)], &[]), Ok(()));
    }
}
