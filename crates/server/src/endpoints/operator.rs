//! Operator settings (the scheduler configuration) and garbage collection on demand.

use crate::*;

use std::sync::Arc;

impl Server {
    /// Removes what is old enough to be garbage (Nomad's core scheduler); with `force`
    /// (`PUT /v1/system/gc`) thresholds are ignored. Answers the index of the write, or
    /// the current index when there was nothing to collect. The walk over the whole
    /// state runs on a blocking thread.
    /// `PUT /v1/system/reconcile/summaries`: every job's summary derived again.
    pub async fn reconcile_summaries(&self) -> Result<u64, ServerError> {
        self.apply(Command::ReconcileSummaries).await
    }

    pub async fn collect_garbage(&self, force: bool) -> Result<u64, ServerError> {
        let config = if force {
            self.config.gc.forced()
        } else {
            self.config.gc.clone()
        };
        let snapshot = self.snapshot();
        let index = snapshot.index;
        let now = self.now();
        let garbage =
            tokio::task::spawn_blocking(move || gc::find_garbage(&snapshot, now, &config))
                .await
                .map_err(|e| ServerError::Unavailable(e.to_string()))?;
        if garbage.is_empty() {
            return Ok(index);
        }
        tracing::debug!(
            jobs = garbage.jobs.len(),
            evals = garbage.evals.len(),
            allocs = garbage.allocs.len(),
            nodes = garbage.nodes.len(),
            "garbage-collecting"
        );
        let gc::Garbage {
            evals,
            allocs,
            jobs,
            nodes,
            deployments,
        } = garbage;
        self.apply(Command::GarbageCollect {
            evals,
            allocs,
            jobs,
            nodes,
            deployments,
        })
        .await
    }

    /// The scheduler configuration in force: what an operator set (a command in the
    /// state), else the agent's `default_scheduler_config`.
    pub fn scheduler_configuration(&self) -> SchedulerConfiguration {
        self.snapshot()
            .scheduler_config()
            .map(|c| SchedulerConfiguration::clone(&c))
            .unwrap_or_else(|| self.config.scheduler.clone())
    }

    /// Replaces the scheduler configuration (`PUT /v1/operator/scheduler/configuration`).
    pub async fn set_scheduler_configuration(
        &self,
        mut update: SchedulerConfiguration,
    ) -> Result<u64, ServerError> {
        if update.scheduler_algorithm.is_empty() {
            update.scheduler_algorithm = "binpack".to_string();
        }
        if update
            .scheduler_algorithm
            .parse::<caravan_scheduler::SchedulerAlgorithm>()
            .is_err()
        {
            return Err(ServerError::Invalid(vec![format!(
                "invalid scheduler algorithm \"{}\": use \"binpack\" or \"spread\"",
                update.scheduler_algorithm
            )]));
        }
        self.apply(Command::SchedulerSetConfig { config: update })
            .await
    }

    pub(crate) fn scheduler_algorithm(&self) -> caravan_scheduler::SchedulerAlgorithm {
        self.scheduler_configuration()
            .scheduler_algorithm
            .parse()
            .unwrap_or_default()
    }

    /// Replaces the whole state with `state` (`operator snapshot restore`), through the
    /// log like any write, then rebuilds the leader's services from it: the restored
    /// evaluations, heartbeats and periodic jobs are what the leader works on next.
    pub async fn restore_snapshot(self: &Arc<Self>, state: Snapshot) -> Result<u64, ServerError> {
        let index = self
            .apply(Command::RestoreSnapshot {
                state: Box::new(state),
            })
            .await?;
        crate::leader::Leader::reestablish_if_leading(self);
        Ok(index)
    }
}
