//! `caravan job status [JOB]` and `caravan status [ID]` (Nomad's `command/job_status.go`).

use caravan_api_types::{AllocationListStub, JobListStub};
use caravan_structs::{Deployment, Evaluation, Job, JobStatus, JobSummary, JobType};

use crate::alloc_metrics::format_alloc_metrics;
use crate::api_client::ApiClient;
use crate::columnize::{format_kv, format_list};
use crate::commands::lookup;
use crate::deployment_format::render_latest_deployment;
use crate::flags::FlagSet;
use crate::meta::{self, Ui, limit};
use crate::time_format::{SECOND, TimeContext, format_time_in, go_duration};
use caravan_structs::cron;

const HELP: &str = "Usage: caravan job status [options] <job>

  Display status information about a job. If no job ID is given, a list of all
  known jobs will be displayed.

Status Options:

  -short
    Display short output. Used only when a single job is being
    queried, and drops verbose information about allocations.

  -evals
    Display the evaluations associated with the job.

  -all-allocs
    Display all allocations matching the job ID, including those from an older
    instance of the job.

  -json
    Output the job status in its JSON format.

  -verbose
    Display full information.
";

/// Nomad shows at most this many task groups under `Placement Failure`.
const MAX_FAILED_TGS: usize = 5;

/// Everything `job status <job>` shows, as fetched from the agent.
#[derive(Debug, Clone, Default)]
pub struct JobStatusView {
    /// The job (`GET /v1/job/:id`).
    pub job: Job,
    /// Its summary (`GET /v1/job/:id/summary`).
    pub summary: Option<JobSummary>,
    /// Its evaluations, newest first.
    pub evals: Vec<Evaluation>,
    /// Its allocations (any order; rendered newest first).
    pub allocs: Vec<AllocationListStub>,
    /// For a periodic or parameterized job, the jobs listed under its launch prefix
    /// (`<id>/periodic-`, `<id>/dispatch-`); only those whose parent it is are shown.
    pub children: Vec<JobListStub>,
    /// Its newest deployment (`GET /v1/job/:id/deployment`).
    pub latest_deployment: Option<Deployment>,
}

/// Display options of `job status`.
#[derive(Debug, Clone, Copy, Default)]
pub struct StatusOptions {
    /// `-verbose`: full IDs, absolute times, evaluations.
    pub verbose: bool,
    /// `-evals`: show evaluations.
    pub show_evals: bool,
    /// `-short`: the header only.
    pub short: bool,
}

/// Nomad's `getStatusString`: `dead (stopped)` for stopped jobs.
fn status_string(status: Option<JobStatus>, stop: bool) -> String {
    let status = status.map_or("", JobStatus::as_str);
    if stop {
        format!("{status} (stopped)")
    } else {
        status.to_string()
    }
}

/// Nomad's `createStatusListOutput`: the `ID  Type  Priority  Status  Submit Date` table.
pub fn render_job_list(jobs: &[JobListStub], time: &TimeContext) -> String {
    let mut rows = vec!["ID|Type|Priority|Status|Submit Date".to_string()];
    for job in jobs {
        let mut job_type = job.r#type.map_or("", JobType::as_str).to_string();
        if job.periodic {
            job_type.push_str("/periodic");
        }
        if job.parameterized_job {
            job_type.push_str("/parameterized");
        }
        rows.push(format!(
            "{}|{}|{}|{}|{}",
            job.id,
            job_type,
            job.priority,
            status_string(job.status, job.stop),
            time.format(job.submit_time)
        ));
    }
    format_list(&rows)
}

/// Nomad's `formatAllocListStubs`, newest (highest CreateIndex) first.
pub fn render_alloc_stubs(
    stubs: &[AllocationListStub],
    verbose: bool,
    time: &TimeContext,
) -> String {
    if stubs.is_empty() {
        return "No allocations placed".to_string();
    }
    let n = meta::id_length(verbose);
    let mut sorted: Vec<&AllocationListStub> = stubs.iter().collect();
    sorted.sort_by_key(|a| std::cmp::Reverse(a.create_index));
    let mut rows = Vec::with_capacity(sorted.len() + 1);
    if verbose {
        rows.push(
            "ID|Eval ID|Node ID|Node Name|Task Group|Version|Desired|Status|Created|Modified"
                .to_string(),
        );
        for a in sorted {
            rows.push(format!(
                "{}|{}|{}|{}|{}|{}|{}|{}|{}|{}",
                limit(&a.id, n),
                limit(&a.eval_id, n),
                limit(&a.node_id, n),
                a.node_name,
                a.task_group,
                a.job_version,
                a.desired_status,
                a.client_status,
                time.format(a.create_time),
                time.format(a.modify_time)
            ));
        }
    } else {
        rows.push("ID|Node ID|Task Group|Version|Desired|Status|Created|Modified".to_string());
        for a in sorted {
            rows.push(format!(
                "{}|{}|{}|{}|{}|{}|{}|{}",
                limit(&a.id, n),
                limit(&a.node_id, n),
                a.task_group,
                a.job_version,
                a.desired_status,
                a.client_status,
                time.pretty(a.create_time),
                time.pretty(a.modify_time)
            ));
        }
    }
    format_list(&rows)
}

