//! Port assignment: a group's `network` block reserves static and dynamic ports on the
//! chosen node, never one another live allocation holds there.

use std::collections::BTreeSet;

use super::*;

/// A service job whose group asks for `static_ports` (label, value) and `dynamic` ports.
fn port_job(
    id: &str,
    count: i64,
    mode: &str,
    static_ports: &[(&str, i64)],
    dynamic: &[&str],
) -> Job {
    let mut job = batch_job(count);
    job.id = id.into();
    job.name = id.into();
    job.r#type = Some(JobType::Service);
    let group = &mut job.task_groups[0];
    // Small tasks, so many fit on one node.
    group.tasks[0].resources.cpu = 10;
    group.tasks[0].resources.memory_mb = 10;
    group.networks = vec![NetworkResource {
        mode: mode.into(),
        reserved_ports: static_ports
            .iter()
            .map(|(label, value)| Port {
                label: (*label).into(),
                value: *value,
                ..Port::default()
            })
            .collect(),
        dynamic_ports: dynamic
            .iter()
            .map(|label| Port {
                label: (*label).into(),
                ..Port::default()
            })
            .collect(),
        ..NetworkResource::default()
    }];
    job
}

/// A node with an address, as the client fingerprints it.
fn addressed(id: &str, ip: &str) -> Arc<Node> {
    let mut n = Node::clone(&node(id, id, true));
    n.attributes
        .insert("unique.network.ip-address".into(), ip.into());
    Arc::new(n)
}

/// A running allocation of another job holding `ports` on `node`.
fn holding(id: &str, node: &str, ports: impl IntoIterator<Item = i64>) -> Arc<Allocation> {
    let other = port_job("other", 1, "host", &[], &[]);
    let mut alloc = Allocation::clone(&existing(&other, id, node, 0, AllocClientStatus::Running));
    alloc.allocated_resources.shared.ports = ports
        .into_iter()
        .map(|value| AllocatedPortMapping {
            label: format!("p{value}"),
            value,
            to: 0,
            host_ip: "10.0.0.1".into(),
        })
        .collect();
    Arc::new(alloc)
}

fn placed(plan: &Plan) -> Vec<&Allocation> {
    plan.node_allocation.values().flatten().collect()
}

#[test]
fn static_port_is_reserved_with_the_node_address() {
    let job = port_job("web", 1, "", &[("http", 8080)], &["db"]);
    let state = TestState {
        deployment: None,
        job: Some(Arc::new(job)),
        nodes: vec![addressed("n1", "10.0.0.1")],
        allocs: Vec::new(),
    };
    let plan = run(&state);
    let allocs = placed(&plan);
    assert_eq!(allocs.len(), 1);
    let shared = &allocs[0].allocated_resources.shared;
    assert_eq!(shared.ports.len(), 2);
    assert_eq!(
        shared.ports[0],
        AllocatedPortMapping {
            label: "http".into(),
            value: 8080,
            to: 0,
            host_ip: "10.0.0.1".into(),
        }
    );
    let db = &shared.ports[1];
    assert_eq!((db.label.as_str(), db.host_ip.as_str()), ("db", "10.0.0.1"));
    assert!((20_000..=32_000).contains(&db.value), "{db:?}");
    // The network as placed: Nomad's shape, the dynamic value and the IP filled in.
    assert_eq!(shared.networks.len(), 1);
    assert_eq!(shared.networks[0].ip, "10.0.0.1");
    assert_eq!(shared.networks[0].dynamic_ports[0].value, db.value);
    assert_eq!(shared.networks[0].reserved_ports[0].value, 8080);
    let json = serde_json::to_value(&allocs[0].allocated_resources).unwrap();
    assert_eq!(json["Shared"]["Ports"][0]["HostIP"], "10.0.0.1");
    assert_eq!(json["Shared"]["Ports"][0]["Label"], "http");
    assert_eq!(json["Shared"]["Networks"][0]["IP"], "10.0.0.1");
}

