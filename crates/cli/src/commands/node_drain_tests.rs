//! `node drain`: flag checks, request bodies and output lines as tables.

use super::*;

const NODE: &str = "6477d9ed-0000-0000-0000-000000000000";
const HOUR: i64 = DEFAULT_DRAIN_DEADLINE;

fn options(args: &[&str]) -> Result<DrainOptions, UsageError> {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    drain_options(&flag_set().parse(&args).expect("flags parse"))
}

fn err(message: &str) -> Result<DrainAction, UsageError> {
    Err(UsageError {
        message: message.to_string(),
        hint: true,
    })
}

fn err_no_hint(message: &str) -> Result<DrainAction, UsageError> {
    Err(UsageError {
        message: message.to_string(),
        hint: false,
    })
}

#[test]
fn flag_checks_table() {
    let cases: Vec<(&str, &[&str], Result<DrainAction, UsageError>)> = vec![
        (
            "enable_default_deadline_is_one_hour",
            &["-enable", "6477"],
            Ok(DrainAction::Enable { deadline: HOUR }),
        ),
        (
            "enable_with_deadline",
            &["-enable", "-deadline", "1m30s", "6477"],
            Ok(DrainAction::Enable {
                deadline: 90_000_000_000,
            }),
        ),
        (
            "force_is_minus_one_second",
            &["-enable", "-force", "6477"],
            Ok(DrainAction::Enable {
                deadline: -1_000_000_000,
            }),
        ),
        (
            "no_deadline_is_zero",
            &["-enable", "-no-deadline", "6477"],
            Ok(DrainAction::Enable { deadline: 0 }),
        ),
        ("disable", &["-disable", "6477"], Ok(DrainAction::Disable)),
        ("monitor", &["-monitor", "6477"], Ok(DrainAction::Monitor)),
        (
            "self_takes_no_argument",
            &["-enable", "-self"],
            Ok(DrainAction::Enable { deadline: HOUR }),
        ),
        (
            "neither",
            &["6477"],
            err("Either the '-enable' or '-disable' flag must be set, unless using '-monitor'"),
        ),
        (
            "both",
            &["-enable", "-disable", "6477"],
            err("Either the '-enable' or '-disable' flag must be set, unless using '-monitor'"),
        ),
        (
            "monitor_with_enable",
            &["-monitor", "-enable", "6477"],
            err("The -monitor flag cannot be used with the '-enable' or '-disable' flags"),
        ),
        (
            "no_node",
            &["-enable"],
            err("Node ID must be specified if -self isn't being used"),
        ),
        (
            "self_and_node",
            &["-enable", "-self", "6477"],
            err("Node ID must be specified if -self isn't being used"),
        ),
        (
            "disable_with_strategy",
            &["-disable", "-force", "6477"],
            err("-disable can't be combined with flags configuring drain strategy"),
        ),
        (
            "deadline_with_force",
            &["-enable", "-deadline", "1m", "-force", "6477"],
            err("-deadline can't be combined with -force or -no-deadline"),
        ),
        (
            "force_and_no_deadline",
            &["-enable", "-force", "-no-deadline", "6477"],
            err("-force and -no-deadline are mutually exclusive"),
        ),
        (
            "bad_deadline",
            &["-enable", "-deadline", "soon", "6477"],
            err_no_hint(r#"Failed to parse deadline "soon": time: invalid duration "soon""#),
        ),
        (
            "deadline_without_unit",
            &["-enable", "-deadline", "5", "6477"],
            err_no_hint(r#"Failed to parse deadline "5": time: missing unit in duration "5""#),
        ),
        (
            "deadline_unknown_unit",
            &["-enable", "-deadline", "5d", "6477"],
            err_no_hint(
                r#"Failed to parse deadline "5d": time: unknown unit "d" in duration "5d""#,
            ),
        ),
        (
            "deadline_must_be_positive",
            &["-enable", "-deadline", "0s", "6477"],
            err_no_hint("A positive drain duration must be given"),
        ),
    ];
    for (name, args, want) in cases {
        assert_eq!(options(args).map(|o| o.action), want, "case {name}");
    }
}

#[test]
fn request_bodies_table() {
    let cases: &[(&str, &[&str], &str)] = &[
        (
            "enable",
            &["-enable", "x"],
            r#"{"NodeID":"N","DrainSpec":{"Deadline":3600000000000,"IgnoreSystemJobs":false},"MarkEligible":true}"#,
        ),
        (
            "enable_ignore_system_force",
            &["-enable", "-force", "-ignore-system", "x"],
            r#"{"NodeID":"N","DrainSpec":{"Deadline":-1000000000,"IgnoreSystemJobs":true},"MarkEligible":true}"#,
        ),
        (
            "disable_marks_eligible",
            &["-disable", "x"],
            r#"{"NodeID":"N","DrainSpec":null,"MarkEligible":true}"#,
        ),
        (
            "disable_keep_ineligible",
            &["-disable", "-keep-ineligible", "x"],
            r#"{"NodeID":"N","DrainSpec":null,"MarkEligible":false}"#,
        ),
        (
            "enable_message_and_meta",
            &[
                "-enable",
                "-no-deadline",
                "-m",
                "kernel upgrade",
                "-meta",
                "ticket=42",
                "-meta",
                "flag",
                "x",
            ],
            r#"{"NodeID":"N","DrainSpec":{"Deadline":0,"IgnoreSystemJobs":false},"MarkEligible":true,"Meta":{"flag":"","message":"kernel upgrade","ticket":"42"}}"#,
        ),
        (
            "disable_message_is_cancel_message",
            &["-disable", "-m", "done", "x"],
            r#"{"NodeID":"N","DrainSpec":null,"MarkEligible":true,"Meta":{"cancel_message":"done"}}"#,
        ),
    ];
    for (name, args, want) in cases {
        let request = options(args).expect(name).request("N");
        assert_eq!(
            serde_json::to_string(&request).unwrap(),
            *want,
            "case {name}"
        );
    }
}

#[test]
fn output_lines() {
    assert_eq!(
        render_update(NODE, true),
        format!("Node \"{NODE}\" drain strategy set")
    );
    assert_eq!(
        render_update(NODE, false),
        format!("Node \"{NODE}\" drain strategy unset")
    );
    assert_eq!(
        question(NODE, true),
        format!("Are you sure you want to enable drain mode for node \"{NODE}\"? [y/N]")
    );
    assert_eq!(
        question(NODE, false),
        format!("Are you sure you want to disable drain mode for node \"{NODE}\"? [y/N]")
    );
    assert_eq!(
        stamped(
            "2026-11-25T12:00:00Z",
            "Ctrl-C to stop monitoring: will not cancel the node drain"
        ),
        "2026-11-25T12:00:00Z: Ctrl-C to stop monitoring: will not cancel the node drain"
    );
}

/// What [`confirmation`] answers.
type Answer = Result<(), (&'static str, i32)>;

#[test]
fn confirmation_answers() {
    let cases: &[(&str, Answer)] = &[
        ("y", Ok(())),
        ("", Err(("Canceling drain toggle", 0))),
        ("n", Err(("Canceling drain toggle", 0))),
        ("No", Err(("Canceling drain toggle", 0))),
        (
            "yes",
            Err(("For confirmation, an exact ‘y’ is required.", 0)),
        ),
        (
            "maybe",
            Err((
                "No confirmation detected. For confirmation, an exact 'y' is required.",
                1,
            )),
        ),
    ];
    for (answer, want) in cases {
        assert_eq!(confirmation(answer), *want, "answer {answer:?}");
    }
}
