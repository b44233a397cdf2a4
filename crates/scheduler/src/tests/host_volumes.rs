//! Host volumes: a group that asks for `volume "x" { type = "host" source = "name" }`
//! goes only to nodes that offer a host volume of that name, writable unless the group
//! mounts it read-only; otherwise the failure says `missing compatible host volumes`.

use super::*;
use crate::feasible::MISSING_HOST_VOLUMES;

/// A raw_exec node offering `volumes` (name, read-only).
fn volume_node(id: &str, volumes: &[(&str, bool)]) -> Arc<Node> {
    let mut builder = testkit::node(id)
        .secret("")
        .name(id)
        .ready()
        .cpu(4000)
        .memory(8000)
        .driver(
            "raw_exec",
            DriverInfo {
                detected: true,
                healthy: true,
                ..DriverInfo::default()
            },
        );
    for (name, read_only) in volumes {
        builder = builder.host_volume(name, &format!("/srv/{name}"), *read_only);
    }
    builder.arc()
}

/// The batch job with one host volume request per (source, read_only).
fn volume_job(requests: &[(&str, bool)]) -> Job {
    let mut job = batch_job(1);
    for (i, (source, read_only)) in requests.iter().enumerate() {
        job.task_groups[0].volumes.insert(
            format!("v{i}"),
            VolumeRequest {
                name: format!("v{i}"),
                r#type: "host".into(),
                source: source.to_string(),
                read_only: *read_only,
                ..VolumeRequest::default()
            },
        );
    }
    job
}

struct Case {
    name: &'static str,
    /// Per node: its host volumes (name, read-only).
    nodes: &'static [(&'static str, &'static [(&'static str, bool)])],
    /// The group's requests (source, read_only).
    requests: &'static [(&'static str, bool)],
    /// Where the one allocation may go; empty when it cannot be placed.
    feasible: &'static [&'static str],
    /// Nodes filtered for missing compatible host volumes.
    filtered: i64,
}

const CASES: &[Case] = &[
    Case {
        name: "only_the_node_with_the_volume_is_feasible",
        nodes: &[
            ("n1", &[]),
            ("n2", &[("data", false)]),
            ("n3", &[("logs", false)]),
        ],
        requests: &[("data", false)],
        feasible: &["n2"],
        filtered: 2,
    },
    Case {
        name: "a_volume_no_node_has_fails_placement",
        nodes: &[("n1", &[("data", false)]), ("n2", &[])],
        requests: &[("missing", true)],
        feasible: &[],
        filtered: 2,
    },
    Case {
        name: "a_read_only_volume_is_infeasible_for_a_writer",
        nodes: &[("n1", &[("data", true)])],
        requests: &[("data", false)],
        feasible: &[],
        filtered: 1,
    },
    Case {
        name: "a_read_only_volume_is_feasible_for_a_reader",
        nodes: &[("n1", &[("data", true)])],
        requests: &[("data", true)],
        feasible: &["n1"],
        filtered: 0,
    },
    Case {
        name: "a_writable_volume_serves_readers_too",
        nodes: &[("n1", &[("data", false)])],
        requests: &[("data", true)],
        feasible: &["n1"],
        filtered: 0,
    },
    Case {
        name: "every_requested_volume_must_be_there",
        nodes: &[
            ("n1", &[("data", false)]),
            ("n2", &[("data", false), ("certs", true)]),
        ],
        requests: &[("data", false), ("certs", true)],
        feasible: &["n2"],
        filtered: 1,
    },
    Case {
        name: "no_request_needs_no_volume",
        nodes: &[("n1", &[])],
        requests: &[],
        feasible: &["n1"],
        filtered: 0,
    },
];

#[test]
fn host_volume_feasibility() {
    for case in CASES {
        let state = TestState {
            deployment: None,
            job: Some(Arc::new(volume_job(case.requests))),
            nodes: case
                .nodes
                .iter()
                .map(|(id, volumes)| volume_node(id, volumes))
                .collect(),
            ..TestState::default()
        };
        let plan = run(&state);
        let name = case.name;
        let placed: Vec<&str> = plan
            .node_allocation
            .iter()
            .filter(|(_, allocs)| !allocs.is_empty())
            .map(|(node, _)| node.as_str())
            .collect();
        let metric = if case.feasible.is_empty() {
            assert!(placed.is_empty(), "{name}: placed on {placed:?}");
            plan.failed_tg_allocs
                .get("example")
                .unwrap_or_else(|| panic!("{name}: no placement failure"))
                .clone()
        } else {
            assert!(
                placed.len() == 1 && case.feasible.contains(&placed[0]),
                "{name}: placed on {placed:?}"
            );
            caravan_structs::AllocMetric::clone(&plan.node_allocation[placed[0]][0].metrics)
        };
        assert_eq!(
            metric
                .constraint_filtered
                .get(MISSING_HOST_VOLUMES)
                .copied()
                .unwrap_or(0),
            case.filtered,
            "{name}: {:?}",
            metric.constraint_filtered
        );
    }
}
