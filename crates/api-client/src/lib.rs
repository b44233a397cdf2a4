//! A typed async client for Caravan's `/v1` HTTP API and its client-server RPC, on
//! reqwest.
//!
//! [`Client`] has one method per route, taking and returning the bodies of
//! `caravan-api-types` (reads come [`Indexed`] with their `X-Nomad-Index`, and take
//! [`QueryOptions`] where Nomad's blocking queries apply); logs and files come as a
//! [`Body`] read chunk by chunk. [`RpcClient`] speaks to a server's RPC port for a
//! client agent. Errors are an [`Error`] that renders as Nomad's Go client does, so the
//! CLI prints them as they are.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use caravan_api_client::{Client, Config};
//! let client = Client::new(Config::address("http://127.0.0.1:4646"))?;
//! let jobs = client.jobs("").await?;
//! println!("{} jobs at index {}", jobs.value.len(), jobs.index);
//! # Ok(()) }
//! ```
//!
//! Code map: [`error`] (errors and Go's wording), [`query`] (blocking queries),
//! [`paths`] (every route's path), [`escape`] (Go's URL escaping), and one module per
//! group of routes: `jobs`, `allocs` (allocations, files, logs), `evals`, `deployments`, `nodes`,
//! `agent` (the agent, its status and server membership), `operator` (Raft peers,
//! snapshots), [`rpc`].

mod acl;
mod agent;
mod allocs;
mod body;
mod deployments;
pub mod error;
pub mod escape;
mod evals;
mod exact;
mod jobs;
mod nodes;
mod operator;
pub mod paths;
pub mod query;
pub mod rpc;
mod scaling;
mod services;
mod variables;

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use agent::MonitorQuery;
pub use allocs::{LogsQuery, StreamQuery};
pub use body::Body;
pub use error::{ConfigError, Error};
pub use evals::EvalListQuery;
pub use exact::ExactResponse;
pub use query::{Indexed, QueryOptions};
pub use rpc::RpcClient;
pub use variables::{LockOperation, VariableWrite};

/// The agent address used when neither `-address` nor the environment names one.
pub const DEFAULT_ADDRESS: &str = "http://127.0.0.1:4646";

/// Largest response body read into memory (lists of a big cluster stay far below it).
const BODY_LIMIT: usize = 512 * 1024 * 1024;

/// How long a connection may take to open (the CLI's `-address` may be unreachable).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where and as whom to call: `-address`, `-region`, `-namespace`, `-token`.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// `http://host:port` or `https://host:port`; a bare `host:port` gets `http://`.
    pub address: String,
    /// Sent as `?region=` when set.
    pub region: Option<String>,
    /// Sent as `?namespace=` when set.
    pub namespace: Option<String>,
    /// Sent as `X-Nomad-Token` when set.
    pub token: Option<String>,
}

impl Config {
    /// A configuration with only an address.
    pub fn address(address: impl Into<String>) -> Config {
        Config {
            address: address.into(),
            ..Config::default()
        }
    }
}

/// An HTTP method, named as Go's `url.Error` names it (`Get "http://...": ...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`.
    Get,
    /// `PUT`: Nomad's API client writes with PUT.
    Put,
    /// `POST`.
    Post,
    /// `DELETE`.
    Delete,
}

impl Method {
    fn go_name(self) -> &'static str {
        match self {
            Method::Get => "Get",
            Method::Put => "Put",
            Method::Post => "Post",
            Method::Delete => "Delete",
        }
    }

    fn http(self) -> reqwest::Method {
        match self {
            Method::Get => reqwest::Method::GET,
            Method::Put => reqwest::Method::PUT,
            Method::Post => reqwest::Method::POST,
            Method::Delete => reqwest::Method::DELETE,
        }
    }
}

/// An answer taken as it came, error statuses included (see [`Client::send_raw`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawResponse {
    /// HTTP status code.
    pub status: u16,
    /// `X-Nomad-Index`, 0 when absent.
    pub index: u64,
    /// The body as text.
    pub body: String,
}

