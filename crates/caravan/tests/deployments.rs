//! Deployments end to end, through the HTTP API: a rolling update, health judged by an
//! HTTP check on the servers the job runs, that never drops below `count -
//! max_parallel` healthy allocations; canaries promoted by hand and automatically; an
//! update whose check never passes failing at its healthy deadline and reverted to the
//! last stable version; the refusals Nomad gives for bad update blocks and actions on
//! finished deployments.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use caravan_api_client::Method;
use common::*;
use serde_json::{Value, json};

/// A service job `web` of `count` python web servers on dynamic ports, whose responses
/// carry `version`, rolled out under `update`, each checked with an HTTP GET of `/`.
fn web_job(count: i64, version: &str, update: Value) -> Value {
    web_job_running(count, version, update, python_server(), "/")
}

fn python_server() -> Value {
    json!({"command": "/usr/bin/python3", "args": ["-m", "http.server", "${NOMAD_PORT_http}", "--bind", "127.0.0.1"]})
}

fn web_job_running(
    count: i64,
    version: &str,
    update: Value,
    config: Value,
    check_path: &str,
) -> Value {
    json!({"Job": {
        "ID": "web",
        "Type": "service",
        "Datacenters": ["dc1"],
        "TaskGroups": [{
            "Name": "web",
            "Count": count,
            "Update": update,
            "Networks": [{"DynamicPorts": [{"Label": "http"}]}],
            "Services": [{
                "Name": "web",
                "Provider": "nomad",
                "PortLabel": "http",
                "Checks": [{
                    "Type": "http",
                    "Path": check_path,
                    "Interval": SECOND,
                    "Timeout": SECOND,
                }],
            }],
            "RestartPolicy": {"Attempts": 10, "Interval": 600_000_000_000i64, "Delay": 500_000_000, "Mode": "fail"},
            "Tasks": [{
                "Name": "server",
                "Driver": "raw_exec",
                "Config": config,
                "Env": {"VERSION": version},
                "Resources": {"CPU": 20, "MemoryMB": 32},
            }],
        }],
    }})
}

const SECOND: i64 = 1_000_000_000;

fn rolling(max_parallel: i64) -> Value {
    json!({
        "MaxParallel": max_parallel,
        "HealthCheck": "checks",
        "MinHealthyTime": 2 * SECOND,
        "HealthyDeadline": 20 * SECOND,
        "ProgressDeadline": 60 * SECOND,
    })
}

fn register(agent: &DevAgent, job: &Value) -> Value {
    let (status, body) = agent.send_json(Method::Put, "/v1/jobs", job);
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("JSON")
}

/// The job's newest deployment, once there is one for `version`.
fn deployment_of(agent: &DevAgent, version: u64) -> Value {
    let mut found = Value::Null;
    agent.eventually(
        &format!("a deployment of version {version}"),
        Duration::from_secs(20),
        || {
            found = agent
                .get_json("/v1/job/web/deployment")
                .unwrap_or(Value::Null);
            found["JobVersion"] == version
        },
    );
    found
}

/// Waits until the deployment reaches `status`, and returns it.
fn wait_for_status(agent: &DevAgent, id: &str, status: &str, timeout: Duration) -> Value {
    let mut found = Value::Null;
    agent.eventually(&format!("deployment {id} to be {status}"), timeout, || {
        found = agent
            .get_json(&format!("/v1/deployment/{id}"))
            .unwrap_or(Value::Null);
        found["Status"] == status
    });
    found
}

/// The allocations the servers want running, as (version, healthy, canary).
fn running(agent: &DevAgent) -> Vec<(u64, bool, bool)> {
    agent
        .allocations("web")
        .iter()
        .filter(|a| a["DesiredStatus"] == "run" && a["ClientStatus"] == "running")
        .map(|a| {
            (
                a["JobVersion"].as_u64().unwrap_or(0),
                a["DeploymentStatus"]["Healthy"] == true,
                a["DeploymentStatus"]["Canary"] == true,
            )
        })
        .collect()
}

/// The first `job run`: its deployment ends successful and the version is stable.
fn run_first_version(agent: &DevAgent, count: i64, update: Value) -> Value {
    register(agent, &web_job(count, "1", update));
    let first = deployment_of(agent, 0);
    let id = first["ID"].as_str().unwrap().to_string();
    let done = wait_for_status(agent, &id, "successful", Duration::from_secs(60));
    assert_eq!(
        done["StatusDescription"],
        "Deployment completed successfully"
    );
    assert_eq!(done["TaskGroups"]["web"]["HealthyAllocs"], count);
    let job = agent.get_json("/v1/job/web").unwrap();
    assert_eq!(
        job["Stable"], true,
        "a successful deployment makes its version stable"
    );
    done
}

