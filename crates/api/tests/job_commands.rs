//! The JSON shapes of the job command endpoints: validate, revert, versions with diffs,
//! dispatch and periodic force, over a real listener.

use caravan_api::router;
use caravan_api_client::{Client, Config, Method, paths};
use caravan_server::{Server, ServerConfig};
use caravan_testkit::server::agent_state;
use serde_json::{Value, json};

/// The API on a real listener, and a client that checks the wire itself.
struct Api {
    client: Client,
}

impl Api {
    async fn start() -> Api {
        let state = agent_state(Server::start(ServerConfig::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router(state)).await;
        });
        Api {
            client: Client::new(Config::address(format!("http://{addr}"))).unwrap(),
        }
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> (u16, String) {
        let body = body.map(|b| b.to_string());
        let answer = self
            .client
            .send_raw(method, path, body.as_deref().map(str::as_bytes))
            .await
            .unwrap();
        (answer.status, answer.body)
    }

    /// `GET /v1/jobs?prefix=<prefix>`.
    async fn jobs_with_prefix(&self, prefix: &str) -> Value {
        let path = format!("{}?prefix={prefix}", paths::JOBS);
        self.json(Method::Get, &path, None).await
    }

    /// `POST` of a JSON body: the status and the body text.
    async fn post(&self, path: &str, body: Value) -> (u16, String) {
        self.send(Method::Post, path, Some(body)).await
    }

    /// `POST /v1/job/web/revert` with the body's `JobID` and `JobVersion`.
    async fn revert_web(&self, job_id: &str, version: u64) -> (u16, String) {
        let body = json!({"JobID": job_id, "JobVersion": version});
        self.post(&paths::job_revert("web"), body).await
    }

    async fn json(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, text) = self.send(method, path, body).await;
        assert_eq!(status, 200, "{path}: {text}");
        serde_json::from_str(&text).unwrap()
    }
}

/// Checks that an answer is `want` with a body that says `message`.
fn assert_refused((status, text): (u16, String), want: u16, message: &str) {
    assert_eq!(status, want, "{text}");
    assert!(text.contains(message), "{text}");
}

fn batch_job(id: &str, command: &str) -> Value {
    json!({
        "ID": id,
        "Type": "batch",
        "TaskGroups": [{
            "Name": "g",
            "Tasks": [{
                "Name": "t",
                "Driver": "raw_exec",
                "Config": {"command": command},
                "Resources": {"CPU": 100, "MemoryMB": 64}
            }]
        }]
    })
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

#[tokio::test]
async fn validate_answers_nomads_shape() {
    let api = Api::start().await;
    let ok = api
        .json(
            Method::Put,
            paths::VALIDATE_JOB,
            Some(json!({"Job": batch_job("ok", "/bin/true")})),
        )
        .await;
    assert_eq!(
        ok,
        json!({"DriverConfigValidated": true, "ValidationErrors": [], "Error": "", "Warnings": ""})
    );
    let mut bad = batch_job("bad", "/bin/true");
    bad["Priority"] = json!(500);
    let response = api
        .json(Method::Post, paths::VALIDATE_JOB, Some(json!({"Job": bad})))
        .await;
    assert_eq!(response["ValidationErrors"].as_array().unwrap().len(), 1);
    assert!(
        response["Error"]
            .as_str()
            .unwrap()
            .starts_with("1 error occurred:\n\t* ")
    );
    // Nothing was registered.
    assert_eq!(api.json(Method::Get, paths::JOBS, None).await, json!([]));
    let (status, text) = api
        .send(Method::Put, paths::VALIDATE_JOB, Some(json!({})))
        .await;
    assert_eq!((status, text.as_str()), (400, "Job must be specified"));
}

#[tokio::test]
async fn revert_and_version_diffs() {
    let api = Api::start().await;
    for command in ["/bin/true", "/bin/false"] {
        api.json(
            Method::Post,
            paths::JOBS,
            Some(json!({"Job": batch_job("web", command)})),
        )
        .await;
    }
    let versions = api
        .json(
            Method::Get,
            &format!("{}?diffs=true", paths::job_versions("web")),
            None,
        )
        .await;
    assert_eq!(versions["Versions"].as_array().unwrap().len(), 2);
    let diffs = versions["Diffs"].as_array().unwrap();
    assert_eq!(diffs.len(), 1);
    assert_eq!(diffs[0]["Type"], "Edited");
    assert_eq!(diffs[0]["TaskGroups"][0]["Tasks"][0]["Type"], "Edited");
    let plain = api
        .json(Method::Get, &paths::job_versions("web"), None)
        .await;
    assert_eq!(plain["Diffs"], Value::Null);

    let (status, text) = api.revert_web("web", 1).await;
    assert_eq!(
        (status, text.as_str()),
        (
            400,
            "1 error occurred:\n\t* can't revert to current version\n\n"
        )
    );
    let (status, _) = api.revert_web("web", 9).await;
    assert_eq!(status, 404);
    let (status, text) = api.revert_web("other", 0).await;
    assert_eq!((status, text.as_str()), (400, "Job ID does not match"));

    let reverted = api
        .json(
            Method::Post,
            &paths::job_revert("web"),
            Some(json!({"JobID": "web", "JobVersion": 0, "EnforcePriorVersion": 1})),
        )
        .await;
    for key in ["EvalCreateIndex", "EvalID", "Index", "JobModifyIndex"] {
        assert!(reverted.get(key).is_some(), "{key} missing from {reverted}");
    }
    let job = api.json(Method::Get, &paths::job("web"), None).await;
    assert_eq!(job["Version"], 2);
    assert_eq!(
        job["TaskGroups"][0]["Tasks"][0]["Config"]["command"],
        "/bin/true"
    );
}

#[tokio::test]
async fn dispatch_and_children_with_escaped_ids() {
    let api = Api::start().await;
    let mut parent = batch_job("report", "/bin/true");
    parent["ParameterizedJob"] = json!({"Payload": "optional", "MetaRequired": ["customer"]});
    let registered = api
        .json(Method::Post, paths::JOBS, Some(json!({"Job": parent})))
        .await;
    assert_eq!(registered["EvalID"], "");

    assert_refused(
        api.post(
            &paths::job_dispatch("report"),
            json!({"JobID": "report", "Meta": {"nope": "x"}}),
        )
        .await,
        400,
        "Dispatch request included unpermitted metadata keys: [nope]",
    );
    let (status, text) = api
        .post(
            &paths::job_dispatch("report"),
            json!({"Payload": "not base64!", "Meta": {"customer": "x"}}),
        )
        .await;
    assert_eq!(status, 400, "{text}");

    let dispatched = api
        .json(
            Method::Post,
            &paths::job_dispatch("report"),
            Some(json!({"JobID": "report", "Payload": "aGVsbG8=", "Meta": {"customer": "acme"}, "IdPrefixTemplate": ""})),
        )
        .await;
    assert_eq!(
        keys(&dispatched),
        [
            "DispatchedJobID",
            "EvalCreateIndex",
            "EvalID",
            "Index",
            "JobCreateIndex"
        ]
    );
    let child_id = dispatched["DispatchedJobID"].as_str().unwrap();
    assert!(child_id.starts_with("report/dispatch-"));

    // A child's ID holds a slash: clients escape it, as Nomad's Go client does.
    let child = api.json(Method::Get, &paths::job(child_id), None).await;
    assert_eq!(child["ParentID"], "report");
    assert_eq!(child["Dispatched"], true);
    assert_eq!(child["Payload"], "aGVsbG8=");
    assert_eq!(child["Meta"]["customer"], "acme");

    let list = api.json(Method::Get, paths::JOBS, None).await;
    let parent_stub = list
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["ID"] == "report")
        .unwrap();
    assert_eq!(parent_stub["ParameterizedJob"], true);
    assert_eq!(parent_stub["Status"], "running");
    let summary = api
        .json(Method::Get, &paths::job_summary("report"), None)
        .await;
    let children = &summary["Children"];
    assert_eq!(
        children["Pending"].as_i64().unwrap()
            + children["Running"].as_i64().unwrap()
            + children["Dead"].as_i64().unwrap(),
        1,
        "{summary}"
    );
}