/// One request: route, parameters, body and the RPC's extras.
#[derive(Debug)]
pub(crate) struct Call {
    method: Method,
    path: String,
    query: Vec<(&'static str, String)>,
    body: Option<Vec<u8>>,
    /// The body's `Content-Type`: JSON unless [`Call::bytes`] says otherwise.
    content_type: &'static str,
    headers: Vec<(&'static str, String)>,
    timeout: Option<Duration>,
}

impl Call {
    pub(crate) fn new(method: Method, path: impl Into<String>) -> Call {
        Call {
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
            content_type: "application/json",
            headers: Vec::new(),
            timeout: None,
        }
    }

    pub(crate) fn get(path: impl Into<String>) -> Call {
        Call::new(Method::Get, path)
    }

    /// Adds `key=value`.
    pub(crate) fn param(mut self, key: &'static str, value: impl ToString) -> Call {
        self.query.push((key, value.to_string()));
        self
    }

    /// Adds `key=value` when `value` is not empty.
    pub(crate) fn param_if_set(self, key: &'static str, value: &str) -> Call {
        if value.is_empty() {
            self
        } else {
            self.param(key, value)
        }
    }

    /// Adds `key=true` when `on`.
    pub(crate) fn flag(self, key: &'static str, on: bool) -> Call {
        if on { self.param(key, "true") } else { self }
    }

    /// Adds a blocking query's `index` and `wait`.
    pub(crate) fn blocking(mut self, options: QueryOptions) -> Call {
        self.query.extend(options.params());
        self
    }

    /// Sends `body` as JSON.
    pub(crate) fn json<B: Serialize + ?Sized>(mut self, body: &B) -> Result<Call, Error> {
        self.body = Some(serde_json::to_vec(body).map_err(|e| Error::Decode(e.to_string()))?);
        Ok(self)
    }

    /// Sends `body` as it is (a snapshot archive).
    pub(crate) fn bytes(mut self, body: Vec<u8>) -> Call {
        self.body = Some(body);
        self.content_type = "application/octet-stream";
        self
    }

    pub(crate) fn header(mut self, name: &'static str, value: &str) -> Call {
        self.headers.push((name, value.to_string()));
        self
    }

    pub(crate) fn timeout(mut self, timeout: Duration) -> Call {
        self.timeout = Some(timeout);
        self
    }
}

/// The settings of [`Client::new`]'s connection pool, for a caller that adds its own
/// (TLS) before building it and handing it to [`Client::with_http`].
pub fn http_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        // As Nomad's CLI: the agent is named directly, never through a proxy.
        .no_proxy()
        .connect_timeout(CONNECT_TIMEOUT)
}

/// The API client for one agent. Cheap to clone: connections are pooled and shared.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    host_port: String,
    config: Config,
}

impl Client {
    /// A client for `config.address` with a connection pool of its own; fails for
    /// addresses it cannot use.
    pub fn new(config: Config) -> Result<Client, ConfigError> {
        let http = http_builder()
            .build()
            .map_err(|e| ConfigError::Http(e.to_string()))?;
        Client::with_http(config, http)
    }

