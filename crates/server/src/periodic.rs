//! Periodic jobs: their cron schedules, the children they launch
//! (`<parent>/periodic-<unix seconds>`) and `job periodic force`. The launcher that keeps
//! their schedule is a leader service (`leader/periodic.rs`).

use caravan_api_types::{JobRegisterResponse, PeriodicForceResponse};
use caravan_structs::ids::AsId;
use caravan_structs::{Job, JobId};
use jiff::tz::TimeZone;

use crate::{Server, ServerError};
use caravan_structs::cron::{CronSchedule, next_launch, time_zone};

/// A job's cron specs and the zone they are read in.
struct Schedule {
    specs: Vec<CronSchedule>,
    zone: TimeZone,
}

fn schedule_of(job: &Job) -> Result<Option<Schedule>, String> {
    let Some(periodic) = &job.periodic else {
        return Ok(None);
    };
    let specs = periodic
        .spec
        .iter()
        .filter(|s| !s.is_empty())
        .chain(periodic.specs.iter())
        .map(|s| CronSchedule::parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    let zone = time_zone(periodic.time_zone.as_deref().unwrap_or(""))?;
    Ok(Some(Schedule { specs, zone }))
}

/// What the periodic block needs beyond the model's checks: cron specs this launcher can
/// run and a time zone it knows.
pub(crate) fn check_schedule(job: &Job) -> Vec<String> {
    let Some(periodic) = job.periodic.as_ref().filter(|p| p.is_enabled()) else {
        return Vec::new();
    };
    // The model checks the cron specs themselves (`structs::periodic::check_cron`, the
    // launcher's own parser); the zone is read here, where the launcher reads it.
    let at = format!("job \"{}\": periodic", job.id);
    let mut errors = Vec::new();
    if let Err(e) = time_zone(periodic.time_zone.as_deref().unwrap_or("")) {
        errors.push(format!("{at}: {e}"));
    }
    errors
}

/// Nomad's `IsPeriodicActive`: launches on its own.
pub(crate) fn is_active(job: &Job) -> bool {
    job.periodic.as_ref().is_some_and(|p| p.is_enabled()) && !job.stop && !job.is_parameterized()
}

/// The job's next launch strictly after `after` (Unix seconds).
pub fn next_periodic_launch(job: &Job, after: i64) -> Option<i64> {
    let schedule = schedule_of(job).ok()??;
    next_launch(&schedule.specs, after, &schedule.zone)
}

impl Server {
    /// A launch the schedule calls for; skipped while an earlier child still runs if the
    /// job prohibits overlap.
    pub(crate) async fn launch_scheduled(&self, job: &Job, at: i64) {
        let prohibit = job
            .periodic
            .as_ref()
            .and_then(|p| p.prohibit_overlap)
            .unwrap_or(false);
        if prohibit && self.has_running_children(job) {
            tracing::info!(job_id = %job.id, "skipping launch, a previous child still runs and the job prohibits overlap");
            return;
        }
        if let Err(e) = self.launch_child(job, at).await {
            tracing::warn!(job_id = %job.id, error = %e, "launch failed");
        }
    }

    /// Nomad's `RunningChildren`: a periodic child with an open evaluation or a live
    /// allocation.
    fn has_running_children(&self, job: &Job) -> bool {
        let snapshot = self.snapshot();
        let prefix = format!("{}/periodic-", job.id);
        snapshot
            .children(&job.namespace, &job.id)
            .iter()
            .filter(|child| child.id.starts_with(&prefix))
            .any(|child| {
                snapshot
                    .evals_by_job(&child.namespace, &child.id)
                    .iter()
                    .any(|e| !e.terminal())
                    || snapshot
                        .allocs_by_job(&child.namespace, &child.id)
                        .iter()
                        .any(|a| !a.terminal())
            })
    }

    /// Registers the child a periodic job launches at `at` (Nomad's `deriveJob`): the
    /// parent's spec under the ID `<parent>/periodic-<at>`, without the periodic block.
    async fn launch_child(
        &self,
        parent: &Job,
        at: i64,
    ) -> Result<JobRegisterResponse, ServerError> {
        let mut child = parent.clone();
        child.id = format!("{}/periodic-{at}", parent.id).into();
        child.name = child.id.to_string();
        child.parent_id = parent.id.clone();
        child.periodic = None;
        child.stop = false;
        child.status = None;
        child.status_description = String::new();
        crate::validate(&child, &self.config.driver_schemas)?;
        tracing::info!(job_id = %parent.id, child = %child.id, "launching");
        self.commit_job(child, None).await
    }

    /// `job periodic force`: launches a child of a periodic job now, whatever its
    /// schedule and overlap rule say.
    pub async fn force_periodic(
        &self,
        namespace: &str,
        job_id: &(impl AsId<JobId> + ?Sized),
    ) -> Result<PeriodicForceResponse, ServerError> {
        let job_id = job_id.as_id_str();
        let job = self
            .snapshot()
            .job(namespace, job_id)
            .ok_or_else(|| ServerError::Missing(format!("job {job_id:?} not found")))?;
        if !job.is_periodic() {
            return Err(ServerError::Invalid(vec![
                "can't force launch non-periodic job".to_string(),
            ]));
        }
        if !is_active(&job) {
            return Err(ServerError::Invalid(vec![format!(
                "can't force run non-tracked job {job_id:?}: it is stopped, parameterized or its periodic block is disabled"
            )]));
        }
        let registered = self.launch_child(&job, self.now() / 1_000_000_000).await?;
        Ok(PeriodicForceResponse {
            eval_id: registered.eval_id,
            eval_create_index: registered.eval_create_index,
            index: registered.index,
        })
    }
}
