//! `caravan job revert` (Nomad's `command/job_revert.go`): registers an earlier version
//! of a job again, then monitors the evaluation.

use caravan_api_types::JobRevertRequest;

use crate::commands::lookup;
use crate::flags::FlagSet;
use crate::meta;
use crate::monitor::monitor_http;

const HELP: &str = "Usage: caravan job revert [options] <job> <version>

  Revert is used to revert a job to a prior version of the job. The available
  versions to revert to can be found using \"caravan job history\" command.

Revert Options:

  -detach
    Return immediately instead of entering monitor mode. After job revert,
    the evaluation ID will be printed to the screen, which can be used to
    examine the evaluation using the eval-status command.

  -verbose
    Display full information.
";

/// The version argument, with the error Nomad 1.x prints for a bad one.
pub fn parse_revert_version(text: &str) -> Result<u64, String> {
    text.parse::<u64>().map_err(|_| {
        format!(
            "Failed to parse job-version flag: strconv.ParseUint: parsing {text:?}: invalid syntax"
        )
    })
}

/// `caravan job revert`.
pub fn run(args: &[String]) -> i32 {
    let set = FlagSet::new()
        .bools(&["detach", "verbose"])
        .strings(&["consul-token", "vault-token"]);
    let parsed = match meta::parse(set, args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let [job, version] = parsed.args.as_slice() else {
        meta::err("This command takes two arguments: <job> <version>");
        meta::err(&meta::help_hint("job revert"));
        return 1;
    };
    let length = meta::id_length(parsed.bool("verbose"));
    let client = match meta::client(&parsed) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let version = match parse_revert_version(version) {
        Ok(v) => v,
        Err(message) => {
            meta::err(&message);
            return 1;
        }
    };
    let job_id = match lookup::job_id_by_prefix(&client, job.trim(), &|_| true) {
        Ok(id) => id,
        Err(message) => {
            meta::err(&message);
            return 1;
        }
    };
    let request = JobRevertRequest {
        job_id: job_id.clone().into(),
        job_version: version,
        enforce_prior_version: None,
    };
    let response = match client.run(|api| api.revert_job(&job_id, &request)) {
        Ok(r) => r,
        Err(e) => {
            // Nomad's wording, even though the write is a revert.
            meta::err(&format!("Error retrieving job versions: {e}"));
            return 1;
        }
    };
    // Nomad: nothing to do when no evaluation was created.
    if response.eval_id.is_empty() {
        return 0;
    }
    if parsed.bool("detach") {
        meta::out(&format!("Evaluation ID: {}", response.eval_id));
        return 0;
    }
    monitor_http(&client, &response.eval_id, length)
}

#[cfg(test)]
mod tests {
    use super::*;
    use caravan_api_types::JobRegisterResponse;

    #[test]
    fn request_body() {
        let body = serde_json::to_value(JobRevertRequest {
            job_id: "example".into(),
            job_version: 2,
            enforce_prior_version: None,
        })
        .unwrap();
        assert_eq!(
            body,
            serde_json::json!({"JobID": "example", "JobVersion": 2})
        );
    }

    #[test]
    fn response_shape() {
        let r: JobRegisterResponse = caravan_structs::json::from_slice_lenient(
            br#"{"EvalID": "e1", "EvalCreateIndex": 7, "JobModifyIndex": 8, "Index": 9}"#,
        )
        .unwrap();
        assert_eq!(
            r,
            JobRegisterResponse {
                eval_id: "e1".into(),
                eval_create_index: 7,
                job_modify_index: 8,
                index: 9,
                ..JobRegisterResponse::default()
            }
        );
    }

    #[test]
    fn version_argument() {
        assert_eq!(parse_revert_version("0"), Ok(0));
        assert_eq!(
            parse_revert_version("v1").unwrap_err(),
            "Failed to parse job-version flag: strconv.ParseUint: parsing \"v1\": invalid syntax"
        );
    }
}
