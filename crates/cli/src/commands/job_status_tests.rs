//! `job status` rendering: structs in, exact text out.

use caravan_structs::{
    AllocClientStatus, AllocDesiredStatus, AllocMetric, EvalStatus, EvalTrigger, JobStatus,
    JobType, TaskGroupSummary,
};

use super::*;

const S: i64 = 1_000_000_000;
/// 2026-11-25T12:00:00Z
const T0: i64 = 1_795_608_000 * S;

fn job() -> Job {
    Job {
        id: "hello-exec-batch".into(),
        name: "hello-exec-batch".into(),
        r#type: Some(JobType::Batch),
        priority: 50,
        datacenters: vec!["dc1".into()],
        namespace: "default".into(),
        node_pool: "default".into(),
        status: Some(JobStatus::Dead),
        submit_time: T0,
        ..Job::default()
    }
}

fn stub(
    id: &str,
    node: &str,
    version: u64,
    index: u64,
    created_ago: i64,
    modified_ago: i64,
) -> AllocationListStub {
    AllocationListStub {
        id: format!("{id}-0000-0000-0000-000000000000").into(),
        eval_id: "e183a9bb-0000-0000-0000-000000000000".into(),
        node_id: format!("{node}-1111-1111-1111-111111111111").into(),
        node_name: "client-1".into(),
        task_group: "example".into(),
        job_version: version,
        desired_status: AllocDesiredStatus::Run,
        client_status: AllocClientStatus::Complete,
        create_index: index,
        create_time: T0 + 3 * 3600 * S - created_ago,
        modify_time: T0 + 3 * 3600 * S - modified_ago,
        ..AllocationListStub::default()
    }
}

fn time() -> TimeContext {
    TimeContext::fixed_utc(T0 + 3 * 3600 * S)
}

fn summary() -> JobSummary {
    let mut summary = JobSummary::default();
    summary.summary.insert(
        "example".into(),
        TaskGroupSummary {
            complete: 11,
            ..TaskGroupSummary::default()
        },
    );
    summary
}

/// `job status` of the view with the default options, plain, at the tests' time.
fn plain(view: &JobStatusView) -> String {
    render_job_status(view, StatusOptions::default(), Ui::plain(), &time())
}

#[test]
fn seed_job_status_layout() {
    let view = JobStatusView {
        latest_deployment: None,
        job: job(),
        children: vec![],
        summary: Some(summary()),
        evals: vec![],
        allocs: vec![
            stub(
                "c7a2f6c2",
                "4b635091",
                1,
                5,
                (2 * 3600 + 55 * 60) * S,
                (44 * 60 + 44) * S,
            ),
            stub(
                "12f3a5ec",
                "8f5984b6",
                2,
                20,
                (42 * 60 + 38) * S,
                (42 * 60 + 36) * S,
            ),
            stub("7de7f1d3", "4b635091", 3, 40, 6 * S, 3 * S),
        ],
    };
    let out = plain(&view);
    assert_eq!(
        out,
        "ID            = hello-exec-batch
Name          = hello-exec-batch
Submit Date   = 2026-11-25T12:00:00Z
Type          = batch
Priority      = 50
Datacenters   = dc1
Namespace     = default
Node Pool     = default
Status        = dead
Periodic      = false
Parameterized = false

Summary
Task Group  Queued  Starting  Running  Failed  Complete  Lost  Unknown
example     0       0         0        0       11        0     0

Allocations
ID        Node ID   Task Group  Version  Desired  Status    Created     Modified
7de7f1d3  4b635091  example     3        run      complete  6s ago      3s ago
12f3a5ec  8f5984b6  example     2        run      complete  42m38s ago  42m36s ago
c7a2f6c2  4b635091  example     1        run      complete  2h55m ago   44m44s ago"
    );
}

#[test]
fn verbose_adds_evaluations_full_ids_and_absolute_times() {
    let view = JobStatusView {
        latest_deployment: None,
        job: job(),
        children: vec![],
        summary: Some(summary()),
        evals: vec![Evaluation {
            id: "e183a9bb-0000-0000-0000-000000000000".into(),
            priority: 50,
            triggered_by: EvalTrigger::JobRegister,
            status: EvalStatus::Complete,
            ..Evaluation::default()
        }],
        allocs: vec![stub("7de7f1d3", "4b635091", 3, 40, 6 * S, 3 * S)],
    };
    let opts = StatusOptions {
        verbose: true,
        ..StatusOptions::default()
    };
    let out = render_job_status(&view, opts, Ui::plain(), &time());
    let tail = out
        .split("\nEvaluations\n")
        .nth(1)
        .expect("has evaluations");
    assert_eq!(
        tail,
        "ID                                    Priority  Triggered By  Status    Placement Failures
e183a9bb-0000-0000-0000-000000000000  50        job-register  complete  false

Allocations
ID                                    Eval ID                               Node ID                               Node Name  Task Group  Version  Desired  Status    Created               Modified
7de7f1d3-0000-0000-0000-000000000000  e183a9bb-0000-0000-0000-000000000000  4b635091-1111-1111-1111-111111111111  client-1   example     3        run      complete  2026-11-25T14:59:54Z  2026-11-25T14:59:57Z"
    );
}

