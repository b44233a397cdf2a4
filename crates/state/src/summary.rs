//! Job status and summary, derived from a job's allocations and evaluations.

use caravan_structs::{
    ALLOC_CLIENT_COMPLETE, ALLOC_CLIENT_FAILED, ALLOC_CLIENT_LOST, ALLOC_CLIENT_PENDING,
    ALLOC_CLIENT_RUNNING, Allocation, Evaluation, JOB_STATUS_DEAD, JOB_STATUS_PENDING,
    JOB_STATUS_RUNNING, Job, JobChildrenSummary, JobSummary, TaskGroupSummary,
};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Nomad's `getJobStatus`: stopped → dead; a periodic or parameterized parent → running;
/// any live allocation → running; any open
/// evaluation → pending; something ran and finished → dead; otherwise pending.
pub(crate) fn job_status(
    job: &Job,
    allocs: &[Arc<Allocation>],
    evals: &[Arc<Evaluation>],
) -> &'static str {
    if job.stop {
        return JOB_STATUS_DEAD;
    }
    // Nomad: periodic and parameterized parents run until stopped; they are never
    // scheduled themselves, their children are.
    if job.is_periodic() || job.is_parameterized() {
        return JOB_STATUS_RUNNING;
    }
    if allocs.iter().any(|a| !a.terminal()) {
        return JOB_STATUS_RUNNING;
    }
    if evals.iter().any(|e| !e.terminal()) {
        return JOB_STATUS_PENDING;
    }
    if !allocs.is_empty() || !evals.is_empty() {
        return JOB_STATUS_DEAD;
    }
    JOB_STATUS_PENDING
}

/// Counts a job's allocations by task group and client status.
pub(crate) fn job_summary(
    job: &Job,
    allocs: &[Arc<Allocation>],
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
        let entry = summary.entry(alloc.task_group.clone()).or_default();
        match alloc.client_status.as_str() {
            ALLOC_CLIENT_PENDING if alloc.server_terminal() => {}
            ALLOC_CLIENT_PENDING => entry.starting += 1,
            ALLOC_CLIENT_RUNNING => entry.running += 1,
            ALLOC_CLIENT_COMPLETE => entry.complete += 1,
            ALLOC_CLIENT_FAILED => entry.failed += 1,
            ALLOC_CLIENT_LOST => entry.lost += 1,
            _ => entry.unknown += 1,
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
        match child.status.as_str() {
            JOB_STATUS_RUNNING => summary.running += 1,
            JOB_STATUS_DEAD => summary.dead += 1,
            _ => summary.pending += 1,
        }
    }
    summary
}
