//! `caravan job eval`: asks the scheduler to look at a job again (Nomad's `job eval`).

use caravan_api_types::{EvalOptions, JobEvaluateRequest};

use crate::commands::lookup;
use crate::flags::FlagSet;
use crate::meta;
use crate::monitor::monitor_http;

const HELP: &str = "Usage: caravan job eval [options] <job_id>

  Force an evaluation of the provided job ID. Forcing an evaluation will
  trigger the scheduler to re-evaluate the job.

  When ACLs are enabled, this command requires a token with the 'read-job'
  capability for the job's namespace. The 'list-jobs' capability is required to
  run the command with a job prefix instead of the exact job ID.

Eval Options:

  -force-reschedule
    Force reschedule failed allocations even if they are not currently
    eligible for rescheduling. (Not supported by Caravan yet: the server
    refuses it.)

  -detach
    Return immediately instead of entering monitor mode. The ID
    of the evaluation created will be printed to the screen, which can be
    used to examine the evaluation using the eval status command.

  -verbose
    Display full information.
";

/// `caravan job eval`.
pub fn run(args: &[String]) -> i32 {
    let set = FlagSet::new().bools(&["detach", "verbose", "force-reschedule"]);
    let parsed = match meta::parse(set, args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let [job] = parsed.args.as_slice() else {
        meta::err("This command takes one argument: <job>");
        meta::err(&meta::help_hint("job eval"));
        return 1;
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
    let request = JobEvaluateRequest {
        job_id: job.as_str().into(),
        eval_options: EvalOptions {
            force_reschedule: parsed.bool("force-reschedule"),
        },
    };
    let response = match client.run(|api| api.evaluate_job(job.as_str(), &request)) {
        Ok(r) => r,
        Err(e) => {
            meta::err(&format!("Error evaluating job: {e}"));
            return 1;
        }
    };
    let length = meta::id_length(parsed.bool("verbose"));
    if parsed.bool("detach") {
        // Nomad's line, its trailing space included.
        meta::out(&format!(
            "Created eval ID: {:?} ",
            meta::limit(&response.eval_id, length)
        ));
        return 0;
    }
    monitor_http(&client, &response.eval_id, length)
}
