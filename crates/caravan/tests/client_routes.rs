//! The client and node routes as Nomad answers them (what python-nomad's tests call):
//! `/v1/client/stats`, `/v1/client/gc`, `/v1/client/allocation/:id/gc` and `/signal`
//! with Go's nulls, `fs/stream` of a missing file, a plan's `Index`, the node list's
//! optional fields, and a force-leave of an unknown member.

mod common;

use std::time::Duration;

use caravan_api_client::Method;
use common::*;

const SLEEPER: &str = r#"job "sleeper" {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sleep"
        args    = ["300"]
      }
      resources {
        cpu    = 20
        memory = 16
      }
    }
  }
}
"#;

#[test]
fn client_routes_answer_as_nomad_does() {
    let agent = Agent::start();
    let dir = tempfile::tempdir().unwrap();
    let node_id = agent.node_id().to_string();

    // Host stats, for this agent's own node by default or by ID.
    for path in [
        "/v1/client/stats".to_string(),
        format!("/v1/client/stats?node_id={node_id}"),
    ] {
        let stats = agent.get_json(&path).unwrap();
        assert!(stats["Memory"]["Total"].as_u64().unwrap() > 0, "{stats}");
        assert!(stats["Memory"]["Available"].is_u64(), "{stats}");
        let cpus = stats["CPU"].as_array().unwrap();
        assert!(!cpus.is_empty(), "{stats}");
        assert!(
            cpus[0]["CPU"].as_str().unwrap().starts_with("cpu"),
            "{stats}"
        );
        for key in ["User", "System", "Idle", "Total"] {
            assert!(cpus[0][key].is_f64(), "{key}: {stats}");
        }
        assert!(stats["Uptime"].as_u64().unwrap() > 0, "{stats}");
        assert!(stats["Timestamp"].as_i64().unwrap() > 0, "{stats}");
        assert!(stats["CPUTicksConsumed"].is_f64(), "{stats}");
        assert!(
            stats["AllocDirStats"]["Size"].as_u64().unwrap() > 0,
            "{stats}"
        );
        assert_eq!(stats["DiskStats"].as_array().unwrap().len(), 1, "{stats}");
    }
    let unknown = agent.get_json("/v1/client/stats?node_id=00000000-nope");
    assert_eq!(
        unknown.unwrap_err(),
        "404: Unknown node 00000000-nope",
        "an unknown node is Nomad's 404"
    );

    // Every finished allocation collected, with any method, by node or not.
    for method in [Method::Get, Method::Put, Method::Post] {
        let (status, body) = agent.send_json(method, "/v1/client/gc", &serde_json::Value::Null);
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = agent.send_json(
        Method::Get,
        &format!("/v1/client/gc?node_id={node_id}"),
        &serde_json::Value::Null,
    );
    assert_eq!(status, 200, "{body}");

    // One finished allocation collected: its directory goes.
    let (status, body) = agent.send_json(Method::Put, "/v1/jobs", &true_batch_job("done", "dc1"));
    assert_eq!(status, 200, "{body}");
    agent.wait_for_alloc_status("done", &["complete"], "finish", Duration::from_secs(30));
    let done = agent.allocations("done")[0]["ID"]
        .as_str()
        .unwrap()
        .to_string();
    let done_dir = agent.data_dir().join("alloc").join(&done);
    assert!(done_dir.exists());
    let (status, body) = agent.send_json(
        Method::Get,
        &format!("/v1/client/allocation/{done}/gc"),
        &serde_json::Value::Null,
    );
    assert_eq!((status, body.as_str()), (200, "{}"));
    assert!(
        !done_dir.exists(),
        "the collected allocation's directory stays"
    );

    // A running allocation is not collected; signals read Go's nulls as absent.
    let running = agent.run_job(dir.path(), "sleeper.nomad", SLEEPER, &[], "sleeper");
    agent.wait_for_alloc_status("sleeper", &["running"], "run", Duration::from_secs(30));
    let (status, body) = agent.send_json(
        Method::Put,
        &format!("/v1/client/allocation/{running}/gc"),
        &serde_json::Value::Null,
    );
    assert_eq!(status, 404, "{body}");
    assert!(body.starts_with("Unknown allocation"), "{body}");
    assert!(agent.data_dir().join("alloc").join(&running).exists());

    let (status, body) = agent.send_json(
        Method::Post,
        &format!("/v1/client/allocation/{running}/signal"),
        &serde_json::json!({"Task": null, "Signal": "INVALID-SIGNAL"}),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("invalid signal"), "{body}");

    // A stream of a file that is not there is a bad request.
    let missing = agent.get_json(&format!(
        "/v1/client/fs/stream/{running}?path=/redis/executor&offset=1&origin=start"
    ));
    assert!(missing.unwrap_err().starts_with("400: "));

    // A plan answers the index it was computed at.
    let plan = serde_json::json!({"Job": sleeping_job("sleeper", "service", 1, 16)["Job"]});
    let (status, body) = agent.send_json(Method::Put, "/v1/job/sleeper/plan", &plan);
    assert_eq!(status, 200, "{body}");
    let plan: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(plan["Index"].as_u64().unwrap() > 0, "{plan}");

    // The node list's optional fields.
    let plain = agent.get_json("/v1/nodes").unwrap();
    assert!(plain[0]["NodeResources"].is_null(), "{plain}");
    assert!(plain[0]["Attributes"].is_null(), "{plain}");
    let with = agent.get_json("/v1/nodes?resources=true&os=true").unwrap();
    assert!(
        with[0]["NodeResources"]["Cpu"]["CpuShares"]
            .as_u64()
            .unwrap()
            > 0,
        "{with}"
    );
    assert!(with[0]["ReservedResources"].is_object(), "{with}");
    let node = agent.get_json(&format!("/v1/node/{node_id}")).unwrap();
    assert_eq!(
        with[0]["Attributes"],
        serde_json::json!({"os.name": node["Attributes"]["os.name"]}),
        "only os.name, as Nomad"
    );

    // Serf's force-leave of a member it does not know is no error.
    let (status, body) = agent.send_json(
        Method::Put,
        "/v1/agent/force-leave?node=nope",
        &serde_json::Value::Null,
    );
    assert_eq!(status, 200, "{body}");

    agent.stop_job("sleeper", dir.path());
}