/// Nomad's `evalFailureStatus`: `true|false`, or `N/A - In Progress` while blocked.
pub fn eval_failure_status(eval: &Evaluation) -> String {
    if eval.status == caravan_structs::EvalStatus::Blocked {
        "N/A - In Progress".to_string()
    } else {
        (!eval.failed_tg_allocs.is_empty()).to_string()
    }
}

/// The `ID  Priority  Triggered By  Status  Placement Failures` table.
pub fn render_eval_list(evals: &[Evaluation], length: usize) -> String {
    let mut rows = vec!["ID|Priority|Triggered By|Status|Placement Failures".to_string()];
    for eval in evals {
        rows.push(format!(
            "{}|{}|{}|{}|{}",
            limit(&eval.id, length),
            eval.priority,
            eval.triggered_by,
            eval.status,
            eval_failure_status(eval)
        ));
    }
    format_list(&rows)
}

/// Nomad's `IsPeriodic`: the job launches children on a schedule.
pub fn is_periodic(job: &Job) -> bool {
    job.periodic.is_some()
}

/// Nomad's `IsParameterized`: the job is dispatched (a dispatched child is not).
pub fn is_parameterized(job: &Job) -> bool {
    job.parameterized_job.is_some() && !job.dispatched
}

/// The `Next Periodic Launch` value: `<time> (<duration> from now)` in the job's time
/// zone, `none (job stopped)`, or `None` when the schedule cannot be computed.
pub fn next_periodic_launch(job: &Job, time: &TimeContext) -> Option<String> {
    let periodic = job.periodic.as_ref()?;
    if job.stop {
        return Some("none (job stopped)".to_string());
    }
    let mut specs: Vec<String> = periodic
        .spec
        .iter()
        .filter(|s| !s.is_empty())
        .cloned()
        .collect();
    specs.extend(periodic.specs.iter().cloned());
    let zone = periodic.time_zone.as_deref().unwrap_or("");
    // The server's own cron reader, so the CLI shows the launch the server will make.
    let schedules: Vec<_> = specs
        .iter()
        .filter_map(|spec| cron::CronSchedule::parse(spec).ok())
        .collect();
    let tz = cron::time_zone(zone).ok()?;
    let next = cron::next_launch(&schedules, time.now.div_euclid(SECOND), &tz)? * SECOND;
    // Nomad's formatTimeDifference(now, next, time.Second): both truncated to seconds.
    let truncate = |t: i64| t - t.rem_euclid(SECOND);
    Some(format!(
        "{} ({} from now)",
        format_time_in(next, &tz),
        go_duration(truncate(next) - truncate(time.now))
    ))
}

