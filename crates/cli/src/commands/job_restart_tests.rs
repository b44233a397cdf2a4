//! `job restart`'s options and choices: flags in, options or Nomad's errors out.

use super::*;
use crate::flags::{FlagKind, FlagSet};

fn parse(words: &[&str], interactive: bool) -> Result<RestartOptions, String> {
    let set = FlagSet::new()
        .bools(&["all-tasks", "yes", "reschedule", "verbose"])
        .strings(&["batch-size", "batch-wait", "on-error"])
        .flag("group", FlagKind::List)
        .flag("task", FlagKind::List);
    let args: Vec<String> = words.iter().map(|w| w.to_string()).collect();
    parse_options(&set.parse(&args).unwrap(), interactive)
}

#[test]
fn options_and_their_errors() {
    let options = parse(
        &["-batch-size", "25%", "-batch-wait", "5s", "-yes", "web"],
        false,
    )
    .unwrap();
    assert_eq!(options.job, "web");
    assert_eq!(options.batch_size, BatchSize::Percent(25));
    assert_eq!(options.batch_wait, BatchWait::Wait(Duration::from_secs(5)));
    assert_eq!(options.on_error, OnError::Ask);
    let cases: &[(&[&str], bool, &str)] = &[
        (&[], true, "This command takes one argument: <job>"),
        (
            &["-batch-size", "10%20%", "web"],
            true,
            "Invalid -batch-size value \"10%20%\": batch size must be an integer or a percentage",
        ),
        (
            &["-batch-size", "0", "web"],
            true,
            "Invalid -batch-size value \"0\": number value must be greater than zero",
        ),
        (
            &["web"],
            false,
            "Invalid -on-error value \"ask\": \"ask\" cannot be used when terminal is not interactive",
        ),
        (
            &["-on-error", "fail", "-batch-wait", "ask", "web"],
            false,
            "Invalid -batch-wait value \"ask\": \"ask\" cannot be used when terminal is not interactive",
        ),
        (
            &["-on-error", "later", "web"],
            true,
            "Invalid -on-error value \"later\": valid options are \"ask\" and \"fail\"",
        ),
        (
            &["-all-tasks", "-task", "t", "web"],
            true,
            "The -all-tasks option cannot be used with -task",
        ),
        (
            &["-reschedule", "-task", "t", "web"],
            true,
            "The -reschedule option cannot be used with -task",
        ),
    ];
    for (words, interactive, want) in cases {
        assert_eq!(parse(words, *interactive).unwrap_err(), *want, "{words:?}");
    }
}

#[test]
fn batch_sizes_round_percentages_up() {
    assert_eq!(BatchSize::Count(2).of(5), 2);
    assert_eq!(BatchSize::Percent(50).of(3), 2);
    assert_eq!(BatchSize::Percent(1).of(3), 1);
    assert_eq!(BatchSize::Percent(100).of(4), 4);
}

fn target(
    id: &str,
    group: &str,
    client: AllocClientStatus,
    desired: AllocDesiredStatus,
) -> RestartTarget {
    let job = caravan_testkit::job("web")
        .group_name(group)
        .task_name("server")
        .build();
    RestartTarget {
        alloc: AllocationListStub {
            id: id.into(),
            task_group: group.into(),
            client_status: client,
            desired_status: desired,
            ..AllocationListStub::default()
        },
        job: Some(job),
    }
}

#[test]
fn only_running_allocations_of_the_asked_groups_and_tasks() {
    use AllocClientStatus::*;
    use AllocDesiredStatus::*;
    let targets = vec![
        target("aaaaaaaa-1", "web", Running, Run),
        target("bbbbbbbb-1", "web", Complete, Stop),
        target("cccccccc-1", "db", Running, Run),
    ];
    let mut options = parse(&["-yes", "-group", "web", "web"], false).unwrap();
    let (kept, skipped) = filter_allocs(targets.clone(), &options);
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].alloc.id.as_str(), "aaaaaaaa-1");
    assert_eq!(
        skipped,
        [
            "Skipping allocation \"bbbbbbbb\" because desired status is \"complete\" and client status is \"stop\"",
            "Skipping allocation \"cccccccc\" because it doesn't have any of requested groups",
        ]
    );
    options.groups.clear();
    options.tasks.insert("nope".into());
    let (kept, skipped) = filter_allocs(targets, &options);
    assert!(kept.is_empty());
    assert!(skipped[2].ends_with("because it doesn't have any of requested tasks"));
}

#[test]
fn words_as_nomad_prints_them() {
    let ordinals: Vec<String> = [1, 2, 3, 4, 11, 12, 13, 21, 22, 101]
        .iter()
        .map(|n| ordinal(*n))
        .collect();
    assert_eq!(
        ordinals,
        [
            "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st"
        ]
    );
    assert_eq!(allocations(1), "1 allocation");
    assert_eq!(allocations(3), "3 allocations");
    assert_eq!(
        render_errors(&["Error restarting allocation \"a\": boom".to_string()]),
        "1 error occurred while restarting job:\n* Error restarting allocation \"a\": boom"
    );
}
