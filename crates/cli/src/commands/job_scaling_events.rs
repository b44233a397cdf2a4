//! `caravan job scaling-events` (Nomad's `command/job_scaling_events.go`): a job's
//! recent scaling events, newest first across its groups.

use caravan_api_types::JobScaleStatus;
use caravan_structs::ScalingEvent;

use crate::columnize::format_list;
use crate::commands::lookup;
use crate::flags::FlagSet;
use crate::meta;
use crate::time_format::format_time;

const HELP: &str = "Usage: caravan job scaling-events [options] <args>

  List the scaling events for the specified job.

  When ACLs are enabled, this command requires a token with either the
  'read-job' or 'read-job-scaling' capability for the job's namespace. The
  'list-jobs' capability is required to run the command with a job prefix
  instead of the exact job ID.

Scaling-Events Options:

  -verbose
    Display full information.
";

/// Nomad's `formatScalingEventListOutput`: every group's events, newest first, with
/// times rendered by `time`.
pub fn format_events(
    status: &JobScaleStatus,
    verbose: bool,
    time: &dyn Fn(i64) -> String,
) -> String {
    let mut events: Vec<(&str, &ScalingEvent)> = status
        .task_groups
        .iter()
        .flat_map(|(group, s)| s.events.iter().map(move |e| (group.as_str(), e)))
        .collect();
    if events.is_empty() {
        return "No events found".to_string();
    }
    events.sort_by_key(|e| std::cmp::Reverse(e.1.time));
    let mut header = "Task Group|Count|PrevCount".to_string();
    if verbose {
        header.push_str("|Error|Message|Eval ID");
    }
    header.push_str("|Date");
    let mut rows = vec![header];
    for (group, event) in events {
        let count = event.count.map(|c| c.to_string()).unwrap_or_default();
        let mut row = format!("{group}|{count}|{}", event.previous_count);
        if verbose {
            row.push_str(&format!(
                "|{}|{}|{}",
                event.error,
                event.message,
                event.eval_id.as_deref().unwrap_or("")
            ));
        }
        row.push_str(&format!("|{}", time(event.time)));
        rows.push(row);
    }
    format_list(&rows)
}

/// `caravan job scaling-events`.
pub fn run(args: &[String]) -> i32 {
    let set = FlagSet::new().bools(&["verbose"]);
    let parsed = match meta::parse(set, args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let [prefix] = parsed.args.as_slice() else {
        meta::err("This command takes one argument: <job_id>");
        meta::err(&meta::help_hint("job scaling-events"));
        return 1;
    };
    let client = match meta::client(&parsed) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let job_id = match lookup::job_id_by_prefix(&client, prefix.trim(), &|_| true) {
        Ok(id) => id,
        Err(message) => {
            meta::err(&message);
            return 1;
        }
    };
    meta::finish(
        client.run(|api| api.job_scale_status(&job_id)),
        "Error listing scaling events",
        |status| {
            meta::out(&format_events(
                &status.value,
                parsed.bool("verbose"),
                &format_time,
            ))
        },
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use caravan_api_types::TaskGroupScaleStatus;

    use super::*;

    fn event(time: i64, count: Option<i64>, previous: i64, eval: Option<&str>) -> ScalingEvent {
        ScalingEvent {
            time,
            count,
            previous_count: previous,
            message: "submitted using the Nomad CLI".to_string(),
            eval_id: eval.map(str::to_string),
            ..ScalingEvent::default()
        }
    }

    fn status(groups: &[(&str, Vec<ScalingEvent>)]) -> JobScaleStatus {
        JobScaleStatus {
            task_groups: groups
                .iter()
                .map(|(name, events)| {
                    let status = TaskGroupScaleStatus {
                        events: events.clone(),
                        ..TaskGroupScaleStatus::default()
                    };
                    (name.to_string(), status)
                })
                .collect::<BTreeMap<_, _>>(),
            ..JobScaleStatus::default()
        }
    }

    #[test]
    fn events_of_every_group_newest_first() {
        let status = status(&[
            ("api", vec![event(30, Some(3), 1, Some("e3"))]),
            (
                "web",
                vec![event(40, None, 3, None), event(10, Some(2), 1, Some("e1"))],
            ),
        ]);
        let time = |t: i64| format!("t{t}");
        // An empty cell is Nomad's columnize `<none>`.
        assert_eq!(
            format_events(&status, false, &time),
            "Task Group  Count   PrevCount  Date\n\
             web         <none>  3          t40\n\
             api         3       1          t30\n\
             web         2       1          t10"
        );
        let verbose = format_events(&status, true, &time);
        let rows: Vec<Vec<&str>> = verbose
            .lines()
            .map(|l| {
                l.split("  ")
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .collect()
            })
            .collect();
        assert_eq!(
            rows[0],
            [
                "Task Group",
                "Count",
                "PrevCount",
                "Error",
                "Message",
                "Eval ID",
                "Date"
            ]
        );
        assert_eq!(
            rows[3],
            [
                "web",
                "2",
                "1",
                "false",
                "submitted using the Nomad CLI",
                "e1",
                "t10"
            ]
        );
    }

    #[test]
    fn a_job_without_events_says_so() {
        assert_eq!(
            format_events(&status(&[("web", Vec::new())]), false, &|_| String::new()),
            "No events found"
        );
    }
}
