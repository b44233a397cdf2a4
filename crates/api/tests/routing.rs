//! The one router: job IDs with slashes, escaped or not, on the HTTP port and through
//! the RPC port's forwarded API; unknown paths and wrong methods.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use caravan_api::{AgentState, router, rpc_router};
use caravan_server::{Server, ServerConfig};
use caravan_testkit::server::agent_state;
use serde_json::{Value, json};
use tower::ServiceExt;

fn state() -> Arc<AgentState> {
    agent_state(Server::start(ServerConfig::default()))
}

async fn call(
    router: &Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (u16, String) {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
    let response = router
        .clone()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// Registers a periodic job, forces a launch and answers the child's ID
/// (`nightly/periodic-<t>`).
async fn periodic_child(api: &Router) -> String {
    let job = json!({
        "ID": "nightly",
        "Type": "batch",
        "Periodic": {"Spec": "0 3 * * *"},
        "TaskGroups": [{"Name": "g", "Tasks": [{
            "Name": "t", "Driver": "raw_exec", "Config": {"command": "/bin/true"},
            "Resources": {"CPU": 100, "MemoryMB": 64}
        }]}]
    });
    let (status, text) = call(api, "POST", "/v1/jobs", &[], Some(json!({"Job": job}))).await;
    assert_eq!(status, 200, "{text}");
    let (status, text) = call(api, "POST", "/v1/job/nightly/periodic/force", &[], None).await;
    assert_eq!(status, 200, "{text}");
    let (status, text) = call(api, "GET", "/v1/jobs?prefix=nightly/periodic-", &[], None).await;
    assert_eq!(status, 200, "{text}");
    let children: Value = serde_json::from_str(&text).unwrap();
    children[0]["ID"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn child_ids_route_escaped_and_unescaped_with_their_query() {
    let api = router(state());
    let child = periodic_child(&api).await;
    let escaped = child.replace('/', "%2F");
    for id in [&child, &escaped] {
        let (status, text) = call(&api, "GET", &format!("/v1/job/{id}"), &[], None).await;
        assert_eq!(status, 200, "{id}: {text}");
        let job: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(job["ID"], child.as_str());
        let (status, text) = call(
            &api,
            "GET",
            &format!("/v1/job/{id}/allocations?all=true&index=0"),
            &[],
            None,
        )
        .await;
        assert_eq!(status, 200, "{id}: {text}");
        // The query survives the rewrite: a bad index is still refused.
        let (status, text) = call(
            &api,
            "GET",
            &format!("/v1/job/{id}/versions?index=soon"),
            &[],
            None,
        )
        .await;
        assert_eq!(
            (status, text.as_str()),
            (400, "Invalid index: \"soon\" is not a number")
        );
    }
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods() {
    let api = router(state());
    let child = periodic_child(&api).await;
    for path in ["/v1/job/a/b/", "/v1/nothing", "/v1/job/"] {
        let (status, text) = call(&api, "GET", path, &[], None).await;
        assert_eq!((status, text.as_str()), (404, "Invalid URL"), "{path}");
    }
    for path in [
        format!("/v1/job/{child}/plan"),
        "/v1/job/web/plan".to_string(),
    ] {
        let (status, text) = call(&api, "GET", &path, &[], None).await;
        assert_eq!(
            (status, text),
            (405, "Invalid method".to_string()),
            "{path}"
        );
    }
}

#[tokio::test]
async fn forwarded_calls_reach_child_ids_on_the_rpc_port() {
    let state = state();
    let api = router(state.clone());
    let rpc = rpc_router(state);
    let child = periodic_child(&api).await;
    let node = json!({"ID": "node-1", "SecretID": "secret-1", "Name": "n1", "Datacenter": "dc1"});
    let (status, text) = call(&rpc, "POST", "/v1/internal/node/register", &[], Some(node)).await;
    assert_eq!(status, 200, "{text}");
    let node_headers = [
        ("x-caravan-node-id", "node-1"),
        ("x-caravan-node-secret", "secret-1"),
    ];
    for id in ["nightly", &child, &child.replace('/', "%2F")] {
        let path = format!("/v1/internal/api/v1/job/{id}/summary");
        let (status, text) = call(&rpc, "GET", &path, &node_headers, None).await;
        assert_eq!(status, 200, "{id}: {text}");
        let summary: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            summary["JobID"].as_str(),
            Some(id.replace("%2F", "/").as_str())
        );
    }
    let path = format!("/v1/internal/api/v1/job/{child}/summary");
    // Without the node's secret, nothing is answered.
    let (status, _) = call(&rpc, "GET", &path, &[], None).await;
    assert_eq!(status, 404);
    // The API's other routes are not served on the RPC port.
    let (status, _) = call(&rpc, "GET", "/v1/jobs", &node_headers, None).await;
    assert_eq!(status, 404);
    // A wrong method names the caller's path, not the forwarding prefix.
    let plan = format!("/v1/job/{child}/plan");
    let (status, text) = call(
        &rpc,
        "GET",
        &format!("/v1/internal/api{plan}"),
        &node_headers,
        None,
    )
    .await;
    assert_eq!((status, text), (405, "Invalid method".to_string()));
}
