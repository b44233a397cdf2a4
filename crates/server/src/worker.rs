//! The scheduler worker: evaluations from the broker in, plans to the plan applier out.

use std::sync::Arc;

use caravan_scheduler::{CandidateCache, Candidates, SchedulerContext, SchedulerState, schedule};
use caravan_state::{Command, Snapshot};
use caravan_structs::time::rfc3339;
use caravan_structs::{
    AllocId, Allocation, Deployment, EvalId, EvalStatus, EvalTrigger, Evaluation, Job, JobId, Node,
    NodeId, ResourceUsage,
};

use crate::Server;
use crate::leader::plan_applier::PlanSubmission;

/// Nomad's `maxServiceScheduleAttempts`: how often an evaluation is scheduled again on a
/// newer state when the plan applier rejects its whole plan.
const MAX_ATTEMPTS: usize = 5;

/// Nomad's `failedEvalFollowUpBaseLineDelay`: when an evaluation that failed is tried
/// again.
const FAILED_FOLLOW_UP_DELAY_NS: i64 = 60 * 1_000_000_000;

/// The scheduler's view of a snapshot.
pub(crate) struct SnapshotView<'a> {
    snapshot: &'a Snapshot,
    /// A job that is not stored (what `job plan` asks about), seen instead of the stored
    /// one.
    job: Option<Arc<Job>>,
    /// The candidate sets the server's evaluations share; without it each evaluation
    /// finds its own.
    candidates: Option<&'a CandidateCache>,
}

impl<'a> SnapshotView<'a> {
    pub(crate) fn new(snapshot: &'a Snapshot) -> SnapshotView<'a> {
        SnapshotView {
            snapshot,
            job: None,
            candidates: None,
        }
    }

    /// The same view, seeing `job` instead of the stored job of its ID.
    pub(crate) fn with_job(self, job: Arc<Job>) -> SnapshotView<'a> {
        SnapshotView {
            job: Some(job),
            ..self
        }
    }

    /// The same view, taking candidates from `cache`.
    pub(crate) fn with_candidates(self, cache: &'a CandidateCache) -> SnapshotView<'a> {
        SnapshotView {
            candidates: Some(cache),
            ..self
        }
    }
}

impl SchedulerState for SnapshotView<'_> {
    fn job(&self, namespace: &str, id: &JobId) -> Option<Arc<Job>> {
        match &self.job {
            Some(job) if job.namespace == namespace && job.id == *id => Some(job.clone()),
            _ => self.snapshot.job(namespace, id),
        }
    }
    fn allocs_by_job(&self, namespace: &str, id: &JobId) -> Vec<Arc<Allocation>> {
        self.snapshot.allocs_by_job(namespace, id)
    }
    fn latest_deployment(&self, namespace: &str, id: &JobId) -> Option<Arc<Deployment>> {
        self.snapshot.latest_deployment(namespace, id)
    }
    fn nodes(&self) -> Vec<Arc<Node>> {
        self.snapshot.all_nodes().cloned().collect()
    }
    fn candidates(&self, job: &Job) -> Arc<Candidates> {
        match self.candidates {
            Some(cache) => cache.get(self.snapshot.table_index().nodes, job, || {
                self.snapshot.all_nodes()
            }),
            None => Arc::new(Candidates::new(job, self.snapshot.all_nodes())),
        }
    }
    fn allocs_by_node(&self, node_id: &NodeId) -> Vec<Arc<Allocation>> {
        self.snapshot.allocs_by_node(node_id)
    }
    fn node(&self, node_id: &NodeId) -> Option<Arc<Node>> {
        self.snapshot.node(node_id)
    }
    fn node_usage(&self, node_id: &NodeId) -> ResourceUsage {
        self.snapshot.node_usage(node_id)
    }
    fn node_usages(&self, nodes: &[Arc<Node>], each: &mut dyn FnMut(usize, ResourceUsage)) {
        self.snapshot
            .node_usages(nodes.iter().map(|node| &node.id), each);
    }
    fn alloc_on_node(&self, node_id: &NodeId, id: &AllocId) -> Option<Arc<Allocation>> {
        self.snapshot.alloc_on_node(node_id, id)
    }
}

