//! `/v1/search` and `/v1/search/fuzzy` on a dev agent: a job found by its ID's prefix
//! and by part of its name, its group and task with their scope, a node by its ID,
//! Nomad's refusals, and the agent's `search {}` block.

mod common;

use caravan_api_client::Method;
use common::*;
use serde_json::{Value, json};

fn post(agent: &Agent, path: &str, body: Value) -> (u16, Value) {
    let (status, text) = agent.send_json(Method::Post, path, &body);
    let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, json)
}

#[test]
fn jobs_and_nodes_are_found_by_prefix_and_by_name() {
    let agent = Agent::with_config(
        &["-dev"],
        "server {\n  search {\n    min_term_length = 3\n  }\n}\n",
    );
    agent.wait_for_ready_nodes(1);
    let (status, text) = agent.send_json(
        Method::Post,
        "/v1/jobs",
        &true_batch_job("search-web", NO_CLIENTS),
    );
    assert_eq!(status, 200, "{text}");

    let (status, answer) = post(
        &agent,
        "/v1/search",
        json!({"Prefix": "search-w", "Context": "jobs"}),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["Matches"]["jobs"], json!(["search-web"]));
    assert_eq!(answer["Truncations"]["jobs"], false);

    let node_id = agent.node_id().as_str().to_string();
    let (_, answer) = post(
        &agent,
        "/v1/search",
        json!({"Prefix": &node_id[..5], "Context": "all"}),
    );
    assert_eq!(answer["Matches"]["nodes"], json!([node_id]), "{answer}");

    let (status, answer) = post(
        &agent,
        "/v1/search",
        json!({"Prefix": "search", "Context": "job"}),
    );
    assert_eq!(status, 400);
    assert!(
        answer
            .as_str()
            .unwrap_or_default()
            .contains("invalid context \"job\""),
        "{answer}"
    );

    let (status, answer) = post(
        &agent,
        "/v1/search/fuzzy",
        json!({"Text": "ARCH-we", "Context": "all"}),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["Matches"]["jobs"],
        json!([{"ID": "search-web", "Scope": ["default", "search-web"]}])
    );
    assert_eq!(answer["Truncations"]["jobs"], false);

    // The job's task `t` of group `g` is too short to find with three characters;
    // its command is not.
    let (_, answer) = post(
        &agent,
        "/v1/search/fuzzy",
        json!({"Text": "/bin/tr", "Context": "jobs"}),
    );
    assert_eq!(
        answer["Matches"]["commands"],
        json!([{"ID": "/bin/true", "Scope": ["default", "search-web", "g", "t"]}])
    );

    // The agent's min_term_length is 3.
    let (status, answer) = post(
        &agent,
        "/v1/search/fuzzy",
        json!({"Text": "se", "Context": "all"}),
    );
    assert_eq!(status, 400);
    assert_eq!(
        answer,
        json!("fuzzy search query must be at least 3 characters, got 2")
    );
}
