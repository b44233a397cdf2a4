//! Validation, revert, and the jobs that launch other jobs: parameterized (`job dispatch`)
//! and periodic (the cron launcher and `job periodic force`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use caravan_api_types::JobListStub;
use caravan_server::{Clock, ManualClock, Server, ServerConfig, ServerError};
use caravan_structs::*;
use caravan_testkit::server::start_at;
use caravan_testkit::{self as testkit, JobBuilder, wait};

fn node(id: &str) -> Node {
    testkit::node(id).build()
}

/// A batch job `id` of one `raw_exec` task running `command`.
fn batch_of(id: &str, command: &str) -> JobBuilder {
    testkit::job(id)
        .kind(JobType::Batch)
        .command(command)
        .resources(100, 64)
}

fn batch(id: &str, command: &str) -> Job {
    batch_of(id, command).build()
}

fn parameterized(id: &str, payload: &str, required: &[&str], optional: &[&str]) -> Job {
    batch_of(id, "/bin/true")
        .parameterized(payload, required, optional)
        .build()
}

fn periodic(id: &str, spec: &str, prohibit_overlap: bool) -> Job {
    batch_of(id, "/bin/true")
        .periodic(spec, prohibit_overlap)
        .build()
}

async fn eventually(what: &str, check: impl FnMut() -> bool) {
    wait::until(what, Duration::from_secs(5), check).await;
}

/// Where the periodic tests' clock starts: half a second into a second, so that every
/// whole second the clock passes is a launch of an every-second cron.
const START: i64 = 1_750_000_000_500_000_000;

/// Waits until the periodic launcher tracks `jobs` jobs.
async fn tracked(server: &Server, jobs: usize) {
    eventually("the launcher to track the job", || {
        server.leader_stats().periodic_jobs == jobs
    })
    .await;
}

/// Moves the clock and waits until the periodic launcher has looked at the jobs at the
/// new time: every launch due by then is made.
async fn advance(server: &Server, clock: &ManualClock, by: Duration) {
    clock.advance(by);
    let now = clock.now_nanos();
    eventually("the launcher to catch up with the clock", || {
        server.leader_stats().periodic_checked_through >= now
    })
    .await;
}

fn children(server: &Server, parent: &str) -> Vec<std::sync::Arc<Job>> {
    server.snapshot().children("default", parent)
}

