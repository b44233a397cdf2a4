//! What clients report about their allocations.

use crate::*;

use super::alloc_batch;

impl Server {
    /// Records what a client reports about its own allocations (Nomad's
    /// `Node.UpdateAlloc`). The reports of every client that calls within
    /// [`alloc_batch::BATCH_WINDOW`] are written as one command, and each caller is
    /// answered once that write is applied, with its index.
    pub async fn update_allocations(
        self: &Arc<Self>,
        node_id: &(impl AsId<NodeId> + ?Sized),
        secret_id: &str,
        updates: Vec<AllocClientUpdate>,
    ) -> Result<u64, ServerError> {
        let node = self.check_secret(node_id, secret_id)?;
        let node_id = &node.id;
        let snapshot = self.snapshot();
        // The node's own allocations are found in its index; only another one is
        // looked for among all (a client may report one collected meanwhile).
        if let Some(foreign) = updates.iter().find(|u| {
            !snapshot.node_has_alloc(node_id, &u.id)
                && snapshot.alloc(&u.id).is_some_and(|a| a.node_id != *node_id)
        }) {
            return Err(ServerError::Invalid(vec![format!(
                "allocation {} does not run on node {node_id}",
                foreign.id
            )]));
        }
        if updates.is_empty() {
            return Ok(snapshot.index);
        }
        alloc_batch::join(self, updates).await
    }

    /// Writes a batch of client reports in one command: the reports, the evaluations
    /// they cause, the drains they complete.
    pub(crate) async fn apply_alloc_updates(
        &self,
        updates: Vec<AllocClientUpdate>,
    ) -> Result<u64, ServerError> {
        let snapshot = self.snapshot();
        // The status first: looking an allocation up among a million is a few cache
        // misses, and most reports say an allocation runs.
        let frees_capacity = updates.iter().any(|u| {
            u.client_status.is_terminal()
                && snapshot.alloc(&u.id).is_some_and(|a| !a.client_terminal())
        });
        // Nomad: an allocation that just failed, and should still run, gets its job
        // re-evaluated so the reschedule policy can act.
        let mut failed_jobs = std::collections::BTreeSet::new();
        for update in &updates {
            if update.client_status != AllocClientStatus::Failed {
                continue;
            }
            if let Some(alloc) = snapshot.alloc(&update.id)
                && !alloc.client_terminal()
                && !alloc.server_terminal()
            {
                failed_jobs.insert((alloc.namespace.clone(), alloc.job_id.clone()));
            }
        }
        let now = self.now();
        let evals: Vec<Evaluation> = failed_jobs
            .iter()
            .filter_map(|(namespace, job_id)| snapshot.job(namespace, job_id))
            .filter(|job| !job.stop)
            .map(|job| self.new_eval(&job, EvalTrigger::AllocFailure, now))
            .collect();
        let index = self
            .apply(Command::AllocClientUpdate {
                updates,
                now,
                evals,
            })
            .await?;
        if frees_capacity {
            self.capacity_changed(index).await;
        }
        Ok(index)
    }
}

impl Server {
    /// Nomad's `Alloc.Stop` (`alloc stop`): the allocation is marked to migrate and its
    /// job evaluated, so the scheduler stops it and places a replacement. Answers the
    /// evaluation's ID and the write's index.
    pub async fn stop_allocation(
        &self,
        alloc_id: &(impl AsId<AllocId> + ?Sized),
    ) -> Result<(EvalId, u64), ServerError> {
        let snapshot = self.snapshot();
        let alloc = snapshot
            .alloc(alloc_id)
            .ok_or(ServerError::NotFound("alloc"))?;
        let job = snapshot
            .job(&alloc.namespace, &alloc.job_id)
            .or_else(|| alloc.job.clone())
            .ok_or(ServerError::NotFound("job"))?;
        let now = self.now();
        let eval = self.new_eval(&job, EvalTrigger::AllocStop, now);
        let eval_id = eval.id.clone();
        let transition = caravan_structs::DesiredTransition {
            migrate: Some(true),
            ..alloc.desired_transition.clone()
        };
        let index = self
            .apply(Command::AllocDesiredTransition {
                transitions: vec![(alloc.id.clone(), transition)],
                evals: vec![eval],
                now,
            })
            .await?;
        Ok((eval_id, index))
    }
}
