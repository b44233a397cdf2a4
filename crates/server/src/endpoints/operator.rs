//! Operator settings (the scheduler configuration) and garbage collection on demand.

use crate::*;

impl Server {
    /// Removes what is old enough to be garbage (Nomad's core scheduler); with `force`
    /// (`PUT /v1/system/gc`) thresholds are ignored. Answers the index of the write, or
    /// the current index when there was nothing to collect.
    pub fn collect_garbage(&self, force: bool) -> u64 {
        let config = if force {
            self.config.gc.forced()
        } else {
            self.config.gc.clone()
        };
        let garbage = gc::find_garbage(&self.snapshot(), self.now(), &config);
        if garbage.is_empty() {
            return self.snapshot().index;
        }
        tracing::debug!(
            jobs = garbage.jobs.len(),
            evals = garbage.evals.len(),
            allocs = garbage.allocs.len(),
            nodes = garbage.nodes.len(),
            "server: garbage-collecting"
        );
        let gc::Garbage {
            evals,
            allocs,
            jobs,
            nodes,
        } = garbage;
        self.state.apply(Command::GarbageCollect {
            evals,
            allocs,
            jobs,
            nodes,
        })
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
    pub fn set_scheduler_configuration(
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
        Ok(self
            .state
            .apply(Command::SchedulerSetConfig { config: update }))
    }

    pub(crate) fn scheduler_algorithm(&self) -> caravan_scheduler::SchedulerAlgorithm {
        self.scheduler_configuration()
            .scheduler_algorithm
            .parse()
            .unwrap_or_default()
    }
}
