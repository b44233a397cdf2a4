//! `caravan job run` / `caravan run` (Nomad's `command/job_run.go`, 1.0-era flags).
//!
//! The job file is parsed locally (HCL2 by default, `-hcl1`, or JSON with `-json` or a
//! `.json` file), canonicalized, and registered with `POST /v1/jobs`; then the
//! evaluation is monitored unless `-detach`.

use caravan_api_types::JobRegisterRequest;

use caravan_structs::Job;

use crate::commands::job_status::{is_parameterized, is_periodic, next_periodic_launch};
use crate::flags::{FlagKind, FlagSet};
use crate::job_file::{JobGetter, path_argument};
use crate::meta::{self, Ui};
use crate::monitor::monitor_http;
use crate::time_format::TimeContext;

/// What `job run` prints instead of monitoring (Nomad's detach branch): periodic jobs
/// get their next launch, parameterized ones nothing more, others the evaluation ID.
pub fn registered_text(job: &Job, eval_id: &str, time: &TimeContext) -> String {
    let mut out = String::from("Job registration successful");
    if is_periodic(job) && !is_parameterized(job) {
        if let Some(next) = next_periodic_launch(job, time) {
            out.push_str(&format!("\nApproximate next launch time: {next}"));
        }
    } else if !is_parameterized(job) {
        out.push_str(&format!("\nEvaluation ID: {eval_id}"));
    }
    out
}

const HELP: &str = "Usage: caravan job run [options] <path>
Alias: caravan run

  Starts running a new job or updates an existing job using
  the specification located at <path>. This is the main command
  used to interact with Caravan.

  If the supplied path is \"-\", the jobfile is read from stdin. Otherwise
  it is read from the file at the supplied path.

  Upon successful job submission, this command will immediately
  enter an interactive monitor. This is useful to watch Caravan's
  internals make scheduling decisions and place the submitted work
  onto nodes. The monitor will end once job placement is done. It
  is safe to exit the monitor early using ctrl+c.

  On successful job submission and scheduling, exit code 0 will be
  returned. If there are job placement issues encountered
  (unsatisfiable constraints, resource exhaustion, etc), then the
  exit code will be 2. Any other errors, including client connection
  issues or internal errors, are indicated by exit code 1.

Run Options:

  -check-index
    If set, the job is only registered or updated if the passed
    job modify index matches the server side version. If a check-index value of
    zero is passed, the job is only registered if it does not yet exist.

  -detach
    Return immediately instead of entering monitor mode. After job submission,
    the evaluation ID will be printed to the screen, which can be used to
    examine the evaluation using the eval-status command.

  -hcl1
    Parses the job file as HCLv1. Takes precedence over \"-hcl2-strict\".

  -hcl2-strict
    Whether an error should be produced from the HCL2 parser where a variable
    has been supplied which is not defined within the root variables. Defaults
    to true.

  -json
    Parses the job file as JSON (also chosen for files ending in .json).

  -output
    Output the JSON that would be submitted to the HTTP API without submitting
    the job.

  -policy-override
    Sets the flag to force override any soft mandatory Sentinel policies.

  -preserve-counts
    If set, the existing task group counts will be preserved when updating a job.

  -var 'key=value'
    Variable for template, can be used multiple times.

  -var-file=path
    Path to HCL2 file containing user variables.

  -verbose
    Display full information.
";

fn flag_set() -> FlagSet {
    FlagSet::new()
        .bools(&[
            "hcl1",
            "hcl2-strict",
            "detach",
            "verbose",
            "json",
            "output",
            "policy-override",
            "preserve-counts",
            "ui",
        ])
        .strings(&[
            "check-index",
            "consul-token",
            "consul-namespace",
            "vault-token",
            "vault-namespace",
        ])
        .flag("var", FlagKind::List)
        .flag("var-file", FlagKind::List)
        .flag("eval-priority", FlagKind::Int)
}

