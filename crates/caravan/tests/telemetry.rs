//! `/v1/metrics`: Nomad's series in the Prometheus text format, and nothing when the
//! telemetry options are off.

mod common;

use std::time::Duration;

use common::*;

fn scrape(agent: &Agent, query: &str) -> (u16, String) {
    let path = format!("{}{query}", paths::METRICS);
    let answer = agent
        .run(|api| api.send_raw(Method::Get, &path, None))
        .expect("scrape");
    (answer.status, answer.body)
}

/// Checks every line is a comment or `name{labels} value` with a valid name and number.
fn assert_exposition_format(text: &str) {
    for line in text.lines() {
        if line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value: {line}"));
        assert!(value.parse::<f64>().is_ok(), "bad value in {line}");
        let name = series.split('{').next().unwrap();
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                && !name.starts_with(|c: char| c.is_ascii_digit()),
            "bad metric name in {line}"
        );
        let labels = &series[name.len()..];
        assert!(
            labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')),
            "bad labels in {line}"
        );
    }
}

#[test]
fn prometheus_metrics_carry_the_running_allocation() {
    let agent = Agent::start();
    let work = tempfile::tempdir().unwrap();
    let alloc_id = agent.run_job(work.path(), "sleeper.nomad", SLEEPER_JOB, &[], "sleeper");
    let mut text = String::new();
    agent.eventually("the allocation's series", Duration::from_secs(15), || {
        text = scrape(&agent, "?format=prometheus").1;
        text.contains(&format!(
            "nomad_client_allocs_memory_rss{{alloc_id=\"{alloc_id}\""
        ))
    });
    assert_exposition_format(&text);
    let rss = text
        .lines()
        .find(|l| l.starts_with("nomad_client_allocs_memory_rss{") && l.contains(&alloc_id))
        .unwrap();
    for label in ["job=\"sleeper\"", "task_group=\"g\"", "task=\"t\""] {
        assert!(rss.contains(label), "{rss} lacks {label}");
    }
    assert!(
        rss.rsplit_once(' ').unwrap().1.parse::<f64>().unwrap() > 0.0,
        "{rss}"
    );
    for series in [
        "nomad_client_allocs_cpu_total_percent{",
        "nomad_client_allocated_cpu{",
        "nomad_client_unallocated_memory{",
        "nomad_client_host_memory_total{",
        "nomad_client_host_cpu_total{",
        "nomad_nomad_job_summary_running{",
        "nomad_nomad_blocked_evals_total_blocked{",
        "nomad_nomad_broker_total_ready{",
        "nomad_nomad_worker_invoke_scheduler_service_count{",
        "nomad_nomad_plan_apply_sum{",
        "nomad_raft_appliedIndex{",
        "nomad_raft_lastIndex{",
        "nomad_raft_peers{",
        "nomad_raft_leader_lastContact{",
    ] {
        assert!(text.contains(series), "missing {series}");
    }
    let (status, json) = scrape(&agent, "");
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(
        json["Gauges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["Name"] == "nomad.client.allocs.memory.rss")
    );
    agent.stop_job("sleeper", work.path());
}

#[test]
fn nothing_is_published_when_the_options_are_off() {
    let agent = Agent::with_config(
        &["-dev"],
        "telemetry {\n  publish_allocation_metrics = false\n  publish_node_metrics = false\n  prometheus_metrics = false\n}\n",
    );
    agent.wait_for_ready_nodes(1);
    let work = tempfile::tempdir().unwrap();
    agent.run_job(work.path(), "sleeper.nomad", SLEEPER_JOB, &[], "sleeper");
    agent.wait_for_alloc_status("sleeper", &["running"], "run", Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(1500));
    let (status, body) = scrape(&agent, "?format=prometheus");
    assert_eq!((status, body.as_str()), (415, "Prometheus is not enabled"));
    let (_, json) = scrape(&agent, "");
    assert!(
        !json.contains("nomad.client."),
        "client metrics published though off: {json}"
    );
    agent.stop_job("sleeper", work.path());
}
