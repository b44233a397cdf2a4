//! Scaling end to end: a running service job scaled from 1 to 3 and back through the
//! CLI and the API, with its scaling events; the group's policy listed and shown by the
//! CLI; Nomad's refusals; the policy kept across a restart of a server with a data_dir.

mod common;

use std::time::Duration;

use caravan_api_client::Method;
use common::*;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

/// A service job `web` of one group `g` (count 1, `scaling { min = 1 max = 5 }`) whose
/// raw_exec task sleeps, in `datacenter`. Its deployments take a second; in a datacenter
/// without clients (where none would ever end, and Nomad refuses to scale a job whose
/// deployment is running) it has none (`max_parallel = 0`).
fn scalable_job(datacenter: &str) -> String {
    let max_parallel = if datacenter == NO_CLIENTS { 0 } else { 1 };
    format!(
        r#"job "web" {{
  datacenters = ["{datacenter}"]
  group "g" {{
    count = 1
    update {{
      max_parallel     = {max_parallel}
      min_healthy_time = "1s"
    }}
    scaling {{
      min = 1
      max = 5
      policy {{
        cooldown = "1m"
      }}
    }}
    task "t" {{
      driver = "raw_exec"
      config {{
        command = "/bin/sleep"
        args    = ["600"]
      }}
      resources {{
        cpu    = 20
        memory = 16
      }}
    }}
  }}
}}
"#
    )
}

fn running_allocs(agent: &Agent) -> usize {
    agent
        .allocations("web")
        .iter()
        .filter(|a| a["ClientStatus"] == "running" && a["DesiredStatus"] == "run")
        .count()
}

/// The `Running` column of group `g` in `job status`'s summary.
fn status_running(agent: &Agent, dir: &std::path::Path) -> String {
    let out = succeeded(&agent.cli(&["job", "status", "web"], dir));
    let mut lines = out.lines().skip_while(|l| !l.starts_with("Task Group"));
    let header: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    let column = header.iter().position(|h| *h == "Running");
    let row: Vec<&str> = lines
        .find(|l| l.starts_with("g "))
        .unwrap_or("")
        .split_whitespace()
        .collect();
    // "Task Group" is two words in the header, one in the row.
    column
        .and_then(|c| row.get(c - 1))
        .map_or_else(|| panic!("no summary in:\n{out}"), |v| v.to_string())
}

fn scale_status(agent: &Agent) -> Value {
    agent.get_json("/v1/job/web/scale").expect("scale status")
}

