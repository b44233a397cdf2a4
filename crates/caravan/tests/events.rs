//! `GET /v1/event/stream` on real agents: a registration seen with its index, replay
//! from an index, the heartbeat of an idle stream, ACL filtering event by event, and a
//! server whose broker is disabled.

mod common;

use std::time::Duration;

use caravan_api_client::Method;
use common::*;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

/// Registers batch job `id` where it never runs; the index of the registration.
fn register(agent: &Agent, id: &str, token: Option<&str>) -> u64 {
    let body = true_batch_job(id, NO_CLIENTS).to_string();
    let mut request = format!(
        "POST /v1/jobs HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(token) = token {
        request.push_str(&format!("X-Nomad-Token: {token}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(&body);
    let answer = raw_http(agent.port, &request);
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    let json: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {answer}"));
    json["JobModifyIndex"].as_u64().expect("JobModifyIndex")
}

fn raw_http(port: u16, request: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.write_all(request.as_bytes()).expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("answer");
    answer
}

fn is_registration_of(id: &str) -> impl Fn(&Value) -> bool + '_ {
    move |e| e["Topic"] == "Job" && e["Type"] == "JobRegistered" && e["Key"] == id
}

#[test]
fn a_registration_is_streamed_with_its_index_and_replayed_from_it() {
    let agent = Agent::start();
    // Nothing buffered for this job yet: the stream says so at once with a heartbeat.
    let mut stream = EventStream::open(agent.port, "/v1/event/stream?topic=Job:ev-web", None);
    assert_eq!(stream.status, 200);
    assert_eq!(stream.next_json(), Some(json!({})));

    let index = register(&agent, "ev-web", None);
    let line = stream.next_json().expect("a line after the registration");
    assert_eq!(line["Index"], index, "{line}");
    let event = &line["Events"][0];
    assert_eq!(event["Topic"], "Job");
    assert_eq!(event["Type"], "JobRegistered");
    assert_eq!(event["Key"], "ev-web");
    assert_eq!(event["Namespace"], "default");
    assert_eq!(event["Index"], index);
    assert_eq!(event["Payload"]["Job"]["ID"], "ev-web");
    // Only the job's topic was asked for: its evaluation is not in the line.
    assert!(
        line["Events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["Topic"] == "Job"),
        "{line}"
    );

    // Replayed from its index; a stream from the next index has nothing of it.
    let mut replay = EventStream::open(
        agent.port,
        &format!("/v1/event/stream?topic=Job:ev-web&index={index}"),
        None,
    );
    let line = replay.next_json().expect("the replayed line");
    assert_eq!(line["Index"], index, "{line}");
    let mut after = EventStream::open(
        agent.port,
        &format!("/v1/event/stream?topic=Job:ev-web&index={}", index + 1),
        None,
    );
    assert_eq!(after.next_json(), Some(json!({})));

    // Every topic: the evaluation of the registration comes too, keyed by its ID and
    // filtered by its job's.
    let mut evals = EventStream::open(agent.port, "/v1/event/stream?topic=Evaluation:ev-web", None);
    let eval = evals
        .find_event(WAIT, |e| e["Topic"] == "Evaluation")
        .expect("the registration's evaluation");
    assert_eq!(eval["Type"], "JobRegistered");
    assert_eq!(eval["FilterKeys"][0], "ev-web");
    assert_eq!(eval["Payload"]["Evaluation"]["JobID"], "ev-web");

    // The node's registration is buffered; its secret is not in the event.
    let mut nodes = EventStream::open(agent.port, "/v1/event/stream?topic=Node", None);
    let node = nodes
        .find_event(WAIT, |e| e["Type"] == "NodeRegistration")
        .expect("the node's registration");
    assert_eq!(node["Namespace"], "");
    assert!(node["Payload"]["Node"].get("SecretID").is_none(), "{node}");

    let mut bad = EventStream::open(agent.port, "/v1/event/stream?topic=:x", None);
    assert_eq!(bad.status, 400);
    assert!(
        bad.next_line()
            .unwrap_or_default()
            .contains("Invalid topic format")
    );
}

#[test]
fn a_token_sees_only_the_events_it_may_read() {
    let agent = Agent::with_config(&["-dev", "-acl-enabled"], "");
    let mut text = String::new();
    agent.eventually("the bootstrap", WAIT, || {
        let (status, answer) = agent.send_json(Method::Post, "/v1/acl/bootstrap", &json!({}));
        text = answer;
        status == 200
    });
    let management: Value = serde_json::from_str(&text).unwrap();
    let management = management["SecretID"].as_str().unwrap().to_string();
    let admin = |method: &str, path: &str, body: Value| {
        let body = body.to_string();
        let answer = raw_http(
            agent.port,
            &format!(
                "{method} {path} HTTP/1.0\r\nHost: x\r\nX-Nomad-Token: {management}\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ),
        );
        serde_json::from_str::<Value>(answer.split("\r\n\r\n").nth(1).unwrap_or_default())
            .unwrap_or(Value::Null)
    };
    admin(
        "POST",
        "/v1/acl/policy/jobs-only",
        json!({"Name": "jobs-only", "Rules": "namespace \"default\" { policy = \"read\" }"}),
    );
    let token = admin(
        "POST",
        "/v1/acl/token",
        json!({"Name": "reader", "Type": "client", "Policies": ["jobs-only"]}),
    );
    let reader = token["SecretID"]
        .as_str()
        .expect("reader secret")
        .to_string();
    let reader_accessor = token["AccessorID"].as_str().expect("accessor").to_string();
    let index = register(&agent, "ev-acl", Some(&management));

    // Nomad's check of the topics asked for: every topic (the default) needs a
    // management token, nodes node:read; without a token, nothing.
    for (path, token) in [
        ("/v1/event/stream?index=1", Some(reader.as_str())),
        ("/v1/event/stream?topic=Node", Some(reader.as_str())),
        ("/v1/event/stream?topic=ACLToken", Some(reader.as_str())),
        ("/v1/event/stream?topic=Job", None),
    ] {
        let mut refused = EventStream::open(agent.port, path, token);
        assert_eq!(refused.status, 403, "{path}");
        assert_eq!(refused.next_line().as_deref(), Some("Permission denied"));
    }

    let mut stream = EventStream::open(
        agent.port,
        "/v1/event/stream?topic=Job&topic=Evaluation&index=1",
        Some(&reader),
    );
    assert_eq!(stream.status, 200);
    let job = stream.find_event(WAIT, is_registration_of("ev-acl"));
    assert_eq!(job.expect("the job's registration")["Index"], index);

    // The management token sees the token's creation, without its secret.
    let mut tokens = EventStream::open(
        agent.port,
        "/v1/event/stream?topic=ACLToken&index=1",
        Some(&management),
    );
    let created = tokens
        .find_event(WAIT, |e| {
            e["Type"] == "ACLTokenUpserted" && e["Payload"]["ACLToken"]["Name"] == "reader"
        })
        .expect("the token's creation");
    assert_eq!(created["Payload"]["ACLToken"]["SecretID"], "");

    // Deleting the token ends its stream; the management stream sees the deletion.
    admin(
        "DELETE",
        &format!("/v1/acl/token/{reader_accessor}"),
        json!({}),
    );
    let deleted = tokens
        .find_event(WAIT, |e| e["Type"] == "ACLTokenDeleted")
        .expect("the token's deletion");
    assert_eq!(deleted["Key"], reader_accessor.as_str());
    let mut rest = Vec::new();
    while let Some(line) = stream.next_line() {
        rest.push(line);
    }
    assert!(
        rest.iter().all(|l| l == "{}" || !l.contains("ACLToken")),
        "{rest:?}"
    );
}

#[test]
fn a_server_without_an_event_broker_refuses_the_stream() {
    let agent = Agent::with_config(
        &["-dev"],
        "server {\n  enable_event_broker = false\n  event_buffer_size = 10\n}\n",
    );
    agent.wait_for_ready_nodes(1);
    let mut stream = EventStream::open(agent.port, "/v1/event/stream", None);
    assert_eq!(stream.status, 400);
    assert_eq!(stream.next_line().as_deref(), Some("event broker disabled"));
}

/// A `caravan operator api` child, killed when the test ends however it ends.
struct Follower(std::process::Child);

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `caravan operator api <args>` against `agent` with `stdin` piped in (when given).
fn operator_api(agent: &Agent, args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(CARAVAN)
        .args(["operator", "api"])
        .args(args)
        .env("CARAVAN_ADDR", agent.addr())
        .env_remove("NOMAD_ADDR")
        .env_remove("NOMAD_TOKEN")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run caravan operator api");
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().expect("stdin");
        pipe.write_all(text.as_bytes()).expect("write stdin");
    }
    let output = child.wait_with_output().expect("operator api output");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn operator_api_calls_the_api_prints_curl_and_follows_the_stream() {
    use std::io::BufRead;
    let agent = Agent::start();

    // Following the stream: a heartbeat first, then the registration's line.
    let mut follower = Follower(
        std::process::Command::new(CARAVAN)
            .args(["operator", "api", "/v1/event/stream?topic=Job:ev-cli"])
            .env("CARAVAN_ADDR", agent.addr())
            .env_remove("NOMAD_ADDR")
            .env_remove("NOMAD_TOKEN")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("follow the event stream"),
    );
    let mut lines = std::io::BufReader::new(follower.0.stdout.take().expect("stdout")).lines();
    assert_eq!(lines.next().and_then(Result::ok).as_deref(), Some("{}"));
    let index = register(&agent, "ev-cli", None);
    let line: Value = serde_json::from_str(&lines.next().and_then(Result::ok).expect("a line"))
        .expect("a JSON line");
    assert_eq!(line["Index"], index);
    assert_eq!(line["Events"][0]["Type"], "JobRegistered");
    drop(follower);

    let (code, out, err) = operator_api(&agent, &["/v1/jobs"], None);
    assert_eq!(code, 0, "{err}");
    let jobs: Value = serde_json::from_str(&out).expect("the job list");
    assert_eq!(jobs[0]["ID"], "ev-cli", "{out}");

    // A body piped in is POSTed.
    let (code, out, err) = operator_api(
        &agent,
        &["/v1/search"],
        Some(r#"{"Prefix": "ev-c", "Context": "jobs"}"#),
    );
    assert_eq!(code, 0, "{err}");
    let found: Value = serde_json::from_str(&out).expect("search answer");
    assert_eq!(found["Matches"]["jobs"], json!(["ev-cli"]));

    let (code, out, _) = operator_api(
        &agent,
        &[
            "-dryrun",
            "-X",
            "put",
            "-H",
            "x-test: 1",
            "-filter",
            "ID == \"ev\"",
            "-namespace",
            "prod",
            "/v1/jobs?prefix=ev",
        ],
        None,
    );
    assert_eq!(code, 0);
    assert_eq!(
        out,
        format!(
            "curl \\\n  -X PUT \\\n  -H 'X-Test: 1' \\\n  http://127.0.0.1:{}/v1/jobs?filter=ID+%3D%3D+%22ev%22&namespace=prod&prefix=ev\n",
            agent.port
        )
    );

    let (code, _, err) = operator_api(&agent, &[], None);
    assert_eq!(code, 1);
    assert!(err.starts_with("A path or URL is required"), "{err}");
}

/// Every server derives the events of the log it applies: a follower's stream shows
/// a write made through the leader, at the same index.
#[test]
fn a_followers_stream_shows_the_leaders_writes() {
    let cluster = ServerCluster::start(3, "");
    let leader = cluster.wait_for_leader(Duration::from_secs(30));
    let follower = &cluster.servers[(leader + 1) % 3];
    let mut stream = EventStream::open(follower.port, "/v1/event/stream?topic=Job:ev-ha", None);
    assert_eq!(stream.status, 200);
    assert_eq!(stream.next_json(), Some(json!({})));
    let index = register(&cluster.servers[leader], "ev-ha", None);
    let line = stream
        .next_json()
        .expect("the registration on the follower");
    assert_eq!(line["Index"], index, "{line}");
    assert_eq!(line["Events"][0]["Type"], "JobRegistered");
}
