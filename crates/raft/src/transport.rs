//! The one place servers make connections to each other: Raft's messages (MessagePack
//! over HTTP on the peer's RPC port) and the join handshake and membership pings (JSON
//! on its serf port). The accepting side is `caravan-api`'s RPC and serf routers, which
//! call [`crate::RaftNode`]'s handlers. With `tls { rpc = true }` the agent hands in
//! a client that presents its certificate and checks the peer's (mutual TLS,
//! `caravan_tls::outgoing::agent_client`), and every call goes to `https://`; the
//! listeners check the caller's certificate.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Paths of the server-to-server calls.
pub mod paths {
    pub const APPEND_ENTRIES: &str = "/v1/internal/raft/append-entries";
    pub const VOTE: &str = "/v1/internal/raft/vote";
    pub const INSTALL_SNAPSHOT: &str = "/v1/internal/raft/install-snapshot";
    pub const MEMBER: &str = "/v1/internal/serf/member";
    pub const JOIN: &str = "/v1/internal/serf/join";
    pub const LEAVE: &str = "/v1/internal/serf/leave";
}

/// The MIME type of Raft's bodies.
pub const MSGPACK: &str = "application/msgpack";

/// Why a call to another server failed.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// It could not be reached (refused, reset, timed out).
    #[error("{0}")]
    Unreachable(String),
    /// It answered, but not with what was asked (status and its text).
    #[error("{0}")]
    Refused(String),
}

/// An HTTP client for other servers.
#[derive(Debug, Clone)]
pub struct PeerClient {
    http: reqwest::Client,
    /// `http`, or `https` when the servers' ports speak TLS.
    scheme: &'static str,
}

impl Default for PeerClient {
    fn default() -> Self {
        PeerClient::new()
    }
}

impl PeerClient {
    /// Plaintext calls.
    pub fn new() -> PeerClient {
        let http = PeerClient::http_builder().build().unwrap_or_default();
        PeerClient {
            http,
            scheme: "http",
        }
    }

    /// Calls over TLS with `http`, built from [`PeerClient::http_builder`] with the
    /// agent's TLS settings.
    pub fn over_tls(http: reqwest::Client) -> PeerClient {
        PeerClient {
            http,
            scheme: "https",
        }
    }

    /// The connection settings of calls to other servers.
    pub fn http_builder() -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .pool_idle_timeout(Duration::from_secs(30))
    }

    /// POSTs `body` as MessagePack to `address` (`host:port`) and reads MessagePack.
    /// The body is encoded off the runtime (it may be a batch of large entries).
    pub async fn msgpack<B: Serialize + Send + 'static, T: DeserializeOwned>(
        &self,
        address: &str,
        path: &str,
        body: B,
        timeout: Duration,
    ) -> Result<T, TransportError> {
        let bytes = tokio::task::spawn_blocking(move || rmp_serde::to_vec_named(&body))
            .await
            .map_err(|e| TransportError::Refused(format!("encoding the request: {e}")))?
            .map_err(|e| TransportError::Refused(format!("encoding the request: {e}")))?;
        let request = self
            .http
            .post(format!("{}://{address}{path}", self.scheme))
            .header(reqwest::header::CONTENT_TYPE, MSGPACK)
            .timeout(timeout)
            .body(bytes);
        let body = answer(address, request).await?;
        rmp_serde::from_slice(&body)
            .map_err(|e| TransportError::Refused(format!("{address}: unreadable answer: {e}")))
    }

    /// GETs JSON from `address`.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        address: &str,
        path: &str,
        timeout: Duration,
    ) -> Result<T, TransportError> {
        let request = self
            .http
            .get(format!("{}://{address}{path}", self.scheme))
            .timeout(timeout);
        json(address, answer(address, request).await?)
    }

    /// POSTs `body` as JSON to `address` and reads JSON.
    pub async fn post_json<B: Serialize, T: DeserializeOwned>(
        &self,
        address: &str,
        path: &str,
        body: &B,
        timeout: Duration,
    ) -> Result<T, TransportError> {
        let request = self
            .http
            .post(format!("{}://{address}{path}", self.scheme))
            .timeout(timeout)
            .json(body);
        json(address, answer(address, request).await?)
    }
}

/// Sends `request` and reads the whole answer: its body when the status is a success,
/// the status and the body's text otherwise.
async fn answer(
    address: &str,
    request: reqwest::RequestBuilder,
) -> Result<bytes::Bytes, TransportError> {
    let response = request
        .send()
        .await
        .map_err(|e| TransportError::Unreachable(describe(address, &e)))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| TransportError::Unreachable(describe(address, &e)))?;
    if !status.is_success() {
        return Err(TransportError::Refused(format!(
            "{address}: {status}: {}",
            String::from_utf8_lossy(&body).trim()
        )));
    }
    Ok(body)
}

fn json<T: DeserializeOwned>(address: &str, body: bytes::Bytes) -> Result<T, TransportError> {
    serde_json::from_slice(&body)
        .map_err(|e| TransportError::Refused(format!("{address}: unreadable answer: {e}")))
}

/// reqwest's error with its causes, which hold the useful part ("connection refused").
fn describe(address: &str, error: &reqwest::Error) -> String {
    let mut text = format!("{address}: {error}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}
