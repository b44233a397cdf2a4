//! Deployments: promote, pause and resume, fail (reverting the job when its groups
//! say so), allocation health set by hand, and job-version stability. Each is one
//! `Command::Deployment`, checked by the state store under its writer (so a deployment
//! that ended meanwhile is refused with Nomad's words), with the evaluation that lets
//! the scheduler act on it.

use caravan_state::DeploymentCommand;
use caravan_structs::{
    AllocId, Deployment, DeploymentStatusUpdate, DeploymentUpdateResponse, deployment,
};

use crate::*;

/// How a failure reads, and the job version it registers again (auto-revert).
pub(crate) struct Failure {
    pub update: DeploymentStatusUpdate,
    pub revert_to: Option<Job>,
}

impl Server {
    /// The deployment with this exact ID, or Nomad's 404 (`deployment not found`).
    fn find_deployment(&self, id: &str) -> Result<Arc<Deployment>, ServerError> {
        if id.is_empty() {
            return Err(ServerError::BadRequest("missing deployment ID".to_string()));
        }
        self.snapshot()
            .deployment(id)
            .ok_or(ServerError::NotFound("deployment"))
    }

    /// A pending evaluation of the deployment's job, within the deployment.
    pub(crate) fn deployment_eval(&self, found: &Deployment, now: i64) -> Option<Evaluation> {
        let job = self.snapshot().job(&found.namespace, &found.job_id)?;
        let mut eval = self.new_eval(&job, EvalTrigger::DeploymentWatcher, now);
        eval.deployment_id = found.id.clone();
        Some(eval)
    }

    /// Applies a deployment command; a refusal reads as Nomad's plain message.
    async fn apply_deployment(
        &self,
        command: DeploymentCommand,
        found: &Deployment,
    ) -> Result<DeploymentUpdateResponse, ServerError> {
        let eval_id = command.eval().map(|e| e.id.clone()).unwrap_or_default();
        let reverted = match &command {
            DeploymentCommand::StatusUpdate { revert_to, .. }
            | DeploymentCommand::AllocHealth { revert_to, .. } => revert_to.is_some(),
            _ => false,
        };
        let index =
            self.apply(Command::Deployment(command))
                .await
                .map_err(|error| match error {
                    ServerError::Invalid(mut lines) if lines.len() == 1 => {
                        ServerError::Rejected(lines.remove(0))
                    }
                    other => other,
                })?;
        let snapshot = self.snapshot();
        let reverted_job_version = reverted
            .then(|| snapshot.job(&found.namespace, &found.job_id))
            .flatten()
            .map(|j| j.version);
        Ok(DeploymentUpdateResponse {
            eval_create_index: if eval_id.is_empty() { 0 } else { index },
            eval_id,
            deployment_modify_index: index,
            reverted_job_version,
            index,
        })
    }

    /// `POST /v1/deployment/promote/:id`: promotes the canaries of every group (`all`)
    /// or of the named ones.
    pub async fn promote_deployment(
        &self,
        id: &str,
        all: bool,
        groups: Vec<String>,
    ) -> Result<DeploymentUpdateResponse, ServerError> {
        let found = self.find_deployment(id)?;
        let now = self.now();
        let groups = if all { Vec::new() } else { groups };
        let command = DeploymentCommand::Promote {
            deployment_id: found.id.clone(),
            groups,
            eval: self.deployment_eval(&found, now),
            now,
        };
        self.apply_deployment(command, &found).await
    }

    /// `POST /v1/deployment/pause/:id`: pauses (no new allocations) or resumes.
    pub async fn pause_deployment(
        &self,
        id: &str,
        pause: bool,
    ) -> Result<DeploymentUpdateResponse, ServerError> {
        let found = self.find_deployment(id)?;
        let now = self.now();
        let (status, description) = if pause {
            (
                deployment::status::PAUSED,
                deployment::description::PAUSED.to_string(),
            )
        } else {
            (
                deployment::status::RUNNING,
                found.running_description().to_string(),
            )
        };
        let command = DeploymentCommand::StatusUpdate {
            update: DeploymentStatusUpdate {
                deployment_id: found.id.clone(),
                status: status.to_string(),
                status_description: description,
            },
            revert_to: None,
            // Nomad: resuming evaluates the job again, pausing needs nothing.
            eval: if pause {
                None
            } else {
                self.deployment_eval(&found, now)
            },
            now,
        };
        self.apply_deployment(command, &found).await
    }

    /// `POST /v1/deployment/fail/:id`: marks it failed; a deployment with `auto_revert`
    /// registers the job's latest stable version again.
    pub async fn fail_deployment(&self, id: &str) -> Result<DeploymentUpdateResponse, ServerError> {
        let found = self.find_deployment(id)?;
        let now = self.now();
        let failure = self.failure(
            &found,
            deployment::description::FAILED_BY_USER,
            found.auto_reverts(),
        );
        let command = DeploymentCommand::StatusUpdate {
            update: failure.update,
            revert_to: failure.revert_to,
            eval: self.deployment_eval(&found, now),
            now,
        };
        self.apply_deployment(command, &found).await
    }

