//! Every constraint operator, one row per case: the nodes of a four-node fixture that
//! pass it; then `distinct_hosts` and `distinct_property` through whole evaluations.

use super::*;
use crate::rules::JobRules;

type Pairs<'a> = &'a [(&'a str, &'a str)];

/// Four nodes whose attributes tell the operators apart.
fn fixture() -> Vec<Arc<Node>> {
    let rows: [(&str, Pairs, Pairs); 4] = [
        (
            "n1",
            &[
                ("kernel.name", "linux"),
                ("kernel.version", "4.19.0"),
                ("cpu.numcores", "8"),
                ("os.version", "22.04"),
                ("app.version", "1.2.0"),
            ],
            &[("rack", "r1"), ("tags", "a, b,c")],
        ),
        (
            "n2",
            &[
                ("kernel.name", "linux"),
                ("kernel.version", "5.15.0-67-generic"),
                ("cpu.numcores", "16"),
                ("os.version", "20.04"),
                ("app.version", "1.9.9"),
            ],
            &[("rack", "r1"), ("tags", "b,d")],
        ),
        (
            "n3",
            &[
                ("kernel.name", "windows"),
                ("kernel.version", "10.0.17763"),
                ("cpu.numcores", "4"),
                ("os.version", "10"),
                ("app.version", "2.0.0"),
            ],
            &[("rack", "r2")],
        ),
        (
            "n4",
            &[
                ("kernel.name", "linux"),
                ("kernel.version", "3.10.0"),
                ("cpu.numcores", "32"),
                ("os.version", "7.9"),
                ("app.version", "1.3.0-beta1"),
            ],
            &[],
        ),
    ];
    rows.iter()
        .map(|(id, attrs, meta)| {
            let mut n = Node::clone(&node(id, id, true));
            n.attributes = attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            n.meta = meta
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            Arc::new(n)
        })
        .collect()
}

fn feasible_nodes(l: &str, operand: &str, r: &str) -> Vec<String> {
    let mut job = batch_job(1);
    job.task_groups[0].constraints.push(Constraint {
        l_target: l.into(),
        r_target: r.into(),
        operand: operand.into(),
    });
    let rules = JobRules::new(&job);
    fixture()
        .iter()
        .filter(|n| rules.check(0, n).is_ok())
        .map(|n| n.id.to_string())
        .collect()
}

#[test]
fn every_operator_selects_the_right_nodes() {
    let cases: &[(&str, &str, &str, &[&str])] = &[
        ("${attr.kernel.name}", "=", "linux", &["n1", "n2", "n4"]),
        ("${attr.kernel.name}", "==", "linux", &["n1", "n2", "n4"]),
        ("${attr.kernel.name}", "is", "linux", &["n1", "n2", "n4"]),
        ("${attr.kernel.name}", "!=", "linux", &["n3"]),
        ("${attr.kernel.name}", "not", "linux", &["n3"]),
        // A missing attribute is "not equal" to anything.
        ("${meta.rack}", "!=", "r1", &["n3", "n4"]),
        // ...but never equal, even to the empty string's interpolation.
        ("${meta.rack}", "=", "${meta.nothing}", &[]),
        // Numbers compare as numbers: lexically "16" < "8".
        ("${attr.cpu.numcores}", ">", "8", &["n2", "n4"]),
        ("${attr.cpu.numcores}", ">=", "16", &["n2", "n4"]),
        ("${attr.cpu.numcores}", "<", "16", &["n1", "n3"]),
        ("${attr.cpu.numcores}", "<=", "16", &["n1", "n2", "n3"]),
        // Floats too: lexically "7.9" >= "21.5".
        ("${attr.os.version}", ">=", "21.5", &["n1"]),
        // Strings compare lexically; a missing attribute never orders.
        ("${meta.rack}", "<", "r2", &["n1", "n2"]),
        ("${meta.rack}", ">=", "r2", &["n3"]),
        // go-version: a pre-release (5.15.0-67-generic) never meets a plain constraint.
        ("${attr.kernel.version}", "version", "> 3.19", &["n1", "n3"]),
        (
            "${attr.app.version}",
            "version",
            ">= 1.2, < 2.0",
            &["n1", "n2"],
        ),
        ("${attr.app.version}", "version", "~> 1.2", &["n1", "n2"]),
        ("${attr.app.version}", "version", "~> 1.2.0", &["n1"]),
        ("${attr.app.version}", "version", "= 1.3.0-beta1", &["n4"]),
        // Semver orders pre-releases normally.
        (
            "${attr.app.version}",
            "semver",
            ">= 1.2, < 2.0",
            &["n1", "n2", "n4"],
        ),
        ("${attr.app.version}", "semver", "< 1.3.0", &["n1", "n4"]),
        // RE2, unanchored.
        ("${attr.kernel.version}", "regexp", "^4\\.", &["n1"]),
        ("${attr.kernel.version}", "regexp", "generic", &["n2"]),
        ("${meta.tags}", "set_contains", "a,b", &["n1"]),
        ("${meta.tags}", "set_contains_all", "b", &["n1", "n2"]),
        ("${meta.tags}", "set_contains_any", "c, d", &["n1", "n2"]),
        ("${meta.rack}", "is_set", "", &["n1", "n2", "n3"]),
        ("${meta.rack}", "is_not_set", "", &["n4"]),
        ("${node.unique.id}", "=", "n2", &["n2"]),
        ("${node.datacenter}", "=", "dc1", &["n1", "n2", "n3", "n4"]),
        // Not an interpolation Nomad knows: never found.
        ("${node.region}", "=", "global", &[]),
        // Enforced across placements, not per node.
        ("", "distinct_hosts", "", &["n1", "n2", "n3", "n4"]),
        (
            "${meta.rack}",
            "distinct_property",
            "2",
            &["n1", "n2", "n3", "n4"],
        ),
        ("${attr.kernel.name}", "like", "linux", &[]),
    ];
    for (l, operand, r, want) in cases {
        assert_eq!(
            feasible_nodes(l, operand, r),
            *want,
            "constraint {l} {operand} {r}"
        );
    }
}

