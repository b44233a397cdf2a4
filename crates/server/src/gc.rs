//! Garbage collection of the server's state (Nomad's core scheduler): terminal
//! evaluations and their allocations, dead jobs, and down nodes are removed once older
//! than their thresholds, every `job_gc_interval`, or at once by `PUT /v1/system/gc`
//! (thresholds ignored). [`find_garbage`] is pure: it reads a snapshot and a time and
//! says what goes; one `Command::GarbageCollect` removes it.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use caravan_state::Snapshot;
use caravan_structs::{
    AllocClientStatus, AllocId, Allocation, DeploymentId, EvalId, EvalStatus, Evaluation, Job,
    JobId, JobStatus, JobType, NodeId, NodeStatus, SECOND_NS,
};

/// The `server { *_gc_* }` settings, Nomad's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct GcConfig {
    /// How often the server collects (`job_gc_interval`).
    pub interval: Duration,
    pub job_threshold: Duration,
    pub eval_threshold: Duration,
    /// Evaluations of batch jobs are kept longer (`batch_eval_gc_threshold`).
    pub batch_eval_threshold: Duration,
    pub node_threshold: Duration,
    /// Terminal deployments whose allocations have all finished (`deployment_gc_threshold`).
    pub deployment_threshold: Duration,
}

impl Default for GcConfig {
    fn default() -> Self {
        GcConfig {
            interval: Duration::from_secs(5 * 60),
            job_threshold: Duration::from_secs(4 * 3600),
            eval_threshold: Duration::from_secs(3600),
            batch_eval_threshold: Duration::from_secs(24 * 3600),
            node_threshold: Duration::from_secs(24 * 3600),
            deployment_threshold: Duration::from_secs(3600),
        }
    }
}

impl GcConfig {
    /// The same collection with every threshold at zero (`system gc`).
    pub fn forced(&self) -> GcConfig {
        GcConfig {
            job_threshold: Duration::ZERO,
            eval_threshold: Duration::ZERO,
            batch_eval_threshold: Duration::ZERO,
            node_threshold: Duration::ZERO,
            deployment_threshold: Duration::ZERO,
            ..self.clone()
        }
    }
}

/// What one collection removes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Garbage {
    pub evals: Vec<EvalId>,
    pub allocs: Vec<AllocId>,
    pub jobs: Vec<(String, JobId)>,
    pub nodes: Vec<NodeId>,
    pub deployments: Vec<DeploymentId>,
}

impl Garbage {
    pub fn is_empty(&self) -> bool {
        self.evals.is_empty()
            && self.allocs.is_empty()
            && self.jobs.is_empty()
            && self.nodes.is_empty()
            && self.deployments.is_empty()
    }
}

fn older_than(time: i64, now: i64, threshold: Duration) -> bool {
    now.saturating_sub(time) >= threshold.as_nanos().min(i64::MAX as u128) as i64
}

/// Whether the job no longer runs: gone, stopped, or dead.
fn job_over(job: Option<&Job>) -> bool {
    job.is_none_or(|job| job.stop || job.status == Some(JobStatus::Dead))
}

/// Nomad's `allocGCEligible`: finished on its client (or stopped before it ever started
/// there), old enough, and not a failed allocation still waiting to be rescheduled.
fn alloc_eligible(alloc: &Allocation, job: Option<&Job>, now: i64, threshold: Duration) -> bool {
    let never_started = alloc.server_terminal()
        && alloc.client_status == AllocClientStatus::Pending
        && alloc.task_states.is_empty();
    if !(alloc.client_terminal() || never_started) || !older_than(alloc.modify_time, now, threshold)
    {
        return false;
    }
    if job_over(job)
        || alloc.client_status != AllocClientStatus::Failed
        || !alloc.next_allocation.is_empty()
    {
        return true;
    }
    // A failed allocation of a live job holds its line's reschedule history.
    let reschedules = job
        .and_then(|j| j.group(&alloc.task_group))
        .and_then(|g| g.reschedule_policy.as_ref())
        .is_some_and(|p| p.unlimited.unwrap_or(false) || p.attempts.unwrap_or(0) > 0);
    !reschedules
}

/// Whether the evaluation is finished (a blocked one of a job that no longer runs
/// counts: nothing will ever unblock it).
fn eval_finished(eval: &Evaluation, job: Option<&Job>) -> bool {
    eval.status.is_terminal() || (eval.status == EvalStatus::Blocked && job_over(job))
}