fn invalid(error: ServerError) -> String {
    match error {
        ServerError::Invalid(errors) => errors.join("\n"),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[tokio::test]
async fn validate_reports_errors_without_registering() {
    let server = Server::start(ServerConfig::default());
    let valid = server.validate_job(batch("ok", "/bin/true"));
    assert!(valid.driver_config_validated);
    assert_eq!(valid.validation_errors, Vec::<String>::new());
    assert_eq!(valid.error, "");

    let mut bad = batch("bad", "/bin/true");
    bad.priority = 500;
    bad.task_groups[0].count = -1;
    let response = server.validate_job(bad);
    assert_eq!(response.validation_errors.len(), 2, "{response:?}");
    assert!(response.error.starts_with("2 errors occurred:\n\t* "));
    assert!(
        response
            .error
            .contains("priority must be between 1 and 100")
    );

    let mut bad_zone = periodic("cron", "@daily", false);
    if let Some(p) = bad_zone.periodic.as_mut() {
        p.time_zone = Some("Mars/Olympus".into());
    }
    let response = server.validate_job(bad_zone);
    assert!(
        response.validation_errors[0].contains("time zone \"Mars/Olympus\" is not known"),
        "{response:?}"
    );
    assert!(server.snapshot().all_jobs().next().is_none());
}

#[tokio::test]
async fn revert_registers_an_old_version_again() {
    let server = Server::start(ServerConfig::default());
    server
        .register_job(batch("web", "/bin/true"))
        .await
        .unwrap();
    server
        .register_job(batch("web", "/bin/false"))
        .await
        .unwrap();
    let current = server.snapshot().job("default", "web").unwrap();
    assert_eq!(current.version, 1);

    let error = invalid(
        server
            .revert_job("default", "web", 1, None)
            .await
            .unwrap_err(),
    );
    assert_eq!(error, "can't revert to current version");
    let missing = server
        .revert_job("default", "web", 9, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&missing, ServerError::Missing(m) if m.starts_with("job \"web\" in namespace \"default\" at version 9 not found")),
        "{missing:?}"
    );
    let error = invalid(
        server
            .revert_job("default", "web", 0, Some(7))
            .await
            .unwrap_err(),
    );
    assert_eq!(error, "Current job has version 1; enforcing version 7");
    assert!(matches!(
        server.revert_job("default", "nope", 0, None).await,
        Err(ServerError::Missing(_))
    ));

    let response = server
        .revert_job("default", "web", 0, Some(1))
        .await
        .unwrap();
    assert!(!response.eval_id.is_empty());
    let snapshot = server.snapshot();
    let reverted = snapshot.job("default", "web").unwrap();
    assert_eq!(reverted.version, 2);
    assert_eq!(
        reverted.task_groups[0].tasks[0].config["command"],
        "/bin/true"
    );
    assert_eq!(response.job_modify_index, reverted.job_modify_index);
    assert!(snapshot.eval(&response.eval_id).is_some());
}

#[tokio::test]
async fn a_job_keeps_its_type_and_kind() {
    let server = Server::start(ServerConfig::default());
    server
        .register_job(batch("web", "/bin/true"))
        .await
        .unwrap();
    let mut service = batch("web", "/bin/true");
    service.r#type = Some(JobType::Service);
    assert!(
        invalid(server.register_job(service).await.unwrap_err())
            .starts_with("cannot update job from type \"batch\" to \"service\"")
    );
    let error = invalid(
        server
            .register_job(periodic("web", "@daily", false))
            .await
            .unwrap_err(),
    );
    assert_eq!(error, "cannot update non-periodic job to being periodic");
    let mut dispatched = batch("fresh", "/bin/true");
    dispatched.dispatched = true;
    assert!(
        invalid(server.register_job(dispatched).await.unwrap_err())
            .starts_with("job can't be submitted with 'Dispatched' set")
    );
}

#[tokio::test]
async fn a_parameterized_job_is_never_scheduled_itself() {
    let server = Server::start(ServerConfig::default());
    server.register_node(node("n1")).await.unwrap();
    let response = server
        .register_job(parameterized("report", "optional", &[], &[]))
        .await
        .unwrap();
    assert_eq!(response.eval_id, "");
    assert_eq!(response.eval_create_index, 0);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let snapshot = server.snapshot();
    assert!(snapshot.evals_by_job("default", "report").is_empty());
    assert!(snapshot.allocs_by_job("default", "report").is_empty());
    let job = snapshot.job("default", "report").unwrap();
    assert_eq!(job.status, Some(JobStatus::Running));
    let stub = JobListStub::new(
        &job,
        (*snapshot.job_summary("default", "report").unwrap()).clone(),
    );
    assert!(stub.parameterized_job);

    // Stopping it is dead and needs no evaluation either.
    let stopped = server
        .deregister_job("default", "report", false)
        .await
        .unwrap();
    assert_eq!(stopped.eval_id, "");
    assert_eq!(
        server.snapshot().job("default", "report").unwrap().status,
        Some(JobStatus::Dead)
    );
}

#[tokio::test]
async fn dispatch_launches_a_child_with_meta_and_payload() {
    let server = Server::start(ServerConfig::default());
    server.register_node(node("n1")).await.unwrap();
    let mut parent = parameterized("report", "required", &["customer"], &["format"]);
    parent.meta.insert("team".into(), "billing".into());
    server.register_job(parent).await.unwrap();

    let meta = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let refused = async |payload: &[u8], m: BTreeMap<String, String>| {
        invalid(
            server
                .dispatch_job("default", "report", payload, m, "")
                .await
                .unwrap_err(),
        )
    };
    assert_eq!(
        refused(b"", meta(&[("customer", "acme")])).await,
        "Payload is not provided but required by parameterized job"
    );
    assert_eq!(
        refused(b"x", meta(&[("customer", "acme"), ("color", "red")])).await,
        "Dispatch request included unpermitted metadata keys: [color]"
    );
    assert_eq!(
        refused(b"x", meta(&[("format", "pdf")])).await,
        "Dispatch did not provide required meta keys: [customer]"
    );
    assert!(matches!(
        server
            .dispatch_job("default", "nope", b"", BTreeMap::new(), "")
            .await,
        Err(ServerError::Missing(_))
    ));
    server
        .register_job(batch("plain", "/bin/true"))
        .await
        .unwrap();
    assert!(
        invalid(
            server
                .dispatch_job("default", "plain", b"", BTreeMap::new(), "")
                .await
                .unwrap_err()
        )
        .starts_with("Specified job \"plain\" is not a parameterized job")
    );

    let response = server
        .dispatch_job(
            "default",
            "report",
            b"hello",
            meta(&[("customer", "acme"), ("format", "pdf")]),
            "",
        )
        .await
        .unwrap();
    assert!(response.dispatched_job_id.starts_with("report/dispatch-"));
    assert!(!response.eval_id.is_empty());
    assert_eq!(response.index, response.job_create_index);
    let snapshot = server.snapshot();
    let child = snapshot
        .job("default", &response.dispatched_job_id)
        .unwrap();
    assert_eq!(child.parent_id, "report");
    assert_eq!(child.name, child.id);
    assert!(child.dispatched);
    assert!(child.parameterized_job.is_none());
    assert_eq!(child.payload.as_deref(), Some("aGVsbG8="));
    assert_eq!(child.meta["customer"], "acme");
    assert_eq!(child.meta["team"], "billing");
    assert!(snapshot.eval(&response.eval_id).is_some());

    // The child is scheduled; the parent counts it.
    eventually("the child's allocation", || {
        !server
            .snapshot()
            .allocs_by_job("default", &response.dispatched_job_id)
            .is_empty()
    })
    .await;
    let summary = server.snapshot().job_summary("default", "report").unwrap();
    assert_eq!(summary.children.pending + summary.children.running, 1);

    // The allocation finishes: the child is dead, and so counted.
    let alloc = server
        .snapshot()
        .allocs_by_job("default", &response.dispatched_job_id)[0]
        .clone();
    server
        .update_allocations(
            "n1",
            "secret-n1",
            vec![AllocClientUpdate {
                id: alloc.id.clone(),
                client_status: AllocClientStatus::Complete,
                ..AllocClientUpdate::default()
            }],
        )
        .await
        .unwrap();
    let summary = server.snapshot().job_summary("default", "report").unwrap();
    assert_eq!(
        (
            summary.children.pending,
            summary.children.running,
            summary.children.dead
        ),
        (0, 0, 1)
    );

    // A stopped parent dispatches nothing; purging it leaves its children.
    server
        .deregister_job("default", "report", false)
        .await
        .unwrap();
    assert!(
        invalid(
            server
                .dispatch_job("default", "report", b"x", meta(&[("customer", "a")]), "")
                .await
                .unwrap_err()
        )
        .starts_with("Specified job \"report\" is stopped")
    );
    server
        .deregister_job("default", "report", true)
        .await
        .unwrap();
    assert!(server.snapshot().job("default", "report").is_none());
    assert!(
        server
            .snapshot()
            .job("default", &response.dispatched_job_id)
            .is_some()
    );
}

#[tokio::test]
async fn dispatch_with_an_id_prefix_template() {
    let server = Server::start(ServerConfig::default());
    server
        .register_job(parameterized("report", "forbidden", &[], &[]))
        .await
        .unwrap();
    let response = server
        .dispatch_job("default", "report", b"", BTreeMap::new(), "nightly")
        .await
        .unwrap();
    assert!(
        response
            .dispatched_job_id
            .starts_with("report/dispatch-nightly-"),
        "{}",
        response.dispatched_job_id
    );
    assert_eq!(
        server
            .snapshot()
            .job("default", &response.dispatched_job_id)
            .unwrap()
            .payload,
        None
    );
}

#[tokio::test]
async fn a_periodic_job_launches_children_on_its_schedule_until_stopped() {
    let clock = Arc::new(ManualClock::new(START));
    let server = start_at(&clock);
    server.register_node(node("n1")).await.unwrap();
    // Every second (7 fields: seconds first).
    let response = server
        .register_job(periodic("tick", "* * * * * * *", false))
        .await
        .unwrap();
    assert_eq!(response.eval_id, "");
    assert_eq!(
        server.snapshot().job("default", "tick").unwrap().status,
        Some(JobStatus::Running)
    );
    tracked(&server, 1).await;
    // Two seconds pass: one launch at each.
    for _ in 0..2 {
        advance(&server, &clock, Duration::from_secs(1)).await;
    }
    eventually("two launches", || children(&server, "tick").len() >= 2).await;
    for child in children(&server, "tick") {
        let launched: i64 = child
            .id
            .strip_prefix("tick/periodic-")
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("child ID {}", child.id));
        assert!(launched > 1_700_000_000);
        assert_eq!(child.parent_id, "tick");
        assert!(child.periodic.is_none());
        assert!(
            !server
                .snapshot()
                .evals_by_job("default", &child.id)
                .is_empty()
        );
    }
    let summary = server.snapshot().job_summary("default", "tick").unwrap();
    let counted = summary.children.pending + summary.children.running + summary.children.dead;
    assert!(counted >= 2, "{:?}", summary.children);

    server
        .deregister_job("default", "tick", false)
        .await
        .unwrap();
    // A launch may have been under way; after that, nothing more.
    advance(&server, &clock, Duration::from_millis(300)).await;
    let after_stop = children(&server, "tick").len();
    for _ in 0..2 {
        advance(&server, &clock, Duration::from_millis(1100)).await;
    }
    assert_eq!(children(&server, "tick").len(), after_stop);
}

