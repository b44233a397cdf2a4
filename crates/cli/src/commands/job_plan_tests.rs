//! `job plan` rendering and exit codes: responses in, exact text out.

use caravan_api_types::{DesiredUpdates, PlanAnnotations};
use caravan_structs::diff::{JobDiff, TaskDiff, TaskGroupDiff};
use caravan_structs::{AllocMetric, EvalTrigger, Evaluation};

use super::*;

const S: i64 = 1_000_000_000;
/// 2026-11-25T12:00:00Z
const T0: i64 = 1_795_608_000 * S;

fn time() -> TimeContext {
    TimeContext::fixed_utc(T0)
}

fn constraint_failure(coalesced: i64) -> AllocMetric {
    AllocMetric {
        nodes_evaluated: 3,
        nodes_filtered: 3,
        constraint_filtered: [("${attr.os.name} = windows".to_string(), 3)].into(),
        coalesced_failures: coalesced,
        ..AllocMetric::default()
    }
}

fn updates(group: &str, d: DesiredUpdates) -> PlanAnnotations {
    PlanAnnotations {
        desired_tg_updates: [(group.to_string(), d)].into(),
    }
}

fn new_job_response() -> JobPlanResponse {
    JobPlanResponse {
        annotations: updates(
            "cache",
            DesiredUpdates {
                place: 1,
                ..DesiredUpdates::default()
            },
        ),
        job_modify_index: 0,
        diff: Some(JobDiff {
            r#type: "Added".into(),
            id: "example".into(),
            task_groups: vec![TaskGroupDiff {
                r#type: "Added".into(),
                name: "cache".into(),
                tasks: vec![TaskDiff {
                    r#type: "Added".into(),
                    name: "redis".into(),
                    annotations: vec!["forces create".into()],
                    ..TaskDiff::default()
                }],
                updates: [("create".to_string(), 1)].into(),
                ..TaskGroupDiff::default()
            }],
            ..JobDiff::default()
        }),
        next_periodic_launch: "0001-01-01T00:00:00Z".into(),
        ..JobPlanResponse::default()
    }
}

#[test]
fn dry_run_table() {
    struct Case {
        name: &'static str,
        response: JobPlanResponse,
        job_type: &'static str,
        want: &'static str,
    }
    let failed = |groups: &[(&str, i64)]| JobPlanResponse {
        failed_tg_allocs: groups
            .iter()
            .map(|(g, c)| (g.to_string(), constraint_failure(*c)))
            .collect(),
        ..JobPlanResponse::default()
    };
    let cases = [
        Case {
            name: "success",
            response: JobPlanResponse::default(),
            job_type: "service",
            want: "- All tasks successfully allocated.",
        },
        Case {
            // The seed's wording of the metric line, as `job run` prints it.
            name: "one_group_fails",
            response: failed(&[("cache", 0)]),
            job_type: "service",
            want: "- WARNING: Failed to place all allocations.\n  \
                   Task Group \"cache\" (failed to place 1 allocation):\n    \
                   * Constraint \"${attr.os.name} = windows\" filtered 3 nodes",
        },
        Case {
            name: "coalesced_failures_are_plural_and_groups_sorted",
            response: failed(&[("web", 2), ("cache", 0)]),
            job_type: "service",
            want: "- WARNING: Failed to place all allocations.\n  \
                   Task Group \"cache\" (failed to place 1 allocation):\n    \
                   * Constraint \"${attr.os.name} = windows\" filtered 3 nodes\n\
                   \n  \
                   Task Group \"web\" (failed to place 3 allocations):\n    \
                   * Constraint \"${attr.os.name} = windows\" filtered 3 nodes",
        },
        Case {
            name: "system_job_wording",
            response: failed(&[("cache", 0)]),
            job_type: "system",
            want: "- WARNING: Failed to place allocations on all nodes.\n  \
                   Task Group \"cache\" (failed to place 1 allocation):\n    \
                   * Constraint \"${attr.os.name} = windows\" filtered 3 nodes",
        },
        Case {
            name: "rolling_update",
            response: JobPlanResponse {
                created_evals: vec![Evaluation {
                    triggered_by: EvalTrigger::RollingUpdate,
                    wait: 30 * S,
                    ..Evaluation::default()
                }],
                ..JobPlanResponse::default()
            },
            job_type: "service",
            want: "- All tasks successfully allocated.\n\
                   - Rolling update, next evaluation will be in 30s.",
        },
        Case {
            name: "periodic_launch",
            response: JobPlanResponse {
                next_periodic_launch: "2026-11-25T12:15:00Z".into(),
                ..JobPlanResponse::default()
            },
            job_type: "batch",
            want: "- All tasks successfully allocated.\n\
                   - If submitted now, next periodic launch would be at \
                   2026-11-25T12:15:00Z (15m0s from now).",
        },
    ];
    for case in cases {
        let out = color(
            &format_dry_run(&case.response, case.job_type, &time()),
            false,
        );
        assert_eq!(out, case.want, "case {}", case.name);
    }
}