#[test]
fn a_running_service_job_scales_up_and_down_through_the_cli_and_the_api() {
    let agent = Agent::start();
    let work = tempfile::tempdir().unwrap();
    agent.run_job(work.path(), "web.nomad", &scalable_job("dc1"), &[], "web");
    agent.eventually("one running allocation", WAIT, || {
        running_allocs(&agent) == 1
    });
    // Nomad refuses to scale while the job's deployment runs.
    agent.wait_for_deployment("web");

    // Up to 3 with the CLI: it monitors the evaluation as `job run` does.
    let out = succeeded(&agent.cli(&["job", "scale", "web", "3"], work.path()));
    assert!(out.contains("Monitoring evaluation"), "{out}");
    assert!(out.contains("finished with status \"complete\""), "{out}");
    agent.eventually("three running allocations", WAIT, || {
        running_allocs(&agent) == 3
    });
    // Stopped allocations count as running until their client reports them stopped.
    agent.eventually("job status to show 3 running", WAIT, || {
        status_running(&agent, work.path()) == "3"
    });
    let job = agent.get_json("/v1/job/web").unwrap();
    assert_eq!(job["TaskGroups"][0]["Count"], 3);
    assert_eq!(job["Version"], 1);
    agent.wait_for_deployment("web");
    let scale = scale_status(&agent);
    assert_eq!(scale["TaskGroups"]["g"]["Healthy"], 3, "{scale}");
    // The job file again with -preserve-counts: the scaled count stays, nothing changes.
    succeeded(&agent.cli(
        &["job", "run", "-detach", "-preserve-counts", "web.nomad"],
        work.path(),
    ));
    let job = agent.get_json("/v1/job/web").unwrap();
    assert_eq!(job["TaskGroups"][0]["Count"], 3);
    assert_eq!(job["Version"], 1);

    let events = succeeded(&agent.cli(&["job", "scaling-events", "web"], work.path()));
    let lines: Vec<&str> = events.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["Task", "Group", "Count", "PrevCount", "Date"]
    );
    assert_eq!(
        lines[1].split_whitespace().take(3).collect::<Vec<_>>(),
        ["g", "3", "1"]
    );

    // Down to 1 with the API.
    let (status, body) = agent.send_json(
        Method::Post,
        "/v1/job/web/scale",
        &json!({"Count": 1, "Target": {"Group": "g"}, "Message": "quiet night", "Meta": {"by": "test"}}),
    );
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    let eval_id = answer["EvalID"].as_str().unwrap().to_string();
    assert!(answer["EvalCreateIndex"].as_u64().unwrap() > 0, "{answer}");
    assert!(answer["JobModifyIndex"].as_u64().unwrap() > 0, "{answer}");
    agent.eventually("one running allocation again", WAIT, || {
        running_allocs(&agent) == 1
    });
    // Stopped allocations count as running until their client reports them stopped.
    agent.eventually("job status to show 1 running", WAIT, || {
        status_running(&agent, work.path()) == "1"
    });

    // The events, newest first.
    let scale = scale_status(&agent);
    assert_eq!(scale["JobID"], "web");
    assert_eq!(scale["Namespace"], "default");
    assert_eq!(scale["JobStopped"], false);
    let group = &scale["TaskGroups"]["g"];
    assert_eq!(group["Desired"], 1);
    assert_eq!(group["Running"], 1);
    let events = group["Events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0]["Count"], 1);
    assert_eq!(events[0]["PreviousCount"], 3);
    assert_eq!(events[0]["Message"], "quiet night");
    assert_eq!(events[0]["Meta"]["by"], "test");
    assert_eq!(events[0]["EvalID"], eval_id.as_str());
    assert_eq!(events[1]["Count"], 3);
    assert_eq!(events[1]["PreviousCount"], 1);
    assert_eq!(events[1]["Message"], "submitted using the Nomad CLI");
    assert_eq!(events[1]["Error"], false);

    // An autoscaler's report: an event, no new version.
    let (status, body) = agent.send_json(
        Method::Put,
        "/v1/job/web/scale",
        &json!({"Count": null, "Target": {"Group": "g"}, "Message": "no metrics", "Error": true}),
    );
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["EvalID"], "");
    let scale = scale_status(&agent);
    let events = scale["TaskGroups"]["g"]["Events"].as_array().unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(events[0]["Error"], true);
    assert_eq!(events[0]["Count"], Value::Null);
    assert_eq!(agent.get_json("/v1/job/web").unwrap()["Version"], 2);
    agent.stop_job("web", work.path());
}

