//! A thin synchronous client for the agent's `/v1` HTTP API (ureq, no TLS, no async
//! runtime, so the CLI starts in milliseconds).
//!
//! Errors render like Nomad's Go client: an error status becomes
//! `Unexpected response code: 404 (job not found)`, a refused connection becomes
//! `Get "http://127.0.0.1:4646/v1/jobs": dial tcp 127.0.0.1:4646: connect: connection refused`.

use std::fmt;
use std::io::Read;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The agent address used when neither `-address` nor the environment names one.
pub const DEFAULT_ADDRESS: &str = "http://127.0.0.1:4646";

/// Largest response body read into memory (lists of a big cluster stay far below it).
const BODY_LIMIT: u64 = 512 * 1024 * 1024;

/// What went wrong talking to the agent.
#[derive(Debug)]
pub enum ApiError {
    /// The agent answered with an error status; `body` is its plain-text message.
    Status {
        /// HTTP status code.
        code: u16,
        /// The response body, trimmed.
        body: String,
    },
    /// The request never got an answer (connection refused, unknown host, timeout).
    Transport {
        /// `Get`, `Post`, `Delete` (Go's `url.Error.Op`).
        method: &'static str,
        /// The full URL.
        url: String,
        /// Go-style reason, e.g. `dial tcp 127.0.0.1:4646: connect: connection refused`.
        reason: String,
    },
    /// The answer was not the JSON we expected.
    Decode(String),
}

impl ApiError {
    /// The HTTP status, when the agent answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { code, .. } => Some(*code),
            _ => None,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Status { code, body } => {
                write!(f, "Unexpected response code: {code} ({body})")
            }
            ApiError::Transport {
                method,
                url,
                reason,
            } => write!(f, "{method} \"{url}\": {reason}"),
            ApiError::Decode(msg) => write!(f, "failed to decode response: {msg}"),
        }
    }
}

impl std::error::Error for ApiError {}

/// A decoded read plus the `X-Nomad-Index` header (0 when absent).
#[derive(Debug, Clone)]
pub struct Indexed<T> {
    /// The decoded body.
    pub value: T,
    /// The `X-Nomad-Index` response header, for blocking queries.
    pub index: u64,
}

/// Connection settings shared by every command (`-address`, `-region`, `-namespace`, `-token`).
#[derive(Debug, Clone, Default)]
pub struct ClientConfig {
    /// `http://host:port`; a bare `host:port` gets `http://`.
    pub address: String,
    /// Sent as `?region=` when set.
    pub region: Option<String>,
    /// Sent as `?namespace=` when set.
    pub namespace: Option<String>,
    /// Sent as `X-Nomad-Token` when set.
    pub token: Option<String>,
}

/// The API client. Cheap to clone (connections are pooled and shared).
#[derive(Clone)]
pub struct ApiClient {
    agent: ureq::Agent,
    base: String,
    host_port: String,
    config: ClientConfig,
}

/// Streaming response body.
pub type BodyReader = Box<dyn Read + Send>;

impl ApiClient {
    /// A client for `config.address`; fails for addresses it cannot use.
    pub fn new(config: ClientConfig) -> Result<ApiClient, String> {
        let raw = config.address.trim().trim_end_matches('/');
        let base = if raw.contains("://") {
            raw.to_string()
        } else {
            format!("http://{raw}")
        };
        if base.starts_with("https://") {
            return Err(format!(
                "address {base:?} uses https, which caravan does not support yet: use an http:// address"
            ));
        }
        let Some(authority) = base.strip_prefix("http://") else {
            return Err(format!(
                "address {base:?} is not an http:// URL: set -address or NOMAD_ADDR to e.g. {DEFAULT_ADDRESS}"
            ));
        };
        let authority = authority.split('/').next().unwrap_or_default();
        if authority.is_empty() {
            return Err(format!("address {base:?} names no host"));
        }
        let host_port = if authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| !p.contains(']'))
        {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .timeout_connect(Some(Duration::from_secs(10)))
            .build()
            .into();
        Ok(ApiClient {
            agent,
            base,
            host_port,
            config,
        })
    }

