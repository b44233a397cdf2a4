//! Job file readers: HCL1 (hand-written parser), HCL2 (via `hcl-rs`) and JSON, into
//! [`caravan_structs::Job`].
//!
//! A pure library: text in, data out, no I/O. Bird's-eye view:
//!
//! - [`hcl1`]: an HCL1 parser producing a generic tree ([`Body`]) with positions, plus
//!   typed readers on it; also used for agent configuration files.
//! - `decode` (private): [`Body`] to [`Job`], shared by both HCL syntaxes.
//! - [`parse_job_hcl2`]: HCL2 parsed by `hcl-rs`, `var.*`/`local.*` evaluated, runtime
//!   interpolations (`${attr.*}`, `${meta.*}`, `${NOMAD_*}`, ...) kept as text, then the
//!   same decoding.
//! - [`parse_job_json`]: the API's JSON shape.
//!
//! Errors display as `file:line:col: message` whenever the position is known.

#![deny(missing_docs)]

mod access;
pub mod agent_config;
mod ast;
mod decode;

mod error;
mod eval_budget;
mod functions;
pub mod hcl1;
mod job_hcl1;
mod job_hcl2;
mod job_json;
mod placement;

pub use ast::{Body, Item, Value, ValueKind};
pub use caravan_structs::duration::{format_duration, parse_duration};
pub use decode::{
    IGNORED_GROUP_KEYS, IGNORED_JOB_KEYS, IGNORED_RESOURCES_KEYS, IGNORED_TASK_KEYS,
    REFUSED_GROUP_KEYS, REFUSED_JOB_KEYS, REFUSED_TASK_KEYS,
};
pub use error::{JobspecError, ParseError, Pos};
pub use functions::{FUNCTION_NAMES, FileReader};
pub use job_hcl1::parse_job_hcl1;
pub use job_hcl2::{
    Hcl2Options, parse_job_hcl2, parse_job_hcl2_with_options, parse_job_hcl2_with_vars,
    parse_var_file,
};
pub use job_json::{parse_job_json, parse_job_json_file};

use caravan_structs::Job;

/// The syntax of a job file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobFormat {
    /// HCL1, Nomad's `-hcl1` syntax.
    Hcl1,
    /// HCL2, Nomad's default syntax since 1.0.
    Hcl2,
    /// JSON, the API's shape (bare or wrapped in `{"Job": ...}`).
    Json,
}

/// Parses a job file of the given format. The job is not canonicalized.
pub fn parse_job(file_name: &str, source: &str, format: JobFormat) -> Result<Job, JobspecError> {
    match format {
        JobFormat::Hcl1 => parse_job_hcl1(file_name, source),
        JobFormat::Hcl2 => parse_job_hcl2(file_name, source),
        JobFormat::Json => parse_job_json_file(file_name, source),
    }
}
