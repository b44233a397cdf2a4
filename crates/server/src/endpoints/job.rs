//! Registering and stopping jobs: each validated, stored with the evaluation it needs
//! in one command, whose evaluation then goes to the eval broker.

use crate::*;

impl Server {
    /// Registers (or updates) a job and schedules it. Periodic and parameterized jobs are
    /// stored without an evaluation: only the children they launch are scheduled.
    pub async fn register_job(&self, job: Job) -> Result<JobRegisterResponse, ServerError> {
        self.register_job_enforcing(job, None).await
    }

    /// [`Server::register_job`] only over the stored job modify index `enforce_index`
    /// (Nomad's `job run -check-index`; 0 means the job must not exist yet). The state
    /// store checks it, and Nomad's update rules, in the same write.
    pub async fn register_job_enforcing(
        &self,
        job: Job,
        enforce_index: Option<u64>,
    ) -> Result<JobRegisterResponse, ServerError> {
        self.register_submitted_job(job, enforce_index, false).await
    }

    /// [`Server::register_job_enforcing`]; with `preserve_counts` (`job run
    /// -preserve-counts`), each group the stored job also has keeps its stored count
    /// (one `job scale` set), as Nomad's `PreserveCounts` does after validation.
    pub async fn register_submitted_job(
        &self,
        mut job: Job,
        enforce_index: Option<u64>,
        preserve_counts: bool,
    ) -> Result<JobRegisterResponse, ServerError> {
        job.canonicalize();
        job.stop = false;
        validate_submitted(&job, &self.config.driver_schemas)?;
        if preserve_counts && let Some(stored) = self.snapshot().job(&job.namespace, &job.id) {
            for group in &mut job.task_groups {
                if let Some(old) = stored.task_groups.iter().find(|g| g.name == group.name) {
                    group.count = old.count;
                }
            }
        }
        self.commit_job(job, enforce_index).await
    }

    /// Stores a canonicalized, valid job with the evaluation it needs (none for a
    /// periodic or parameterized parent), in one command whose evaluation then goes to
    /// the eval broker. The store refuses a job that breaks the update rules (or
    /// `enforce_index`).
    pub(crate) async fn commit_job(
        &self,
        mut job: Job,
        enforce_index: Option<u64>,
    ) -> Result<JobRegisterResponse, ServerError> {
        let stored = self.snapshot().job(&job.namespace, &job.id);
        super::scaling::adopt_scaling_policies(stored.as_deref(), &mut job, &*self.ids);
        let now = self.now();
        let parent = job.is_periodic() || job.is_parameterized();
        // Nomad: periodic and parameterized jobs are never evaluated themselves.
        let eval = (!parent).then(|| self.new_eval(&job, EvalTrigger::JobRegister, now));
        let eval_id = eval.as_ref().map(|e| e.id.clone()).unwrap_or_default();
        let index = self
            .apply(Command::JobRegister {
                job: job.clone(),
                eval,
                now,
                enforce_index,
            })
            .await?;
        let snapshot = self.snapshot();
        let stored = snapshot.job(&job.namespace, &job.id);
        if job.is_periodic() {
            self.leader().periodic.job_changed();
        }
        Ok(JobRegisterResponse {
            eval_create_index: if eval_id.is_empty() { 0 } else { index },
            eval_id,
            job_modify_index: stored.map(|j| j.job_modify_index).unwrap_or(index),
            index,
            known_leader: true,
            warnings: unsupported::warnings(&job),
            ..JobRegisterResponse::default()
        })
    }

    /// Stops a job (`purge` also removes it) and schedules the stop.
    pub async fn deregister_job(
        &self,
        namespace: &str,
        job_id: &(impl AsId<JobId> + ?Sized),
        purge: bool,
    ) -> Result<JobDeregisterResponse, ServerError> {
        let snapshot = self.snapshot();
        let job = snapshot
            .job(namespace, job_id)
            .ok_or(ServerError::NotFound("job"))?;
        let now = self.now();
        // Nomad: stopping a periodic or parameterized parent needs no evaluation (it has
        // no allocations); its children are left alone.
        let parent = job.is_periodic() || job.is_parameterized();
        let eval = (!parent).then(|| self.new_eval(&job, EvalTrigger::JobDeregister, now));
        let eval_id = eval.as_ref().map(|e| e.id.clone()).unwrap_or_default();
        let index = self
            .apply(Command::JobDeregister {
                namespace: namespace.to_string(),
                job_id: job.id.clone(),
                purge,
                eval,
                now,
            })
            .await?;
        if job.is_periodic() {
            self.leader().periodic.job_changed();
        }
        Ok(JobDeregisterResponse {
            eval_create_index: if eval_id.is_empty() { 0 } else { index },
            eval_id,
            job_modify_index: index,
            index,
        })
    }
}