#[test]
fn static_port_collision_exhausts_the_node_with_nomads_dimension() {
    let job = port_job("web", 1, "host", &[("http", 8080)], &[]);
    let state = TestState {
        deployment: None,
        job: Some(Arc::new(job)),
        nodes: vec![addressed("n1", "10.0.0.1")],
        allocs: vec![holding("taken", "n1", [8080])],
    };
    let plan = run(&state);
    assert!(placed(&plan).is_empty());
    let metric = &plan.failed_tg_allocs["example"];
    assert_eq!(metric.nodes_exhausted, 1);
    assert_eq!(
        metric.dimension_exhausted,
        [("network: reserved port collision http=8080".to_string(), 1)].into()
    );
}

#[test]
fn static_port_collision_moves_the_placement_to_a_free_node() {
    let job = port_job("web", 1, "host", &[("http", 8080)], &[]);
    let state = TestState {
        deployment: None,
        job: Some(Arc::new(job)),
        nodes: vec![addressed("n1", "10.0.0.1"), addressed("n2", "10.0.0.2")],
        allocs: vec![holding("taken", "n1", [8080])],
    };
    let plan = run(&state);
    assert_eq!(placed_per_node(&plan), counts(&[("n2", 1)]));
}

#[test]
fn a_static_port_fits_once_per_node() {
    // Count 3 over two nodes: the third copy has nowhere to bind 8080.
    let job = port_job("web", 3, "host", &[("http", 8080)], &[]);
    let state = TestState {
        deployment: None,
        job: Some(Arc::new(job)),
        nodes: vec![addressed("n1", "10.0.0.1"), addressed("n2", "10.0.0.2")],
        allocs: Vec::new(),
    };
    let plan = run(&state);
    assert_eq!(placed_per_node(&plan), counts(&[("n1", 1), ("n2", 1)]));
    assert_eq!(plan.queued_allocations["example"], 1);
    let metric = &plan.failed_tg_allocs["example"];
    assert_eq!(
        metric.dimension_exhausted,
        [("network: reserved port collision http=8080".to_string(), 2)].into()
    );
}

#[test]
fn a_port_held_by_an_allocation_the_plan_stops_is_free_again() {
    // The job changed (destructive update) on a single node: the old copy's 8080 is
    // released by the same plan that places the new copy.
    let old = port_job("web", 1, "host", &[("http", 8080)], &[]);
    let mut job = old.clone();
    job.version = 1;
    job.task_groups[0].tasks[0]
        .env
        .insert("NEW".into(), "1".into());
    let mut running =
        Allocation::clone(&existing(&old, "old", "n1", 0, AllocClientStatus::Running));
    running.allocated_resources.shared.ports = vec![AllocatedPortMapping {
        label: "http".into(),
        value: 8080,
        to: 0,
        host_ip: "10.0.0.1".into(),
    }];
    let state = TestState {
        deployment: None,
        job: Some(Arc::new(job)),
        nodes: vec![addressed("n1", "10.0.0.1")],
        allocs: vec![Arc::new(running)],
    };
    let plan = run(&state);
    assert_eq!(plan.node_update["n1"].len(), 1);
    assert_eq!(placed(&plan).len(), 1);
    assert_eq!(
        placed(&plan)[0].allocated_resources.shared.ports[0].value,
        8080
    );
}

#[test]
fn dynamic_ports_never_collide_across_many_placements_on_one_node() {
    // 150 copies with two dynamic ports each on one node that already holds 500 ports of
    // the range: 300 new ports, all distinct and none of the taken ones.
    let job = port_job("web", 150, "host", &[], &["http", "admin"]);
    let taken: Vec<i64> = (20_000..20_500).collect();
    let mut state = TestState {
        deployment: None,
        job: Some(Arc::new(job)),
        nodes: vec![addressed("n1", "10.0.0.1")],
        allocs: vec![holding("taken", "n1", taken.iter().copied())],
    };
    let plan = run(&state);
    let allocs = placed(&plan);
    assert_eq!(allocs.len(), 150);
    let mut seen: BTreeSet<i64> = taken.iter().copied().collect();
    for alloc in &allocs {
        let labels: Vec<&str> = alloc
            .allocated_resources
            .shared
            .ports
            .iter()
            .map(|p| p.label.as_str())
            .collect();
        assert_eq!(labels, ["http", "admin"]);
        for port in &alloc.allocated_resources.shared.ports {
            assert!((20_000..=32_000).contains(&port.value), "{port:?}");
            assert!(
                seen.insert(port.value),
                "port {} handed out twice",
                port.value
            );
        }
    }

    // A later evaluation sees these as existing allocations and avoids them too.
    let first: Vec<Arc<Allocation>> = allocs.into_iter().cloned().map(Arc::new).collect();
    state.allocs.extend(first);
    let mut job = port_job("web2", 50, "host", &[], &["http"]);
    job.id = "web2".into();
    state.job = Some(Arc::new(job));
    let plan = run(&state);
    let second = placed(&plan);
    assert_eq!(second.len(), 50);
    for alloc in second {
        for port in &alloc.allocated_resources.shared.ports {
            assert!(
                seen.insert(port.value),
                "port {} handed out twice",
                port.value
            );
        }
    }
}

