//! `caravan job run` / `caravan run` (Nomad's `command/job_run.go`, 1.0-era flags).
//!
//! The job file is parsed locally (HCL2 by default, `-hcl1`, or JSON with `-json` or a
//! `.json` file), canonicalized, and registered with `POST /v1/jobs`; then the
//! evaluation is monitored unless `-detach`.

use std::io::Read;

use caravan_structs::{Job, JobRegisterRequest, JobRegisterResponse};

use crate::flags::{FlagKind, FlagSet};
use crate::meta::{self, Ui};
use crate::monitor::monitor_http;
use caravan_jobspec::{JobFormat, parse_job, parse_job_hcl2_with_vars};

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

/// Which parser a job file gets: JSON for `-json` or `*.json`, HCL1 for `-hcl1`,
/// otherwise HCL2 (Nomad's default since 1.0).
pub fn job_format(path: &str, json_flag: bool, hcl1_flag: bool) -> JobFormat {
    if json_flag || path.ends_with(".json") {
        JobFormat::Json
    } else if hcl1_flag {
        JobFormat::Hcl1
    } else {
        JobFormat::Hcl2
    }
}

/// Collects HCL2 variable values from `-var-file` files (simple `name = value` lines,
/// quotes stripped) and then `-var name=value` flags, later ones winning.
pub fn collect_vars(
    vars: &[String],
    var_files: &[String],
) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    for file in var_files {
        let text = std::fs::read_to_string(file).map_err(|e| {
            format!("Error getting job struct: Error reading var file {file:?}: {e}")
        })?;
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with("//") {
                continue;
            }
            let Some((name, value)) = line.split_once('=') else {
                return Err(format!(
                    "Error getting job struct: {file}: expected `name = value`, got {line:?}"
                ));
            };
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            out.push((name.trim().to_string(), value.to_string()));
        }
    }
    for var in vars {
        let Some((name, value)) = var.split_once('=') else {
            return Err(format!(
                "Error getting job struct: Invalid -var option: The given -var option {var:?} is not correctly specified. Must be a variable name and value separated by an equals sign, like -var=\"key=value\"."
            ));
        };
        out.push((name.trim().to_string(), value.to_string()));
    }
    Ok(out)
}

/// Reads and parses a job file (`-` is stdin). The error is the full message to print,
/// `Error getting job struct: ...`. `vars` are HCL2 variable values (ignored for HCL1
/// and JSON, as in Nomad).
pub fn load_job(path: &str, format: JobFormat, vars: &[(String, String)]) -> Result<Job, String> {
    let source = if path == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("Error getting job struct: Error reading stdin: {e}"))?;
        text
    } else {
        std::fs::read_to_string(path).map_err(|e| {
            let reason = match e.kind() {
                std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
                std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
                _ => e.to_string(),
            };
            format!("Error getting job struct: Error getting jobfile from {path:?}: open {path}: {reason}")
        })?
    };
    let parsed = if format == JobFormat::Hcl2 && !vars.is_empty() {
        parse_job_hcl2_with_vars(path, &source, vars)
    } else {
        parse_job(path, &source, format)
    };
    parsed
        .map_err(|e| format!("Error getting job struct: Error parsing job file from {path}:\n{e}"))
}

/// Nomad's `parseCheckIndex`: empty means not enforced.
fn parse_check_index(text: Option<&str>) -> Result<Option<u64>, String> {
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
    let [path] = parsed.args.as_slice() else {
        meta::err("This command takes one argument: <path>");
        meta::err(&meta::help_hint("job run"));
        return 1;
    };
    let format = job_format(path, parsed.bool("json"), parsed.bool("hcl1"));
    let vars = match collect_vars(&parsed.list("var"), &parsed.list("var-file")) {
        Ok(vars) => vars,
        Err(message) => {
            meta::err(&message);
            return 1;
        }
    };
    let mut job = match load_job(path, format, &vars) {
        Ok(job) => job,
        Err(message) => {
            meta::err(&message);
            return 1;
        }
    };
    job.canonicalize();
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
    let request = JobRegisterRequest {
        job: Some(job),
        enforce_index: check_index.is_some(),
        job_modify_index: check_index.unwrap_or(0),
        policy_override: parsed.bool("policy-override"),
        preserve_counts: parsed.bool("preserve-counts"),
        eval_priority: parsed.int("eval-priority").unwrap_or(0),
    };
    let response: JobRegisterResponse = match client.post("/v1/jobs", &request) {
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
    if parsed.bool("detach") {
        meta::out("Job registration successful");
        meta::out(&format!("Evaluation ID: {}", response.eval_id));
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
    fn format_selection() {
        assert_eq!(job_format("a.nomad", false, false), JobFormat::Hcl2);
        assert_eq!(job_format("a.nomad", false, true), JobFormat::Hcl1);
        assert_eq!(job_format("a.json", false, true), JobFormat::Json);
        assert_eq!(job_format("a.hcl", true, false), JobFormat::Json);
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

    #[test]
    fn missing_file_message() {
        let err = load_job("/nonexistent/exec.nomad", JobFormat::Hcl1, &[]).unwrap_err();
        assert_eq!(
            err,
            "Error getting job struct: Error getting jobfile from \"/nonexistent/exec.nomad\": open /nonexistent/exec.nomad: no such file or directory"
        );
    }

    #[test]
    fn parse_error_message_shape() {
        let dir = std::env::temp_dir().join(format!("caravan-cli-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.json");
        std::fs::write(&path, "{\n  \"Job\": [\n").unwrap();
        let path = path.to_string_lossy().to_string();
        let err = load_job(&path, JobFormat::Json, &[]).unwrap_err();
        let want_prefix =
            format!("Error getting job struct: Error parsing job file from {path}:\n{path}:");
        assert!(err.starts_with(&want_prefix), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