#[tokio::test]
async fn periodic_force_answers_nomads_shape() {
    let api = Api::start().await;
    let mut job = batch_job("nightly", "/bin/true");
    job["Periodic"] = json!({"Spec": "0 3 * * *", "TimeZone": "Europe/Berlin"});
    let registered = api
        .json(Method::Post, paths::JOBS, Some(json!({"Job": job})))
        .await;
    assert_eq!(registered["EvalID"], "");
    let forced = api
        .json(Method::Post, &paths::job_periodic_force("nightly"), None)
        .await;
    assert_eq!(keys(&forced), ["EvalCreateIndex", "EvalID", "Index"]);
    let children = api.jobs_with_prefix("nightly/periodic-").await;
    assert_eq!(children.as_array().unwrap().len(), 1);
    assert_eq!(children[0]["ParentID"], "nightly");

    api.json(
        Method::Post,
        paths::JOBS,
        Some(json!({"Job": batch_job("plain", "/bin/true")})),
    )
    .await;
    assert_refused(
        api.send(Method::Put, &paths::job_periodic_force("plain"), None)
            .await,
        400,
        "can't force launch non-periodic job",
    );
    let (status, _) = api
        .send(Method::Put, &paths::job_periodic_force("nope"), None)
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn unescaped_child_ids_reach_the_job_routes() {
    let api = Api::start().await;
    let mut job = batch_job("nightly", "/bin/true");
    job["Periodic"] = json!({"Spec": "0 3 * * *"});
    api.json(Method::Post, paths::JOBS, Some(json!({"Job": job})))
        .await;
    api.json(Method::Post, &paths::job_periodic_force("nightly"), None)
        .await;
    let children = api.jobs_with_prefix("nightly/periodic-").await;
    let child_id = children[0]["ID"].as_str().unwrap().to_string();
    // Written by hand, unescaped, as a script would (the client's paths escape the `/`).
    let child = api
        .json(Method::Get, &format!("/v1/job/{child_id}"), None)
        .await;
    assert_eq!(child["ID"], child_id.as_str());
    let summary = api
        .json(Method::Get, &format!("/v1/job/{child_id}/summary"), None)
        .await;
    assert_eq!(summary["JobID"], child_id.as_str());
    let evals = api
        .json(
            Method::Get,
            &format!("/v1/job/{child_id}/evaluations"),
            None,
        )
        .await;
    assert!(
        evals
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["JobID"] == child_id.as_str())
    );
    assert!(!evals.as_array().unwrap().is_empty());
    let stopped = api
        .json(Method::Delete, &format!("/v1/job/{child_id}"), None)
        .await;
    assert!(stopped.get("EvalID").is_some());
    // The plain routes still answer as before.
    let (status, text) = api.send(Method::Get, &paths::job("missing"), None).await;
    assert_eq!((status, text.as_str()), (404, "job not found"));
}

#[tokio::test]
async fn unknown_urls_are_still_invalid() {
    let api = Api::start().await;
    let (status, text) = api.send(Method::Get, "/v1/nothing/here", None).await;
    assert_eq!((status, text.as_str()), (404, "Invalid URL"));
}
