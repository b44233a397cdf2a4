//! JSON job files (`nomad job run -json`, `nomad job inspect` output).

use caravan_structs::Job;

use crate::error::{JobspecError, ParseError, Pos};

/// Parses a JSON job: either the bare job object or `{"Job": {...}}` as `nomad job inspect`
/// and `nomad job run -output` print it. Members that are `null` take their defaults.
pub fn parse_job_json(source: &str) -> Result<Job, JobspecError> {
    parse_job_json_file("job.json", source)
}

/// Like [`parse_job_json`], naming `file_name` in errors.
pub fn parse_job_json_file(file_name: &str, source: &str) -> Result<Job, JobspecError> {
    let mut value: serde_json::Value = serde_json::from_str(source).map_err(|e| {
        ParseError::new(
            file_name,
            Pos::new(e.line().max(1), e.column().max(1)),
            format!("invalid JSON: {e}"),
        )
    })?;
    if !value.is_object() {
        return Err(JobspecError::Unlocated {
            file: file_name.to_string(),
            message: "a JSON job must be an object: the job itself or {\"Job\": {...}}".into(),
        });
    }
    if let Some(inner) = value.get_mut("Job").filter(|job| job.is_object()) {
        value = inner.take();
    }
    caravan_structs::json::from_value_lenient(&mut value).map_err(|message| {
        JobspecError::Unlocated {
            file: file_name.to_string(),
            message,
        }
    })
}
