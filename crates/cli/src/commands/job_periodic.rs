//! `caravan job periodic force` (Nomad's `command/job_periodic_force.go`): launches a
//! periodic job's child now, then monitors its evaluation.

use crate::commands::lookup;
use crate::flags::FlagSet;
use crate::meta;
use crate::monitor::monitor_http;

/// `caravan job periodic` without a subcommand.
pub const PERIODIC_USAGE: &str = "Usage: caravan job periodic <subcommand> [options] [args]

  This command groups subcommands for interacting with periodic jobs.

Subcommands:
    force    Force the launch of a periodic job";

const HELP: &str = "Usage: caravan job periodic force <job id>

  This command is used to force the creation of a new instance of a periodic job.
  This is used to immediately run a periodic job, even if it violates the job's
  prohibit_overlap setting.

Periodic Force Options:

  -detach
    Return immediately instead of entering monitor mode. After the force,
    the evaluation ID will be printed to the screen, which can be used to
    examine the evaluation using the eval-status command.

  -verbose
    Display full information.
";

/// Nomad's messages: the not-found error names periodic jobs.
pub fn periodic_lookup_error(prefix: &str, message: String) -> String {
    if message.starts_with("No job(s) with prefix or ID") {
        format!("No periodic job(s) with prefix or ID {prefix:?} found")
    } else {
        message
    }
}

/// What `-detach` prints.
pub fn render_detached(eval_id: &str) -> String {
    format!("Force periodic successful\nEvaluation ID: {eval_id}")
}

/// `caravan job periodic force`.
pub fn run_force(args: &[String]) -> i32 {
    let parsed = match meta::parse(FlagSet::new().bools(&["detach", "verbose"]), args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let [prefix] = parsed.args.as_slice() else {
        meta::err("This command takes one argument: <job id>");
        meta::err(&meta::help_hint("job periodic force"));
        return 1;
    };
    let length = meta::id_length(parsed.bool("verbose"));
    let client = match meta::client(&parsed) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let prefix = prefix.trim();
    let job_id = match lookup::job_id_by_prefix(&client, prefix, &|j| j.periodic) {
        Ok(id) => id,
        Err(message) => {
            meta::err(&periodic_lookup_error(prefix, message));
            return 1;
        }
    };
    let response = match client.run(|api| api.force_periodic(&job_id)) {
        Ok(r) => r,
        Err(e) => {
            meta::err(&format!("Error forcing periodic job {job_id:?}: {e}"));
            return 1;
        }
    };
    if parsed.bool("detach") {
        meta::out(&render_detached(&response.eval_id));
        return 0;
    }
    monitor_http(&client, &response.eval_id, length)
}

#[cfg(test)]
mod tests {
    use super::*;
    use caravan_api_types::PeriodicForceResponse;

    #[test]
    fn messages() {
        assert_eq!(
            periodic_lookup_error(
                "nightly",
                "No job(s) with prefix or ID \"nightly\" found".into()
            ),
            "No periodic job(s) with prefix or ID \"nightly\" found"
        );
        assert_eq!(
            periodic_lookup_error("n", "Prefix \"n\" matched multiple jobs\n\nx".into()),
            "Prefix \"n\" matched multiple jobs\n\nx"
        );
        assert_eq!(
            render_detached("abc"),
            "Force periodic successful\nEvaluation ID: abc"
        );
    }

    #[test]
    fn response_shape() {
        let r: PeriodicForceResponse = caravan_structs::json::from_slice_lenient(
            br#"{"EvalID": "e", "EvalCreateIndex": 10, "Index": 11}"#,
        )
        .unwrap();
        assert_eq!(
            r,
            PeriodicForceResponse {
                eval_id: "e".into(),
                eval_create_index: 10,
                index: 11,
            }
        );
    }
}
