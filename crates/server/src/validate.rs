//! `job validate` (`/v1/validate/job`) and the rules an update must follow.

use caravan_structs::Job;
use serde::{Deserialize, Serialize};

use crate::{Server, ServerError, multi_error};

/// `PUT /v1/validate/job` answer (Nomad's `JobValidateResponse`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobValidateResponse {
    /// Always true: driver configuration is checked with the rest of the job.
    pub driver_config_validated: bool,
    /// One line per broken rule; empty when the job is valid.
    pub validation_errors: Vec<String>,
    /// The errors as one go-multierror text (`1 error occurred:\n\t* ...\n\n`), or empty.
    pub error: String,
    /// Warnings as one text; Caravan has none yet.
    pub warnings: String,
}

impl Server {
    /// Checks a job as registration would (canonicalization, the model's rules and the
    /// scheduler's), without storing anything.
    pub fn validate_job(&self, mut job: Job) -> JobValidateResponse {
        job.canonicalize();
        let errors = match crate::validate_submitted(&job, &self.config.driver_schemas) {
            Ok(()) => Vec::new(),
            Err(ServerError::Invalid(errors)) => errors,
            Err(other) => vec![other.to_string()],
        };
        JobValidateResponse {
            driver_config_validated: true,
            error: if errors.is_empty() {
                String::new()
            } else {
                multi_error(&errors)
            },
            validation_errors: errors,
            warnings: crate::unsupported::warnings(&job),
        }
    }
}