#[test]
fn policies_are_listed_shown_refused_and_kept_across_a_restart() {
    let mut agent = Agent::with_config(&[], SERVER_CONFIG);
    agent.eventually("a leader", WAIT, || {
        agent
            .get_json("/v1/status/leader")
            .is_ok_and(|l| l.as_str().is_some_and(|s| !s.is_empty()))
    });
    let work = tempfile::tempdir().unwrap();
    write(work.path(), "web.nomad", &scalable_job(NO_CLIENTS));
    succeeded(&agent.cli(&["job", "run", "-detach", "web.nomad"], work.path()));

    // The API: the list stub and the policy.
    let list = agent.get_json("/v1/scaling/policies").unwrap();
    let stubs = list.as_array().unwrap();
    assert_eq!(stubs.len(), 1, "{list}");
    let id = stubs[0]["ID"].as_str().unwrap().to_string();
    assert_eq!(stubs[0]["Enabled"], true);
    assert_eq!(stubs[0]["Type"], "horizontal");
    assert_eq!(
        stubs[0]["Target"],
        json!({"Namespace": "default", "Job": "web", "Group": "g"})
    );
    assert!(stubs[0]["CreateIndex"].as_u64().unwrap() > 0);
    let policy = agent.get_json(&format!("/v1/scaling/policy/{id}")).unwrap();
    assert_eq!(policy["Min"], 1);
    assert_eq!(policy["Max"], 5);
    assert_eq!(policy["Policy"]["cooldown"], "1m");
    for filtered in [
        "/v1/scaling/policies?job=other",
        "/v1/scaling/policies?type=vertical",
    ] {
        assert_eq!(agent.get_json(filtered).unwrap(), json!([]), "{filtered}");
    }
    let everywhere = agent.get_json("/v1/scaling/policies?namespace=*").unwrap();
    assert_eq!(everywhere.as_array().map(Vec::len), Some(1), "{everywhere}");
    assert_eq!(
        agent
            .get_json("/v1/scaling/policies?job=web&type=horizontal")
            .unwrap()
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    let not_found = agent.get_json("/v1/scaling/policy/nope").unwrap_err();
    assert!(not_found.contains("policy not found"), "{not_found}");

    // The CLI.
    let list = succeeded(&agent.cli(&["scaling", "policy", "list"], work.path()));
    assert_eq!(
        list.trim_end(),
        format!(
            "ID        Enabled  Type        Target\n{}  true     horizontal  Namespace:default,Job:web,Group:g",
            &id[..8]
        )
    );
    let none = succeeded(&agent.cli(&["scaling", "policy", "list", "-job", "other"], work.path()));
    assert_eq!(none.trim_end(), "No policies found");
    let info = succeeded(&agent.cli(&["scaling", "policy", "info", &id[..8]], work.path()));
    assert_eq!(
        info.trim_end(),
        format!(
            "ID      = {}\nEnabled = true\nTarget  = Namespace:default,Job:web,Group:g\nMin     = 1\nMax     = 5\n\nPolicy:\n{{\n    \"cooldown\": \"1m\"\n}}",
            &id[..8]
        )
    );

    // Refusals, with Nomad's words.
    let refused = |args: &[&str]| {
        let out = agent.cli(args, work.path());
        assert!(!out.status.success(), "{}", stdout(&out));
        stderr(&out)
    };
    let above = refused(&["job", "scale", "web", "9"]);
    assert!(
        above.contains("Error submitting scaling request: Unexpected response code: 400 (group count was greater than scaling policy maximum: 9 > 5)"),
        "{above}"
    );
    let below = refused(&["job", "scale", "web", "g", "0"]);
    assert!(
        below.contains("group count was less than scaling policy minimum: 0 < 1"),
        "{below}"
    );
    let unknown = refused(&["job", "scale", "web", "db", "2"]);
    assert!(
        unknown.contains("Group db not found within job"),
        "{unknown}"
    );
    let missing = refused(&["job", "scale", "ghost", "2"]);
    assert!(
        missing.contains("No job(s) with prefix or ID \"ghost\" found"),
        "{missing}"
    );
    let stale = refused(&["job", "scale", "-check-index", "1", "web", "2"]);
    assert!(
        stale
            .contains("Enforcing job modify index 1: job exists with conflicting job modify index"),
        "{stale}"
    );
    for (body, expected) in [
        (
            json!({"Count": -1, "Target": {"Group": "g"}}),
            "scaling action count can't be negative",
        ),
        (
            json!({"Count": 2, "Target": {"Group": "db"}}),
            "task group \"db\" specified for scaling does not exist in job",
        ),
        (
            json!({"Count": 2}),
            "missing task group name for scaling action",
        ),
    ] {
        let (status, text) = agent.send_json(Method::Post, "/v1/job/web/scale", &body);
        assert_eq!((status, text.trim()), (400, expected), "{body}");
    }
    let modify_index = agent.get_json("/v1/job/web").unwrap()["JobModifyIndex"].to_string();
    // A prefix names the job, as in Nomad 1.x.
    let detached = succeeded(&agent.cli(
        &[
            "job",
            "scale",
            "-detach",
            "-check-index",
            &modify_index,
            "we",
            "2",
        ],
        work.path(),
    ));
    assert!(detached.starts_with("Evaluation ID: "), "{detached}");
    let job = agent.get_json("/v1/job/web").unwrap();
    assert_eq!(job["TaskGroups"][0]["Count"], 2);
    assert_eq!(job["TaskGroups"][0]["Scaling"]["ID"], id.as_str());

    // The policy and the events survive a restart (Raft's log and snapshot on disk).
    agent.stop();
    agent.spawn(&[]);
    agent.eventually("the restarted server to answer", WAIT, || {
        agent
            .get_json("/v1/scaling/policies")
            .is_ok_and(|l| l.as_array().is_some_and(|a| a.len() == 1))
    });
    let after = agent.get_json(&format!("/v1/scaling/policy/{id}")).unwrap();
    assert_eq!(after["Max"], 5);
    let events = scale_status(&agent)["TaskGroups"]["g"]["Events"].clone();
    assert_eq!(events.as_array().map(Vec::len), Some(1), "{events}");

    // Purged: gone.
    succeeded(&agent.cli(&["job", "stop", "-detach", "-purge", "web"], work.path()));
    assert_eq!(agent.get_json("/v1/scaling/policies").unwrap(), json!([]));
}
