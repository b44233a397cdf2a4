//! The scheduler worker: evaluations in, committed plans out.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use caravan_scheduler::{SchedulerContext, SchedulerState, schedule};
use caravan_state::{Command, Snapshot};
use caravan_structs::{
    Allocation, EVAL_STATUS_BLOCKED, EVAL_STATUS_CANCELED, EVAL_STATUS_COMPLETE, Evaluation, Job,
    Node, TRIGGER_QUEUED_ALLOCS,
};
use tokio::sync::mpsc;

use crate::Server;

/// The scheduler's view of a snapshot, optionally with a job that is not stored (what
/// `job plan` asks about).
pub(crate) struct SnapshotView<'a>(pub &'a Snapshot, pub Option<Arc<Job>>);

impl SchedulerState for SnapshotView<'_> {
    fn job(&self, namespace: &str, id: &str) -> Option<Arc<Job>> {
        match &self.1 {
            Some(job) if job.namespace == namespace && job.id == id => Some(job.clone()),
            _ => self.0.job(namespace, id),
        }
    }
    fn allocs_by_job(&self, namespace: &str, id: &str) -> Vec<Arc<Allocation>> {
        self.0.allocs_by_job(namespace, id)
    }
    fn nodes(&self) -> Vec<Arc<Node>> {
        self.0.all_nodes().cloned().collect()
    }
    fn allocs_by_node(&self, node_id: &str) -> Vec<Arc<Allocation>> {
        self.0.allocs_by_node(node_id)
    }
}

/// Processes evaluations one at a time, in the order they arrive. One worker means plans
/// never conflict, so each commits whole. Scheduling is CPU work (a large evaluation takes
/// milliseconds to seconds), so it runs on a blocking thread, never on the async runtime
/// that answers the API.
pub(crate) async fn run(server: Arc<Server>, mut evals: mpsc::UnboundedReceiver<String>) {
    while let Some(eval_id) = evals.recv().await {
        let server = server.clone();
        if let Err(error) = tokio::task::spawn_blocking(move || process(&server, &eval_id)).await {
            tracing::error!(%error, "server: the scheduler worker failed on an evaluation");
        }
    }
}

fn process(server: &Server, eval_id: &str) {
    let snapshot = server.snapshot();
    let Some(eval) = snapshot.eval(eval_id) else {
        return;
    };
    if eval.terminal() {
        return;
    }
    let started = std::time::Instant::now();
    let now = server.now();
    let mut ids = || server.id();
    let plan = schedule(
        &SnapshotView(&snapshot, None),
        &eval,
        &mut SchedulerContext::new(now, &mut ids)
            .with_snapshot_index(snapshot.index)
            .with_algorithm(server.scheduler_algorithm()),
    );

    server.timings.record(
        &format!("nomad.nomad.worker.invoke_scheduler.{}", eval.r#type),
        started.elapsed(),
    );
    let mut allocs: Vec<Allocation> = plan.node_update.into_values().flatten().collect();
    let elapsed = started.elapsed().as_nanos() as i64;
    for mut alloc in plan.node_allocation.into_values().flatten() {
        alloc.metrics.allocation_time = elapsed;
        allocs.push(alloc);
    }

    let mut outcome = Evaluation::clone(&eval);
    outcome.failed_tg_allocs = plan.failed_tg_allocs;
    outcome.queued_allocations = plan.queued_allocations;
    outcome.snapshot_index = snapshot.index;
    outcome.modify_time = now;
    let mut evals = Vec::new();
    // Delayed follow-ups for failed allocations (reschedules after their delay).
    let followups: Vec<(String, i64)> = plan
        .created_evals
        .iter()
        .map(|e| (e.id.clone(), e.wait_until_nanos()))
        .collect();
    evals.extend(plan.created_evals);
    let job_live = snapshot
        .job(&eval.namespace, &eval.job_id)
        .is_some_and(|j| !j.stop);
    let mut blocked_id = None;
    if !outcome.failed_tg_allocs.is_empty() && job_live {
        if eval.status == EVAL_STATUS_BLOCKED || eval.triggered_by == TRIGGER_QUEUED_ALLOCS {
            // Nomad re-blocks an evaluation that still cannot place everything.
            outcome.status = EVAL_STATUS_BLOCKED.to_string();
            outcome.status_description = "created to place remaining allocations".to_string();
            blocked_id = Some(outcome.id.clone());
        } else {
            outcome.status = EVAL_STATUS_COMPLETE.to_string();
            let blocked = Evaluation {
                id: server.id(),
                status: EVAL_STATUS_BLOCKED.to_string(),
                status_description: "created to place remaining allocations".to_string(),
                triggered_by: TRIGGER_QUEUED_ALLOCS.to_string(),
                previous_eval: eval.id.clone(),
                failed_tg_allocs: outcome.failed_tg_allocs.clone(),
                queued_allocations: outcome.queued_allocations.clone(),
                create_time: now,
                modify_time: now,
                ..outcome.clone()
            };
            outcome.blocked_eval = blocked.id.clone();
            blocked_id = Some(blocked.id.clone());
            evals.push(blocked);
        }
    } else {
        outcome.status = EVAL_STATUS_COMPLETE.to_string();
        outcome.status_description.clear();
    }
    // At most one blocked evaluation per job: a newer outcome supersedes the old one.
    let superseded = match &blocked_id {
        Some(id) => server.blocked.block(&eval.namespace, &eval.job_id, id),
        None => server
            .blocked
            .remove(&eval.namespace, &eval.job_id)
            .filter(|id| *id != eval.id),
    };
    if let Some(old) = superseded.and_then(|id| snapshot.eval(&id))
        && !old.terminal()
    {
        let mut canceled = Evaluation::clone(&old);
        canceled.status = EVAL_STATUS_CANCELED.to_string();
        canceled.status_description = format!("evaluation \"{}\" superseded it", eval.id);
        canceled.modify_time = now;
        evals.push(canceled);
    }
    evals.insert(0, outcome);
    let applying = std::time::Instant::now();
    server
        .state
        .apply(Command::PlanApply { allocs, evals, now });
    server
        .timings
        .record("nomad.nomad.plan.apply", applying.elapsed());
    for (eval_id, at) in followups {
        server.enqueue_at(eval_id, at);
    }

    // Capacity may have appeared while this evaluation was being scheduled; Nomad calls
    // this a missed unblock. Run the blocked evaluation again rather than wait for the next.
    if blocked_id.is_some() && server.capacity_index.load(Ordering::SeqCst) > snapshot.index {
        server.capacity_changed(snapshot.index);
    }
}
