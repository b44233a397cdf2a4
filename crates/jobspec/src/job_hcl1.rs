//! HCL1 job files (Nomad 1.x `nomad job run -hcl1`).

use caravan_structs::Job;

use crate::error::JobspecError;
use crate::{decode, hcl1};

/// Parses an HCL1 job file into a [`Job`]. `file_name` is only used in error messages.
///
/// The job is not canonicalized (call `job.canonicalize()`); the parser sets only
/// what Nomad's HCL1 parser set: `Name` = ID, and the struct defaults.
///
/// ```
/// let job = caravan_jobspec::parse_job_hcl1(
///     "hello.nomad",
///     r#"job "hello" { group "g" { task "t" { driver = "raw_exec" } } }"#,
/// )?;
/// assert_eq!(job.name, "hello");
/// assert_eq!(job.task_groups[0].count, 1);
/// # Ok::<(), caravan_jobspec::JobspecError>(())
/// ```
pub fn parse_job_hcl1(file_name: &str, source: &str) -> Result<Job, JobspecError> {
    let body = hcl1::parse(file_name, source)?;
    Ok(decode::job_file(&body, &[])?)
}