/// Nomad's `parseCheckIndex`: empty means not enforced.
pub(crate) fn parse_check_index(text: Option<&str>) -> Result<Option<u64>, String> {
    match text {
        None | Some("") => Ok(None),
        Some(value) => value.parse::<u64>().map(Some).map_err(|_| {
            format!(
                "Error parsing check-index value {value:?}: strconv.ParseUint: parsing {value:?}: invalid syntax"
            )
        }),
    }
}

/// `caravan job run`.
pub fn run(args: &[String]) -> i32 {
    let parsed = match meta::parse(flag_set(), args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let path = match path_argument(&parsed, "job run", 1) {
        Ok(path) => path,
        Err(code) => return code,
    };
    let job = match JobGetter::from_flags(&parsed).get_canonical(path, 1) {
        Ok(job) => job,
        Err(code) => return code,
    };
    if parsed.bool("output") {
        meta::out(&meta::json_pretty(&serde_json::json!({ "Job": job })));
        return 0;
    }
    let check_index = match parse_check_index(parsed.string("check-index")) {
        Ok(index) => index,
        Err(message) => {
            meta::err(&message);
            return 1;
        }
    };
    let client = match meta::client(&parsed) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let job_view = job.clone();
    let request = JobRegisterRequest {
        job: Some(job),
        enforce_index: check_index.is_some(),
        job_modify_index: check_index.unwrap_or(0),
        policy_override: parsed.bool("policy-override"),
        preserve_counts: parsed.bool("preserve-counts"),
        eval_priority: parsed.int("eval-priority").unwrap_or(0),
    };
    let response = match client.run(|api| api.register_job(&request)) {
        Ok(r) => r,
        Err(e) => {
            let text = e.to_string();
            // Nomad prints index-enforcement failures on their own.
            if let Some(start) = text.find("Enforcing job modify index") {
                meta::err(text[start..].trim_end_matches(')'));
                meta::err("Job not updated");
                return 1;
            }
            meta::err(&format!("Error submitting job: {text}"));
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
    let periodic = is_periodic(&job_view);
    let parameterized = is_parameterized(&job_view);
    // Nomad: periodic and parameterized jobs get no evaluation to monitor.
    if parsed.bool("detach") || periodic || parameterized {
        meta::out(&registered_text(
            &job_view,
            &response.eval_id,
            &TimeContext::system(),
        ));
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
    fn registration_without_monitor() {
        const S: i64 = 1_000_000_000;
        // 2026-11-25T12:00:00Z
        let time = TimeContext::fixed_utc(1_795_608_000 * S);
        let plain = Job::default();
        assert_eq!(
            registered_text(&plain, "e-1", &time),
            "Job registration successful\nEvaluation ID: e-1"
        );
        let periodic = Job {
            periodic: Some(caravan_structs::PeriodicConfig {
                spec: Some("0 */4 * * *".into()),
                ..caravan_structs::PeriodicConfig::default()
            }),
            ..Job::default()
        };
        assert_eq!(
            registered_text(&periodic, "", &time),
            "Job registration successful\nApproximate next launch time: 2026-11-25T16:00:00Z (4h0m0s from now)"
        );
        let parameterized = Job {
            parameterized_job: Some(caravan_structs::ParameterizedJobConfig::default()),
            ..periodic
        };
        assert_eq!(
            registered_text(&parameterized, "", &time),
            "Job registration successful"
        );
    }

    #[test]
    fn check_index() {
        assert_eq!(parse_check_index(None), Ok(None));
        assert_eq!(parse_check_index(Some("")), Ok(None));
        assert_eq!(parse_check_index(Some("0")), Ok(Some(0)));
        assert_eq!(
            parse_check_index(Some("x")).unwrap_err(),
            "Error parsing check-index value \"x\": strconv.ParseUint: parsing \"x\": invalid syntax"
        );
    }
}