    /// `POST /v1/deployment/unblock/:id`: only a multi-region deployment waiting for its
    /// other regions is ever blocked, which one region never is.
    pub async fn unblock_deployment(
        &self,
        id: &str,
    ) -> Result<DeploymentUpdateResponse, ServerError> {
        let found = self.find_deployment(id)?;
        if !found.active() {
            return Err(ServerError::Rejected(
                "can't unblock terminal deployment".to_string(),
            ));
        }
        if found.status != deployment::status::BLOCKED {
            return Err(ServerError::Rejected(
                "can't unblock running deployment".to_string(),
            ));
        }
        let now = self.now();
        let command = DeploymentCommand::StatusUpdate {
            update: DeploymentStatusUpdate {
                deployment_id: found.id.clone(),
                status: deployment::status::SUCCESSFUL.to_string(),
                status_description: deployment::description::SUCCESSFUL.to_string(),
            },
            revert_to: None,
            eval: self.deployment_eval(&found, now),
            now,
        };
        self.apply_deployment(command, &found).await
    }

    /// `POST /v1/deployment/allocation-health/:id`: an operator's verdict on allocations
    /// of the deployment (`health_check = "manual"`). An unhealthy one fails the
    /// deployment at once (reverting with `auto_revert`).
    pub async fn set_deployment_alloc_health(
        &self,
        id: &str,
        healthy: Vec<AllocId>,
        unhealthy: Vec<AllocId>,
    ) -> Result<DeploymentUpdateResponse, ServerError> {
        let found = self.find_deployment(id)?;
        if healthy.is_empty() && unhealthy.is_empty() {
            return Err(ServerError::BadRequest(
                "must specify at least one healthy/unhealthy allocation ID".to_string(),
            ));
        }
        let now = self.now();
        let snapshot = self.snapshot();
        let failure = (!unhealthy.is_empty()).then(|| {
            let revert = unhealthy.iter().any(|id| {
                snapshot
                    .alloc(id)
                    .and_then(|a| found.task_groups.get(&a.task_group).map(|g| g.auto_revert))
                    .unwrap_or(false)
            });
            self.failure(&found, deployment::description::FAILED_ALLOCATIONS, revert)
        });
        let (update, revert_to) = match failure {
            Some(Failure { update, revert_to }) => (Some(update), revert_to),
            None => (None, None),
        };
        let command = DeploymentCommand::AllocHealth {
            deployment_id: found.id.clone(),
            healthy,
            unhealthy,
            update,
            revert_to,
            eval: self.deployment_eval(&found, now),
            now,
        };
        self.apply_deployment(command, &found).await
    }

    /// `POST /v1/job/:id/stable`: marks a version of the job stable (or not).
    pub async fn set_job_stability(
        &self,
        namespace: &str,
        job_id: &str,
        version: u64,
        stable: bool,
    ) -> Result<u64, ServerError> {
        let snapshot = self.snapshot();
        if snapshot.job(namespace, job_id).is_none() {
            return Err(ServerError::NotFound("job"));
        }
        if snapshot.job_version(namespace, job_id, version).is_none() {
            return Err(ServerError::Missing(format!(
                "job {job_id:?} in namespace {namespace:?} at version {version} not found"
            )));
        }
        self.apply(Command::Deployment(DeploymentCommand::JobStability {
            namespace: namespace.to_string(),
            job_id: JobId::from(job_id),
            version,
            stable,
        }))
        .await
    }

    /// Nomad's failure of a deployment: its description, and with `revert` the job's
    /// latest stable version to register again (unless there is none, or it is the
    /// same specification as the failed one; the description says which).
    pub(crate) fn failure(&self, found: &Deployment, reason: &str, revert: bool) -> Failure {
        let snapshot = self.snapshot();
        let mut description = reason.to_string();
        let mut revert_to = None;
        if revert {
            let current = snapshot.job(&found.namespace, &found.job_id);
            let stable = snapshot
                .job_versions(&found.namespace, &found.job_id)
                .into_iter()
                .find(|j| j.stable && j.version != found.job_version);
            match (stable, current) {
                (Some(stable), Some(current)) if stable.spec_equal(&current) => {
                    description = format!(
                        "{reason} - not rolling back to stable job version {} as current job has same specification",
                        stable.version
                    );
                }
                (Some(stable), Some(_)) => {
                    description = deployment::description::rolling_back(reason, stable.version);
                    let mut job = Job::clone(&stable);
                    job.stop = false;
                    job.stable = false;
                    revert_to = Some(job);
                }
                _ => description = deployment::description::no_rollback_target(reason),
            }
        }
        Failure {
            update: DeploymentStatusUpdate {
                deployment_id: found.id.clone(),
                status: deployment::status::FAILED.to_string(),
                status_description: description,
            },
            revert_to,
        }
    }
}