    /// The base address, e.g. `http://127.0.0.1:4646`.
    pub fn address(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str, query: &[(&str, String)]) -> String {
        let mut url = format!("{}{}", self.base, path);
        let mut params: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        if let Some(region) = &self.config.region {
            params.push(("region", region));
        }
        if let Some(namespace) = &self.config.namespace {
            params.push(("namespace", namespace));
        }
        for (i, (key, value)) in params.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(&query_escape(key));
            url.push('=');
            url.push_str(&query_escape(value));
        }
        url
    }

    fn transport_error(&self, method: &'static str, url: &str, err: ureq::Error) -> ApiError {
        let hp = &self.host_port;
        let reason = match &err {
            ureq::Error::Io(io) => match io.kind() {
                std::io::ErrorKind::ConnectionRefused => {
                    format!("dial tcp {hp}: connect: connection refused")
                }
                std::io::ErrorKind::TimedOut => format!("dial tcp {hp}: i/o timeout"),
                _ => format!("dial tcp {hp}: {io}"),
            },
            ureq::Error::HostNotFound => {
                let host = hp.rsplit_once(':').map(|(h, _)| h).unwrap_or(hp);
                format!("dial tcp: lookup {host}: no such host")
            }
            ureq::Error::ConnectionFailed => format!("dial tcp {hp}: connect: connection refused"),
            ureq::Error::Timeout(_) => format!("dial tcp {hp}: i/o timeout"),
            other => other.to_string(),
        };
        ApiError::Transport {
            method,
            url: url.to_string(),
            reason,
        }
    }

    fn send(
        &self,
        method: &'static str,
        path: &str,
        query: &[(&str, String)],
        body: Option<Vec<u8>>,
    ) -> Result<ureq::http::Response<ureq::Body>, ApiError> {
        let url = self.url(path, query);
        let token = self.config.token.as_deref();
        let result = match (method, body) {
            ("Post", Some(body)) => {
                let mut req = self
                    .agent
                    .post(&url)
                    .header("Content-Type", "application/json");
                if let Some(t) = token {
                    req = req.header("X-Nomad-Token", t);
                }
                req.send(&body[..])
            }
            ("Put", Some(body)) => {
                let mut req = self
                    .agent
                    .put(&url)
                    .header("Content-Type", "application/json");
                if let Some(t) = token {
                    req = req.header("X-Nomad-Token", t);
                }
                req.send(&body[..])
            }
            ("Delete", _) => {
                let mut req = self.agent.delete(&url);
                if let Some(t) = token {
                    req = req.header("X-Nomad-Token", t);
                }
                req.call()
            }
            _ => {
                let mut req = self.agent.get(&url);
                if let Some(t) = token {
                    req = req.header("X-Nomad-Token", t);
                }
                req.call()
            }
        };
        let mut response = result.map_err(|e| self.transport_error(method, &url, e))?;
        let code = response.status().as_u16();
        if code >= 400 {
            let body = response
                .body_mut()
                .with_config()
                .limit(BODY_LIMIT)
                .read_to_vec()
                .map(|b| String::from_utf8_lossy(&b).trim_end().to_string())
                .unwrap_or_default();
            return Err(ApiError::Status { code, body });
        }
        Ok(response)
    }

    fn decode<T: DeserializeOwned>(
        mut response: ureq::http::Response<ureq::Body>,
    ) -> Result<Indexed<T>, ApiError> {
        let index = response
            .headers()
            .get("X-Nomad-Index")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let bytes = response
            .body_mut()
            .with_config()
            .limit(BODY_LIMIT)
            .read_to_vec()
            .map_err(|e| ApiError::Decode(e.to_string()))?;
        let value = caravan_structs::json::from_slice_lenient(&bytes).map_err(ApiError::Decode)?;
        Ok(Indexed { value, index })
    }

    /// `GET path?query` decoded as `T`.
    pub fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Indexed<T>, ApiError> {
        Self::decode(self.send("Get", path, query, None)?)
    }

    /// A blocking `GET`: waits up to `wait` for the resource's index to pass `index`
    /// (a plain read when `index` is 0).
    pub fn get_blocking<T: DeserializeOwned>(
        &self,
        path: &str,
        index: u64,
        wait: &str,
    ) -> Result<Indexed<T>, ApiError> {
        if index == 0 {
            return self.get(path, &[]);
        }
        self.get(
            path,
            &[("index", index.to_string()), ("wait", wait.to_string())],
        )
    }

    /// `GET path?query` as a byte stream (logs, file contents).
    pub fn get_stream(&self, path: &str, query: &[(&str, String)]) -> Result<BodyReader, ApiError> {
        let response = self.send("Get", path, query, None)?;
        Ok(Box::new(response.into_body().into_reader()))
    }

    /// `POST path` with a JSON body, decoding the JSON answer.
    pub fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ApiError> {
        let bytes = serde_json::to_vec(body).map_err(|e| ApiError::Decode(e.to_string()))?;
        Ok(Self::decode(self.send("Post", path, &[], Some(bytes))?)?.value)
    }

    /// `POST path?query` with a JSON body, decoding the JSON answer.
    pub fn post_with_query<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        body: &B,
    ) -> Result<T, ApiError> {
        let bytes = serde_json::to_vec(body).map_err(|e| ApiError::Decode(e.to_string()))?;
        Ok(Self::decode(self.send("Post", path, query, Some(bytes))?)?.value)
    }

    /// `PUT path` with a JSON body, decoding the JSON answer (Nomad's API client writes
    /// with PUT, so transport errors read `Put "<url>": ...`).
    pub fn put<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ApiError> {
        let bytes = serde_json::to_vec(body).map_err(|e| ApiError::Decode(e.to_string()))?;
        Ok(Self::decode(self.send("Put", path, &[], Some(bytes))?)?.value)
    }

    /// `PUT path` with no body, for endpoints that answer nothing (`/v1/system/gc`).
    pub fn put_empty(&self, path: &str) -> Result<(), ApiError> {
        self.send("Put", path, &[], Some(Vec::new())).map(drop)
    }

    /// `DELETE path?query`, decoding the JSON answer.
    pub fn delete<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ApiError> {
        Ok(Self::decode(self.send("Delete", path, query, None)?)?.value)
    }
}

