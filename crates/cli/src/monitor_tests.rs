//! Monitor tests: scripted polls in, exact lines out.

use std::collections::{BTreeMap, VecDeque};

use caravan_api_types::AllocationListStub;
use caravan_structs::{AllocMetric, Evaluation};

use super::*;

/// Each eval ID answers with its polls in order; the last one repeats.
struct Script {
    polls: BTreeMap<String, VecDeque<(Evaluation, Vec<AllocationListStub>)>>,
    current: Vec<AllocationListStub>,
    slept: Vec<i64>,
    /// What the deployment monitor ends with; the deployments watched.
    deployment_ends: Option<String>,
    watched: Vec<String>,
}

impl Script {
    fn new(polls: Vec<(Evaluation, Vec<AllocationListStub>)>) -> Script {
        let mut map: BTreeMap<String, VecDeque<_>> = BTreeMap::new();
        for (eval, allocs) in polls {
            map.entry(eval.id.to_string())
                .or_default()
                .push_back((eval, allocs));
        }
        Script {
            polls: map,
            current: Vec::new(),
            slept: Vec::new(),
            deployment_ends: Some("successful".into()),
            watched: Vec::new(),
        }
    }
}

impl EvalSource for Script {
    fn evaluation(&mut self, id: &str, index: u64) -> Result<(Evaluation, u64), ApiError> {
        let queue = self.polls.get_mut(id).ok_or(ApiError::Status {
            code: 404,
            body: "eval not found".into(),
            kind: None,
        })?;
        let (eval, allocs) = if queue.len() > 1 {
            queue.pop_front().expect("len checked")
        } else {
            queue.front().cloned().expect("scripts are never empty")
        };
        self.current = allocs;
        Ok((eval, index + 1))
    }

    fn allocations(&mut self, _id: &str) -> Result<Vec<AllocationListStub>, ApiError> {
        Ok(self.current.clone())
    }

    fn sleep(&mut self, nanos: i64) {
        self.slept.push(nanos);
    }

    fn timestamp(&mut self) -> String {
        "T".into()
    }

    fn watch_deployment(
        &mut self,
        id: &str,
        _namespace: &str,
        _length: usize,
        emit: &mut dyn FnMut(MonitorLine),
    ) -> Option<String> {
        self.watched.push(id.to_string());
        emit(MonitorLine::Raw(format!("<deployment {id} watched>")));
        self.deployment_ends.clone()
    }
}

const EVAL_ID: &str = "b5edcaa7-1111-2222-3333-444444444444";

fn eval(id: &str, status: &str) -> Evaluation {
    Evaluation {
        id: id.into(),
        job_id: "hello-exec-batch".into(),
        status: status.parse().expect("an evaluation status"),
        create_index: 10,
        ..Evaluation::default()
    }
}

fn alloc(id: &str, node: &str, create_index: u64) -> AllocationListStub {
    AllocationListStub {
        id: id.into(),
        node_id: node.into(),
        task_group: "example".into(),
        desired_status: AllocDesiredStatus::Run,
        client_status: AllocClientStatus::Pending,
        create_index,
        ..AllocationListStub::default()
    }
}

fn run(script: &mut Script, length: usize) -> (i32, String) {
    let mut lines = Vec::new();
    let code = monitor(script, &EVAL_ID[..8], length, &mut |l| {
        lines.push(l.to_string())
    });
    (code, lines.join("\n"))
}

fn seed_script(id: &str) -> Script {
    let mut e = eval(EVAL_ID, "complete");
    e.id = id.to_string().into();
    Script::new(vec![(
        e,
        vec![
            alloc(
                "48154342-aaaa-bbbb-cccc-dddddddddddd",
                "6477d9ed-0000-0000-0000-000000000000",
                10,
            ),
            alloc(
                "517f5bc8-aaaa-bbbb-cccc-dddddddddddd",
                "8f5984b6-0000-0000-0000-000000000000",
                11,
            ),
        ],
    )])
}

#[test]
fn seed_success_output() {
    let mut script = seed_script(&EVAL_ID[..8]);
    let (code, out) = run(&mut script, 8);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        r#"==> Monitoring evaluation "b5edcaa7"
    Evaluation triggered by job "hello-exec-batch"
    Allocation "48154342" created: node "6477d9ed", group "example"
    Allocation "517f5bc8" created: node "8f5984b6", group "example"
    Evaluation status changed: "pending" -> "complete"
==> Evaluation "b5edcaa7" finished with status "complete""#
    );
}