/// One evaluation scheduled: the plan to commit and what to do once it is committed.
struct Scheduled {
    plan: PlanSubmission,
    eval: Arc<Evaluation>,
    /// The evaluation that stays blocked for the job after this one, if any.
    blocked_id: Option<EvalId>,
}

/// One scheduler worker (the leader runs `num_schedulers` of them): takes evaluations
/// from the broker one at a time and acks each once its outcome is written, or nacks it
/// when the outcome could not be written, so that the broker delivers it again.
/// Scheduling is CPU work (a large evaluation takes milliseconds to seconds), so it runs
/// on a blocking thread, never on the async runtime that answers the API; the plan goes
/// to the plan applier, and is scheduled again on a newer state if nodes of it are
/// rejected.
pub(crate) async fn run(server: Arc<Server>) {
    let leader = server.leader();
    loop {
        wait_while_paused(&server).await;
        let waited = std::time::Instant::now();
        let (eval_id, token) = leader.broker.dequeue(|| server.now()).await;
        server
            .timings
            .record("nomad.nomad.worker.dequeue_eval", waited.elapsed());
        // Paused while this one waited: it waits too (an operator may delete it).
        wait_while_paused(&server).await;
        let answered = if process(&server, &eval_id, token).await {
            leader.broker.ack(&eval_id, token)
        } else {
            leader.broker.nack(&eval_id, token, server.now())
        };
        if let Err(late) = answered {
            // Its nack timeout passed and another delivery owns it; that one finds the
            // outcome written and has nothing to do.
            tracing::warn!(%late, "evaluation was redelivered while being scheduled");
        }
    }
}

/// Returns once the scheduler configuration does not pause the eval broker (Nomad's
/// `PauseEvalBroker`), looking again after every write.
async fn wait_while_paused(server: &Server) {
    let mut seen = 0;
    while server.eval_broker_paused() {
        seen = server
            .state()
            .wait_past(seen, std::time::Duration::from_secs(60))
            .await
            .index;
    }
}

/// Schedules an evaluation until its outcome is written; false when it could not be
/// (the broker then delivers it again).
async fn process(server: &Arc<Server>, eval_id: &EvalId, token: u64) -> bool {
    let leader = server.leader();
    let mut fruitless = 0;
    let mut refresh_index = 0;
    loop {
        if server.snapshot().index < refresh_index {
            // The applier committed at this index; the local state may lag a moment.
            let timeout = std::time::Duration::from_secs(5);
            server.state().wait_past(refresh_index - 1, timeout).await;
        }
        let scheduling = {
            let server = server.clone();
            let eval_id = eval_id.clone();
            tokio::task::spawn_blocking(move || schedule_eval(&server, &eval_id)).await
        };
        let scheduled = match scheduling {
            Ok(Some(scheduled)) => scheduled,
            Ok(None) => return true,
            Err(error) => {
                // A panic in the scheduler: running it again would panic again.
                tracing::error!(%error, "the scheduler worker failed on an evaluation");
                fail(server, eval_id, "the scheduler failed on it").await;
                return true;
            }
        };
        let snapshot_index = scheduled.plan.snapshot_index;
        let eval = scheduled.eval.clone();
        if fruitless == 0 && refresh_index == 0 {
            log_eval(&eval, "dequeued evaluation");
        }
        let blocked_id = scheduled.blocked_id.clone();
        // Still at it: the broker must not hand it to another worker meanwhile.
        let _ = leader.broker.touch(eval_id, token, server.now());
        let submitted = std::time::Instant::now();
        let result = leader.plan_applier.submit(server, scheduled.plan).await;
        server
            .timings
            .record("nomad.nomad.worker.submit_plan", submitted.elapsed());
        match result {
            Ok(result) => match result.refresh_index {
                None => {
                    tracing::debug!(eval_id = %eval.id, index = result.index, "submitted plan for evaluation");
                    committed(server, &eval, blocked_id, snapshot_index).await;
                    log_eval(&eval, "ack evaluation");
                    return true;
                }
                Some(index) => {
                    tracing::debug!(
                        %eval_id,
                        rejected = result.rejected.len(),
                        refresh_index = index,
                        "plan partially rejected, scheduling again"
                    );
                    refresh_index = index;
                    // Nomad's `retryMax` with progress: only a plan that committed
                    // nothing counts against the limit.
                    if !result.progress {
                        fruitless += 1;
                    }
                    if fruitless >= MAX_ATTEMPTS {
                        let reason = format!("maximum attempts reached ({MAX_ATTEMPTS})");
                        fail(server, eval_id, &reason).await;
                        return true;
                    }
                }
            },
            Err(error) => {
                tracing::error!(%eval_id, %error, "the plan could not be committed");
                return false;
            }
        }
    }
}