/// Escapes one path segment (Go's `url.PathEscape`).
pub fn path_escape(segment: &str) -> String {
    escape(segment, |b| {
        b.is_ascii_alphanumeric() || b"-_.~!$&'()*+,;=:@".contains(&b)
    })
}

/// Escapes a query key or value (Go's `url.QueryEscape`, but `%20` for spaces).
pub fn query_escape(value: &str) -> String {
    escape(value, |b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b))
}

fn escape(text: &str, keep: impl Fn(u8) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if keep(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(address: &str) -> ApiClient {
        ApiClient::new(ClientConfig {
            address: address.to_string(),
            ..ClientConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn addresses() {
        assert_eq!(client("127.0.0.1:4646").address(), "http://127.0.0.1:4646");
        assert_eq!(client("http://h:1/").address(), "http://h:1");
        assert_eq!(client("http://h").host_port, "h:80");
        assert!(
            ApiClient::new(ClientConfig {
                address: "https://h:1".into(),
                ..ClientConfig::default()
            })
            .is_err()
        );
    }

    #[test]
    fn urls_escape_and_carry_region() {
        let c = ApiClient::new(ClientConfig {
            address: "http://h:1".into(),
            region: Some("eu west".into()),
            ..ClientConfig::default()
        })
        .unwrap();
        assert_eq!(
            c.url("/v1/job/a%20b", &[("prefix", "x/y".into())]),
            "http://h:1/v1/job/a%20b?prefix=x%2Fy&region=eu%20west"
        );
        assert_eq!(path_escape("my job/1"), "my%20job%2F1");
    }

    #[test]
    fn error_messages_read_like_nomad() {
        let e = ApiError::Status {
            code: 404,
            body: "job not found".into(),
        };
        assert_eq!(
            e.to_string(),
            "Unexpected response code: 404 (job not found)"
        );
        let e = ApiError::Transport {
            method: "Get",
            url: "http://127.0.0.1:4646/v1/jobs".into(),
            reason: "dial tcp 127.0.0.1:4646: connect: connection refused".into(),
        };
        assert_eq!(
            e.to_string(),
            "Get \"http://127.0.0.1:4646/v1/jobs\": dial tcp 127.0.0.1:4646: connect: connection refused"
        );
    }

    #[test]
    fn refused_connection_is_go_style() {
        // Port 1 on loopback is closed on any sane machine.
        let c = client("http://127.0.0.1:1");
        let err = c.get::<serde_json::Value>("/v1/jobs", &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Get \"http://127.0.0.1:1/v1/jobs\": dial tcp 127.0.0.1:1: connect: connection refused"
        );
    }
}