#[test]
fn placement_failure_section_needs_blocked_eval() {
    let mut failed = Evaluation {
        id: "e183a9bb-0000".into(),
        status: EvalStatus::Complete,
        create_index: 10,
        ..Evaluation::default()
    };
    failed.failed_tg_allocs.insert(
        "example".into(),
        AllocMetric {
            nodes_evaluated: 3,
            constraint_filtered: [("${attr.os.name} = windows".to_string(), 3)].into(),
            ..AllocMetric::default()
        },
    );
    let blocked = Evaluation {
        id: "eb9b4c68-0000".into(),
        status: EvalStatus::Blocked,
        create_index: 11,
        ..Evaluation::default()
    };
    let mut view = JobStatusView {
        latest_deployment: None,
        job: job(),
        children: vec![],
        summary: None,
        evals: vec![blocked, failed.clone()],
        allocs: vec![],
    };
    let out = plain(&view);
    assert!(
        out.ends_with(
            "Parameterized = false

Placement Failure
Task Group \"example\":
  * Constraint \"${attr.os.name} = windows\" filtered 3 nodes

Allocations
No allocations placed"
        ),
        "{out}"
    );
    view.evals = vec![failed];
    let out = plain(&view);
    assert!(!out.contains("Placement Failure"), "{out}");
}

#[test]
fn short_is_header_only_and_stopped_status() {
    let mut j = job();
    j.stop = true;
    let view = JobStatusView {
        latest_deployment: None,
        job: j,
        ..JobStatusView::default()
    };
    let opts = StatusOptions {
        short: true,
        ..StatusOptions::default()
    };
    let out = render_job_status(&view, opts, Ui::plain(), &time());
    assert!(
        out.ends_with(
            "Status        = dead (stopped)\nPeriodic      = false\nParameterized = false"
        ),
        "{out}"
    );
}

#[test]
fn job_list_table() {
    let jobs = vec![
        JobListStub {
            id: "hello-exec-batch".into(),
            r#type: Some(JobType::Batch),
            priority: 50,
            status: Some(JobStatus::Dead),
            stop: true,
            submit_time: T0,
            ..JobListStub::default()
        },
        JobListStub {
            id: "web".into(),
            r#type: Some(JobType::Service),
            priority: 70,
            status: Some(JobStatus::Running),
            periodic: true,
            submit_time: T0 + S,
            ..JobListStub::default()
        },
    ];
    assert_eq!(
        render_job_list(&jobs, &time()),
        "ID                Type              Priority  Status          Submit Date
hello-exec-batch  batch             50        dead (stopped)  2026-11-25T12:00:00Z
web               service/periodic  70        running         2026-11-25T12:00:01Z"
    );
}

#[test]
fn bold_titles_on_tty() {
    let view = JobStatusView {
        latest_deployment: None,
        job: job(),
        children: vec![],
        summary: Some(summary()),
        ..JobStatusView::default()
    };
    let out = render_job_status(&view, StatusOptions::default(), Ui { color: true }, &time());
    assert!(out.contains("\n\n\x1b[1mSummary\x1b[0m\n"), "{out:?}");
}

fn parent_stub(id: &str, parent: &str, status: &str) -> JobListStub {
    JobListStub {
        id: id.into(),
        parent_id: parent.into(),
        status: Some(status.parse().expect("a job status")),
        ..JobListStub::default()
    }
}

fn children_summary(pending: i64, running: i64, dead: i64) -> JobSummary {
    JobSummary {
        children: caravan_structs::JobChildrenSummary {
            pending,
            running,
            dead,
        },
        ..JobSummary::default()
    }
}

/// The view of a periodic or parameterized parent with its children's summary and list.
fn parent_view(job: Job, summary: JobSummary, children: Vec<JobListStub>) -> JobStatusView {
    JobStatusView {
        latest_deployment: None,
        job,
        summary: Some(summary),
        children,
        ..JobStatusView::default()
    }
}

fn periodic_job(spec: &str, stop: bool) -> Job {
    Job {
        id: "nightly".into(),
        name: "nightly".into(),
        status: Some(JobStatus::Running),
        stop,
        periodic: Some(caravan_structs::PeriodicConfig {
            spec: Some(spec.into()),
            time_zone: Some("UTC".into()),
            ..caravan_structs::PeriodicConfig::default()
        }),
        ..job()
    }
}

#[test]
fn periodic_parent_layout() {
    let view = parent_view(
        periodic_job("0 */4 * * *", false),
        children_summary(0, 1, 2),
        vec![
            parent_stub("nightly/periodic-1795608000", "nightly", "dead"),
            parent_stub("nightly/periodic-1795622400", "nightly", "running"),
            parent_stub("nightly/periodic-other", "someone-else", "dead"),
        ],
    );
    // now = 15:00:00Z; next launch 16:00:00Z.
    let out = plain(&view);
    assert_eq!(
        out,
        "ID                   = nightly
Name                 = nightly
Submit Date          = 2026-11-25T12:00:00Z
Type                 = batch
Priority             = 50
Datacenters          = dc1
Namespace            = default
Node Pool            = default
Status               = running
Periodic             = true
Parameterized        = false
Next Periodic Launch = 2026-11-25T16:00:00Z (1h0m0s from now)

Children Job Summary
Pending  Running  Dead
0        1        2

Previously Launched Jobs
ID                           Status
nightly/periodic-1795608000  dead
nightly/periodic-1795622400  running"
    );
}