/// The header key/values of `job status <job>`.
pub fn render_job_header(job: &Job, time: &TimeContext) -> String {
    let periodic = is_periodic(job);
    let parameterized = is_parameterized(job);
    let mut rows = vec![
        format!("ID|{}", job.id),
        format!("Name|{}", job.name),
        format!("Submit Date|{}", time.format(job.submit_time)),
        format!("Type|{}", job.r#type.map_or("", JobType::as_str)),
        format!("Priority|{}", job.priority),
        format!("Datacenters|{}", job.datacenters.join(",")),
        format!("Namespace|{}", job.namespace),
        format!("Node Pool|{}", job.node_pool),
        format!("Status|{}", status_string(job.status, job.stop)),
        format!("Periodic|{periodic}"),
        format!("Parameterized|{parameterized}"),
    ];
    if periodic
        && !parameterized
        && let Some(next) = next_periodic_launch(job, time)
    {
        rows.push(format!("Next Periodic Launch|{next}"));
    }
    format_kv(&rows)
}

/// Nomad's `outputJobSummary`: the per-group table for ordinary jobs, and the children
/// counts, always for a parent job and for others only when non-zero.
fn render_summary(job: &Job, summary: &JobSummary, ui: Ui) -> Vec<String> {
    let periodic = is_periodic(job);
    let parameterized = is_parameterized(job);
    let mut out = Vec::new();
    if !periodic && !parameterized {
        out.push(ui.section("Summary"));
        let mut rows =
            vec!["Task Group|Queued|Starting|Running|Failed|Complete|Lost|Unknown".to_string()];
        for (group, s) in &summary.summary {
            rows.push(format!(
                "{group}|{}|{}|{}|{}|{}|{}|{}",
                s.queued, s.starting, s.running, s.failed, s.complete, s.lost, s.unknown
            ));
        }
        out.push(format_list(&rows));
    }
    let c = &summary.children;
    if parameterized || periodic || c.pending + c.running + c.dead > 0 {
        out.push(ui.section(if parameterized {
            "Parameterized Job Summary"
        } else {
            "Children Job Summary"
        }));
        out.push(format_list(&[
            "Pending|Running|Dead".to_string(),
            format!("{}|{}|{}", c.pending, c.running, c.dead),
        ]));
    }
    out
}

/// Nomad's `outputPeriodicInfo` / `outputParameterizedInfo` after the summary: the
/// children under the launch prefix whose parent is `job`.
fn render_children(
    job: &Job,
    children: &[JobListStub],
    title: &str,
    none: &str,
    ui: Ui,
) -> Vec<String> {
    if children.is_empty() {
        return vec![format!("\n{none}")];
    }
    let mut rows = vec!["ID|Status".to_string()];
    for child in children.iter().filter(|c| c.parent_id == job.id) {
        rows.push(format!(
            "{}|{}",
            child.id,
            child.status.map_or("", JobStatus::as_str)
        ));
    }
    vec![ui.section(title), format_list(&rows)]
}

/// The launch prefix of a parent job's children (`<id>/periodic-`, `<id>/dispatch-`).
pub fn children_prefix(job: &Job) -> Option<String> {
    if is_parameterized(job) {
        Some(format!("{}/dispatch-", job.id))
    } else if is_periodic(job) {
        Some(format!("{}/periodic-", job.id))
    } else {
        None
    }
}

/// The whole `job status <job>` output (no trailing newline).
pub fn render_job_status(
    view: &JobStatusView,
    opts: StatusOptions,
    ui: Ui,
    time: &TimeContext,
) -> String {
    let mut out = vec![render_job_header(&view.job, time)];
    if opts.short {
        return out.join("\n");
    }
    let job = &view.job;
    if is_parameterized(job) {
        out.push(ui.section("Parameterized Job"));
        let config = job.parameterized_job.clone().unwrap_or_default();
        out.push(format_kv(&[
            format!("Payload|{}", config.payload),
            format!("Required Metadata|{}", config.meta_required.join(", ")),
            format!("Optional Metadata|{}", config.meta_optional.join(", ")),
        ]));
    }
    if let Some(summary) = &view.summary {
        out.extend(render_summary(job, summary, ui));
    }
    if is_parameterized(job) {
        out.extend(render_children(
            job,
            &view.children,
            "Dispatched Jobs",
            "No dispatched instances of parameterized job found",
            ui,
        ));
        return out.join("\n");
    }
    if is_periodic(job) {
        out.extend(render_children(
            job,
            &view.children,
            "Previously Launched Jobs",
            "No instances of periodic job found",
            ui,
        ));
        return out.join("\n");
    }
    let length = meta::id_length(opts.verbose);
    if opts.verbose || opts.show_evals {
        out.push(ui.section("Evaluations"));
        out.push(render_eval_list(&view.evals, length));
    }
    let blocked = view
        .evals
        .iter()
        .any(|e| e.status == caravan_structs::EvalStatus::Blocked);
    let latest_failed = view
        .evals
        .iter()
        .filter(|e| !e.failed_tg_allocs.is_empty())
        .max_by_key(|e| e.create_index);
    if let (true, Some(failed)) = (blocked, latest_failed) {
        out.push(ui.section("Placement Failure"));
        out.push(render_placement_failures(failed));
    }
    if let Some(deployment) = &view.latest_deployment {
        out.push(ui.section("Latest Deployment"));
        out.push(render_latest_deployment(deployment, length, ui, time));
    }
    out.push(ui.section("Allocations"));
    out.push(render_alloc_stubs(&view.allocs, opts.verbose, time));
    out.join("\n")
}

/// Nomad's `outputFailedPlacements` body: `Task Group "<tg>":` and metric lines.
fn render_placement_failures(eval: &Evaluation) -> String {
    let mut parts = Vec::new();
    let groups: Vec<_> = eval.failed_tg_allocs.iter().collect();
    for (i, (group, metrics)) in groups.iter().enumerate().take(MAX_FAILED_TGS) {
        parts.push(format!("Task Group {group:?}:"));
        parts.push(format_alloc_metrics(metrics, false, "  "));
        if i + 1 != groups.len() {
            parts.push(String::new());
        }
    }
    if groups.len() > MAX_FAILED_TGS {
        parts.push(format!(
            "\nPlacement failures truncated. To see remainder run:\ncaravan eval-status {}",
            eval.id
        ));
    }
    parts.join("\n")
}

fn flag_set() -> FlagSet {
    FlagSet::new()
        .bools(&["short", "evals", "all-allocs", "verbose", "json"])
        .strings(&["t"])
}

/// `caravan job status`.
pub fn run(args: &[String]) -> i32 {
    run_with(args, false)
}

/// `caravan status`: like `job status`, but an ID that names no job is tried as an
/// allocation, node or evaluation prefix.
pub fn run_generic_status(args: &[String]) -> i32 {
    run_with(args, true)
}

fn run_with(args: &[String], generic: bool) -> i32 {
    let parsed = match meta::parse(flag_set(), args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if parsed.args.len() > 1 {
        meta::err("This command takes either no arguments or one: <job>");
        meta::err(&meta::help_hint("job status"));
        return 1;
    }
    let client = match meta::client(&parsed) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let ui = Ui::from_flags(&parsed);
    let time = TimeContext::system();
    let opts = StatusOptions {
        verbose: parsed.bool("verbose"),
        show_evals: parsed.bool("evals"),
        short: parsed.bool("short"),
    };
    let Some(job_id) = parsed.args.first().map(|a| a.trim().to_string()) else {
        return list_jobs(&client, parsed.bool("json"), &time);
    };
    let jobs = match lookup::jobs_with_prefix(&client, &job_id) {
        Ok(jobs) => jobs,
        Err(e) => {
            meta::err(&format!("Error querying job: {e}"));
            return 1;
        }
    };
    if jobs.is_empty() {
        if generic && let Some(code) = lookup::status_of_other_kinds(&job_id, args) {
            return code;
        }
        meta::err(&format!("No job(s) with prefix or ID {job_id:?} found"));
        return 1;
    }
    if jobs.len() > 1 && jobs[0].id != job_id {
        meta::err(&format!(
            "Prefix matched multiple jobs\n\n{}",
            render_job_list(&jobs, &time)
        ));
        return 1;
    }
    match fetch_view(&client, &jobs[0].id, opts.short) {
        Ok(view) => {
            if parsed.bool("json") {
                let value = serde_json::json!([{
                    "Allocations": view.allocs,
                    "LatestDeployment": view.latest_deployment,
                    "Evaluations": view.evals,
                    "Job": view.job,
                    "Summary": view.summary,
                }]);
                meta::out(&meta::json_pretty(&value));
            } else {
                meta::out(&render_job_status(&view, opts, ui, &time));
            }
            0
        }
        Err(message) => {
            meta::err(&message);
            1
        }
    }
}

fn list_jobs(client: &ApiClient, json: bool, time: &TimeContext) -> i32 {
    match client.run(|api| api.jobs("")) {
        Ok(read) if json => {
            meta::out(&meta::json_pretty(&read.value));
            0
        }
        Ok(read) if read.value.is_empty() => {
            meta::out("No running jobs");
            0
        }
        Ok(read) => {
            meta::out(&render_job_list(&read.value, time));
            0
        }
        Err(e) => {
            meta::err(&format!("Error querying jobs: {e}"));
            1
        }
    }
}

/// Reads everything `job status` shows about one job. Errors are ready to print.
fn fetch_view(client: &ApiClient, id: &str, short: bool) -> Result<JobStatusView, String> {
    let job = client
        .run(|api| api.job(id))
        .map_err(|e| format!("Error querying job: {e}"))?
        .value;
    if short {
        return Ok(JobStatusView {
            job,
            ..JobStatusView::default()
        });
    }
    if let Some(prefix) = children_prefix(&job) {
        let summary = client
            .run(|api| api.job_summary(id))
            .map_err(|e| format!("Error querying job summary: {e}"))?
            .value;
        let children = lookup::jobs_with_prefix(client, &prefix)
            .map_err(|e| format!("Error querying job: {e}"))?;
        return Ok(JobStatusView {
            job,
            summary: Some(summary),
            children,
            ..JobStatusView::default()
        });
    }
    // Nomad lists the allocations of every version of the job; `all=true` also asks
    // for those of an older, purged instance under the same ID.
    let allocs = client
        .run(|api| api.job_allocations(id, true))
        .map_err(|e| format!("Error querying job allocations: {e}"))?
        .value;
    let mut evals = client
        .run(|api| api.job_evaluations(id))
        .map_err(|e| format!("Error querying job evaluations: {e}"))?
        .value;
    evals.sort_by_key(|e| std::cmp::Reverse(e.create_index));
    let summary = client
        .run(|api| api.job_summary(id))
        .map_err(|e| format!("Error querying job summary: {e}"))?
        .value;
    let latest_deployment = client
        .run(|api| api.job_latest_deployment(id))
        .map_err(|e| format!("Error querying latest job deployment: {e}"))?
        .value;
    Ok(JobStatusView {
        job,
        summary: Some(summary),
        evals,
        allocs,
        children: Vec::new(),
        latest_deployment,
    })
}

#[cfg(test)]
#[path = "job_status_tests.rs"]
mod tests;