#[tokio::test]
async fn prohibit_overlap_skips_launches_while_a_child_runs() {
    // No nodes: the first child's evaluation stays blocked, so it counts as running.
    let clock = Arc::new(ManualClock::new(START));
    let server = start_at(&clock);
    server
        .register_job(periodic("tick", "* * * * * * *", true))
        .await
        .unwrap();
    tracked(&server, 1).await;
    advance(&server, &clock, Duration::from_secs(1)).await;
    eventually("the first launch", || !children(&server, "tick").is_empty()).await;
    for step in [1000, 1000, 500] {
        advance(&server, &clock, Duration::from_millis(step)).await;
    }
    assert_eq!(children(&server, "tick").len(), 1);

    // Forcing ignores the overlap rule (Nomad's ForceRun).
    advance(&server, &clock, Duration::from_secs(1)).await;
    let forced = server.force_periodic("default", "tick").await.unwrap();
    assert!(!forced.eval_id.is_empty());
    assert_eq!(forced.index, forced.eval_create_index);
    assert_eq!(children(&server, "tick").len(), 2);
}

#[tokio::test]
async fn force_launches_a_periodic_job_now() {
    let server = Server::start(ServerConfig::default());
    server
        .register_job(periodic("nightly", "0 3 * * *", false))
        .await
        .unwrap();
    let forced = server.force_periodic("default", "nightly").await.unwrap();
    let kids = children(&server, "nightly");
    assert_eq!(kids.len(), 1);
    assert!(kids[0].id.starts_with("nightly/periodic-"));
    assert_eq!(
        server.snapshot().eval(&forced.eval_id).unwrap().job_id,
        kids[0].id
    );

    server
        .register_job(batch("plain", "/bin/true"))
        .await
        .unwrap();
    assert_eq!(
        invalid(server.force_periodic("default", "plain").await.unwrap_err()),
        "can't force launch non-periodic job"
    );
    assert!(matches!(
        server.force_periodic("default", "nope").await,
        Err(ServerError::Missing(_))
    ));
    server
        .deregister_job("default", "nightly", false)
        .await
        .unwrap();
    assert!(
        invalid(
            server
                .force_periodic("default", "nightly")
                .await
                .unwrap_err()
        )
        .starts_with("can't force run non-tracked job")
    );
}
