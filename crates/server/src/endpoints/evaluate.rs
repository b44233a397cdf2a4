//! Evaluations asked for by hand: `job eval` (`POST /v1/job/:id/evaluate`) and
//! `node eval` (`POST /v1/node/:id/evaluate`), which make the scheduler look at a job,
//! or at every job of a node, again.

use std::collections::HashSet;

use crate::*;

impl Server {
    /// Nomad's `Job.Evaluate`: a `job-register` evaluation of the stored job. Periodic
    /// and parameterized parents are never evaluated themselves.
    pub async fn evaluate_job(
        &self,
        namespace: &str,
        job_id: &(impl AsId<JobId> + ?Sized),
        force_reschedule: bool,
    ) -> Result<JobRegisterResponse, ServerError> {
        let job = self
            .snapshot()
            .job(namespace, job_id)
            .ok_or(ServerError::NotFound("job"))?;
        if job.is_periodic() {
            return Err(ServerError::BadRequest(
                "can't evaluate periodic job".to_string(),
            ));
        }
        if job.is_parameterized() {
            return Err(ServerError::BadRequest(
                "can't evaluate parameterized job".to_string(),
            ));
        }
        if force_reschedule {
            return Err(ServerError::BadRequest(
                "EvalOptions.ForceReschedule is not supported by Caravan yet: failed allocations are rescheduled as their reschedule policy says; evaluate without it"
                    .to_string(),
            ));
        }
        let now = self.now();
        let mut eval = self.new_eval(&job, EvalTrigger::JobRegister, now);
        eval.job_modify_index = job.job_modify_index;
        let eval_id = eval.id.clone();
        let index = self
            .apply(Command::EvalsUpsert { evals: vec![eval] })
            .await?;
        Ok(JobRegisterResponse {
            eval_id,
            eval_create_index: index,
            job_modify_index: job.job_modify_index,
            index,
            known_leader: true,
            ..JobRegisterResponse::default()
        })
    }

    /// Nomad's `Node.Evaluate`: an evaluation of every job with allocations on the node
    /// and of every system job, so the node's work is looked at again.
    pub async fn evaluate_node(
        &self,
        node_id: &(impl AsId<NodeId> + ?Sized),
    ) -> Result<(u64, Vec<EvalId>), ServerError> {
        let snapshot = self.snapshot();
        let node = snapshot
            .node(node_id)
            .ok_or(ServerError::NotFound("node"))?;
        let now = self.now();
        let mut evals = self.node_job_evals(
            &snapshot,
            &node.id,
            EvalTrigger::NodeUpdate,
            now,
            &HashSet::new(),
        );
        let covered = super::eval::jobs_of(&evals);
        evals.extend(self.system_job_evals(&snapshot, &node.id, now, &covered));
        let ids = evals.iter().map(|e| e.id.clone()).collect();
        let index = self.apply(Command::EvalsUpsert { evals }).await?;
        Ok((index, ids))
    }
}