#[test]
fn dynamic_ports_are_deterministic_per_evaluation() {
    let job = port_job("web", 5, "host", &[], &["http"]);
    let state = TestState {
        deployment: None,
        job: Some(Arc::new(job)),
        nodes: vec![addressed("n1", "10.0.0.1")],
        allocs: Vec::new(),
    };
    let ports = |plan: &Plan| -> Vec<i64> {
        placed(plan)
            .iter()
            .map(|a| a.allocated_resources.shared.ports[0].value)
            .collect()
    };
    assert_eq!(ports(&run(&state)), ports(&run(&state)));
}

#[test]
fn an_exhausted_dynamic_range_fails_with_nomads_dimension() {
    let job = port_job("web", 1, "host", &[], &["http"]);
    let state = TestState {
        deployment: None,
        job: Some(Arc::new(job)),
        nodes: vec![addressed("n1", "10.0.0.1")],
        allocs: vec![holding("taken", "n1", 20_000..=32_000)],
    };
    let plan = run(&state);
    assert!(placed(&plan).is_empty());
    assert_eq!(
        plan.failed_tg_allocs["example"].dimension_exhausted,
        [("network: dynamic port selection failed".to_string(), 1)].into()
    );
}

#[test]
fn unsupported_network_modes_are_filtered_as_missing_network() {
    for mode in ["bridge", "cni/mynet"] {
        let job = port_job("web", 1, mode, &[], &["http"]);
        let state = TestState {
            deployment: None,
            job: Some(Arc::new(job)),
            nodes: vec![addressed("n1", "10.0.0.1"), addressed("n2", "10.0.0.2")],
            allocs: Vec::new(),
        };
        let plan = run(&state);
        assert!(placed(&plan).is_empty(), "{mode}");
        let metric = &plan.failed_tg_allocs["example"];
        assert_eq!(metric.nodes_filtered, 2, "{mode}");
        assert_eq!(
            metric.constraint_filtered,
            [(crate::feasible::MISSING_NETWORK.to_string(), 2)].into(),
            "{mode}"
        );
    }
}

#[test]
fn mode_none_and_host_networks_other_than_default() {
    // `none` asks for no network: it fits anywhere.
    let job = port_job("web", 1, "none", &[], &[]);
    let state = TestState {
        deployment: None,
        job: Some(Arc::new(job)),
        nodes: vec![addressed("n1", "10.0.0.1")],
        allocs: Vec::new(),
    };
    assert_eq!(placed(&run(&state)).len(), 1);

    // No node has a named host network.
    let mut job = port_job("web", 1, "host", &[], &["http"]);
    job.task_groups[0].networks[0].dynamic_ports[0].host_network = "public".into();
    let state = TestState {
        deployment: None,
        job: Some(Arc::new(job)),
        ..state
    };
    let plan = run(&state);
    assert_eq!(
        plan.failed_tg_allocs["example"].constraint_filtered,
        [(
            "missing host network \"public\" for port \"http\"".to_string(),
            1
        )]
        .into()
    );
}

#[test]
fn a_network_change_replaces_allocations() {
    let old = port_job("web", 1, "host", &[], &["http"]);
    let mut job = port_job("web", 1, "host", &[], &["http", "admin"]);
    job.version = 1;
    let state = TestState {
        deployment: None,
        job: Some(Arc::new(job)),
        nodes: vec![addressed("n1", "10.0.0.1")],
        allocs: vec![existing(&old, "old", "n1", 0, AllocClientStatus::Running)],
    };
    let plan = run(&state);
    assert_eq!(plan.node_update["n1"].len(), 1);
    assert_eq!(placed(&plan)[0].allocated_resources.shared.ports.len(), 2);
}
