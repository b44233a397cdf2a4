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

/// Counts a job's allocations by task group and client status.
pub(crate) fn job_summary<'a>(
    job: &Job,
    allocs: impl IntoIterator<Item = &'a Arc<Allocation>>,
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
    for alloc in allocs {
        // Looked up before it is inserted: a write re-counts all of a job's allocations.
        let entry = match summary.get_mut(&alloc.task_group) {
            Some(entry) => entry,
            None => summary.entry(alloc.task_group.clone()).or_default(),
        };
        match alloc.client_status {
            AllocClientStatus::Pending if alloc.server_terminal() => {}
            AllocClientStatus::Pending => entry.starting += 1,
            AllocClientStatus::Running => entry.running += 1,
            AllocClientStatus::Complete => entry.complete += 1,
            AllocClientStatus::Failed => entry.failed += 1,
            AllocClientStatus::Lost => entry.lost += 1,
            AllocClientStatus::Unknown => entry.unknown += 1,
        }
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
