//! `caravan job scale` (Nomad's `command/job_scale.go`): sets a group's count, then
//! monitors the evaluation as `job run` does.

use std::collections::BTreeMap;

use caravan_api_types::{JobScaleRequest, TaskGroupScaleStatus};
use caravan_structs::SCALING_TARGET_GROUP;

use crate::commands::{job_run::parse_check_index, lookup};
use crate::flags::FlagSet;
use crate::meta::{self, Ui};
use crate::monitor::monitor_http;

const HELP: &str = "Usage: caravan job scale [options] <job> [<group>] <count>

  Perform a scaling action by altering the count within a job group.

  Upon successful job submission, this command will immediately
  enter an interactive monitor. This is useful to watch Caravan's
  internals make scheduling decisions and place the submitted work
  onto nodes. The monitor will end once job placement is done. It
  is safe to exit the monitor early using ctrl+c.

  When ACLs are enabled, this command requires a token with the
  'read-job-scaling' and either the 'scale-job' or 'submit-job' capabilities
  for the job's namespace. The 'list-jobs' capability is required to run the
  command with a job prefix instead of the exact job ID. The 'read-job'
  capability is required to monitor the resulting evaluation when -detach is
  not used.

Scale Options:

  -check-index
    If set, the job is only scaled if the passed job modify index matches the
    server side version. Ignored if value of zero is passed. If a non-zero value
    is passed, it ensures that the job is being updated from a known state.

  -detach
    Return immediately instead of entering monitor mode. After job scaling,
    the evaluation ID will be printed to the screen, which can be used to
    examine the evaluation using the eval-status command.

  -verbose
    Display full information.
";

/// The message Nomad's CLI puts on every scaling event it submits.
pub const CLI_SCALING_MESSAGE: &str = "submitted using the Nomad CLI";

/// The group to scale (Nomad's `performGroupCheck`): the one named, or the job's only
/// group when none is.
pub fn pick_group(
    groups: &BTreeMap<String, TaskGroupScaleStatus>,
    named: Option<&str>,
) -> Result<String, String> {
    match named {
        None if groups.len() > 1 => Err("Group name required".to_string()),
        None => groups
            .keys()
            .next()
            .cloned()
            .ok_or_else(|| "Group  not found within job".to_string()),
        Some(name) if groups.contains_key(name) => Ok(name.to_string()),
        Some(name) => Err(format!("Group {name} not found within job")),
    }
}

/// `caravan job scale`.
pub fn run(args: &[String]) -> i32 {
    let set = FlagSet::new()
        .bools(&["detach", "verbose"])
        .strings(&["check-index"]);
    let parsed = match meta::parse(set, args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let (job, group, count) = match parsed.args.as_slice() {
        [job, count] => (job, None, count),
        [job, group, count] => (job, Some(group.as_str()), count),
        _ => {
            meta::err("Command requires at least two arguments and no more than three");
            return 1;
        }
    };
    let count: i64 = match count.parse() {
        Ok(c) => c,
        Err(_) => {
            meta::err(&format!(
                "Failed to convert count string to int: strconv.Atoi: parsing {count:?}: invalid syntax"
            ));
            return 1;
        }
    };
    let check_index = match parse_check_index(parsed.string("check-index")) {
        Ok(index) => index.unwrap_or(0),
        Err(message) => {
            meta::err(&message);
            return 1;
        }
    };
    let client = match meta::client(&parsed) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let job = match lookup::job_id_by_prefix(&client, job.trim(), &|_| true) {
        Ok(id) => id,
        Err(message) => {
            meta::err(&message);
            return 1;
        }
    };
    let job = job.as_str();
    let status = match client.run(|api| api.job_scale_status(job)) {
        Ok(s) => s.value,
        Err(e) => {
            meta::err(&format!("Error querying job: {e}"));
            return 1;
        }
    };
    let group = match pick_group(&status.task_groups, group) {
        Ok(g) => g,
        Err(message) => {
            meta::err(&message);
            return 1;
        }
    };
    let request = JobScaleRequest {
        count: Some(count),
        target: BTreeMap::from([(SCALING_TARGET_GROUP.to_string(), group)]),
        message: CLI_SCALING_MESSAGE.to_string(),
        // Nomad: a zero index is not enforced.
        enforce_index: check_index > 0,
        job_modify_index: check_index,
        ..JobScaleRequest::default()
    };
    let response = match client.run(|api| api.scale_job(job, &request)) {
        Ok(r) => r,
        Err(e) => {
            meta::err(&format!("Error submitting scaling request: {e}"));
            return 1;
        }
    };
    if !response.warnings.is_empty() {
        let ui = Ui::from_flags(&parsed);
        let text = format!("Job Warnings:\n{}\n", response.warnings);
        if ui.color {
            meta::out(&format!("\x1b[1m\x1b[33m{text}\x1b[0m"));
        } else {
            meta::out(&text);
        }
    }
    if parsed.bool("detach") {
        meta::out(&format!("Evaluation ID: {}", response.eval_id));
        return 0;
    }
    // A periodic or parameterized job is not evaluated: nothing to monitor.
    if response.eval_id.is_empty() {
        return 0;
    }
    monitor_http(
        &client,
        &response.eval_id,
        meta::id_length(parsed.bool("verbose")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(names: &[&str]) -> BTreeMap<String, TaskGroupScaleStatus> {
        names
            .iter()
            .map(|n| (n.to_string(), TaskGroupScaleStatus::default()))
            .collect()
    }

    #[test]
    fn the_only_group_is_scaled_when_none_is_named() {
        assert_eq!(pick_group(&groups(&["web"]), None), Ok("web".to_string()));
    }

    #[test]
    fn several_groups_need_a_name() {
        assert_eq!(
            pick_group(&groups(&["a", "b"]), None),
            Err("Group name required".to_string())
        );
        assert_eq!(pick_group(&groups(&["a", "b"]), Some("b")), Ok("b".into()));
    }

    #[test]
    fn an_unknown_group_is_named_in_the_error() {
        assert_eq!(
            pick_group(&groups(&["web"]), Some("db")),
            Err("Group db not found within job".to_string())
        );
    }

    #[test]
    fn request_body_is_nomads() {
        let request = JobScaleRequest {
            count: Some(3),
            target: BTreeMap::from([("Group".to_string(), "web".to_string())]),
            message: CLI_SCALING_MESSAGE.to_string(),
            ..JobScaleRequest::default()
        };
        let body = serde_json::to_value(&request).unwrap();
        assert_eq!(body["Count"], 3);
        assert_eq!(body["Target"]["Group"], "web");
        assert_eq!(body["Message"], "submitted using the Nomad CLI");
        assert_eq!(body["Error"], false);
    }
}
