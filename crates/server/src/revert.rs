//! `job revert`: register a stored version of a job again, as a new version.

use caravan_api_types::JobRegisterResponse;
use caravan_structs::ids::AsId;
use caravan_structs::{Job, JobId};

use crate::{Server, ServerError};

impl Server {
    /// Registers version `version` of a job again (Nomad's `Job.Revert`). With
    /// `enforce_prior_version`, only while the current version is that one.
    pub async fn revert_job(
        &self,
        namespace: &str,
        job_id: &(impl AsId<JobId> + ?Sized),
        version: u64,
        enforce_prior_version: Option<u64>,
    ) -> Result<JobRegisterResponse, ServerError> {
        let job_id = job_id.as_id_str();
        let snapshot = self.snapshot();
        let current = snapshot
            .job(namespace, job_id)
            .ok_or_else(|| ServerError::Missing(format!("job {job_id:?} not found")))?;
        if version == current.version {
            return Err(ServerError::Invalid(vec![
                "can't revert to current version".to_string(),
            ]));
        }
        let target = snapshot
            .job_version(namespace, job_id, version)
            .ok_or_else(|| {
                let kept: Vec<String> = snapshot
                    .job_versions(namespace, job_id)
                    .iter()
                    .map(|j| j.version.to_string())
                    .collect();
                ServerError::Missing(format!(
                    "job {job_id:?} in namespace {namespace:?} at version {version} not found; versions kept: {}",
                    kept.join(", ")
                ))
            })?;
        if let Some(prior) = enforce_prior_version
            && current.version != prior
        {
            return Err(ServerError::Invalid(vec![format!(
                "Current job has version {}; enforcing version {prior}",
                current.version
            )]));
        }
        let mut job = Job::clone(&target);
        job.canonicalize();
        job.stop = false;
        crate::validate(&job, &self.config.driver_schemas)?;
        self.commit_job(job, None).await
    }
}
