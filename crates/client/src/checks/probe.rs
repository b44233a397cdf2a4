//! One run of a check: an HTTP request, a TCP connect, or a command inside the task.
//! Each answers within the check's timeout.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use caravan_drivers::{Driver, ExecRequest};
use caravan_structs::ServiceCheck;
use tokio::io::AsyncReadExt;

use super::tracker::Outcome;

/// Script output kept for the result (Consul keeps 4 KiB).
const MAX_OUTPUT: usize = 4096;

/// What a probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeResult {
    pub outcome: Outcome,
    /// The HTTP status of an `http` check.
    pub status_code: i64,
    pub output: String,
}

impl ProbeResult {
    fn new(outcome: Outcome, output: impl Into<String>) -> ProbeResult {
        ProbeResult {
            outcome,
            status_code: 0,
            output: output.into(),
        }
    }
}

/// Where a check runs: the address and port it probes, and for a script the task it
/// runs in.
#[derive(Clone)]
pub struct ProbeTarget {
    pub address: String,
    pub port: i64,
    /// The task's driver and its executor's directory (script checks).
    pub exec: Option<(Arc<dyn Driver>, PathBuf)>,
}

/// Runs `check` once against `target`.
pub async fn probe(
    check: &ServiceCheck,
    target: &ProbeTarget,
    http: &reqwest::Client,
) -> ProbeResult {
    let timeout = Duration::from_nanos(check.timeout.max(1_000_000) as u64);
    match check.r#type.as_str() {
        "http" => http_probe(check, target, http, timeout).await,
        "tcp" => tcp_probe(target, timeout).await,
        "script" => script_probe(check, target, timeout).await,
        other => ProbeResult::new(
            Outcome::Critical,
            format!("nomad: check type {other:?} is not supported"),
        ),
    }
}

fn host_port(target: &ProbeTarget) -> String {
    if target.address.contains(':') {
        format!("[{}]:{}", target.address, target.port)
    } else {
        format!("{}:{}", target.address, target.port)
    }
}

async fn http_probe(
    check: &ServiceCheck,
    target: &ProbeTarget,
    http: &reqwest::Client,
    timeout: Duration,
) -> ProbeResult {
    let protocol = if check.protocol.is_empty() {
        "http"
    } else {
        check.protocol.as_str()
    };
    let path = if check.path.starts_with('/') {
        check.path.clone()
    } else {
        format!("/{}", check.path)
    };
    let url = format!("{protocol}://{}{path}", host_port(target));
    let method = if check.method.is_empty() {
        "GET"
    } else {
        check.method.as_str()
    };
    let method = match reqwest::Method::from_bytes(method.as_bytes()) {
        Ok(method) => method,
        Err(_) => {
            return ProbeResult::new(
                Outcome::Critical,
                format!("nomad: invalid method {method:?}"),
            );
        }
    };
    let mut request = http.request(method, &url).timeout(timeout);
    for (name, values) in &check.header {
        for value in values {
            request = request.header(name, value);
        }
    }
    if !check.body.is_empty() {
        request = request.body(check.body.clone());
    }
    match request.send().await {
        Ok(response) => {
            let code = response.status().as_u16();
            // Nomad's checker: a 2xx passes, anything else fails.
            let (outcome, output) = if (200..300).contains(&code) {
                (Outcome::Passing, "nomad: http ok".to_string())
            } else {
                (
                    Outcome::Critical,
                    format!("nomad: http response code {code}"),
                )
            };
            ProbeResult {
                outcome,
                status_code: code as i64,
                output,
            }
        }
        Err(error) => ProbeResult::new(Outcome::Critical, format!("nomad: {error}")),
    }
}

async fn tcp_probe(target: &ProbeTarget, timeout: Duration) -> ProbeResult {
    let address = host_port(target);
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(&address)).await {
        Ok(Ok(_)) => ProbeResult::new(Outcome::Passing, "nomad: tcp ok"),
        Ok(Err(error)) => ProbeResult::new(
            Outcome::Critical,
            format!("nomad: dial tcp {address}: {error}"),
        ),
        Err(_) => ProbeResult::new(
            Outcome::Critical,
            format!("nomad: dial tcp {address}: i/o timeout"),
        ),
    }
}

/// Consul's script check: exit 0 passes, 1 is a warning, anything else is critical.
async fn script_probe(
    check: &ServiceCheck,
    target: &ProbeTarget,
    timeout: Duration,
) -> ProbeResult {
    let Some((driver, state_dir)) = &target.exec else {
        return ProbeResult::new(
            Outcome::Critical,
            "nomad: the task's driver cannot run script checks",
        );
    };
    let mut command = vec![check.command.clone()];
    command.extend(check.args.iter().cloned());
    let request = ExecRequest {
        command,
        ..ExecRequest::default()
    };
    let mut session = match driver.exec(state_dir, request).await {
        Ok(session) => session,
        Err(error) => return ProbeResult::new(Outcome::Critical, format!("nomad: {error}")),
    };
    drop(session.stdin.take());
    let mut stdout = session.stdout.take();
    let mut stderr = session.stderr.take();
    let run = async {
        let mut output = Vec::new();
        if let Some(reader) = stdout.as_mut() {
            let _ = reader
                .take(MAX_OUTPUT as u64)
                .read_to_end(&mut output)
                .await;
        }
        if let Some(reader) = stderr.as_mut() {
            let room = MAX_OUTPUT.saturating_sub(output.len()) as u64;
            let _ = reader.take(room).read_to_end(&mut output).await;
        }
        let code = session.wait().await;
        (code, output)
    };
    match tokio::time::timeout(timeout, run).await {
        Ok((code, output)) => {
            let outcome = match code {
                0 => Outcome::Passing,
                1 => Outcome::Warning,
                _ => Outcome::Critical,
            };
            ProbeResult::new(outcome, String::from_utf8_lossy(&output).into_owned())
        }
        Err(_) => {
            session.kill();
            ProbeResult::new(Outcome::Critical, "nomad: script check timed out")
        }
    }
}
