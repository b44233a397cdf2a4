//! `caravan alloc checks` (Nomad's `command/alloc_checks.go`): the latest result of each
//! check of an allocation's Nomad-provider services.

use std::collections::BTreeMap;

use caravan_api_types::CheckQueryResult;

use crate::columnize::format_kv;
use crate::commands::lookup;
use crate::flags::FlagSet;
use crate::meta;
use crate::time_format::format_time;

const HELP: &str = "Usage: caravan alloc checks [options] <allocation>

  Outputs the latest health check status information for services in the
  allocation using the Nomad service discovery provider.

  When ACLs are enabled, this command requires a token with the 'read-job'
  capability for the allocation's namespace.

Checks Specific Options:

  -verbose
    Show full information.

  -json
    Output the latest health check status information in a JSON format.
";

/// The results as Nomad prints them, one block each, in check ID order.
pub fn render(results: &BTreeMap<String, CheckQueryResult>) -> String {
    let mut text = format!("Status of {} Nomad Service Checks", results.len());
    for result in results.values() {
        let task = if result.task.is_empty() {
            "(group)"
        } else {
            result.task.as_str()
        };
        let mut rows = vec![
            format!("ID|{}", result.id),
            format!("Name|{}", result.check),
            format!("Group|{}", result.group),
            format!("Task|{task}"),
            format!("Service|{}", result.service),
            format!("Status|{}", result.status),
        ];
        if result.status_code > 0 {
            rows.push(format!("StatusCode|{}", result.status_code));
        }
        rows.push(format!("Mode|{}", result.mode));
        rows.push(format!(
            "Timestamp|{}",
            format_time(result.timestamp * 1_000_000_000)
        ));
        rows.push(format!("Output|{}", result.output.trim_end()));
        text.push_str("\n\n");
        text.push_str(&format_kv(&rows));
    }
    text
}

/// Runs `alloc checks <args>`.
pub fn run(args: &[String]) -> i32 {
    let set = FlagSet::new().bools(&["verbose", "json"]);
    let Ok(parsed) = meta::parse(set, args, HELP) else {
        return 1;
    };
    let [alloc_id] = parsed.args.as_slice() else {
        meta::err("This command takes one argument: <allocation>");
        meta::err(&meta::help_hint("alloc checks"));
        return 1;
    };
    let Ok(client) = meta::client(&parsed) else {
        return 1;
    };
    let alloc = match lookup::find_alloc(&client, alloc_id, parsed.bool("verbose")) {
        Ok(alloc) => alloc,
        Err(code) => return code,
    };
    let id = alloc.id.as_str().to_string();
    meta::finish(
        client.run(|api| async move { api.allocation_checks(&id).await }),
        "Error querying allocation checks",
        |results| {
            if parsed.bool("json") {
                meta::out(&meta::json_pretty(&results));
            } else {
                meta::out(&render(&results));
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_check_is_a_block_like_nomads() {
        let result = CheckQueryResult {
            id: "9f4e18fd0867cebb19a8fac3d7a1cf27".into(),
            check: "alive".into(),
            group: "example.cache[0]".into(),
            service: "redis-cache".into(),
            status: "success".into(),
            output: "nomad: tcp ok".into(),
            mode: "healthiness".into(),
            timestamp: 0,
            ..CheckQueryResult::default()
        };
        let text = render(&BTreeMap::from([(result.id.clone(), result)]));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "Status of 1 Nomad Service Checks");
        assert_eq!(lines[1], "");
        assert_eq!(lines[2], "ID        = 9f4e18fd0867cebb19a8fac3d7a1cf27");
        assert_eq!(lines[5], "Task      = (group)");
        assert_eq!(lines[7], "Status    = success");
        assert_eq!(lines[8], "Mode      = healthiness");
        assert_eq!(lines[10], "Output    = nomad: tcp ok");
    }
}
