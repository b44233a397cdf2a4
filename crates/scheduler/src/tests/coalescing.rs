//! Coalesced failures: once a group fails to place in an evaluation, the rest of its
//! missing allocations are counted (`CoalescedFailures`, `QueuedAllocations`), never
//! tried, so an evaluation costs what it places, whatever the count.

use super::*;

/// One row: a group's count and ask on the nodes given, and what the plan must say.
struct Case {
    name: &'static str,
    count: i64,
    /// The task's cpu (MHz) and memory (MB); each node has 4890 MHz and 24,000 MB.
    ask: (i64, i64),
    nodes: usize,
    /// A group constraint that no node meets.
    unmeetable: bool,
    /// Allocations of the group already running (indexes 0..n on n1).
    running: u64,
    placed: usize,
    queued: i64,
    coalesced: i64,
    /// Nodes the one failed placement looked at: the failure is tried once, not per copy.
    evaluated: i64,
}

const CASES: &[Case] = &[
    Case {
        name: "everything fits: nothing fails",
        count: 5,
        ask: (500, 300),
        nodes: 3,
        unmeetable: false,
        running: 0,
        placed: 5,
        queued: 0,
        coalesced: -1,
        evaluated: 0,
    },
    Case {
        name: "one more than fits: one failure, nothing coalesced",
        count: 10,
        ask: (500, 300),
        nodes: 1,
        unmeetable: false,
        running: 0,
        placed: 9,
        queued: 1,
        coalesced: 0,
        evaluated: 1,
    },
    Case {
        name: "a million: what fits is placed, the rest is a number",
        count: 1_000_000,
        ask: (500, 300),
        nodes: 3,
        unmeetable: false,
        running: 0,
        placed: 27,
        queued: 1_000_000 - 27,
        coalesced: 1_000_000 - 28,
        evaluated: 3,
    },
    Case {
        name: "the largest count JSON can carry",
        count: i64::MAX,
        ask: (500, 300),
        nodes: 1,
        unmeetable: false,
        running: 0,
        placed: 9,
        queued: i64::MAX - 9,
        coalesced: i64::MAX - 10,
        evaluated: 1,
    },
    Case {
        name: "no node meets the constraint: the first copy fails, the rest are counted",
        count: 1_000_000,
        ask: (500, 300),
        nodes: 3,
        unmeetable: true,
        running: 0,
        placed: 0,
        queued: 1_000_000,
        coalesced: 999_999,
        evaluated: 3,
    },
    Case {
        name: "running allocations are kept; only the missing ones are placed or counted",
        count: 1_000_000,
        ask: (500, 300),
        nodes: 1,
        unmeetable: false,
        running: 4,
        // The node's 9 slots minus the 4 running.
        placed: 5,
        queued: 1_000_000 - 4 - 5,
        coalesced: 1_000_000 - 4 - 5 - 1,
        evaluated: 1,
    },
];

#[test]
fn a_group_that_failed_once_only_counts_the_rest() {
    for case in CASES {
        let mut job = batch_job(case.count);
        job.task_groups[0].tasks[0].resources.cpu = case.ask.0;
        job.task_groups[0].tasks[0].resources.memory_mb = case.ask.1;
        if case.unmeetable {
            job.task_groups[0].constraints.push(Constraint {
                l_target: "${attr.os.name}".into(),
                r_target: "windows".into(),
                operand: "=".into(),
            });
        }
        let mut allocs = Vec::new();
        for i in 0..case.running {
            let mut alloc = Allocation::clone(&existing(
                &job,
                &format!("run-{i}"),
                "n1",
                i,
                AllocClientStatus::Running,
            ));
            alloc.allocated_resources = testkit::allocated("echo", case.ask.0, case.ask.1, 0);
            allocs.push(Arc::new(alloc));
        }
        let state = TestState {
            deployment: None,
            job: Some(Arc::new(job)),
            nodes: cluster().into_iter().take(case.nodes).collect(),
            allocs,
        };
        let plan = run(&state);
        let placed: Vec<&Allocation> = placements(&plan).collect();
        assert_eq!(placed.len(), case.placed, "{}: placed", case.name);
        assert_eq!(
            plan.queued_allocations["example"], case.queued,
            "{}: queued",
            case.name
        );
        match plan.failed_tg_allocs.get("example") {
            None => assert_eq!(case.coalesced, -1, "{}: no failure recorded", case.name),
            Some(failed) => {
                assert_eq!(
                    failed.coalesced_failures, case.coalesced,
                    "{}: coalesced",
                    case.name
                );
                assert_eq!(
                    failed.nodes_evaluated, case.evaluated,
                    "{}: nodes evaluated",
                    case.name
                );
            }
        }
        // New allocations take the lowest free indexes, after the running ones.
        let mut indexes: Vec<u64> = placed.iter().map(|a| a.index()).collect();
        indexes.sort_unstable();
        let want: Vec<u64> = (case.running..case.running + case.placed as u64).collect();
        assert_eq!(indexes, want, "{}: indexes", case.name);
    }
}

#[test]
fn a_failing_group_does_not_stop_the_next_group() {
    let mut job = batch_job(1_000_000);
    job.task_groups[0].constraints.push(Constraint {
        l_target: "${attr.os.name}".into(),
        r_target: "windows".into(),
        operand: "=".into(),
    });
    let mut second = job.task_groups[0].clone();
    second.name = "second".into();
    second.count = 2;
    second.constraints.clear();
    job.task_groups.push(second);
    let state = on_cluster(job, Vec::new());
    let plan = run(&state);
    assert_eq!(plan.queued_allocations["example"], 1_000_000);
    assert_eq!(plan.failed_tg_allocs["example"].coalesced_failures, 999_999);
    assert_eq!(plan.queued_allocations["second"], 0);
    assert!(!plan.failed_tg_allocs.contains_key("second"));
    let second: Vec<&str> = placements(&plan)
        .filter(|a| a.task_group == "second")
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(second.len(), 2, "{second:?}");
}