#[test]
fn new_job_full_output() {
    let out = render_plan(
        &new_job_response(),
        "service",
        "",
        "example.nomad",
        PlanOptions {
            diff: true,
            ..PlanOptions::default()
        },
        Ui::plain(),
        &time(),
    );
    // Nomad's documented `nomad job plan example.nomad` for a new job.
    let want = "+ Job: \"example\"
+ Task Group: \"cache\" (1 create)
  + Task: \"redis\" (forces create)

Scheduler dry-run:
- All tasks successfully allocated.

Job Modify Index: 0
To submit the job with version verification run:

caravan job run -check-index 0 example.nomad

When running the job with the check-index flag, the job will only be run if the
job modify index given matches the server-side version. If the index has
changed, another user has modified the job and the plan's results are
potentially invalid.";
    assert_eq!(out, want);
}

#[test]
fn failure_and_warnings_without_diff() {
    let response = JobPlanResponse {
        failed_tg_allocs: [("cache".to_string(), constraint_failure(0))].into(),
        warnings: "1 warning:\n\n* group \"cache\" has no tasks".into(),
        job_modify_index: 12,
        ..new_job_response()
    };
    let out = render_plan(
        &response,
        "service",
        "-var=\"n=1\" ",
        "job.hcl",
        PlanOptions::default(),
        Ui::plain(),
        &time(),
    );
    let want = "Scheduler dry-run:
- WARNING: Failed to place all allocations.
  Task Group \"cache\" (failed to place 1 allocation):
    * Constraint \"${attr.os.name} = windows\" filtered 3 nodes

Job Warnings:
1 warning:

* group \"cache\" has no tasks

Job Modify Index: 12
To submit the job with version verification run:

caravan job run -check-index 12 -var=\"n=1\" job.hcl
";
    assert!(out.starts_with(want), "{out}");
}

#[test]
fn colored_sections() {
    let out = render_plan(
        &JobPlanResponse::default(),
        "service",
        "",
        "a.nomad",
        PlanOptions::default(),
        Ui { color: true },
        &time(),
    );
    assert!(
        out.starts_with(
            "\x1b[1mScheduler dry-run:\x1b[0m\x1b[0m\n\
             \x1b[1m\x1b[32m- All tasks successfully allocated.\x1b[0m\x1b[0m\n\n\
             \x1b[0m\x1b[1mJob Modify Index: 0\x1b[0m\nTo submit"
        ),
        "{out:?}"
    );
    assert!(out.ends_with("potentially invalid.\x1b[0m"), "{out:?}");
}

#[test]
fn run_args_table() {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(run_args(&[], &[], None), "");
    assert_eq!(
        run_args(&s(&["a=1", "b=\"x\""]), &s(&["prod.vars"]), Some("apps")),
        "-var=\"a=1\" -var=\"b=\\\"x\\\"\" -var-file=\"prod.vars\" -namespace=\"apps\" "
    );
    assert_eq!(run_args(&[], &[], Some("")), "");
}

