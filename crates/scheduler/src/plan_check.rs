//! Nomad's `evaluatePlan`, pure: which nodes of a plan no longer fit the newest state.
//! The plan applier runs it on every plan computed on an older snapshot than the one it
//! commits on; several workers scheduling at once can each have planned for the same
//! free room, and only the first plan to be committed gets it.

use std::collections::BTreeMap;
use std::sync::Arc;

use caravan_structs::{AllocId, Allocation, NodeId, ResourceUsage};

use crate::SchedulerState;
use crate::select::usage_fits;

/// The nodes a plan may not place on, each with why; empty when the whole plan fits.
pub type RejectedNodes = BTreeMap<NodeId, String>;

/// Checks each node a plan places on against `state`: it must exist, take new work
/// (ready, eligible, not draining) and have the cpu, memory and disk for what it would
/// run once the plan's stops and updates are counted. Nodes that only lose allocations,
/// or only have theirs updated in place, are never rejected (Nomad: a plan that only
/// stops is always allowed). Ports and reserved cores are the scheduler's to check.
///
/// A node is rejected as a whole (Nomad's partial commit): the applier commits the
/// plan's other nodes and the scheduler places the rejected node's share again.
pub fn evaluate_plan(
    state: &dyn SchedulerState,
    stops: &[Allocation],
    placements: &[Allocation],
) -> RejectedNodes {
    let mut by_node: BTreeMap<&NodeId, Vec<&Allocation>> = BTreeMap::new();
    for alloc in placements {
        by_node.entry(&alloc.node_id).or_default().push(alloc);
    }
    let mut stopped_on: BTreeMap<&NodeId, Vec<&AllocId>> = BTreeMap::new();
    for alloc in stops {
        stopped_on
            .entry(&alloc.node_id)
            .or_default()
            .push(&alloc.id);
    }
    let mut rejected = RejectedNodes::new();
    for (node_id, placed) in by_node {
        // What the plan replaces on the node: its stops there and its updates in place,
        // as the state holds them now.
        let mut replaced: BTreeMap<&AllocId, Option<Arc<Allocation>>> = BTreeMap::new();
        for id in placed
            .iter()
            .map(|a| &a.id)
            .chain(stopped_on.get(node_id).into_iter().flatten().copied())
        {
            replaced
                .entry(id)
                .or_insert_with(|| state.alloc_on_node(node_id, id));
        }
        if placed
            .iter()
            .all(|a| replaced.get(&a.id).is_some_and(Option::is_some))
        {
            continue;
        }
        let Some(node) = state.node(node_id) else {
            rejected.insert(node_id.clone(), format!("node {node_id} does not exist"));
            continue;
        };
        if !node.is_schedulable() {
            let why = format!("node {node_id} is not ready for placements");
            rejected.insert(node_id.clone(), why);
            continue;
        }
        let mut used = state.node_usage(node_id);
        used -= ResourceUsage::of_live(replaced.values().flatten().map(|a| a.as_ref()));
        for alloc in &placed {
            used += ResourceUsage::of(alloc);
        }
        if let Err(dimension) = usage_fits(&node, &used) {
            let why = format!("node {node_id} is out of {dimension}");
            rejected.insert(node_id.clone(), why);
        }
    }
    rejected
}

#[cfg(test)]
mod tests {
    use caravan_structs::{AllocatedResources, AllocatedTaskResources, CpuResources};
    use caravan_testkit as testkit;

    use super::*;
    use crate::testing::MemState;

    fn alloc(id: &str, node: &str, cpu: i64) -> Allocation {
        let mut resources = AllocatedResources::default();
        resources.tasks.insert(
            "t",
            AllocatedTaskResources {
                cpu: CpuResources { cpu_shares: cpu },
                ..Default::default()
            },
        );
        Allocation {
            id: id.into(),
            node_id: node.into(),
            namespace: "default".into(),
            job_id: "web".into(),
            allocated_resources: resources,
            ..Allocation::default()
        }
    }

    fn state() -> MemState {
        MemState {
            nodes: vec![
                testkit::node("up").cpu(1000).ready().arc(),
                testkit::node("other").cpu(1000).ready().arc(),
                testkit::node("gone").cpu(1000).arc(),
            ],
            allocs: vec![Arc::new(alloc("running", "up", 600))],
            ..MemState::default()
        }
    }

    fn reasons(rejected: RejectedNodes) -> Vec<String> {
        rejected.into_values().collect()
    }

    #[test]
    fn only_the_over_committed_nodes_are_rejected() {
        let state = state();
        let check = |stops: &[Allocation], placements: &[Allocation]| {
            reasons(evaluate_plan(&state, stops, placements))
        };
        assert!(check(&[], &[alloc("new", "up", 400)]).is_empty());
        // Partial: "other" still fits, "up" does not.
        assert_eq!(
            check(&[], &[alloc("a", "up", 500), alloc("b", "other", 900)]),
            ["node up is out of cpu"]
        );
        // Room the same plan frees counts, and so does an in-place update's own share.
        assert!(check(&[alloc("running", "up", 600)], &[alloc("new", "up", 900)]).is_empty());
        assert!(check(&[], &[alloc("running", "up", 600), alloc("new", "up", 400)]).is_empty());
        assert_eq!(
            check(&[], &[alloc("new", "gone", 1), alloc("x", "nowhere", 1)]),
            [
                "node gone is not ready for placements",
                "node nowhere does not exist"
            ]
        );
        // Stops alone are never rejected.
        assert!(check(&[alloc("running", "gone", 1)], &[]).is_empty());
    }
}