#[test]
fn distinct_hosts_allows_one_allocation_per_node() {
    let mut job = batch_job(4);
    job.task_groups[0].constraints.push(Constraint {
        l_target: String::new(),
        r_target: "true".into(),
        operand: "distinct_hosts".into(),
    });
    let state = TestState {
        deployment: None,
        job: Some(Arc::new(job)),
        nodes: cluster(),
        ..TestState::default()
    };
    let plan = run(&state);
    assert_eq!(
        placed_per_node(&plan),
        counts(&[("n1", 1), ("n2", 1), ("n3", 1)])
    );
    let metric = &plan.failed_tg_allocs["example"];
    assert_eq!(metric.nodes_evaluated, 3);
    assert_eq!(metric.constraint_filtered.get("distinct_hosts"), Some(&3));
}

#[test]
fn distinct_property_limits_allocations_per_value() {
    let mut nodes = fixture();
    // Give n4 a rack so every node has one: r1 = n1, n2; r2 = n3, n4.
    let mut n4 = Node::clone(&nodes[3]);
    n4.meta.insert("rack".into(), "r2".into());
    nodes[3] = Arc::new(n4);
    let mut job = batch_job(5);
    job.task_groups[0].constraints.push(Constraint {
        l_target: "${meta.rack}".into(),
        r_target: "2".into(),
        operand: "distinct_property".into(),
    });
    let state = TestState {
        deployment: None,
        job: Some(Arc::new(job)),
        nodes,
        ..TestState::default()
    };
    let plan = run(&state);
    let mut per_rack = BTreeMap::new();
    for alloc in plan.node_allocation.values().flatten() {
        let rack = if ["n1", "n2"].contains(&alloc.node_id.as_str()) {
            "r1"
        } else {
            "r2"
        };
        *per_rack.entry(rack).or_insert(0) += 1;
    }
    assert_eq!(per_rack, [("r1", 2), ("r2", 2)].into());
    let metric = &plan.failed_tg_allocs["example"];
    assert_eq!(
        metric
            .constraint_filtered
            .get("distinct_property: ${meta.rack}=r1 used by 2 allocs"),
        Some(&2)
    );
}

#[test]
fn distinct_property_counts_existing_allocations() {
    let job = batch_job(2);
    let mut constrained = job.clone();
    constrained.task_groups[0].constraints.push(Constraint {
        l_target: "${meta.Name}".into(),
        r_target: String::new(),
        operand: "distinct_property".into(),
    });
    let allocs = vec![existing(
        &constrained,
        "a",
        "n1",
        0,
        AllocClientStatus::Running,
    )];
    let state = on_cluster(constrained, allocs);
    let plan = run(&state);
    let placed: Vec<&str> = placements(&plan).map(|a| a.node_id.as_str()).collect();
    assert_eq!(placed.len(), 1);
    assert_ne!(placed[0], "n1");
}
