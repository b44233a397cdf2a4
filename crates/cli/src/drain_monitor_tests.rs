//! Drain monitor: watches as tables, the driver over a scripted source.

use std::collections::VecDeque;
use std::sync::Mutex;

use caravan_structs::Job;

use super::*;

const NODE: &str = "6477d9ed-0000-0000-0000-000000000000";
const A1: &str = "48154342-aaaa-bbbb-cccc-dddddddddddd";
const A2: &str = "7de7f1d3-aaaa-bbbb-cccc-dddddddddddd";

fn alloc(id: &str, create_index: u64, desired: &str, migrating: bool, client: &str) -> Allocation {
    Allocation {
        id: id.into(),
        node_id: NODE.into(),
        create_index,
        desired_status: desired.parse().expect("a desired status"),
        desired_description: if migrating {
            ALLOC_MIGRATING.into()
        } else {
            String::new()
        },
        client_status: client.parse().expect("a client status"),
        job: Some(std::sync::Arc::new(Job {
            r#type: Some(JobType::Service),
            ..Job::default()
        })),
        ..Allocation::default()
    }
}

fn system_alloc(id: &str, client: &str) -> Allocation {
    let mut a = alloc(id, 1, "run", false, client);
    if let Some(job) = a.job.as_mut().map(std::sync::Arc::make_mut) {
        job.r#type = Some(JobType::System);
    }
    a
}

fn node(drain: bool, status: &str) -> Node {
    Node {
        id: NODE.into(),
        drain,
        status: status.parse().expect("a node status"),
        ..Node::default()
    }
}

fn normal(text: &str) -> DrainMessage {
    DrainMessage::new(Level::Normal, text.to_string())
}

fn info(text: &str) -> DrainMessage {
    DrainMessage::new(Level::Info, text.to_string())
}

#[test]
fn alloc_watch_table() {
    struct Case {
        name: &'static str,
        reads: Vec<Vec<Allocation>>,
        ignore_system: bool,
        /// Messages of the last read, and whether the watch is done after it.
        want: (Vec<DrainMessage>, bool),
    }
    let stopped = format!("All allocations on node \"{NODE}\" have stopped");
    let cases = vec![
        Case {
            name: "first_read_only_records",
            reads: vec![vec![alloc(A1, 1, "run", false, "running")]],
            ignore_system: false,
            want: (vec![], false),
        },
        Case {
            name: "no_allocs_is_done_at_once",
            reads: vec![vec![]],
            ignore_system: false,
            want: (vec![info(&stopped)], true),
        },
        Case {
            name: "marked_for_migration",
            reads: vec![
                vec![alloc(A1, 1, "run", false, "running")],
                vec![alloc(A1, 1, "stop", true, "running")],
            ],
            ignore_system: false,
            want: (
                vec![normal(&format!("Alloc \"{A1}\" marked for migration"))],
                false,
            ),
        },
        Case {
            name: "client_status_change_wins_over_migration",
            reads: vec![
                vec![alloc(A1, 1, "run", false, "running")],
                vec![alloc(A1, 1, "stop", true, "complete")],
            ],
            ignore_system: false,
            want: (
                vec![
                    normal(&format!("Alloc \"{A1}\" status running -> complete")),
                    info(&stopped),
                ],
                true,
            ),
        },
        Case {
            name: "draining_after_marked",
            reads: vec![
                vec![alloc(A1, 1, "run", true, "running")],
                vec![alloc(A1, 1, "stop", true, "running")],
            ],
            ignore_system: false,
            want: (vec![normal(&format!("Alloc \"{A1}\" draining"))], false),
        },
        Case {
            name: "newest_first_and_pending_counts_as_running",
            reads: vec![
                vec![
                    alloc(A1, 1, "run", false, "running"),
                    alloc(A2, 2, "run", false, "pending"),
                ],
                vec![
                    alloc(A1, 1, "stop", false, "complete"),
                    alloc(A2, 2, "run", false, "running"),
                ],
            ],
            ignore_system: false,
            want: (
                vec![
                    normal(&format!("Alloc \"{A2}\" status pending -> running")),
                    normal(&format!("Alloc \"{A1}\" status running -> complete")),
                ],
                false,
            ),
        },
        Case {
            name: "ignore_system_leaves_system_allocs_out",
            reads: vec![vec![system_alloc(A1, "running")]],
            ignore_system: true,
            want: (vec![info(&stopped)], true),
        },
        Case {
            name: "system_allocs_count_by_default",
            reads: vec![vec![system_alloc(A1, "running")]],
            ignore_system: false,
            want: (vec![], false),
        },
    ];
    for case in cases {
        let mut watch = AllocWatch::new(NODE, case.ignore_system);
        let mut last = (Vec::new(), false);
        for read in &case.reads {
            last = watch.observe(read);
        }
        assert_eq!(last, case.want, "case {}", case.name);
    }
}

