//! Scaling: the IDs and targets of the groups' scaling policies when a job is stored, and
//! `job scale` (Nomad's `Job.Scale`): a group's new count as a new job version with its
//! evaluation, or only a scaling event, recorded per group.

use std::collections::BTreeMap;

use caravan_api_types::{JobRegisterResponse, JobScaleRequest};
use caravan_structs::{
    JobType, SCALING_TARGET_GROUP, SCALING_TARGET_JOB, SCALING_TARGET_NAMESPACE, ScalingEvent,
};

use crate::*;

/// Gives each group's scaling policy its ID and target (Nomad's
/// `propagateScalingPolicyIDs`): the stored job's policy of the same group keeps its ID,
/// a new one gets a fresh ID.
pub(crate) fn adopt_scaling_policies(stored: Option<&Job>, job: &mut Job, ids: &dyn IdGen) {
    let stored_ids: BTreeMap<&str, &str> = stored
        .into_iter()
        .flat_map(|j| &j.task_groups)
        .filter_map(|g| g.scaling.as_ref().map(|p| (g.name.as_str(), p.id.as_str())))
        .filter(|(_, id)| !id.is_empty())
        .collect();
    let (namespace, job_id) = (job.namespace.clone(), job.id.to_string());
    for group in &mut job.task_groups {
        let Some(policy) = &mut group.scaling else {
            continue;
        };
        policy.id = stored_ids
            .get(group.name.as_str())
            .map_or_else(|| ids.new_id(), |id| id.to_string());
        policy.target_group(&namespace, &job_id, &group.name);
        // The policy's indexes are the state's, never part of the job's spec.
        policy.create_index = 0;
        policy.modify_index = 0;
    }
}

/// Nomad's `JobScaleRequest.Validate`: what a scaling request must say whatever the job.
fn check_scale_request(
    namespace: &str,
    job_id: &str,
    request: &JobScaleRequest,
) -> Result<String, ServerError> {
    let bad = |text: &str| Err(ServerError::BadRequest(text.to_string()));
    if let Some(ns) = request.target.get(SCALING_TARGET_NAMESPACE)
        && !ns.is_empty()
        && ns != namespace
    {
        return bad("namespace in payload did not match header");
    }
    if let Some(job) = request.target.get(SCALING_TARGET_JOB)
        && !job.is_empty()
        && job != job_id
    {
        return bad("job ID in payload did not match URL");
    }
    let group = request
        .target
        .get(SCALING_TARGET_GROUP)
        .filter(|g| !g.is_empty())
        .cloned();
    let Some(group) = group else {
        return bad("missing task group name for scaling action");
    };
    if let Some(count) = request.count {
        if count < 0 {
            return bad("scaling action count can't be negative");
        }
        if request.error {
            return bad("scaling action should not contain count if error is true");
        }
    }
    Ok(group)
}

/// Nomad refuses to change a count while the job's deployment is still rolling out
/// (`job scaling blocked due to active deployment`): the deployment's totals were
/// fixed when it started.
fn refuse_scaling_during_active_deployment(
    snapshot: &Snapshot,
    job: &Job,
) -> Result<(), ServerError> {
    let active = snapshot
        .latest_deployment(&job.namespace, &job.id)
        .is_some_and(|d| d.active() && d.job_create_index == job.create_index);
    if active {
        return Err(ServerError::BadRequest(
            "job scaling blocked due to active deployment".to_string(),
        ));
    }
    Ok(())
}

impl Server {
    /// `job scale`: sets a group's count (a new job version and its evaluation, with
    /// the scaling event, in one write), or with no count records only the event.
    pub async fn scale_job(
        &self,
        namespace: &str,
        job_id: &(impl AsId<JobId> + ?Sized),
        request: JobScaleRequest,
    ) -> Result<JobRegisterResponse, ServerError> {
        let job_id = job_id.as_id_str();
        let group_name = check_scale_request(namespace, job_id, &request)?;
        let snapshot = self.snapshot();
        let stored = snapshot
            .job(namespace, job_id)
            .ok_or_else(|| ServerError::Missing(format!("job {job_id:?} not found")))?;
        if stored.job_type() == JobType::System {
            return Err(ServerError::BadRequest(
                "cannot scale jobs of type \"system\"".to_string(),
            ));
        }
        let group = stored
            .task_groups
            .iter()
            .find(|g| g.name == group_name)
            .ok_or_else(|| {
                ServerError::BadRequest(format!(
                    "task group {group_name:?} specified for scaling does not exist in job"
                ))
            })?;
        let now = self.now();
        let mut event = ScalingEvent {
            time: now,
            count: request.count,
            previous_count: group.count,
            message: request.message.clone(),
            error: request.error,
            meta: request.meta.clone(),
            ..ScalingEvent::default()
        };
        let mut scaled = None;
        let mut eval = None;
        if let Some(count) = request.count {
            // Nomad checks the policy's bounds whatever `PolicyOverride` says (that
            // overrides Sentinel policies only).
            if let Some(policy) = &group.scaling {
                let min = policy.min.unwrap_or(group.count);
                let max = policy.max.unwrap_or(i64::MAX);
                if count < min {
                    return Err(ServerError::BadRequest(format!(
                        "group count was less than scaling policy minimum: {count} < {min}"
                    )));
                }
                if max < count {
                    return Err(ServerError::BadRequest(format!(
                        "group count was greater than scaling policy maximum: {count} > {max}"
                    )));
                }
            }
            refuse_scaling_during_active_deployment(&snapshot, &stored)?;
            let mut job = Job::clone(&stored);
            // A job stored before its policies had IDs gets them now.
            adopt_scaling_policies(Some(&stored), &mut job, &*self.ids);
            if let Some(group) = job.task_groups.iter_mut().find(|g| g.name == group_name) {
                group.count = count;
            }
            // Nomad: periodic and parameterized jobs are never evaluated themselves.
            if !(job.is_periodic() || job.is_parameterized()) {
                let created = self.new_eval(&job, EvalTrigger::JobScaling, now);
                event.eval_id = Some(created.id.to_string());
                eval = Some(created);
            }
            scaled = Some(job);
        }
        let enforce_index = if request.enforce_index && request.job_modify_index != 0 {
            Some(request.job_modify_index)
        } else {
            // The count is changed on the version read here: a registration in between
            // refuses this write rather than being undone by it.
            scaled.as_ref().map(|_| stored.job_modify_index)
        };
        let eval_id = eval.as_ref().map(|e| e.id.clone()).unwrap_or_default();
        let index = self
            .apply(Command::JobScale {
                namespace: namespace.to_string(),
                job_id: stored.id.clone(),
                group: group_name,
                job: scaled,
                eval,
                event,
                enforce_index,
                now,
            })
            .await?;
        let job_modify_index = self
            .snapshot()
            .job(namespace, job_id)
            .map_or(stored.job_modify_index, |j| j.job_modify_index);
        Ok(JobRegisterResponse {
            eval_create_index: if eval_id.is_empty() { 0 } else { index },
            eval_id,
            job_modify_index,
            index,
            known_leader: true,
            ..JobRegisterResponse::default()
        })
    }
}
