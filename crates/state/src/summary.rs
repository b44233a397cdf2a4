//! Job status and summary, derived from a job's allocations and evaluations.

use caravan_structs::{
    AllocClientStatus, Allocation, Evaluation, Job, JobChildrenSummary, JobStatus, JobSummary,
    TaskGroupSummary,
};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Nomad's `getJobStatus`: stopped → dead; a periodic or parameterized parent → running;
/// any live allocation → running; any open
/// evaluation → pending; something ran and finished → dead; otherwise pending.
pub(crate) fn job_status<'a>(
    job: &Job,
    allocs: impl IntoIterator<Item = &'a Arc<Allocation>>,
    evals: &[Arc<Evaluation>],
) -> JobStatus {
    if job.stop {
        return JobStatus::Dead;
    }
    // Nomad: periodic and parameterized parents run until stopped; they are never
    // scheduled themselves, their children are.
    if job.is_periodic() || job.is_parameterized() {
        return JobStatus::Running;
    }
    let mut any_alloc = false;
    for alloc in allocs {
        if !alloc.terminal() {
            return JobStatus::Running;
        }
        any_alloc = true;
    }
    if evals.iter().any(|e| !e.terminal()) {
        return JobStatus::Pending;
    }
    if any_alloc || !evals.is_empty() {
        return JobStatus::Dead;
    }
    JobStatus::Pending
}

/// One of a task group's counts by client status.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum StatusCount {
    Starting,
    Running,
    Complete,
    Failed,
    Lost,
    Unknown,
}

impl StatusCount {
    /// Which count an allocation adds to: none for one the scheduler stopped before
    /// its client started it.
    pub(crate) fn of(alloc: &Allocation) -> Option<StatusCount> {
        Some(match alloc.client_status {
            AllocClientStatus::Pending if alloc.server_terminal() => return None,
            AllocClientStatus::Pending => StatusCount::Starting,
            AllocClientStatus::Running => StatusCount::Running,
            AllocClientStatus::Complete => StatusCount::Complete,
            AllocClientStatus::Failed => StatusCount::Failed,
            AllocClientStatus::Lost => StatusCount::Lost,
            AllocClientStatus::Unknown => StatusCount::Unknown,
        })
    }

    pub(crate) fn in_summary(self, summary: &mut TaskGroupSummary) -> &mut i64 {
        match self {
            StatusCount::Starting => &mut summary.starting,
            StatusCount::Running => &mut summary.running,
            StatusCount::Complete => &mut summary.complete,
            StatusCount::Failed => &mut summary.failed,
            StatusCount::Lost => &mut summary.lost,
            StatusCount::Unknown => &mut summary.unknown,
        }
    }
}

/// A job's summary: its allocations' `counts` by task group and client status (see
/// [`crate::snapshot::Snapshot::alloc_counts`]), every group of the job listed.
pub(crate) fn job_summary(
    job: &Job,
    counts: Option<&BTreeMap<String, TaskGroupSummary>>,
    queued: &BTreeMap<String, i64>,
    children: JobChildrenSummary,
    previous: Option<&JobSummary>,
    index: u64,
) -> JobSummary {
    let mut summary: BTreeMap<String, TaskGroupSummary> = job
        .task_groups
        .iter()
        .map(|g| (g.name.clone(), TaskGroupSummary::default()))
        .collect();
    for (group, counted) in counts.into_iter().flatten() {
        summary.insert(group.clone(), counted.clone());
    }
    for (group, count) in queued {
        if let Some(entry) = summary.get_mut(group) {
            entry.queued = *count;
        }
    }
    JobSummary {
        job_id: job.id.clone(),
        namespace: job.namespace.clone(),
        summary,
        children,
        create_index: previous.map(|p| p.create_index).unwrap_or(index),
        modify_index: index,
    }
}

/// Counts a parent's child jobs by their status (Nomad's `JobSummary.Children`).
pub(crate) fn children_summary<'a>(children: impl Iterator<Item = &'a Job>) -> JobChildrenSummary {
    let mut summary = JobChildrenSummary::default();
    for child in children {
        match child.status {
            Some(JobStatus::Running) => summary.running += 1,
            Some(JobStatus::Dead) => summary.dead += 1,
            Some(JobStatus::Pending) | None => summary.pending += 1,
        }
    }
    summary
}