#[test]
fn exit_code_table() {
    let with = |d: DesiredUpdates| JobPlanResponse {
        annotations: updates("cache", d),
        ..JobPlanResponse::default()
    };
    let cases: &[(&str, JobPlanResponse, i32)] = &[
        ("nothing_planned", JobPlanResponse::default(), 0),
        (
            "only_ignores",
            with(DesiredUpdates {
                ignore: 3,
                ..DesiredUpdates::default()
            }),
            0,
        ),
        (
            "in_place_updates_create_and_destroy_nothing",
            with(DesiredUpdates {
                in_place_update: 2,
                ignore: 1,
                ..DesiredUpdates::default()
            }),
            0,
        ),
        (
            "place",
            with(DesiredUpdates {
                place: 1,
                ..DesiredUpdates::default()
            }),
            1,
        ),
        (
            "stop",
            with(DesiredUpdates {
                stop: 1,
                ..DesiredUpdates::default()
            }),
            1,
        ),
        (
            "migrate",
            with(DesiredUpdates {
                migrate: 1,
                ..DesiredUpdates::default()
            }),
            1,
        ),
        (
            "destructive_update",
            with(DesiredUpdates {
                destructive_update: 1,
                ..DesiredUpdates::default()
            }),
            1,
        ),
        (
            "canary",
            with(DesiredUpdates {
                canary: 1,
                ..DesiredUpdates::default()
            }),
            1,
        ),
        (
            "failed_placement_counts_as_create",
            JobPlanResponse {
                failed_tg_allocs: [("cache".to_string(), constraint_failure(0))].into(),
                ..JobPlanResponse::default()
            },
            1,
        ),
    ];
    for (name, response, want) in cases {
        assert_eq!(plan_exit_code(response), *want, "case {name}");
    }
}

fn explanation(
    id: &str,
    name: &str,
    outcome: &str,
    reason: &str,
    placed: u64,
    scores: &[(&str, f64)],
) -> NodeExplanation {
    NodeExplanation {
        node_id: format!("{id}-0000-0000-0000-000000000000").into(),
        node_name: name.into(),
        outcome: outcome.into(),
        reason: reason.into(),
        placed,
        scores: scores.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
    }
}

#[test]
fn explain_table() {
    let nodes = vec![
        explanation(
            "aaaa1111",
            "client-a",
            "filtered",
            "${attr.os.name} = windows",
            0,
            &[],
        ),
        explanation(
            "bbbb2222",
            "client-b",
            "ranked",
            "",
            0,
            &[("binpack", 0.123456), ("normalized-score", 0.25)],
        ),
        explanation("cccc3333", "client-c", "not-ready", "draining", 0, &[]),
        explanation(
            "dddd4444",
            "client-d",
            "placed",
            "",
            2,
            &[
                ("binpack", 0.5),
                ("job-anti-affinity", -0.5),
                ("normalized-score", 0.0),
            ],
        ),
        explanation(
            "eeee5555",
            "client-e",
            "ranked",
            "",
            0,
            &[("binpack", 0.9), ("normalized-score", 0.9)],
        ),
        explanation("ffff6666", "client-f", "exhausted", "memory", 0, &[]),
    ];
    let explanations: BTreeMap<String, Vec<NodeExplanation>> =
        [("cache".to_string(), nodes)].into();
    let out = color(&format_node_explanations(&explanations, false), false);
    let want = "\
Node explanations for Task Group \"cache\":
Node      Name      Outcome    Reason                     Placed  binpack  job-anti-affinity  normalized-score
dddd4444  client-d  placed     <none>                     2       0.5      -0.5               0
eeee5555  client-e  ranked     <none>                     0       0.9      -                  0.9
bbbb2222  client-b  ranked     <none>                     0       0.123    -                  0.25
ffff6666  client-f  exhausted  memory                     0       -        -                  -
aaaa1111  client-a  filtered   ${attr.os.name} = windows  0       -        -                  -
cccc3333  client-c  not-ready  draining                   0       -        -                  -

";
    assert_eq!(out, want);

    let verbose = format_node_explanations(&explanations, true);
    assert!(
        verbose.contains("\ndddd4444-0000-0000-0000-000000000000  client-d"),
        "{verbose}"
    );
}

#[test]
fn explain_without_server_support() {
    let out = render_plan(
        &JobPlanResponse::default(),
        "service",
        "",
        "a.nomad",
        PlanOptions {
            explain: true,
            ..PlanOptions::default()
        },
        Ui::plain(),
        &time(),
    );
    assert!(
        out.contains(
            "- All tasks successfully allocated.\n\n\
             No node explanations in the response (the agent does not support -explain).\n\n\
             Job Modify Index: 0"
        ),
        "{out}"
    );
}
