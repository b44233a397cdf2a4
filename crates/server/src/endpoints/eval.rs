//! Evaluations: the ones the other endpoints create (a job's, a node's system jobs', a
//! node's jobs when it goes down or drains), and blocked evaluations unblocked when
//! capacity may have appeared.

use std::collections::HashSet;

use crate::*;

/// `(namespace, job ID)`.
pub(crate) type JobKey = (String, JobId);

impl Server {
    /// A pending evaluation of `job`.
    pub(crate) fn new_eval(&self, job: &Job, triggered_by: EvalTrigger, now: i64) -> Evaluation {
        Evaluation {
            id: self.id().into(),
            namespace: job.namespace.clone(),
            priority: job.priority,
            r#type: job.job_type(),
            triggered_by,
            job_id: job.id.clone(),
            status: EvalStatus::Pending,
            create_time: now,
            modify_time: now,
            ..Evaluation::default()
        }
    }

    /// A pending evaluation of the same job as `eval`.
    pub(crate) fn new_eval_like(
        &self,
        eval: &Evaluation,
        triggered_by: EvalTrigger,
        now: i64,
    ) -> Evaluation {
        Evaluation {
            id: self.id().into(),
            namespace: eval.namespace.clone(),
            priority: eval.priority,
            r#type: eval.r#type,
            triggered_by,
            job_id: eval.job_id.clone(),
            status: EvalStatus::Pending,
            create_time: now,
            modify_time: now,
            ..Evaluation::default()
        }
    }

    /// Nomad's `createNodeEvals` for system jobs: a node that can take work (it joined,
    /// came back, or became eligible) gets an evaluation of every system and sysbatch
    /// job not in `covered`, which places their allocations on it.
    pub(crate) fn system_job_evals(
        &self,
        snapshot: &Snapshot,
        node_id: &NodeId,
        now: i64,
        covered: &HashSet<JobKey>,
    ) -> Vec<Evaluation> {
        snapshot
            .all_jobs()
            .filter(|job| {
                job.is_system() && !job.stop && !job.is_periodic() && !job.is_parameterized()
            })
            .filter(|job| !covered.contains(&(job.namespace.clone(), job.id.clone())))
            .map(|job| {
                let mut eval = self.new_eval(job, EvalTrigger::NodeUpdate, now);
                eval.node_id = node_id.clone();
                eval
            })
            .collect()
    }

    /// An evaluation for each job not in `covered` with live allocations on the node.
    pub(crate) fn node_job_evals(
        &self,
        snapshot: &Snapshot,
        node_id: &NodeId,
        triggered_by: EvalTrigger,
        now: i64,
        covered: &HashSet<JobKey>,
    ) -> Vec<Evaluation> {
        let mut seen = covered.clone();
        let mut evals = Vec::new();
        for alloc in snapshot.allocs_by_node(node_id) {
            if alloc.terminal() || !seen.insert((alloc.namespace.clone(), alloc.job_id.clone())) {
                continue;
            }
            let Some(job) = snapshot.job(&alloc.namespace, &alloc.job_id) else {
                continue;
            };
            let mut eval = self.new_eval(&job, triggered_by, now);
            eval.node_id = node_id.clone();
            evals.push(eval);
        }
        evals
    }

    /// Writes evaluations found missing after a node command: work that reached the
    /// state between the snapshot the command's evaluations were built from and the
    /// command's own write (a system job registered, an allocation placed meanwhile).
    /// Usually there are none.
    pub(crate) async fn catch_up(&self, evals: Vec<Evaluation>) {
        if evals.is_empty() {
            return;
        }
        if let Err(error) = self.apply(Command::EvalsUpsert { evals }).await {
            tracing::warn!(%error, "could not write the evaluations a node change needs");
        }
    }

    /// Something may have made room (the write at `index`): the blocked evaluations
    /// become pending again and go back to the broker.
    pub(crate) async fn capacity_changed(&self, index: u64) {
        let leader = self.leader();
        let blocked = &leader.blocked;
        blocked.capacity_changed(index);
        let evals = blocked.take_all();
        if evals.is_empty() {
            return;
        }
        // The store flips only those still blocked when the write lands: one that a plan
        // completed or cancelled meanwhile stays as it is.
        let command = Command::EvalsUnblock {
            ids: evals.clone(),
            now: self.now(),
        };
        match self.apply(command).await {
            Ok(index) => {
                let snapshot = self.snapshot();
                for eval in evals.iter().filter_map(|id| snapshot.eval(id)) {
                    if eval.status == EvalStatus::Pending && eval.modify_index == index {
                        self.leader().broker.enqueue(&eval);
                    }
                }
            }
            Err(error) => {
                tracing::warn!(%error, "could not unblock evaluations");
            }
        }
    }
}

/// The jobs `evals` evaluate.
pub(crate) fn jobs_of(evals: &[Evaluation]) -> HashSet<JobKey> {
    evals
        .iter()
        .map(|e| (e.namespace.clone(), e.job_id.clone()))
        .collect()
}