/// What a collection at `now` removes under `config`'s thresholds.
pub fn find_garbage(snapshot: &Snapshot, now: i64, config: &GcConfig) -> Garbage {
    let mut garbage = Garbage::default();
    let mut collected_jobs = BTreeSet::new();
    // Dead jobs go whole: every evaluation and allocation with them.
    for job in snapshot.all_jobs() {
        if !job_over(Some(job)) {
            continue;
        }
        let evals = snapshot.evals_by_job(&job.namespace, &job.id);
        let allocs = snapshot.allocs_by_job(&job.namespace, &job.id);
        let last_change = evals
            .iter()
            .map(|e| e.modify_time)
            .chain(allocs.iter().map(|a| a.modify_time))
            .fold(job.submit_time, i64::max);
        let collectable = older_than(last_change, now, config.job_threshold)
            && evals.iter().all(|e| eval_finished(e, Some(job)))
            && allocs
                .iter()
                .all(|a| alloc_eligible(a, Some(job), now, Duration::ZERO));
        // A parent keeps its children's record while any child is still there.
        let has_children = !snapshot.children(&job.namespace, &job.id).is_empty();
        if collectable && !has_children {
            garbage.evals.extend(evals.iter().map(|e| e.id.clone()));
            garbage.allocs.extend(allocs.iter().map(|a| a.id.clone()));
            garbage.jobs.push((job.namespace.clone(), job.id.clone()));
            collected_jobs.insert((job.namespace.clone(), job.id.clone()));
        }
    }
    // Evaluations of jobs that stay, with the allocations they placed.
    for eval in snapshot.all_evals() {
        let key = (eval.namespace.clone(), eval.job_id.clone());
        if collected_jobs.contains(&key) {
            continue;
        }
        let job = snapshot.job(&eval.namespace, &eval.job_id);
        let job = job.as_deref();
        let threshold = if eval.r#type == JobType::Batch {
            config.batch_eval_threshold
        } else {
            config.eval_threshold
        };
        if !eval_finished(eval, job) || !older_than(eval.modify_time, now, threshold) {
            continue;
        }
        // Nomad: a running batch job's allocations stay, or the scheduler would run them
        // again.
        if eval.r#type == JobType::Batch && !job_over(job) {
            continue;
        }
        let mut all_eligible = true;
        for alloc in snapshot
            .allocs_by_job(&eval.namespace, &eval.job_id)
            .iter()
            .filter(|a| a.eval_id == eval.id)
        {
            if alloc_eligible(alloc, job, now, threshold) {
                garbage.allocs.push(alloc.id.clone());
            } else {
                all_eligible = false;
            }
        }
        if all_eligible {
            garbage.evals.push(eval.id.clone());
        }
    }
    for node in snapshot.all_nodes() {
        let down_since = node.status_updated_at.saturating_mul(SECOND_NS);
        if node.status == NodeStatus::Down
            && older_than(down_since, now, config.node_threshold)
            && snapshot
                .allocs_by_node(&node.id)
                .iter()
                .all(|a| a.terminal())
        {
            garbage.nodes.push(node.id.clone());
        }
    }
    garbage.allocs.sort();
    garbage.allocs.dedup();
    // Nomad's deployment GC: a finished deployment goes once old enough and none of its
    // allocations still runs (or with its job).
    let collected_allocs: BTreeSet<&AllocId> = garbage.allocs.iter().collect();
    for deployment in snapshot.all_deployments() {
        let key = (deployment.namespace.clone(), deployment.job_id.clone());
        let job_collected = collected_jobs.contains(&key)
            || snapshot
                .job(&deployment.namespace, &deployment.job_id)
                .is_none();
        let finished = !deployment.active()
            && older_than(deployment.modify_time, now, config.deployment_threshold)
            && snapshot
                .allocs_by_job(&deployment.namespace, &deployment.job_id)
                .iter()
                .filter(|a| a.deployment_id == deployment.id)
                .all(|a| a.terminal() || collected_allocs.contains(&a.id));
        if job_collected || finished {
            garbage.deployments.push(deployment.id.clone());
        }
    }
    garbage
}

