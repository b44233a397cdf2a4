//! `caravan job validate` / `caravan validate` (Nomad's `command/job_validate.go`).
//!
//! The job file is read exactly as `job run` reads it, then `PUT /v1/validate/job`
//! asks the agent to validate it. When the agent cannot be reached the job is validated
//! locally, as Nomad does, and a note says the driver configuration was not checked.

use caravan_api_types::{JobValidateRequest, JobValidateResponse};
use caravan_structs::Job;

use crate::colorstring::color;
use crate::flags::{FlagKind, FlagSet};
use crate::job_file::{JobGetter, path_argument};
use crate::meta::{self, Ui};

const HELP: &str = "Usage: caravan job validate [options] <path>
Alias: caravan validate

  Checks if a given HCL job file has a valid specification. This can be used to
  check for any syntax errors or validation problems with a job.

  If the supplied path is \"-\", the jobfile is read from stdin. Otherwise
  it is read from the file at the supplied path.

Validate Options:

  -json
    Parses the job file as JSON. If the outer object has a Job field, such as
    from \"caravan job inspect\" or \"caravan run -output\", the value of the field is
    used as the job.

  -hcl1
    Parses the job file as HCLv1.

  -hcl2-strict
    Whether an error should be produced from the HCL2 parser where a variable
    has been supplied which is not defined within the root variables. Defaults
    to true.

  -var 'key=value'
    Variable for template, can be used multiple times.

  -var-file=path
    Path to HCL2 file containing user variables.
";

/// What `job validate` prints for a response and the exit code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidateOutput {
    /// Lines for stdout.
    pub stdout: Vec<String>,
    /// Lines for stderr.
    pub stderr: Vec<String>,
    /// 0 valid, 1 not.
    pub code: i32,
}

/// Nomad's output for a validation response.
pub fn render_validate(response: &JobValidateResponse, ui: Ui) -> ValidateOutput {
    let mut out = ValidateOutput::default();
    if !response.driver_config_validated {
        out.stdout.push(color(
            "[bold][yellow]Driver configuration not validated since connection to Caravan agent couldn't be established.[reset]\n",
            ui.color,
        ));
    }
    if !response.error.is_empty() {
        out.stderr
            .push(color("[bold][red]Job validation errors:[reset]", ui.color));
        out.stderr.push(response.error.clone());
        out.code = 1;
        return out;
    }
    if !response.warnings.is_empty() {
        out.stdout.push(color(
            &format!(
                "[bold][yellow]Job Warnings:\n{}[reset]\n",
                response.warnings
            ),
            ui.color,
        ));
    }
    out.stdout.push(color(
        "[bold][green]Job validation successful[reset]",
        ui.color,
    ));
    out
}

/// Nomad's `validateLocal`: the job checked here, without the driver configuration.
pub fn validate_local(job: &Job) -> JobValidateResponse {
    let mut job = job.clone();
    job.canonicalize();
    match caravan_structs::validate::validate_job(&job) {
        Ok(()) => JobValidateResponse::default(),
        Err(errors) => JobValidateResponse {
            error: multierror_text(&errors),
            validation_errors: errors,
            ..JobValidateResponse::default()
        },
    }
}

/// Go's `multierror.Error.Error()`: `1 error occurred:\n\t* a\n\n`.
pub fn multierror_text(errors: &[String]) -> String {
    let points: Vec<String> = errors.iter().map(|e| format!("* {e}")).collect();
    if errors.len() == 1 {
        format!("1 error occurred:\n\t{}\n\n", points[0])
    } else {
        format!(
            "{} errors occurred:\n\t{}\n\n",
            errors.len(),
            points.join("\n\t")
        )
    }
}

fn flag_set() -> FlagSet {
    FlagSet::new()
        .bools(&["hcl1", "hcl2-strict", "json"])
        .strings(&["vault-token", "vault-namespace"])
        .flag("var", FlagKind::List)
        .flag("var-file", FlagKind::List)
}