    /// A client for `config.address` that shares `http`'s connection pool.
    pub fn with_http(config: Config, http: reqwest::Client) -> Result<Client, ConfigError> {
        let raw = config.address.trim().trim_end_matches('/');
        let base = if raw.contains("://") {
            raw.to_string()
        } else {
            format!("http://{raw}")
        };
        // `https://` needs an `http` client with the TLS settings to use (the CLI's
        // `-ca-cert` and friends: `caravan_tls::outgoing::cli_client`).
        let (authority, default_port) = if let Some(rest) = base.strip_prefix("http://") {
            (rest, 80)
        } else if let Some(rest) = base.strip_prefix("https://") {
            (rest, 443)
        } else {
            return Err(ConfigError::NotHttp(base));
        };
        let authority = authority.split('/').next().unwrap_or_default();
        if authority.is_empty() {
            return Err(ConfigError::NoHost(base));
        }
        let host_port = if authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| !p.contains(']'))
        {
            authority.to_string()
        } else {
            format!("{authority}:{default_port}")
        };
        Ok(Client {
            http,
            base,
            host_port,
            config,
        })
    }

    /// The base address, e.g. `http://127.0.0.1:4646`.
    pub fn address(&self) -> &str {
        &self.base
    }

    /// The same client, its calls sent in `namespace` (as Nomad's CLI follows a job
    /// file's namespace with `SetNamespace`); the connection pool is shared.
    pub fn in_namespace(&self, namespace: &str) -> Client {
        let mut client = self.clone();
        client.config.namespace = Some(namespace.to_string());
        client
    }

    /// `*` when no namespace is configured (else nothing: the configured one is sent):
    /// a search by ID prefix looks in every namespace, as Nomad's CLI does.
    pub(crate) fn search_namespace(&self) -> &'static str {
        if self.config.namespace.is_none() {
            "*"
        } else {
            ""
        }
    }

    /// The full URL of a call: its parameters, then `region` (unless the call names
    /// its own, as a per-region leader query does) and `namespace` (unless the call
    /// names its own, as a prefix search across namespaces does).
    fn url(&self, path: &str, query: &[(&'static str, String)]) -> String {
        let mut url = format!("{}{}", self.base, path);
        let mut params: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let own_region = query.iter().any(|(k, _)| *k == "region");
        if let Some(region) = self.config.region.as_ref().filter(|_| !own_region) {
            params.push(("region", region));
        }
        let own_namespace = query.iter().any(|(k, _)| *k == "namespace");
        if let Some(namespace) = self.config.namespace.as_ref().filter(|_| !own_namespace) {
            params.push(("namespace", namespace));
        }
        for (i, (key, value)) in params.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(&escape::query_escape(key));
            url.push('=');
            url.push_str(&escape::query_escape(value));
        }
        url
    }

    /// Sends a call; an answer with a status of 400 or more is an [`Error::Status`].
    pub(crate) async fn send(&self, call: Call) -> Result<reqwest::Response, Error> {
        let response = self.send_unchecked(call).await?;
        let code = response.status().as_u16();
        if code >= 400 {
            let kind = response
                .headers()
                .get(caravan_api_types::rpc::ERROR_KIND_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body = read_limited(response)
                .await
                .map(|b| String::from_utf8_lossy(&b).trim_end().to_string())
                .unwrap_or_default();
            return Err(Error::Status { code, body, kind });
        }
        Ok(response)
    }

    /// Sends a call and hands back whatever the agent answered.
    async fn send_unchecked(&self, call: Call) -> Result<reqwest::Response, Error> {
        let url = self.url(&call.path, &call.query);
        let mut request = self.http.request(call.method.http(), &url);
        if let Some(body) = call.body {
            request = request.header("Content-Type", call.content_type).body(body);
        }
        if let Some(token) = &self.config.token {
            request = request.header("X-Nomad-Token", token);
        }
        for (name, value) in call.headers {
            request = request.header(name, value);
        }
        if let Some(timeout) = call.timeout {
            request = request.timeout(timeout);
        }
        request.send().await.map_err(|e| Error::Transport {
            method: call.method.go_name(),
            url,
            reason: error::transport_reason(&self.host_port, &e),
        })
    }

    /// Sends a call and decodes its JSON answer (Go's `null`s read as absent).
    pub(crate) async fn read<T: DeserializeOwned>(&self, call: Call) -> Result<Indexed<T>, Error> {
        let response = self.send(call).await?;
        let index = index_of(&response);
        let next_token = response
            .headers()
            .get("X-Nomad-NextToken")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let bytes = read_limited(response).await?;
        let value = caravan_structs::json::from_slice_lenient(&bytes).map_err(Error::Decode)?;
        Ok(Indexed {
            value,
            index,
            next_token,
        })
    }

    /// Sends a write and decodes its JSON answer.
    pub(crate) async fn write<T: DeserializeOwned>(&self, call: Call) -> Result<T, Error> {
        Ok(self.read(call).await?.value)
    }

    /// Sends any request, `body` as JSON whether or not it parses, and hands back the
    /// answer as it came, error statuses included: for callers that check the wire
    /// itself (tests of the API's JSON and errors). `path` may carry its own query.
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<RawResponse, Error> {
        let mut call = Call::new(method, path);
        call.body = body.map(<[u8]>::to_vec);
        let response = self.send_unchecked(call).await?;
        let status = response.status().as_u16();
        let index = index_of(&response);
        let bytes = read_limited(response).await?;
        Ok(RawResponse {
            status,
            index,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        })
    }
}

/// The `X-Nomad-Index` of an answer, 0 when absent.
fn index_of(response: &reqwest::Response) -> u64 {
    response
        .headers()
        .get("X-Nomad-Index")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Reads a whole body, refusing one over [`BODY_LIMIT`].
async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>, Error> {
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| Error::Decode(e.to_string()))?
    {
        if bytes.len() + chunk.len() > BODY_LIMIT {
            return Err(Error::Decode(format!(
                "the answer is larger than {BODY_LIMIT} bytes"
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

#[cfg(test)]
mod wire_tests;

#[cfg(test)]
mod tests {
    use super::*;

    fn client(address: &str) -> Client {
        Client::new(Config::address(address)).unwrap()
    }

    #[test]
    fn addresses() {
        assert_eq!(client("127.0.0.1:4646").address(), "http://127.0.0.1:4646");
        assert_eq!(client("http://h:1/").address(), "http://h:1");
        assert_eq!(client("http://h").host_port, "h:80");
        assert_eq!(client("https://h:1").address(), "https://h:1");
        assert_eq!(client("https://h").host_port, "h:443");
        assert_eq!(
            Client::new(Config::address("ftp://h:1"))
                .unwrap_err()
                .to_string(),
            "address \"ftp://h:1\" is not an http:// or https:// URL: set -address or NOMAD_ADDR to e.g. http://127.0.0.1:4646"
        );
    }

    #[test]
    fn urls_escape_and_carry_region() {
        let c = Client::new(Config {
            address: "http://h:1".into(),
            region: Some("eu west".into()),
            ..Config::default()
        })
        .unwrap();
        assert_eq!(
            c.url("/v1/job/a%20b", &[("prefix", "x/y".into())]),
            "http://h:1/v1/job/a%20b?prefix=x%2Fy&region=eu%20west"
        );
        assert_eq!(
            c.url("/v1/status/leader", &[("region", "asia".into())]),
            "http://h:1/v1/status/leader?region=asia"
        );
    }

    #[tokio::test]
    async fn refused_connection_is_go_style() {
        // Port 1 on loopback is closed on any sane machine.
        let err = client("http://127.0.0.1:1").jobs("").await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "Get \"http://127.0.0.1:1/v1/jobs\": dial tcp 127.0.0.1:1: connect: connection refused"
        );
    }
}
