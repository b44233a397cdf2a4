//! `eval delete` (Nomad's `Eval.Delete`): an operator removes evaluations during an
//! outage, with the eval broker paused so that no worker holds one meanwhile.

use crate::*;

impl Server {
    /// Nomad's `EvalIsUserDeleteSafe`: an evaluation whose job is gone, stopped or dead
    /// may go; otherwise only if none of its allocations runs (or may run) on a client.
    pub fn eval_user_deletable(snapshot: &caravan_state::Snapshot, eval: &Evaluation) -> bool {
        let job = snapshot.job(&eval.namespace, &eval.job_id);
        if job
            .as_ref()
            .is_none_or(|j| j.stop || j.status == Some(caravan_structs::JobStatus::Dead))
        {
            return true;
        }
        !snapshot
            .allocs_by_job(&eval.namespace, &eval.job_id)
            .iter()
            .filter(|a| a.eval_id == eval.id)
            .any(|a| {
                matches!(
                    a.client_status,
                    AllocClientStatus::Running | AllocClientStatus::Unknown
                )
            })
    }

    /// Deletes the evaluations `ids` (full IDs), all or none: refused unless the
    /// scheduler configuration pauses the eval broker, and for an unknown evaluation or
    /// one that is not safe to delete, in Nomad's words. Answers how many were deleted
    /// and the write's index.
    pub async fn delete_evaluations(&self, ids: &[String]) -> Result<(usize, u64), ServerError> {
        if !self.scheduler_configuration().pause_eval_broker {
            return Err(ServerError::Rejected(
                "eval broker is enabled; eval broker must be paused to delete evals".into(),
            ));
        }
        let snapshot = self.snapshot();
        let mut evals = Vec::with_capacity(ids.len());
        for id in ids {
            let eval = snapshot
                .eval(id.as_str())
                .ok_or_else(|| ServerError::Rejected("eval not found".into()))?;
            if !Server::eval_user_deletable(&snapshot, &eval) {
                return Err(ServerError::Rejected(format!(
                    "eval {} is not safe to delete",
                    eval.id
                )));
            }
            evals.push(eval.id.clone());
        }
        if evals.is_empty() {
            return Ok((0, snapshot.index));
        }
        let count = evals.len();
        let index = self
            .apply(Command::GarbageCollect {
                evals,
                allocs: Vec::new(),
                jobs: Vec::new(),
                nodes: Vec::new(),
                deployments: Vec::new(),
            })
            .await?;
        Ok((count, index))
    }

    /// Whether the operator paused the eval broker (`-pause-eval-broker=true`): the
    /// scheduler worker takes no evaluation meanwhile.
    pub(crate) fn eval_broker_paused(&self) -> bool {
        self.scheduler_configuration().pause_eval_broker
    }
}
