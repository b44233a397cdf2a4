//! What can go wrong talking to an agent, rendered as Nomad's Go client renders it.

use std::error::Error as _;

/// An error of a call to the agent.
///
/// An error status reads `Unexpected response code: 404 (job not found)`; a refused
/// connection reads `Get "http://127.0.0.1:4646/v1/jobs": dial tcp 127.0.0.1:4646:
/// connect: connection refused`, as Nomad's CLI prints them.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The agent answered with an error status; `body` is its plain-text message.
    #[error("Unexpected response code: {code} ({body})")]
    Status {
        /// HTTP status code.
        code: u16,
        /// The response body, trimmed at its end.
        body: String,
        /// The `X-Caravan-Error` kind of a server's refusal (`node-not-found`...), when
        /// the answer names one.
        kind: Option<String>,
    },
    /// The request never got an answer (connection refused, unknown host, timeout).
    #[error("{method} \"{url}\": {reason}")]
    Transport {
        /// `Get`, `Put`, `Post`, `Delete` (Go's `url.Error.Op`).
        method: &'static str,
        /// The full URL.
        url: String,
        /// Go-style reason, e.g. `dial tcp 127.0.0.1:4646: connect: connection refused`.
        reason: String,
    },
    /// The answer was not the JSON expected, or could not be read whole.
    #[error("failed to decode response: {0}")]
    Decode(String),
    /// A streamed answer (logs, a followed file) broke off.
    #[error("reading the response: {0}")]
    Read(String),
}

impl Error {
    /// The HTTP status, when the agent answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Status { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether the agent was never reached (the call may be tried on another one).
    pub fn is_transport(&self) -> bool {
        matches!(self, Error::Transport { .. })
    }
}

/// A client that cannot be made: an address it cannot use (the message says what to
/// set instead), or an HTTP stack that would not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Neither `http://`, `https://` nor a bare `host:port`.
    #[error(
        "address {0:?} is not an http:// or https:// URL: set -address or NOMAD_ADDR to e.g. {default}",
        default = crate::DEFAULT_ADDRESS
    )]
    NotHttp(String),
    /// `http://` with nothing after it.
    #[error("address {0:?} names no host")]
    NoHost(String),
    /// The HTTP client could not be built.
    #[error("{0}")]
    Http(String),
}

/// Go's wording for a request that got no answer: `dial tcp <host:port>: <why>`.
pub(crate) fn transport_reason(host_port: &str, error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return format!("dial tcp {host_port}: i/o timeout");
    }
    let io = io_source(error);
    if let Some(io) = io {
        match io.kind() {
            std::io::ErrorKind::ConnectionRefused => {
                return format!("dial tcp {host_port}: connect: connection refused");
            }
            std::io::ErrorKind::TimedOut => return format!("dial tcp {host_port}: i/o timeout"),
            _ => {}
        }
    }
    // An unknown host reads `dial tcp <host:port>: failed to lookup address
    // information: ...` (the resolver's words), as the CLI has always printed it.
    match io {
        Some(io) => format!("dial tcp {host_port}: {io}"),
        None => with_causes(error),
    }
}

/// reqwest's message and its causes: "error sending request for url (...)" alone does
/// not say that the connection closed, or why.
fn with_causes(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let said = cause.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = cause.source();
    }
    text
}

/// The innermost I/O error behind a reqwest error (hyper wraps the socket's).
fn io_source(error: &reqwest::Error) -> Option<&std::io::Error> {
    let mut source = error.source();
    let mut found = None;
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            found = Some(io);
        }
        source = cause.source();
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_read_like_nomad() {
        let e = Error::Status {
            code: 404,
            body: "job not found".into(),
            kind: None,
        };
        assert_eq!(
            e.to_string(),
            "Unexpected response code: 404 (job not found)"
        );
        let e = Error::Transport {
            method: "Get",
            url: "http://127.0.0.1:4646/v1/jobs".into(),
            reason: "dial tcp 127.0.0.1:4646: connect: connection refused".into(),
        };
        assert_eq!(
            e.to_string(),
            "Get \"http://127.0.0.1:4646/v1/jobs\": dial tcp 127.0.0.1:4646: connect: connection refused"
        );
    }
}
