//! Job diff rendering: diffs in, Nomad's exact text out (after trimming and stripping
//! the color markup, as `job plan` prints it without a terminal).

use std::collections::BTreeMap;

use super::*;
use crate::colorstring::color;

fn field(kind: &str, name: &str, old: &str, new: &str) -> FieldDiff {
    FieldDiff {
        r#type: kind.into(),
        name: name.into(),
        old: old.into(),
        new: new.into(),
        annotations: Vec::new(),
    }
}

fn object(kind: &str, name: &str, fields: Vec<FieldDiff>) -> ObjectDiff {
    ObjectDiff {
        r#type: kind.into(),
        name: name.into(),
        fields,
        objects: Vec::new(),
    }
}

fn task(kind: &str, name: &str, annotations: &[&str]) -> TaskDiff {
    TaskDiff {
        r#type: kind.into(),
        name: name.into(),
        annotations: annotations.iter().map(|a| a.to_string()).collect(),
        ..TaskDiff::default()
    }
}

fn group(kind: &str, name: &str, updates: &[(&str, u64)], tasks: Vec<TaskDiff>) -> TaskGroupDiff {
    TaskGroupDiff {
        r#type: kind.into(),
        name: name.into(),
        tasks,
        updates: updates
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect::<BTreeMap<_, _>>(),
        ..TaskGroupDiff::default()
    }
}

fn job(kind: &str, fields: Vec<FieldDiff>, groups: Vec<TaskGroupDiff>) -> JobDiff {
    JobDiff {
        r#type: kind.into(),
        id: "example".into(),
        fields,
        objects: Vec::new(),
        task_groups: groups,
    }
}

/// What `job plan` prints for the diff without a terminal.
fn plain(diff: &JobDiff, verbose: bool) -> String {
    color(format_job_diff(diff, verbose).trim(), false)
}

fn added_job() -> JobDiff {
    let mut redis = task("Added", "redis", &["forces create"]);
    redis.fields = vec![
        field("Added", "Driver", "", "docker"),
        field("Added", "KillTimeout", "", "5000000000"),
    ];
    redis.objects = vec![object(
        "Added",
        "Config",
        vec![field("Added", "image", "", "redis:7")],
    )];
    let mut cache = group("Added", "cache", &[("create", 1)], vec![redis]);
    cache.fields = vec![field("Added", "Count", "", "1")];
    job(
        "Added",
        vec![field("Added", "Type", "", "service")],
        vec![cache],
    )
}

fn edited_count() -> JobDiff {
    let mut cache = group(
        "Edited",
        "cache",
        &[("create", 2), ("ignore", 1)],
        vec![task("None", "redis", &[])],
    );
    let mut count = field("Edited", "Count", "1", "3");
    count.annotations = vec!["forces create".into()];
    cache.fields = vec![count, field("None", "Name", "cache", "cache")];
    job(
        "Edited",
        vec![field("None", "Priority", "50", "50")],
        vec![cache],
    )
}

fn edited_config() -> JobDiff {
    let mut redis = task("Edited", "redis", &["forces create/destroy update"]);
    redis.fields = vec![field("None", "Driver", "docker", "docker")];
    redis.objects = vec![object(
        "Edited",
        "Config",
        vec![
            field("Edited", "image", "redis:2.8", "redis:7"),
            field("None", "port_map[0][db]", "6379", "6379"),
        ],
    )];
    job(
        "Edited",
        Vec::new(),
        vec![group(
            "Edited",
            "cache",
            &[("create/destroy update", 1)],
            vec![redis],
        )],
    )
}

fn deleted_group() -> JobDiff {
    job(
        "Edited",
        Vec::new(),
        vec![
            group(
                "None",
                "cache",
                &[("ignore", 1)],
                vec![task("None", "redis", &[])],
            ),
            group(
                "Deleted",
                "web",
                &[("destroy", 2)],
                vec![task("Deleted", "nginx", &["forces destroy"])],
            ),
        ],
    )
}

fn edited_job_fields() -> JobDiff {
    job(
        "Edited",
        vec![
            field("None", "AllAtOnce", "false", "false"),
            field("Edited", "Priority", "50", "70"),
            field("None", "Type", "service", "service"),
        ],
        vec![group(
            "None",
            "cache",
            &[("in-place update", 1)],
            vec![task("None", "redis", &[])],
        )],
    )
}