#[test]
fn a_rolling_update_keeps_all_but_max_parallel_healthy() {
    let agent = DevAgent::start();
    run_first_version(&agent, 4, rolling(1));

    // Sample what runs healthy every 100 ms while version 2 rolls out.
    let lowest = Arc::new(AtomicUsize::new(usize::MAX));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (lowest, done) = (lowest.clone(), done.clone());
        let address = agent.addr();
        std::thread::spawn(move || {
            let api = client_of(&address);
            while !done.load(Ordering::SeqCst) {
                let allocs: Vec<Value> =
                    block_on(api.send_raw(Method::Get, "/v1/job/web/allocations", None))
                        .ok()
                        .and_then(|answer| serde_json::from_str::<Value>(&answer.body).ok())
                        .and_then(|v| v.as_array().cloned())
                        .unwrap_or_default();
                let healthy = allocs
                    .iter()
                    .filter(|a| {
                        a["DesiredStatus"] == "run"
                            && a["ClientStatus"] == "running"
                            && a["DeploymentStatus"]["Healthy"] == true
                    })
                    .count();
                lowest.fetch_min(healthy, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let response = register(&agent, &web_job(4, "2", rolling(1)));
    assert!(!response["EvalID"].as_str().unwrap_or("").is_empty());
    let second = deployment_of(&agent, 1);
    let id = second["ID"].as_str().unwrap();
    let done_deployment = wait_for_status(&agent, id, "successful", Duration::from_secs(90));
    done.store(true, Ordering::SeqCst);
    sampler.join().unwrap();

    let lowest = lowest.load(Ordering::SeqCst);
    assert!(
        lowest >= 3,
        "at some moment only {lowest} allocations were healthy"
    );
    let group = &done_deployment["TaskGroups"]["web"];
    assert_eq!(group["DesiredTotal"], 4);
    assert_eq!(group["PlacedAllocs"], 4);
    assert_eq!(group["HealthyAllocs"], 4);
    assert_eq!(group["UnhealthyAllocs"], 0);
    let now = running(&agent);
    assert_eq!(now.len(), 4, "{now:?}");
    assert!(
        now.iter()
            .all(|(version, healthy, _)| *version == 1 && *healthy)
    );
    let job = agent.get_json("/v1/job/web").unwrap();
    assert_eq!(
        (job["Version"].as_u64(), &job["Stable"]),
        (Some(1), &json!(true))
    );
    // The deployment's allocations are the four it placed.
    let placed = agent
        .get_json(&format!("/v1/deployment/allocations/{id}"))
        .unwrap();
    assert_eq!(placed.as_array().map(Vec::len), Some(4));
    // The evaluation that started it names it.
    let evals = agent.get_json("/v1/job/web/evaluations").unwrap();
    assert!(
        evals
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["DeploymentID"] == id),
        "{evals}"
    );
}

#[test]
fn canaries_run_beside_the_old_version_until_promoted() {
    let agent = DevAgent::start();
    let mut canary = rolling(1);
    canary["Canary"] = json!(1);
    run_first_version(&agent, 4, canary.clone());

    register(&agent, &web_job(4, "2", canary.clone()));
    let second = deployment_of(&agent, 1);
    let id = second["ID"].as_str().unwrap().to_string();
    agent.eventually("the canary to be healthy", Duration::from_secs(30), || {
        agent
            .get_json(&format!("/v1/deployment/{id}"))
            .is_ok_and(|d| d["TaskGroups"]["web"]["HealthyAllocs"] == 1)
    });
    let waiting = agent.get_json(&format!("/v1/deployment/{id}")).unwrap();
    assert_eq!(waiting["Status"], "running");
    assert_eq!(
        waiting["StatusDescription"],
        "Deployment is running but requires manual promotion"
    );
    assert_eq!(waiting["TaskGroups"]["web"]["DesiredCanaries"], 1);
    assert_eq!(
        waiting["TaskGroups"]["web"]["PlacedCanaries"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    // It stays that way: the canary runs beside the four old allocations.
    std::thread::sleep(Duration::from_secs(3));
    let mut now = running(&agent);
    now.sort();
    assert_eq!(
        now,
        vec![
            (0, true, false),
            (0, true, false),
            (0, true, false),
            (0, true, false),
            (1, true, true)
        ]
    );

    let (status, body) = agent.send_json(
        Method::Post,
        &format!("/v1/deployment/promote/{id}"),
        &json!({"DeploymentID": id, "All": true}),
    );
    assert_eq!(status, 200, "{body}");
    let promoted: Value = serde_json::from_str(&body).unwrap();
    assert!(!promoted["EvalID"].as_str().unwrap_or("").is_empty());
    let done = wait_for_status(&agent, &id, "successful", Duration::from_secs(90));
    assert_eq!(done["TaskGroups"]["web"]["Promoted"], true);
    let now = running(&agent);
    assert_eq!(
        now.len(),
        4,
        "the canary took an old allocation's place: {now:?}"
    );
    assert!(now.iter().all(|(version, _, _)| *version == 1));

    // With auto_promote, the same happens with no command.
    canary["AutoPromote"] = json!(true);
    register(&agent, &web_job(4, "3", canary));
    let third = deployment_of(&agent, 2);
    assert_eq!(
        third["StatusDescription"],
        "Deployment is running pending automatic promotion"
    );
    let id = third["ID"].as_str().unwrap();
    let done = wait_for_status(&agent, id, "successful", Duration::from_secs(90));
    assert_eq!(done["TaskGroups"]["web"]["Promoted"], true);
    assert!(running(&agent).iter().all(|(version, _, _)| *version == 2));
}

#[test]
fn a_failing_update_is_reverted_to_the_stable_version() {
    let agent = DevAgent::start();
    let mut update = rolling(1);
    update["AutoRevert"] = json!(true);
    update["HealthyDeadline"] = json!(6 * SECOND);
    run_first_version(&agent, 2, update.clone());

    // Version 2 runs, but its check asks for a page the server does not have: the check
    // never passes, so its first allocation is unhealthy at the healthy deadline.
    let server = python_server();
    register(
        &agent,
        &web_job_running(2, "2", update.clone(), server, "/missing"),
    );
    let second = deployment_of(&agent, 1);
    let id = second["ID"].as_str().unwrap();
    let failed = wait_for_status(&agent, id, "failed", Duration::from_secs(60));
    assert_eq!(
        failed["StatusDescription"],
        "Failed due to unhealthy allocations - rolling back to job version 0"
    );
    assert_eq!(failed["TaskGroups"]["web"]["UnhealthyAllocs"], 1);
    // Only one old allocation was ever replaced: max_parallel.
    assert_eq!(failed["TaskGroups"]["web"]["PlacedAllocs"], 1);

    // The job is back at version 0's specification, as version 2, and runs.
    let job = agent.get_json("/v1/job/web").unwrap();
    assert_eq!(job["Version"], 2);
    assert_eq!(job["TaskGroups"][0]["Tasks"][0]["Env"]["VERSION"], "1");
    let revert = deployment_of(&agent, 2);
    let revert_id = revert["ID"].as_str().unwrap();
    wait_for_status(&agent, revert_id, "successful", Duration::from_secs(60));
    let now = running(&agent);
    assert_eq!(now.len(), 2, "{now:?}");
    assert!(
        now.iter()
            .all(|(version, healthy, _)| *version == 2 && *healthy)
    );
    let versions = agent.get_json("/v1/job/web/versions").unwrap();
    let stable: Vec<(u64, bool)> = versions["Versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["Version"].as_u64().unwrap(), v["Stable"] == true))
        .collect();
    assert_eq!(stable, vec![(2, true), (1, false), (0, true)]);
}

#[test]
fn bad_update_blocks_and_actions_on_finished_deployments_are_refused() {
    let agent = DevAgent::start();
    let refused = |update: Value, want: &str| {
        let (status, body) = agent.send_json(Method::Put, "/v1/jobs", &web_job(2, "1", update));
        assert_eq!(status, 400, "{body}");
        assert!(body.contains(want), "{body}");
    };
    let mut too_many = rolling(1);
    too_many["Canary"] = json!(3);
    refused(
        too_many,
        "group \"web\": update: canary count (3) can not be greater than the group's count (2)",
    );
    let mut no_parallel = rolling(0);
    no_parallel["Canary"] = json!(1);
    refused(
        no_parallel,
        "group \"web\": update: canary (1) requires max_parallel greater than zero",
    );
    let mut backwards = rolling(1);
    backwards["MinHealthyTime"] = json!(30 * SECOND);
    refused(
        backwards,
        "min_healthy_time must be less than healthy_deadline",
    );

    let done = run_first_version(&agent, 1, rolling(1));
    let id = done["ID"].as_str().unwrap();
    for (action, body, want) in [
        (
            "promote",
            json!({"All": true}),
            "can't promote terminal deployment",
        ),
        ("fail", json!({}), "can't fail terminal deployment"),
        (
            "pause",
            json!({"Pause": true}),
            "can't pause terminal deployment",
        ),
        (
            "pause",
            json!({"Pause": false}),
            "can't resume terminal deployment",
        ),
        (
            "allocation-health",
            json!({"HealthyAllocationIDs": ["x"]}),
            "can't set health of allocations for a terminal deployment",
        ),
        ("unblock", json!({}), "can't unblock terminal deployment"),
    ] {
        let (status, answer) = agent.send_json(
            Method::Post,
            &format!("/v1/deployment/{action}/{id}"),
            &body,
        );
        assert_eq!((status, answer.as_str()), (500, want), "{action}");
    }
    let (status, answer) = agent.send_json(
        Method::Post,
        "/v1/deployment/promote/00000000-0000-0000-0000-000000000000",
        &json!({"All": true}),
    );
    assert_eq!((status, answer.as_str()), (404, "deployment not found"));
}
