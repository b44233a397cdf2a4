//! `caravan job stop` / `caravan stop` (Nomad's `command/job_stop.go`, pre-1.1 output).

use std::io::{BufRead, Write};

use crate::commands::{job_status::render_job_list, lookup};
use crate::flags::FlagSet;
use crate::meta;
use crate::monitor::monitor_http;
use crate::time_format::TimeContext;

const HELP: &str = "Usage: caravan job stop [options] <job>
Alias: caravan stop

  Stop an existing job. This command is used to signal allocations to shut
  down for the given job ID. Upon successful deregistration, an interactive
  monitor session will start to display log lines as the job unwinds its
  allocations and completes shutting down. It is safe to exit the monitor
  early using ctrl+c.

Stop Options:

  -detach
    Return immediately instead of entering monitor mode. After the
    deregister command is submitted, a new evaluation ID is printed to the
    screen, which can be used to examine the evaluation using the eval-status
    command.

  -purge
    Purge is used to stop the job and purge it from the system. If not set, the
    job will still be queryable and will be purged by the garbage collector.

  -yes
    Automatic yes to prompts.

  -verbose
    Display full information.
";

/// What the user answered to `Are you sure you want to stop job "x"? [y/N]`:
/// `Ok(())` to go on, `Err((message, exit code))` to stop (Nomad's `getConfirmation`).
pub fn confirmation(answer: &str) -> Result<(), (&'static str, i32)> {
    let lower = answer.to_lowercase();
    if answer.is_empty() || lower.starts_with('n') {
        Err(("Cancelling job stop", 0))
    } else if lower.starts_with('y') && answer.len() > 1 {
        Err(("For confirmation, an exact ‘y’ is required.", 0))
    } else if answer != "y" {
        Err((
            "No confirmation detected. For confirmation, an exact 'y' is required.",
            1,
        ))
    } else {
        Ok(())
    }
}

/// `caravan job stop`.
pub fn run(args: &[String]) -> i32 {
    let set = FlagSet::new().bools(&[
        "detach",
        "purge",
        "yes",
        "verbose",
        "global",
        "no-shutdown-delay",
    ]);
    let parsed = match meta::parse(set.strings(&["eval-priority"]), args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let [job_id] = parsed.args.as_slice() else {
        meta::err("This command takes one argument: <job>");
        meta::err(&meta::help_hint("job stop"));
        return 1;
    };
    let job_id = job_id.trim();
    let client = match meta::client(&parsed) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let jobs = match lookup::jobs_with_prefix(&client, job_id) {
        Ok(jobs) => jobs,
        Err(e) => {
            meta::err(&format!("Error finding jobs with prefix {job_id} err: {e}"));
            return 1;
        }
    };
    if jobs.is_empty() {
        meta::err(&format!("No job(s) with prefix or id {job_id:?} found"));
        return 1;
    }
    if jobs.len() > 1 && jobs[0].id != job_id {
        meta::err(&format!(
            "Prefix matched multiple jobs\n\n{}",
            render_job_list(&jobs, &TimeContext::system())
        ));
        return 1;
    }
    let job = match client.run(|api| api.job(&jobs[0].id)) {
        Ok(read) => read.value,
        Err(e) => {
            meta::err(&format!("Error deregistering job: {e}"));
            return 1;
        }
    };
    if job_id != job.id && !parsed.bool("yes") {
        print!("Are you sure you want to stop job {:?}? [y/N] ", job.id);
        std::io::stdout().flush().ok();
        let mut answer = String::new();
        if let Err(e) = std::io::stdin().lock().read_line(&mut answer) {
            meta::err(&format!("Failed to parse answer: {e}"));
            return 1;
        }
        if let Err((message, code)) = confirmation(answer.trim()) {
            meta::out(message);
            return code;
        }
    }
    let (purge, global) = (parsed.bool("purge"), parsed.bool("global"));
    let response = match client.run(|api| api.deregister_job(&jobs[0].id, purge, global)) {
        Ok(r) => r,
        Err(e) => {
            meta::err(&format!("Error deregistering job: {e}"));
            return 1;
        }
    };
    // Nomad: stopping a periodic job creates no evaluation.
    if response.eval_id.is_empty() {
        return 0;
    }
    if parsed.bool("detach") {
        meta::out(&response.eval_id);
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

    #[test]
    fn confirmation_answers() {
        assert_eq!(confirmation("y"), Ok(()));
        assert_eq!(confirmation(""), Err(("Cancelling job stop", 0)));
        assert_eq!(confirmation("No"), Err(("Cancelling job stop", 0)));
        assert_eq!(
            confirmation("yes"),
            Err(("For confirmation, an exact ‘y’ is required.", 0))
        );
        assert_eq!(confirmation("maybe").unwrap_err().1, 1);
    }
}
