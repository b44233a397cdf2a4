//! What operators ask the scheduler for by hand: evaluations (`POST
//! /v1/job/:id/evaluate`, `POST /v1/node/:id/evaluate`, `caravan job eval`) and an
//! allocation stopped and replaced (`POST /v1/allocation/:id/stop`, `caravan alloc
//! stop`); and query booleans read as Nomad's Go reads them (`?purge=True`).

mod common;

use std::time::Duration;

use caravan_api_client::Method;
use common::*;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

fn post(agent: &DevAgent, path: &str, body: &Value) -> (u16, String) {
    agent.send_json(Method::Post, path, body)
}

/// Waits until evaluation `id` is complete, and returns it.
fn completed(agent: &DevAgent, id: &str) -> Value {
    let mut eval = Value::Null;
    agent.eventually(&format!("evaluation {id} to complete"), WAIT, || {
        eval = agent
            .get_json(&format!("/v1/evaluation/{id}"))
            .unwrap_or(Value::Null);
        eval["Status"] == "complete"
    });
    eval
}

#[test]
fn jobs_and_nodes_are_evaluated_on_request() {
    let agent = DevAgent::start();
    let (status, body) = agent.send_json(
        Method::Put,
        "/v1/jobs",
        &sleeping_job("sleepy", "service", 1, 16),
    );
    assert_eq!(status, 200, "{body}");
    agent.wait_for_alloc_status("sleepy", &["running"], "run", WAIT);

    // An empty body, as python-nomad and Nomad's CLI may send.
    let (status, body) = agent.send_json(Method::Put, "/v1/job/sleepy/evaluate", &Value::Null);
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    let eval_id = answer["EvalID"].as_str().unwrap().to_string();
    assert!(answer["EvalCreateIndex"].as_u64().unwrap() > 0, "{answer}");
    let eval = completed(&agent, &eval_id);
    assert_eq!(eval["TriggeredBy"], "job-register");
    assert_eq!(eval["JobID"], "sleepy");
    // Nothing changed, so nothing moved: still the one allocation.
    assert_eq!(agent.allocations("sleepy").len(), 1);

    for (path, body, want) in [
        (
            "/v1/job/sleepy/evaluate",
            json!({"JobID": "other"}),
            (400, "Job ID does not match"),
        ),
        ("/v1/job/ghost/evaluate", json!({}), (404, "job not found")),
    ] {
        let (status, text) = post(&agent, path, &body);
        assert_eq!((status, text.trim()), want, "{path} {body}");
    }
    let (status, text) = post(
        &agent,
        "/v1/job/sleepy/evaluate",
        &json!({"EvalOptions": {"ForceReschedule": true}}),
    );
    assert_eq!(status, 400);
    assert!(text.contains("ForceReschedule is not supported"), "{text}");

    // The node: an evaluation of each job it runs.
    let node_id = agent.node_id();
    let (status, body) = post(
        &agent,
        &format!("/v1/node/{node_id}/evaluate"),
        &Value::Null,
    );
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    let ids = answer["EvalIDs"].as_array().unwrap();
    assert_eq!(ids.len(), 1, "{answer}");
    let eval = completed(&agent, ids[0].as_str().unwrap());
    assert_eq!(
        (&eval["TriggeredBy"], &eval["JobID"], &eval["NodeID"]),
        (
            &json!("node-update"),
            &json!("sleepy"),
            &json!(node_id.as_str())
        )
    );
    let (status, text) = post(&agent, "/v1/node/nope/evaluate", &Value::Null);
    assert_eq!((status, text.trim()), (404, "node not found"));

    // The CLI: detached, Nomad's line; otherwise the evaluation's monitor.
    let work = tempfile::tempdir().unwrap();
    let detached = succeeded(&agent.cli(&["job", "eval", "-detach", "sleepy"], work.path()));
    assert!(
        detached.starts_with("Created eval ID: \"") && detached.trim_end().ends_with('"'),
        "{detached}"
    );
    let monitored = succeeded(&agent.cli(&["job", "eval", "sle"], work.path()));
    assert!(monitored.contains("Monitoring evaluation"), "{monitored}");
    assert!(
        monitored.contains("finished with status \"complete\""),
        "{monitored}"
    );
    let missing = agent.cli(&["job", "eval", "ghost"], work.path());
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("No job(s) with prefix or ID \"ghost\" found"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn query_booleans_read_as_go_does() {
    let agent = DevAgent::start();
    let (status, body) = agent.send_json(
        Method::Put,
        "/v1/jobs",
        &sleeping_job("short", "batch", 1, 16),
    );
    assert_eq!(status, 200, "{body}");
    let (status, text) = agent.send_json(Method::Delete, "/v1/job/short?purge=yes", &Value::Null);
    assert_eq!(
        (status, text.trim()),
        (
            400,
            "Failed to parse value of \"purge\" (yes) as a bool: strconv.ParseBool: parsing \"yes\": invalid syntax"
        )
    );
    assert!(agent.get_json("/v1/job/short").is_ok(), "nothing was done");
    let (status, body) = agent.send_json(Method::Delete, "/v1/job/short?purge=True", &Value::Null);
    assert_eq!(status, 200, "{body}");
    agent.eventually("the purge", WAIT, || {
        agent
            .get_json("/v1/job/short")
            .is_err_and(|e| e.starts_with("404"))
    });
}

#[test]
fn a_stopped_allocation_is_replaced() {
    let agent = DevAgent::start();
    let (status, body) = agent.send_json(
        Method::Put,
        "/v1/jobs",
        &sleeping_job("sleepy", "service", 1, 16),
    );
    assert_eq!(status, 200, "{body}");
    let first = agent.wait_for_alloc_status("sleepy", &["running"], "run", WAIT);
    let first_id = first["ID"].as_str().unwrap().to_string();
    let work = tempfile::tempdir().unwrap();
    let out = succeeded(&agent.cli(&["alloc", "stop", "-detach", &first_id[..8]], work.path()));
    let eval_id = out.trim();
    assert_eq!(eval_id.len(), 36, "the evaluation's ID: {out}");
    let eval = completed(&agent, eval_id);
    assert_eq!(eval["TriggeredBy"], "alloc-stop");
    agent.eventually("a replacement to run", WAIT, || {
        agent.allocations("sleepy").iter().any(|a| {
            a["ClientStatus"] == "running"
                && a["DesiredStatus"] == "run"
                && a["ID"] != first_id.as_str()
        })
    });
    let stopped = agent.allocation(&first_id);
    assert_eq!(stopped["DesiredStatus"], "stop");
    assert_eq!(stopped["DesiredDescription"], "alloc is being migrated");
    assert_eq!(stopped["DesiredTransition"]["Migrate"], true);
    let replacement = agent.allocation(stopped["NextAllocation"].as_str().unwrap());
    assert_eq!(replacement["PreviousAllocation"], first_id.as_str());

    // Monitored, as Nomad's CLI does without -detach.
    let second = replacement["ID"].as_str().unwrap().to_string();
    let monitored = succeeded(&agent.cli(&["alloc", "stop", &second], work.path()));
    assert!(monitored.contains("Monitoring evaluation"), "{monitored}");
    let (status, text) = post(&agent, "/v1/allocation/nope/stop", &Value::Null);
    assert_eq!((status, text.trim()), (404, "alloc not found"));
}

#[test]
fn summaries_are_reconciled_on_request() {
    let agent = DevAgent::start();
    let (status, body) = agent.send_json(
        Method::Put,
        "/v1/jobs",
        &sleeping_job("sleepy", "service", 2, 16),
    );
    assert_eq!(status, 200, "{body}");
    agent.eventually("two running allocations", WAIT, || {
        agent
            .get_json("/v1/job/sleepy/summary")
            .is_ok_and(|s| s["Summary"]["g"]["Running"] == 2)
    });
    let (status, text) =
        agent.send_json(Method::Put, "/v1/system/reconcile/summaries", &Value::Null);
    assert_eq!((status, text.as_str()), (200, ""));
    let work = tempfile::tempdir().unwrap();
    let out = succeeded(&agent.cli(&["system", "reconcile", "summaries"], work.path()));
    assert_eq!(out, "", "Nomad's command prints nothing");
    let summary = agent.get_json("/v1/job/sleepy/summary").unwrap();
    assert_eq!(summary["Summary"]["g"]["Running"], 2, "{summary}");
}