#[test]
fn diff_table() {
    struct Case {
        name: &'static str,
        diff: JobDiff,
        verbose: bool,
        want: &'static str,
    }
    let cases = [
        Case {
            // Nomad's docs: a new job.
            name: "added_job_is_three_lines",
            diff: added_job(),
            verbose: false,
            want: "+ Job: \"example\"\n\
                   + Task Group: \"cache\" (1 create)\n  \
                   + Task: \"redis\" (forces create)",
        },
        Case {
            name: "added_job_verbose_expands_everything",
            diff: added_job(),
            verbose: true,
            want: "+ Job: \"example\"\n\
                   + Type: \"service\"\n\
                   + Task Group: \"cache\" (1 create)\n  \
                   + Count: \"1\"\n  \
                   + Task: \"redis\" (forces create)\n    \
                   + Driver:      \"docker\"\n    \
                   + KillTimeout: \"5000000000\"\n    \
                   + Config {\n      \
                   + image: \"redis:7\"\n      \
                   }",
        },
        Case {
            // Nomad's docs: `+/- Count: "1" => "3"` and the unchanged task aligned
            // under the edited marker.
            name: "edited_count",
            diff: edited_count(),
            verbose: false,
            want: "+/- Job: \"example\"\n\
                   +/- Task Group: \"cache\" (2 create, 1 ignore)\n  \
                   +/- Count: \"1\" => \"3\" (forces create)\n      \
                   Task: \"redis\"",
        },
        Case {
            // Nomad's docs: the edited Config block, unchanged fields inside it shown
            // for context and values aligned on the longest name.
            name: "edited_task_config",
            diff: edited_config(),
            verbose: false,
            want: "+/- Job: \"example\"\n\
                   +/- Task Group: \"cache\" (1 create/destroy update)\n  \
                   +/- Task: \"redis\" (forces create/destroy update)\n    \
                   +/- Config {\n      \
                   +/- image:           \"redis:2.8\" => \"redis:7\"\n          \
                   port_map[0][db]: \"6379\"\n        \
                   }",
        },
        Case {
            name: "deleted_group_after_unchanged_group",
            diff: deleted_group(),
            verbose: false,
            want: "+/- Job: \"example\"\n  \
                   Task Group: \"cache\" (1 ignore)\n    \
                   Task: \"redis\"\n\
                   \n\
                   - Task Group: \"web\" (2 destroy)\n  \
                   - Task: \"nginx\" (forces destroy)",
        },
        Case {
            name: "unchanged_fields_hidden_without_verbose",
            diff: edited_job_fields(),
            verbose: false,
            want: "+/- Job: \"example\"\n\
                   +/- Priority: \"50\" => \"70\"\n    \
                   Task Group: \"cache\" (1 in-place update)\n      \
                   Task: \"redis\"",
        },
        Case {
            name: "verbose_shows_unchanged_fields_aligned",
            diff: edited_job_fields(),
            verbose: true,
            want: "+/- Job: \"example\"\n    \
                   AllAtOnce: \"false\"\n\
                   +/- Priority:  \"50\" => \"70\"\n    \
                   Type:      \"service\"\n    \
                   Task Group: \"cache\" (1 in-place update)\n      \
                   Task: \"redis\"",
        },
        Case {
            name: "unchanged_job",
            diff: job(
                "None",
                vec![field("None", "Priority", "50", "50")],
                vec![group(
                    "None",
                    "cache",
                    &[("ignore", 3)],
                    vec![task("None", "redis", &[])],
                )],
            ),
            verbose: false,
            want: "Job: \"example\"\n\
                   Task Group: \"cache\" (3 ignore)\n  \
                   Task: \"redis\"",
        },
    ];
    for case in cases {
        assert_eq!(
            plain(&case.diff, case.verbose),
            case.want,
            "case {}",
            case.name
        );
    }
}

#[test]
fn colors_follow_nomads_markers() {
    let out = color(format_job_diff(&added_job(), false).trim(), true);
    let first = out.lines().next().unwrap();
    assert_eq!(first, "\x1b[32m+\x1b[0m \x1b[1mJob: \"example\"");
    assert!(out.contains("(\x1b[0m\x1b[32m1 create\x1b[0m)"), "{out:?}");
    assert!(
        out.ends_with("(\x1b[32mforces create\x1b[0m)\x1b[0m"),
        "{out:?}"
    );
    let edited = color(
        &format_field_diff(&field("Edited", "Count", "1", "3"), 2, 0, 0),
        true,
    );
    assert_eq!(edited, "  \x1b[93m+/-\x1b[0m Count: \"1\" => \"3\"\x1b[0m");
}

#[test]
fn go_quote_table() {
    let cases: &[(&str, &str)] = &[
        ("plain", "\"plain\""),
        ("", "\"\""),
        ("say \"hi\"", r#""say \"hi\"""#),
        ("back\\slash", r#""back\\slash""#),
        ("a\nb\tc\r", r#""a\nb\tc\r""#),
        ("\x1b[0m", r#""\x1b[0m""#),
        ("\x7f", r#""\x7f""#),
        ("héllo ☃", "\"héllo ☃\""),
        ("nb\u{a0}sp", r#""nb\u00a0sp""#),
    ];
    for (input, want) in cases {
        assert_eq!(go_quote(input), *want, "input {input:?}");
    }
}
