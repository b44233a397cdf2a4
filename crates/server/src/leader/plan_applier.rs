//! The plan applier: the one place scheduler plans are committed. Plans come in one
//! queue and are applied one at a time; each is first checked against the newest state,
//! not the snapshot it was computed on, so that several workers can schedule at once
//! and a plan that no longer fits never over-commits a node (Nomad's `evaluatePlan`).
//! Only the nodes that no longer fit are rejected: the rest of the plan is committed
//! and the worker is told the index to refresh its snapshot to before it schedules the
//! evaluation again (Nomad's partial commit and `RefreshIndex`).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use caravan_scheduler::plan_check::{RejectedNodes, evaluate_plan};
use caravan_state::Command;
use caravan_structs::{Allocation, Deployment, DeploymentStatusUpdate, Evaluation};
use tokio::sync::{mpsc, oneshot};

use crate::worker::SnapshotView;
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

/// What became of a plan (Nomad's `PlanResult`).
#[derive(Debug)]
pub(crate) struct PlanResult {
    /// The index the plan was written at; 0 when nothing was.
    pub index: u64,
    /// Set when nodes were rejected: the evaluation must be scheduled again on a
    /// snapshot at least this new. Its outcome (the plan's evaluations) was not written.
    pub refresh_index: Option<u64>,
    /// The rejected nodes and why.
    pub rejected: RejectedNodes,
    /// Whether any allocation or deployment was written (the scheduler made progress).
    pub progress: bool,
}

type Reply = oneshot::Sender<Result<PlanResult, ServerError>>;

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
    /// Queues a plan and waits for its verdict and commit.
    pub(crate) async fn submit(
        &self,
        server: &Server,
        plan: PlanSubmission,
    ) -> Result<PlanResult, ServerError> {
        let started = Instant::now();
        let (reply, answer) = oneshot::channel();
        let gone = || ServerError::Unavailable("the plan applier stopped".into());
        self.sender.send((plan, reply)).map_err(|_| gone())?;
        let result = answer.await.map_err(|_| gone())?;
        server
            .timings
            .record("nomad.nomad.plan.submit", started.elapsed());
        result
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
        server
            .timings
            .set_gauge("nomad.nomad.plan.queue_depth", plans.len() as f64);
        let result = apply(&server, plan).await;
        // The worker may have gone (the runtime shutting down); nothing to tell then.
        let _ = reply.send(result);
    }
}

async fn apply(server: &Server, plan: PlanSubmission) -> Result<PlanResult, ServerError> {
    let snapshot = server.snapshot();
    let newest = snapshot.index;
    // Only a state newer than the plan's can disagree with it.
    let (mut plan, rejected) = if newest > plan.snapshot_index {
        let started = Instant::now();
        let checked = tokio::task::spawn_blocking(move || {
            let view = SnapshotView::new(&snapshot);
            let rejected = evaluate_plan(&view, &plan.stops, &plan.placements);
            (plan, rejected)
        })
        .await
        .map_err(|e| ServerError::Unavailable(e.to_string()))?;
        server
            .timings
            .record("nomad.nomad.plan.evaluate", started.elapsed());
        checked
    } else {
        (plan, RejectedNodes::new())
    };
    if !rejected.is_empty() {
        server
            .timings
            .add("nomad.nomad.plan.node_rejected", rejected.len() as f64);
        for (node_id, why) in &rejected {
            tracing::debug!(%node_id, %why, "plan for node rejected");
        }
        let kept = |a: &Allocation| !rejected.contains_key(&a.node_id);
        plan.stops.retain(kept);
        plan.placements.retain(kept);
        // The evaluation's outcome describes the whole plan: it is written by the retry.
        plan.evals.clear();
    }
    let progress =
        !plan.stops.is_empty() || !plan.placements.is_empty() || plan.deployment.is_some();
    if !rejected.is_empty() && !progress && plan.deployment_updates.is_empty() {
        return Ok(PlanResult {
            index: 0,
            refresh_index: Some(newest),
            rejected,
            progress,
        });
    }
    let started = Instant::now();
    let PlanSubmission {
        stops,
        placements,
        evals,
        now,
        deployment,
        deployment_updates,
        ..
    } = plan;
    let index = server
        .apply(Command::plan_apply(
            &stops,
            placements,
            evals,
            now,
            deployment,
            deployment_updates,
        ))
        .await?;
    server
        .timings
        .record("nomad.nomad.plan.apply", started.elapsed());
    Ok(PlanResult {
        index,
        refresh_index: (!rejected.is_empty()).then_some(index),
        rejected,
        progress,
    })
}