#[test]
fn periodic_parent_edge_cases() {
    let stopped = periodic_job("0 */4 * * *", true);
    assert!(
        render_job_header(&stopped, &time()).ends_with("Next Periodic Launch = none (job stopped)"),
    );
    // A schedule that never fires (February 30th) leaves the line out.
    let never = periodic_job("0 0 30 2 *", false);
    assert!(render_job_header(&never, &time()).ends_with("Parameterized = false"));
    // The last day of the month is understood (the server's cron reader).
    let last_day = periodic_job("0 0 L * *", false);
    assert!(render_job_header(&last_day, &time()).contains("Next Periodic Launch = "));
    let view = parent_view(
        periodic_job("@daily", false),
        children_summary(0, 0, 0),
        Vec::new(),
    );
    let out = plain(&view);
    assert!(
        out.ends_with("Children Job Summary\nPending  Running  Dead\n0        0        0\n\nNo instances of periodic job found"),
        "{out}"
    );
    assert!(
        out.contains("Next Periodic Launch = 2026-11-26T00:00:00Z (9h0m0s from now)\n"),
        "{out}"
    );
}

#[test]
fn parameterized_parent_layout() {
    let job = Job {
        id: "render".into(),
        name: "render".into(),
        parameterized_job: Some(caravan_structs::ParameterizedJobConfig {
            payload: "required".into(),
            meta_required: vec!["a".into(), "b".into()],
            meta_optional: vec![],
        }),
        ..job()
    };
    let view = parent_view(
        job.clone(),
        children_summary(1, 0, 0),
        vec![parent_stub(
            "render/dispatch-1795608000-0a1b2c3d",
            "render",
            "pending",
        )],
    );
    let out = plain(&view);
    assert!(
        out.contains("Periodic      = false\nParameterized = true\n"),
        "{out}"
    );
    assert!(
        out.ends_with(
            "Parameterized Job
Payload           = required
Required Metadata = a, b
Optional Metadata = <none>

Parameterized Job Summary
Pending  Running  Dead
1        0        0

Dispatched Jobs
ID                                   Status
render/dispatch-1795608000-0a1b2c3d  pending"
        ),
        "{out}"
    );
    let empty = parent_view(job.clone(), children_summary(0, 0, 0), Vec::new());
    assert!(plain(&empty).ends_with("\n\nNo dispatched instances of parameterized job found"));
    // A dispatched child is not itself parameterized: it gets the ordinary layout.
    let child = Job {
        dispatched: true,
        ..job
    };
    assert!(render_job_header(&child, &time()).ends_with("Parameterized = false"));
    assert_eq!(children_prefix(&child), None);
}

#[test]
fn parent_types_in_the_job_list() {
    let jobs = vec![
        JobListStub {
            id: "nightly".into(),
            r#type: Some(JobType::Batch),
            priority: 50,
            periodic: true,
            status: Some(JobStatus::Running),
            submit_time: T0,
            ..JobListStub::default()
        },
        JobListStub {
            id: "render".into(),
            r#type: Some(JobType::Batch),
            priority: 50,
            parameterized_job: true,
            status: Some(JobStatus::Running),
            submit_time: T0,
            ..JobListStub::default()
        },
    ];
    assert_eq!(
        render_job_list(&jobs, &time()),
        "ID       Type                 Priority  Status   Submit Date
nightly  batch/periodic       50        running  2026-11-25T12:00:00Z
render   batch/parameterized  50        running  2026-11-25T12:00:00Z"
    );
}

#[test]
fn latest_deployment_before_allocations() {
    let mut groups = std::collections::BTreeMap::new();
    groups.insert(
        "example".to_string(),
        caravan_structs::DeploymentState {
            desired_total: 1,
            placed_allocs: 1,
            healthy_allocs: 1,
            progress_deadline: 600 * S,
            require_progress_by: "2026-08-21T10:10:11Z".into(),
            ..caravan_structs::DeploymentState::default()
        },
    );
    let view = JobStatusView {
        job: job(),
        summary: Some(summary()),
        latest_deployment: Some(caravan_structs::Deployment {
            id: "1b2c3d4e-0000-0000-0000-000000000000".into(),
            status: "successful".into(),
            status_description: "Deployment completed successfully".into(),
            task_groups: groups,
            ..caravan_structs::Deployment::default()
        }),
        ..JobStatusView::default()
    };
    let out = plain(&view);
    assert!(
        out.ends_with(
            "
Latest Deployment
ID          = 1b2c3d4e
Status      = successful
Description = Deployment completed successfully

Deployed
Task Group  Desired  Placed  Healthy  Unhealthy  Progress Deadline
example     1        1       1        0          2026-08-21T10:10:11Z

Allocations
No allocations placed"
        ),
        "{out}"
    );
}
