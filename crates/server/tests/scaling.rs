//! Scaling policies kept in step with their jobs, and `job scale`: a new count as a new
//! version with its evaluation and event, an event alone, and Nomad's refusals.

use std::collections::BTreeMap;

use caravan_api_types::JobScaleRequest;
use caravan_server::{Server, ServerConfig};
use caravan_structs::*;
use caravan_testkit as testkit;

fn web(min: i64, max: i64) -> Job {
    testkit::job("web")
        .count(1)
        .datacenters(&["nowhere"])
        .command("/bin/true")
        .scaling(min, max)
        .build()
}

fn scale_to(count: Option<i64>, group: &str) -> JobScaleRequest {
    JobScaleRequest {
        count,
        target: BTreeMap::from([("Group".to_string(), group.to_string())]),
        message: "by the test".to_string(),
        ..JobScaleRequest::default()
    }
}

#[tokio::test]
async fn a_groups_policy_is_stored_with_its_target_and_keeps_its_id_across_updates() {
    let server = Server::start(ServerConfig::default());
    server.register_job(web(1, 5)).await.unwrap();
    let snapshot = server.snapshot();
    let policies = snapshot.scaling_policies_by_job("default", "web");
    let [policy] = policies.as_slice() else {
        panic!("one policy expected: {policies:?}");
    };
    let policy = policy.clone();
    assert_eq!(policy.r#type, "horizontal");
    assert_eq!(
        policy.target,
        BTreeMap::from([
            ("Namespace".to_string(), "default".to_string()),
            ("Job".to_string(), "web".to_string()),
            ("Group".to_string(), "g".to_string()),
        ])
    );
    assert_eq!(
        (policy.min, policy.max, policy.enabled),
        (Some(1), Some(5), Some(true))
    );
    assert!(policy.create_index > 0);
    // The job shows the same policy.
    let job = snapshot.job("default", "web").unwrap();
    assert_eq!(job.task_groups[0].scaling.as_ref().unwrap().id, policy.id);

    // The same job again: nothing changes.
    server.register_job(web(1, 5)).await.unwrap();
    let again = server.snapshot().scaling_policy(&policy.id).unwrap();
    assert_eq!(again, policy);
    assert_eq!(server.snapshot().job("default", "web").unwrap().version, 0);

    // A new maximum: same ID, a new modify index.
    server.register_job(web(1, 8)).await.unwrap();
    let updated = server.snapshot().scaling_policy(&policy.id).unwrap();
    assert_eq!(updated.max, Some(8));
    assert_eq!(updated.create_index, policy.create_index);
    assert!(updated.modify_index > policy.modify_index);

    // No scaling block: no policy.
    let plain = testkit::job("web")
        .count(1)
        .datacenters(&["nowhere"])
        .command("/bin/true")
        .build();
    server.register_job(plain).await.unwrap();
    assert!(server.snapshot().scaling_policy(&policy.id).is_none());
    assert!(
        server
            .snapshot()
            .scaling_policies_by_job("default", "web")
            .is_empty()
    );
}

#[tokio::test]
async fn purging_a_job_removes_its_policies_and_events_and_stopping_keeps_them() {
    let server = Server::start(ServerConfig::default());
    server.register_job(web(1, 5)).await.unwrap();
    server
        .scale_job("default", "web", scale_to(Some(2), "g"))
        .await
        .unwrap();
    server
        .deregister_job("default", "web", false)
        .await
        .unwrap();
    assert_eq!(server.snapshot().scaling_policies_by_prefix("").len(), 1);
    assert!(server.snapshot().scaling_events("default", "web").is_some());
    server.deregister_job("default", "web", true).await.unwrap();
    assert!(server.snapshot().scaling_policies_by_prefix("").is_empty());
    assert!(server.snapshot().scaling_events("default", "web").is_none());
}

#[tokio::test]
async fn scaling_makes_a_new_version_with_an_evaluation_and_records_the_event() {
    let server = Server::start(ServerConfig::default());
    server.register_job(web(1, 5)).await.unwrap();
    let policy_id = server.snapshot().scaling_policies_by_prefix("")[0]
        .id
        .clone();
    let response = server
        .scale_job("default", "web", scale_to(Some(3), "g"))
        .await
        .unwrap();
    let snapshot = server.snapshot();
    let job = snapshot.job("default", "web").unwrap();
    assert_eq!(job.task_groups[0].count, 3);
    assert_eq!(job.version, 1);
    assert_eq!(response.job_modify_index, job.job_modify_index);
    let eval = snapshot.eval(&response.eval_id).unwrap();
    assert_eq!(eval.triggered_by, EvalTrigger::JobScaling);
    assert_eq!(response.eval_create_index, eval.create_index);
    // The policy is the same one.
    assert_eq!(snapshot.scaling_policies_by_prefix("")[0].id, policy_id);
    let events = snapshot.scaling_events("default", "web").unwrap();
    let [event] = &events.scaling_events["g"][..] else {
        panic!("one event expected: {events:?}");
    };
    assert_eq!(event.count, Some(3));
    assert_eq!(event.previous_count, 1);
    assert_eq!(event.message, "by the test");
    assert_eq!(event.eval_id.as_deref(), Some(response.eval_id.as_str()));
    assert!(event.create_index > 0);
}

#[tokio::test]
async fn an_event_without_a_count_changes_nothing_else() {
    let server = Server::start(ServerConfig::default());
    server.register_job(web(1, 5)).await.unwrap();
    let request = JobScaleRequest {
        error: true,
        message: "metric source down".to_string(),
        ..scale_to(None, "g")
    };
    let response = server.scale_job("default", "web", request).await.unwrap();
    assert!(response.eval_id.is_empty());
    let snapshot = server.snapshot();
    assert_eq!(snapshot.job("default", "web").unwrap().version, 0);
    let events = snapshot.scaling_events("default", "web").unwrap();
    let event = &events.scaling_events["g"][0];
    assert!(event.error);
    assert_eq!((event.count, event.eval_id.as_deref()), (None, None));
}

#[tokio::test]
async fn only_the_latest_twenty_events_of_a_group_are_kept() {
    let server = Server::start(ServerConfig::default());
    server.register_job(web(1, 5)).await.unwrap();
    for i in 0..25 {
        let request = JobScaleRequest {
            message: format!("event {i}"),
            ..scale_to(None, "g")
        };
        server.scale_job("default", "web", request).await.unwrap();
    }
    let events = server.snapshot().scaling_events("default", "web").unwrap();
    let kept = &events.scaling_events["g"];
    assert_eq!(kept.len(), 20);
    assert_eq!(kept[0].message, "event 24");
    assert_eq!(kept[19].message, "event 5");
}

#[tokio::test]
async fn refusals_carry_nomads_messages() {
    let server = Server::start(ServerConfig::default());
    server.register_job(web(1, 5)).await.unwrap();
    let refused = |request: JobScaleRequest| {
        let server = server.clone();
        async move {
            server
                .scale_job("default", "web", request)
                .await
                .unwrap_err()
                .to_string()
        }
    };
    assert_eq!(
        refused(scale_to(Some(9), "g")).await,
        "group count was greater than scaling policy maximum: 9 > 5"
    );
    assert_eq!(
        refused(scale_to(Some(0), "g")).await,
        "group count was less than scaling policy minimum: 0 < 1"
    );
    assert_eq!(
        refused(scale_to(Some(-1), "g")).await,
        "scaling action count can't be negative"
    );
    assert_eq!(
        refused(scale_to(Some(2), "nope")).await,
        "task group \"nope\" specified for scaling does not exist in job"
    );
    assert_eq!(
        refused(scale_to(Some(2), "")).await,
        "missing task group name for scaling action"
    );
    assert_eq!(
        refused(JobScaleRequest {
            error: true,
            ..scale_to(Some(2), "g")
        })
        .await,
        "scaling action should not contain count if error is true"
    );
    let missing = server
        .scale_job("default", "ghost", scale_to(Some(2), "g"))
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(missing, "job \"ghost\" not found");
    // Nothing was stored by a refusal.
    assert!(server.snapshot().scaling_events("default", "web").is_none());
    assert_eq!(server.snapshot().job("default", "web").unwrap().version, 0);

    let system = testkit::job("sys")
        .kind(JobType::System)
        .datacenters(&["nowhere"])
        .command("/bin/true")
        .build();
    server.register_job(system).await.unwrap();
    let error = server
        .scale_job("default", "sys", scale_to(Some(2), "g"))
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(error, "cannot scale jobs of type \"system\"");
}

#[tokio::test]
async fn a_job_outside_its_policy_bounds_is_refused_at_submit() {
    let server = Server::start(ServerConfig::default());
    let cases = [
        (
            web(1, 5).with_count(7),
            "task group count must not be greater than maximum count in scaling policy",
        ),
        (
            web(3, 5),
            "task group count must not be less than minimum count in scaling policy",
        ),
        (
            web(6, 5),
            "maximum count must not be less than minimum count",
        ),
        (
            web(-1, 5),
            "minimum count must be specified and non-negative",
        ),
        (
            web(0, -1),
            "maximum count must be specified and non-negative",
        ),
    ];
    for (job, expected) in cases {
        let error = server.register_job(job).await.unwrap_err().to_string();
        assert!(
            error.contains(&format!("group \"g\": Scaling policy invalid: {expected}")),
            "{error}"
        );
    }
    let mut without_max = web(1, 5);
    without_max.task_groups[0].scaling.as_mut().unwrap().max = None;
    let error = server
        .register_job(without_max)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("Scaling policy invalid: maximum count must be specified and non-negative"),
        "{error}"
    );
}

trait WithCount {
    fn with_count(self, count: i64) -> Self;
}

impl WithCount for Job {
    fn with_count(mut self, count: i64) -> Job {
        self.task_groups[0].count = count;
        self
    }
}

#[tokio::test]
async fn preserve_counts_keeps_the_scaled_count_of_a_resubmitted_job() {
    let server = Server::start(ServerConfig::default());
    server.register_job(web(1, 5)).await.unwrap();
    server
        .scale_job("default", "web", scale_to(Some(4), "g"))
        .await
        .unwrap();
    let mut updated = web(1, 5);
    updated.meta.insert("release".to_string(), "2".to_string());
    server
        .register_submitted_job(updated.clone(), None, true)
        .await
        .unwrap();
    let job = server.snapshot().job("default", "web").unwrap();
    assert_eq!(job.task_groups[0].count, 4);
    assert_eq!(job.meta["release"], "2");
    // Without it, the file's count wins again.
    server.register_job(updated).await.unwrap();
    let job = server.snapshot().job("default", "web").unwrap();
    assert_eq!(job.task_groups[0].count, 1);
}
