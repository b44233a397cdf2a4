//! `job validate` (`/v1/validate/job`) and the rules an update must follow.

use caravan_api_types::JobValidateResponse;
use caravan_structs::Job;

use crate::{Server, ServerError, multi_error};

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