#[test]
fn verbose_prints_full_ids() {
    let mut script = seed_script(EVAL_ID);
    // The CLI asks for the ID it was given; the script answers for the short form.
    let polls = script.polls.remove(EVAL_ID).expect("seeded");
    script.polls.insert(EVAL_ID[..8].to_string(), polls);
    let (_, out) = run(&mut script, 36);
    assert!(
        out.starts_with(r#"==> Monitoring evaluation "b5edcaa7-1111-2222-3333-444444444444""#),
        "{out}"
    );
    assert!(
        out.contains(r#"Allocation "48154342-aaaa-bbbb-cccc-dddddddddddd" created: node "6477d9ed-0000-0000-0000-000000000000", group "example""#),
        "{out}"
    );
}

#[test]
fn seed_placement_failure_output_and_exit_2() {
    let mut e = eval(&EVAL_ID[..8], "complete");
    e.id = "e183a9bb-0000-0000-0000-000000000000".into();
    e.blocked_eval = "eb9b4c68-0000-0000-0000-000000000000".into();
    e.failed_tg_allocs.insert(
        "example".into(),
        AllocMetric {
            nodes_evaluated: 3,
            nodes_filtered: 3,
            coalesced_failures: 9,
            constraint_filtered: [("${attr.os.name} = windows".to_string(), 3)].into(),
            ..AllocMetric::default()
        },
    );
    let mut script = Script::new(vec![]);
    script
        .polls
        .insert(EVAL_ID[..8].to_string(), VecDeque::from(vec![(e, vec![])]));
    let (code, out) = run(&mut script, 8);
    assert_eq!(code, 2);
    assert_eq!(
        out,
        r#"==> Monitoring evaluation "e183a9bb"
    Evaluation triggered by job "hello-exec-batch"
    Evaluation status changed: "pending" -> "complete"
==> Evaluation "e183a9bb" finished with status "complete" but failed to place all allocations:
    Task Group "example" (failed to place 10 allocations):
      * Constraint "${attr.os.name} = windows" filtered 3 nodes
    Evaluation "eb9b4c68" waiting for additional capacity to place remainder"#
    );
}

#[test]
fn single_failure_is_singular() {
    let mut e = eval(EVAL_ID, "complete");
    e.failed_tg_allocs.insert(
        "g".into(),
        AllocMetric {
            nodes_evaluated: 1,
            ..AllocMetric::default()
        },
    );
    let (lines, failed) = finish_lines(&e, 8);
    assert!(failed);
    assert_eq!(
        lines[1].to_string(),
        r#"    Task Group "g" (failed to place 1 allocation):"#
    );
    assert_eq!(lines.len(), 2, "no metric lines and no blocked eval");
}

#[test]
fn polls_until_terminal_printing_changes_once() {
    let a = alloc("aaaaaaaa-1", "nnnnnnnn-1", 10);
    let mut running = a.clone();
    running.client_status = AllocClientStatus::Running;
    running.client_description = "Tasks are running".into();
    let mut script = Script::new(vec![
        (eval(EVAL_ID, "pending"), vec![]),
        (eval(EVAL_ID, "pending"), vec![a.clone()]),
        (eval(EVAL_ID, "pending"), vec![running.clone()]),
        (eval(EVAL_ID, "complete"), vec![running]),
    ]);
    script.polls = script
        .polls
        .into_values()
        .map(|q| (EVAL_ID[..8].to_string(), q))
        .collect();
    let (code, out) = run(&mut script, 8);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        r#"==> Monitoring evaluation "b5edcaa7"
    Evaluation triggered by job "hello-exec-batch"
    Allocation "aaaaaaaa" created: node "nnnnnnnn", group "example"
    Allocation "aaaaaaaa" status changed: "pending" -> "running" (Tasks are running)
    Evaluation status changed: "pending" -> "complete"
==> Evaluation "b5edcaa7" finished with status "complete""#
    );
}

#[test]
fn older_allocs_are_modified_and_stopped_new_ones_silent() {
    let mut state = MonitorState::new(8);
    let mut stopped = alloc("cccccccc-1", "n", 20);
    stopped.desired_status = AllocDesiredStatus::Stop;
    let lines = state.update(
        &eval(EVAL_ID, "complete"),
        &[alloc("bbbbbbbb-1", "nnnnnnnn-2", 5), stopped],
    );
    let text: Vec<String> = lines.iter().map(ToString::to_string).collect();
    assert_eq!(
        text,
        vec![
            r#"    Evaluation triggered by job "hello-exec-batch""#,
            r#"    Allocation "bbbbbbbb" modified: node "nnnnnnnn", group "example""#,
            r#"    Evaluation status changed: "pending" -> "complete""#,
        ]
    );
}

#[test]
fn node_triggered_eval() {
    let mut state = MonitorState::new(8);
    let mut e = eval(EVAL_ID, "pending");
    e.job_id = Default::default();
    e.node_id = "6477d9ed-ffff".into();
    let lines = state.update(&e, &[]);
    assert_eq!(
        lines,
        vec![MonitorLine::Output(
            "Evaluation triggered by node \"6477d9ed\"".into()
        )]
    );
}

#[test]
fn follows_next_eval_after_wait() {
    let mut first = eval(&EVAL_ID[..8], "complete");
    first.id = EVAL_ID.into();
    first.next_eval = "99999999-0000".into();
    first.wait = 5_000_000_000;
    let mut second = eval("99999999-0000", "complete");
    second.create_index = 20;
    let mut script = Script::new(vec![(second, vec![])]);
    script.polls.insert(
        EVAL_ID[..8].to_string(),
        VecDeque::from(vec![(first, vec![])]),
    );
    let (code, out) = run(&mut script, 8);
    assert_eq!(code, 0);
    assert_eq!(script.slept, vec![5_000_000_000]);
    assert_eq!(
        out,
        r#"==> Monitoring evaluation "b5edcaa7"
    Evaluation triggered by job "hello-exec-batch"
    Evaluation status changed: "pending" -> "complete"
==> Evaluation "b5edcaa7" finished with status "complete"
==> Monitoring next evaluation "99999999" in 5s
==> Monitoring evaluation "99999999"
    Evaluation triggered by job "hello-exec-batch"
    Evaluation status changed: "pending" -> "complete"
==> Evaluation "99999999" finished with status "complete""#
    );
}

#[test]
fn missing_eval_is_an_error() {
    let mut script = Script::new(vec![]);
    let (code, out) = run(&mut script, 8);
    assert_eq!(code, 1);
    assert_eq!(out, r#"==> No evaluation with id "b5edcaa7" found"#);
}

const DEPLOYMENT_ID: &str = "1b2c3d4e-5555-6666-7777-888888888888";

fn deployment_script(ends: Option<&str>) -> Script {
    let mut script = seed_script(&EVAL_ID[..8]);
    for polls in script.polls.values_mut() {
        for (eval, _) in polls.iter_mut() {
            eval.deployment_id = DEPLOYMENT_ID.into();
        }
    }
    script.deployment_ends = ends.map(str::to_string);
    script
}

#[test]
fn eval_within_deployment_then_the_deployment_is_monitored() {
    let mut script = deployment_script(Some("successful"));
    let (code, out) = run(&mut script, 8);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        r#"==> Monitoring evaluation "b5edcaa7"
    Evaluation triggered by job "hello-exec-batch"
    Evaluation within deployment: "1b2c3d4e"
    Allocation "48154342" created: node "6477d9ed", group "example"
    Allocation "517f5bc8" created: node "8f5984b6", group "example"
    Evaluation status changed: "pending" -> "complete"
==> Evaluation "b5edcaa7" finished with status "complete"
==> T: Monitoring deployment "1b2c3d4e"
<deployment 1b2c3d4e-5555-6666-7777-888888888888 watched>"#
    );
    assert_eq!(script.watched, vec![DEPLOYMENT_ID.to_string()]);
}

#[test]
fn a_deployment_that_does_not_succeed_exits_1() {
    for ends in [Some("failed"), Some("cancelled"), None] {
        let mut script = deployment_script(ends);
        assert_eq!(run(&mut script, 8).0, 1, "{ends:?}");
    }
}

#[test]
fn a_successful_deployment_clears_placement_failures() {
    let mut script = deployment_script(Some("successful"));
    for polls in script.polls.values_mut() {
        for (eval, _) in polls.iter_mut() {
            eval.failed_tg_allocs
                .insert("example".into(), AllocMetric::default());
        }
    }
    assert_eq!(run(&mut script, 8).0, 0);
}

#[test]
fn no_deployment_no_deployment_monitor() {
    let mut script = seed_script(&EVAL_ID[..8]);
    run(&mut script, 8);
    assert!(script.watched.is_empty());
}