/// `caravan job validate`.
pub fn run(args: &[String]) -> i32 {
    let parsed = match meta::parse(flag_set(), args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let path = match path_argument(&parsed, "job validate", 1) {
        Ok(path) => path,
        Err(code) => return code,
    };
    let job = match JobGetter::from_flags(&parsed).get_canonical(path, 1) {
        Ok(job) => job,
        Err(code) => return code,
    };
    let client = match meta::client(&parsed) {
        Ok(c) => c,
        Err(_) => return 255,
    };
    let request = JobValidateRequest {
        job: Some(job.clone()),
    };
    // Nomad: when the agent cannot answer, validate locally.
    let response = client
        .run(|api| api.validate_job(&request))
        .unwrap_or_else(|_| validate_local(&job));
    let output = render_validate(&response, Ui::from_flags(&parsed));
    for line in &output.stdout {
        meta::out(line);
    }
    for line in &output.stderr {
        meta::err(line);
    }
    output.code
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(validated: bool, error: &str, warnings: &str) -> JobValidateResponse {
        JobValidateResponse {
            driver_config_validated: validated,
            error: error.into(),
            warnings: warnings.into(),
            ..JobValidateResponse::default()
        }
    }

    #[test]
    fn render_table() {
        struct Case {
            name: &'static str,
            response: JobValidateResponse,
            stdout: &'static [&'static str],
            stderr: &'static [&'static str],
            code: i32,
        }
        let cases = [
            Case {
                name: "valid",
                response: response(true, "", ""),
                stdout: &["Job validation successful"],
                stderr: &[],
                code: 0,
            },
            Case {
                name: "errors",
                response: response(true, "1 error occurred:\n\t* Missing job ID\n\n", ""),
                stdout: &[],
                stderr: &[
                    "Job validation errors:",
                    "1 error occurred:\n\t* Missing job ID\n\n",
                ],
                code: 1,
            },
            Case {
                name: "warnings_then_success",
                response: response(true, "", "1 warning(s):\n\n* deprecated"),
                stdout: &[
                    "Job Warnings:\n1 warning(s):\n\n* deprecated\n",
                    "Job validation successful",
                ],
                stderr: &[],
                code: 0,
            },
            Case {
                name: "local_validation_note",
                response: response(false, "", ""),
                stdout: &[
                    "Driver configuration not validated since connection to Caravan agent couldn't be established.\n",
                    "Job validation successful",
                ],
                stderr: &[],
                code: 0,
            },
        ];
        for case in cases {
            let out = render_validate(&case.response, Ui::plain());
            assert_eq!(out.stdout, case.stdout, "{}", case.name);
            assert_eq!(out.stderr, case.stderr, "{}", case.name);
            assert_eq!(out.code, case.code, "{}", case.name);
        }
    }

    #[test]
    fn request_body_and_response_shape() {
        let job = Job {
            id: "example".into(),
            ..Job::default()
        };
        let body = serde_json::to_value(JobValidateRequest { job: Some(job) }).unwrap();
        assert_eq!(body["Job"]["ID"], "example");
        assert_eq!(body.as_object().unwrap().len(), 1);

        let parsed: JobValidateResponse = caravan_structs::json::from_slice_lenient(
            br#"{"DriverConfigValidated": true, "ValidationErrors": null, "Error": "", "Warnings": ""}"#,
        )
        .unwrap();
        assert_eq!(parsed, response(true, "", ""));
    }

    #[test]
    fn multierror_format() {
        assert_eq!(
            multierror_text(&["a".into()]),
            "1 error occurred:\n\t* a\n\n"
        );
        assert_eq!(
            multierror_text(&["a".into(), "b".into()]),
            "2 errors occurred:\n\t* a\n\t* b\n\n"
        );
    }

    #[test]
    fn local_validation_reports_errors() {
        let out = validate_local(&Job::default());
        assert!(!out.driver_config_validated);
        assert!(out.error.contains("Missing job ID"), "{}", out.error);
        assert_eq!(out.error, multierror_text(&out.validation_errors));
    }
}