/// Collects every `job_gc_interval`, by the server's clock (a leader's duty).
pub(crate) async fn collect_periodically(server: Arc<crate::Server>) {
    let interval = server.config.gc.interval.max(Duration::from_secs(1));
    let interval = interval.as_nanos().min(i64::MAX as u128) as i64;
    loop {
        let at = server.now().saturating_add(interval);
        server.clock.sleep_until(at).await;
        if let Err(error) = server.collect_garbage(false).await {
            tracing::warn!(%error, "garbage collection failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use caravan_state::{Command, StateStore};
    use caravan_structs::{
        AllocClientStatus, AllocClientUpdate, JobType, Node, NodeStatus, ReschedulePolicy,
        TaskGroup,
    };

    const HOUR: i64 = 3600 * SECOND_NS;

    /// A job with one evaluation and an allocation on `n1` per client status, as of `at`.
    fn add_job(
        store: &StateStore,
        id: &str,
        kind: JobType,
        statuses: &[AllocClientStatus],
        at: i64,
    ) {
        let mut job = Job {
            id: id.into(),
            namespace: "default".into(),
            r#type: Some(kind),
            task_groups: vec![TaskGroup {
                name: "g".into(),
                reschedule_policy: Some(ReschedulePolicy {
                    attempts: Some(1),
                    ..ReschedulePolicy::default()
                }),
                ..TaskGroup::default()
            }],
            ..Job::default()
        };
        job.submit_time = at;
        let eval = Evaluation {
            id: format!("{id}-eval").into(),
            namespace: "default".into(),
            job_id: id.into(),
            r#type: kind,
            status: EvalStatus::Complete,
            modify_time: at,
            ..Evaluation::default()
        };
        store.apply(Command::JobRegister {
            job: job.clone(),
            eval: Some(eval),
            now: at,
            enforce_index: None,
        });
        for (i, status) in statuses.iter().enumerate() {
            let alloc = Allocation {
                id: format!("{id}-alloc{i}").into(),
                namespace: "default".into(),
                job_id: id.into(),
                eval_id: format!("{id}-eval").into(),
                node_id: "n1".into(),
                task_group: "g".into(),
                job: Some(Arc::new(job.clone())),
                ..Allocation::default()
            };
            store.apply(Command::PlanApply {
                job: None,
                stopped: Vec::new(),
                allocs: vec![alloc],
                evals: vec![],
                now: at,
                deployment: None,
                deployment_updates: vec![],
            });
            store.apply(Command::AllocClientUpdate {
                updates: vec![AllocClientUpdate {
                    id: format!("{id}-alloc{i}").into(),
                    client_status: *status,
                    ..AllocClientUpdate::default()
                }],
                now: at,
                evals: vec![],
            });
        }
    }

    fn node(store: &StateStore, id: &str, status: NodeStatus, at: i64) {
        store.apply(Command::NodeRegister {
            node: Node {
                id: id.into(),
                status,
                ..Node::default()
            },
            now: at,
            evals: Vec::new(),
        });
    }

    #[test]
    fn what_each_collection_removes() {
        let now = 100 * HOUR;
        let old = now - 30 * HOUR;
        let recent = now - 10 * SECOND_NS;
        let store = StateStore::new();
        node(&store, "n1", NodeStatus::Ready, old);
        node(&store, "gone", NodeStatus::Down, old);
        node(&store, "just-down", NodeStatus::Down, recent);
        add_job(
            &store,
            "old-batch",
            JobType::Batch,
            &[AllocClientStatus::Complete],
            old,
        );
        add_job(
            &store,
            "new-batch",
            JobType::Batch,
            &[AllocClientStatus::Complete],
            recent,
        );
        add_job(
            &store,
            "running-batch",
            JobType::Batch,
            &[AllocClientStatus::Running],
            old,
        );
        // A live service with one failed allocation its reschedule policy may replace.
        add_job(
            &store,
            "service",
            JobType::Service,
            &[AllocClientStatus::Running, AllocClientStatus::Failed],
            old,
        );
        let snapshot = store.snapshot();
        let config = GcConfig::default();
        let garbage = find_garbage(&snapshot, now, &config);
        // A dead job past job_gc_threshold goes with everything it had; a recent one
        // stays; a running batch job keeps its evaluation (or it would run again), a
        // running service too; a failed allocation that may still be rescheduled
        // stays; a node down for a day goes.
        assert_eq!(
            garbage.jobs,
            [("default".to_string(), JobId::from("old-batch"))]
        );
        assert_eq!(garbage.evals, ["old-batch-eval"]);
        assert_eq!(garbage.allocs, ["old-batch-alloc0"]);
        assert_eq!(garbage.nodes, ["gone"]);
        // `system gc`: thresholds at zero, the other rules still hold.
        let forced = find_garbage(&snapshot, now, &config.forced());
        let jobs: Vec<&str> = forced.jobs.iter().map(|(_, id)| id.as_str()).collect();
        assert_eq!(jobs, ["new-batch", "old-batch"]);
        assert_eq!(forced.nodes, ["gone", "just-down"]);
        assert!(!forced.allocs.contains(&"service-alloc1".into()));
        assert!(!forced.evals.contains(&"running-batch-eval".into()));
        // Removing it all leaves the rest intact, and the client's long-poll index moves.
        let before = store.snapshot().node_allocs_index("n1");
        let Garbage {
            evals,
            allocs,
            jobs,
            nodes,
            deployments,
        } = forced;
        store.apply(Command::GarbageCollect {
            evals,
            allocs,
            jobs,
            nodes,
            deployments,
        });
        let after = store.snapshot();
        assert!(after.job("default", "old-batch").is_none());
        assert!(after.job("default", "service").is_some());
        assert!(after.alloc("service-alloc1").is_some());
        assert!(after.node_allocs_index("n1") > before);
    }
}
