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
        let errors = match crate::validate_submitted(&job) {
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

/// Nomad's `validateJobUpdate`: what a job may not change about itself once registered.
pub(crate) fn check_update(old: Option<&Job>, new: &Job) -> Result<(), ServerError> {
    let refuse = |message: String| Err(ServerError::Invalid(vec![message]));
    let Some(old) = old else {
        if new.dispatched {
            return refuse(
                "job can't be submitted with 'Dispatched' set; dispatch the parameterized job instead (job dispatch)"
                    .to_string(),
            );
        }
        return Ok(());
    };
    if old.r#type != new.r#type {
        return refuse(format!(
            "cannot update job from type {:?} to {:?}; stop and purge it first (job stop -purge {})",
            old.r#type, new.r#type, old.id
        ));
    }
    match (old.is_periodic(), new.is_periodic()) {
        (true, false) => return refuse("cannot update periodic job to being non-periodic".into()),
        (false, true) => return refuse("cannot update non-periodic job to being periodic".into()),
        _ => {}
    }
    match (old.is_parameterized(), new.is_parameterized()) {
        (true, false) => {
            return refuse("cannot update parameterized job to being non-parameterized".into());
        }
        (false, true) => {
            return refuse("cannot update non-parameterized job to being parameterized".into());
        }
        _ => {}
    }
    if old.dispatched != new.dispatched {
        return refuse("field 'Dispatched' is read-only".into());
    }
    Ok(())
}
