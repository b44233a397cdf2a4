//! `/v1/jobs/parse`: HCL in, a job out. Evaluating HCL2 runs code the caller wrote, so
//! it never runs on the agent's async runtime: the agent hands it to a short-lived
//! `caravan jobspec-parse` process with a memory and CPU limit (the evaluator has
//! bounds of its own, [`caravan_jobspec`]'s work budget, but for-expressions over big
//! lists cost nothing it can count), killed after [`PARSE_TIMEOUT`]. At most
//! [`MAX_CONCURRENT_PARSES`] run at once; the rest wait. Without that program (the API
//! used as a library) the parse runs on a blocking thread under the same timeout.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use axum::http::StatusCode;
use caravan_structs::Job;
use caravan_structs::json::from_slice_lenient;
use tokio::io::AsyncWriteExt;

use crate::ApiError;

/// How long one parse may take, wall clock.
pub const PARSE_TIMEOUT: Duration = Duration::from_secs(10);
/// How much address space a parse process may map.
pub const PARSE_MEMORY_LIMIT: u64 = 1 << 30;
/// Parses at once; more wait their turn.
pub const MAX_CONCURRENT_PARSES: usize = 2;

static PARSES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_CONCURRENT_PARSES);

/// How the agent starts a parse process: `program args...`, the request on stdin.
#[derive(Debug, Clone)]
pub struct JobParser {
    pub program: PathBuf,
    pub args: Vec<String>,
}

/// Exit code of a parse process whose request was refused; its stdout is the message.
pub const EXIT_REFUSED: i32 = 2;

/// The whole of `/v1/jobs/parse` but the transport: a `JobsParseRequest` body in, the
/// job or a 400 message out. What the parse process runs.
pub fn parse_request(body: &[u8]) -> Result<Job, String> {
    let request: caravan_api_types::JobsParseRequest =
        from_slice_lenient(body).map_err(|e| format!("Failed to decode request body: {e}"))?;
    let format = if request.hclv1 {
        caravan_jobspec::JobFormat::Hcl1
    } else {
        caravan_jobspec::JobFormat::Hcl2
    };
    let mut job = caravan_jobspec::parse_job("input.hcl", &request.job_hcl, format)
        .map_err(|e| format!("Failed to parse job: {e}"))?;
    if request.canonicalize {
        job.canonicalize();
    }
    Ok(job)
}

/// `caravan jobspec-parse`: reads a request on stdin, prints the job's JSON (exit 0) or
/// the refusal (exit [`EXIT_REFUSED`]).
pub fn run_parse_process() -> i32 {
    use std::io::{Read, Write};
    let mut body = Vec::new();
    if let Err(error) = std::io::stdin().read_to_end(&mut body) {
        eprintln!("jobspec-parse: reading the request: {error}");
        return 1;
    }
    let (text, code) = match parse_request(&body) {
        Ok(job) => match serde_json::to_string(&job) {
            Ok(text) => (text, 0),
            Err(error) => (error.to_string(), 1),
        },
        Err(message) => (message, EXIT_REFUSED),
    };
    let _ = std::io::stdout().write_all(text.as_bytes());
    code
}

fn too_expensive() -> ApiError {
    ApiError::bad_request(format!(
        "Failed to parse job: evaluating the job file took more than {}s or {} MiB; simplify it",
        PARSE_TIMEOUT.as_secs(),
        PARSE_MEMORY_LIMIT >> 20
    ))
}

/// Parses a request off the runtime, in a parse process when `parser` is set.
pub async fn parse(parser: Option<&JobParser>, body: bytes::Bytes) -> Result<Job, ApiError> {
    let _permit = PARSES
        .acquire()
        .await
        .map_err(|_| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "parsing is shut down"))?;
    match parser {
        Some(parser) => in_process_of_its_own(parser, &body).await,
        None => {
            let work = tokio::task::spawn_blocking(move || parse_request(&body));
            match tokio::time::timeout(PARSE_TIMEOUT, work).await {
                Ok(Ok(result)) => result.map_err(ApiError::bad_request),
                Ok(Err(_)) => Err(too_expensive()),
                Err(_) => Err(too_expensive()),
            }
        }
    }
}

async fn in_process_of_its_own(parser: &JobParser, body: &[u8]) -> Result<Job, ApiError> {
    let failed = |e: std::io::Error| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("failed to start the job parser: {e}"),
        )
    };
    let mut command = tokio::process::Command::new(&parser.program);
    command
        .args(&parser.args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    // SAFETY: setrlimit is async-signal-safe and changes only the child's limits.
    unsafe {
        command.pre_exec(|| {
            let memory = libc::rlimit {
                rlim_cur: PARSE_MEMORY_LIMIT,
                rlim_max: PARSE_MEMORY_LIMIT,
            };
            let seconds = PARSE_TIMEOUT.as_secs();
            let cpu = libc::rlimit {
                rlim_cur: seconds,
                rlim_max: seconds,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &memory) != 0
                || libc::setrlimit(libc::RLIMIT_CPU, &cpu) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command.spawn().map_err(failed)?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(body).await.map_err(failed)?;
    }
    let output = match tokio::time::timeout(PARSE_TIMEOUT, child.wait_with_output()).await {
        Ok(output) => output.map_err(failed)?,
        // Dropping the future kills the process (kill_on_drop).
        Err(_) => return Err(too_expensive()),
    };
    let text = String::from_utf8_lossy(&output.stdout);
    match output.status.code() {
        Some(0) => serde_json::from_str(&text).map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the job parser answered badly: {e}"),
            )
        }),
        Some(EXIT_REFUSED) => Err(ApiError::bad_request(text.into_owned())),
        // Killed by its limits (out of memory aborts, SIGXCPU), or crashed.
        _ => Err(too_expensive()),
    }
}