/// Nomad's worker line for a step of an evaluation, with what it is about.
fn log_eval(eval: &Evaluation, step: &str) {
    tracing::debug!(
        eval_id = %eval.id,
        "type" = %eval.r#type,
        namespace = %eval.namespace,
        job_id = %eval.job_id,
        node_id = %eval.node_id,
        triggered_by = %eval.triggered_by,
        "{step}"
    );
}

/// Schedules one evaluation against the latest snapshot; `None` when there is nothing to
/// do (gone, or already finished).
fn schedule_eval(server: &Server, eval_id: &EvalId) -> Option<Scheduled> {
    let snapshot = server.snapshot();
    let eval = snapshot.eval(eval_id)?;
    if eval.terminal() {
        return None;
    }
    let started = std::time::Instant::now();
    let now = server.now();
    let mut ids = || server.id();
    let plan = schedule(
        &SnapshotView::new(&snapshot).with_candidates(&server.candidates),
        &eval,
        &mut SchedulerContext::new(now, &mut ids)
            .with_snapshot_index(snapshot.index)
            .with_algorithm(server.scheduler_algorithm()),
    );

    server.timings.record(
        &format!("nomad.nomad.worker.invoke_scheduler.{}", eval.r#type),
        started.elapsed(),
    );
    let stops: Vec<Allocation> = plan.node_update.into_values().flatten().collect();
    let elapsed = started.elapsed().as_nanos() as i64;
    let mut placements = Vec::new();
    for mut alloc in plan.node_allocation.into_values().flatten() {
        let metrics = Arc::make_mut(&mut alloc.metrics);
        metrics.allocation_time = elapsed;
        // The state keeps these very metrics (the log hands its entries to the state
        // as written, not decoded again).
        metrics.shrink_to_fit();
        placements.push(alloc);
    }

    let mut outcome = Evaluation::clone(&eval);
    // The deployment the evaluation worked within (`job run` prints it and follows it).
    if let Some(id) = plan.deployment.as_ref().map(|d| d.id.clone()).or_else(|| {
        snapshot
            .latest_deployment(&eval.namespace, &eval.job_id)
            .filter(|d| d.active())
            .map(|d| d.id.clone())
    }) {
        outcome.deployment_id = id;
    }
    outcome.failed_tg_allocs = plan.failed_tg_allocs;
    outcome.queued_allocations = plan.queued_allocations;
    outcome.snapshot_index = snapshot.index;
    outcome.modify_time = now;
    // Delayed follow-ups for failed allocations (reschedules after their delay) go to the
    // broker's delay heap once written.
    let mut evals = plan.created_evals;
    let job_live = snapshot
        .job(&eval.namespace, &eval.job_id)
        .is_some_and(|j| !j.stop);
    let mut blocked_id = None;
    if !outcome.failed_tg_allocs.is_empty() && job_live {
        if eval.status == EvalStatus::Blocked || eval.triggered_by == EvalTrigger::QueuedAllocs {
            // Nomad re-blocks an evaluation that still cannot place everything.
            outcome.status = EvalStatus::Blocked;
            outcome.status_description = "created to place remaining allocations".to_string();
            blocked_id = Some(outcome.id.clone());
        } else {
            outcome.status = EvalStatus::Complete;
            let blocked = Evaluation {
                id: server.id().into(),
                status: EvalStatus::Blocked,
                status_description: "created to place remaining allocations".to_string(),
                triggered_by: EvalTrigger::QueuedAllocs,
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
        outcome.status = EvalStatus::Complete;
        outcome.status_description.clear();
    }
    // At most one blocked evaluation per job: a newer outcome supersedes the old one.
    let superseded = server
        .leader()
        .blocked
        .get(&eval.namespace, &eval.job_id)
        .filter(|id| *id != eval.id && Some(id) != blocked_id.as_ref());
    if let Some(old) = superseded.and_then(|id| snapshot.eval(&id))
        && !old.terminal()
    {
        let mut canceled = Evaluation::clone(&old);
        canceled.status = EvalStatus::Canceled;
        canceled.status_description = format!("evaluation \"{}\" superseded it", eval.id);
        canceled.modify_time = now;
        evals.push(canceled);
    }
    evals.insert(0, outcome);
    Some(Scheduled {
        plan: PlanSubmission {
            snapshot_index: snapshot.index,
            stops,
            placements,
            evals,
            now,
            deployment: plan.deployment,
            deployment_updates: plan.deployment_updates,
        },
        eval,
        blocked_id,
    })
}

/// After a commit: the blocked evaluations tracker learns the job's new blocked
/// evaluation (or that it has none), and a missed unblock is made good.
async fn committed(
    server: &Server,
    eval: &Evaluation,
    blocked_id: Option<EvalId>,
    snapshot_index: u64,
) {
    let leader = server.leader();
    let blocked = &leader.blocked;
    match &blocked_id {
        Some(id) => {
            blocked.block(&eval.namespace, &eval.job_id, id);
        }
        None => {
            blocked.remove(&eval.namespace, &eval.job_id);
        }
    }
    // Capacity may have appeared while this evaluation was being scheduled; Nomad calls
    // this a missed unblock. Run the blocked evaluation again rather than wait for the next.
    if blocked_id.is_some() && blocked.missed_unblock(snapshot_index) {
        server.capacity_changed(snapshot_index).await;
    }
}

/// Nomad: an evaluation whose plans kept being rejected, or that was delivered too
/// often, fails, and a follow-up tries the job again a minute later.
pub(crate) async fn fail(server: &Server, eval_id: &EvalId, reason: &str) {
    // An earlier delivery may have finished it after all.
    let Some(eval) = server.snapshot().eval(eval_id).filter(|e| !e.terminal()) else {
        return;
    };
    tracing::warn!(%eval_id, reason, "evaluation failed");
    let now = server.now();
    let retry_at = now.saturating_add(FAILED_FOLLOW_UP_DELAY_NS);
    let mut follow_up = server.new_eval_like(&eval, EvalTrigger::FailedFollowUp, now);
    follow_up.status = EvalStatus::Pending;
    follow_up.previous_eval = eval.id.clone();
    follow_up.wait_until = rfc3339(retry_at);
    let mut failed = Evaluation::clone(&eval);
    failed.status = EvalStatus::Failed;
    failed.status_description = reason.to_string();
    failed.next_eval = follow_up.id.clone();
    failed.modify_time = now;
    let command = Command::EvalsUpsert {
        evals: vec![failed, follow_up],
    };
    let started = std::time::Instant::now();
    if let Err(error) = server.apply(command).await {
        // The evaluation stays pending in the state; the next leader's broker runs it.
        tracing::error!(%eval_id, %error, "could not record a failed evaluation");
    }
    server
        .timings
        .record("nomad.nomad.worker.update_eval", started.elapsed());
}