#[test]
fn node_watch_table() {
    let cases = [
        ("draining_says_nothing", node(true, "ready"), vec![], false),
        (
            "drain_over",
            node(false, "ready"),
            vec![info(&format!("Drain complete for node {NODE}"))],
            true,
        ),
        (
            "down_warns",
            node(true, "down"),
            vec![DrainMessage::new(
                Level::Warn,
                format!("Node \"{NODE}\" down"),
            )],
            false,
        ),
    ];
    for (name, node, want, done) in cases {
        let mut watch = NodeWatch::new(NODE);
        assert_eq!(watch.observe(&node), (want, done), "case {name}");
    }
}

/// Answers reads from scripts; the last answer repeats.
struct Script {
    nodes: Mutex<VecDeque<Result<Indexed<Node>, u16>>>,
    allocs: Mutex<VecDeque<Indexed<Vec<Allocation>>>>,
    asked: Mutex<Vec<String>>,
}

fn next<T: Clone>(queue: &Mutex<VecDeque<T>>) -> T {
    let mut q = queue.lock().unwrap();
    if q.len() > 1 {
        q.pop_front().unwrap()
    } else {
        q.front().cloned().unwrap()
    }
}

impl DrainSource for Script {
    fn node(&self, node_id: &str, index: u64) -> Result<Indexed<Node>, ApiError> {
        self.asked
            .lock()
            .unwrap()
            .push(format!("node {node_id} {index}"));
        next(&self.nodes).map_err(|code| ApiError::Status {
            code,
            body: "node not found".into(),
            kind: None,
        })
    }

    fn allocations(&self, node_id: &str, index: u64) -> Result<Indexed<Vec<Allocation>>, ApiError> {
        self.asked
            .lock()
            .unwrap()
            .push(format!("allocs {node_id} {index}"));
        Ok(next(&self.allocs))
    }
}

fn indexed<T>(value: T, index: u64) -> Indexed<T> {
    Indexed {
        value,
        index,
        next_token: String::new(),
    }
}

#[test]
fn monitor_runs_both_watches_to_the_end() {
    let script = Arc::new(Script {
        nodes: Mutex::new(VecDeque::from([
            Ok(indexed(node(true, "ready"), 11)),
            Ok(indexed(node(false, "ready"), 14)),
        ])),
        allocs: Mutex::new(VecDeque::from([
            indexed(vec![alloc(A1, 1, "run", false, "running")], 5),
            indexed(vec![alloc(A1, 1, "stop", true, "running")], 12),
            indexed(vec![alloc(A1, 1, "stop", true, "complete")], 13),
        ])),
        asked: Mutex::new(Vec::new()),
    });
    let mut lines = Vec::new();
    monitor_drain(Arc::clone(&script), NODE, 10, false, |m| {
        lines.push(m.clone())
    });
    let alloc_lines: Vec<&DrainMessage> = lines
        .iter()
        .filter(|m| m.text.starts_with("Alloc") || m.text.starts_with("All "))
        .collect();
    assert_eq!(
        alloc_lines,
        vec![
            &normal(&format!("Alloc \"{A1}\" marked for migration")),
            &normal(&format!("Alloc \"{A1}\" status running -> complete")),
            &info(&format!("All allocations on node \"{NODE}\" have stopped")),
        ]
    );
    assert!(lines.contains(&info(&format!("Drain complete for node {NODE}"))));
    assert_eq!(lines.len(), 4, "{lines:?}");
    let asked = script.asked.lock().unwrap().clone();
    // The node is read past the drain update's index, then past each answer.
    assert!(asked.contains(&format!("node {NODE} 10")), "{asked:?}");
    assert!(asked.contains(&format!("node {NODE} 11")), "{asked:?}");
    // Allocations: a plain read first, then blocking on each answer's index.
    assert!(asked.contains(&format!("allocs {NODE} 0")), "{asked:?}");
    assert!(asked.contains(&format!("allocs {NODE} 12")), "{asked:?}");
}

#[test]
fn monitor_stops_on_error() {
    let script = Arc::new(Script {
        nodes: Mutex::new(VecDeque::from([Err(404)])),
        allocs: Mutex::new(VecDeque::from([indexed(
            vec![alloc(A1, 1, "run", false, "running")],
            5,
        )])),
        asked: Mutex::new(Vec::new()),
    });
    let mut lines = Vec::new();
    monitor_drain(script, NODE, 10, false, |m| lines.push(m.clone()));
    assert_eq!(
        lines,
        vec![DrainMessage::new(
            Level::Error,
            "Error monitoring node: Unexpected response code: 404 (node not found)".into()
        )]
    );
}
