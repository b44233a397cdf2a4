//! The CLI's connection to the agent: `caravan-api-client`'s typed async client, run to
//! completion on a current-thread tokio runtime the command owns (no worker threads to
//! start, so a command still starts in milliseconds).
//!
//! Errors render like Nomad's Go client: an error status becomes
//! `Unexpected response code: 404 (job not found)`, a refused connection becomes
//! `Get "http://127.0.0.1:4646/v1/jobs": dial tcp 127.0.0.1:4646: connect: connection refused`.

use std::future::Future;
use std::io::Read;
use std::sync::Arc;

use bytes::Bytes;
use caravan_api_client::{Body, Client};
use tokio::runtime::Runtime;

pub use caravan_api_client::{
    Config as ClientConfig, DEFAULT_ADDRESS, Error as ApiError, Indexed, QueryOptions,
};

/// The API client of one command. Cheap to clone: the runtime and the connection pool
/// are shared, so threads of one command (the drain monitor's watchers, both streams of
/// `alloc logs -f`) can each wait on a call.
#[derive(Clone)]
pub struct ApiClient {
    api: Client,
    runtime: Arc<Runtime>,
}

/// A streamed answer (logs, file contents) read as a blocking byte stream.
pub type BodyReader = Box<dyn Read + Send>;

impl ApiClient {
    /// A client for `config.address`; fails for addresses it cannot use.
    pub fn new(config: ClientConfig) -> Result<ApiClient, String> {
        ApiClient::with_tls(config, &caravan_tls::outgoing::CliTls::default())
    }

    /// A client for `config.address` with the CLI's TLS settings (`-ca-cert` ...).
    pub fn with_tls(
        config: ClientConfig,
        tls: &caravan_tls::outgoing::CliTls,
    ) -> Result<ApiClient, String> {
        let http = caravan_tls::outgoing::cli_client(tls, caravan_api_client::http_builder())?;
        let api = Client::with_http(config, http).map_err(|e| e.to_string())?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("starting the HTTP runtime: {e}"))?;
        Ok(ApiClient {
            api,
            runtime: Arc::new(runtime),
        })
    }

    /// The base address, e.g. `http://127.0.0.1:4646`.
    pub fn address(&self) -> &str {
        self.api.address()
    }

    /// The same client with its calls sent in `namespace`; the runtime and the
    /// connections are shared.
    pub fn in_namespace(&self, namespace: &str) -> ApiClient {
        ApiClient {
            api: self.api.in_namespace(namespace),
            runtime: self.runtime.clone(),
        }
    }

    /// Runs one call of the typed client to completion:
    /// `client.run(|api| api.job(&id))`.
    pub fn run<'a, F: Future>(&'a self, call: impl FnOnce(&'a Client) -> F) -> F::Output {
        self.runtime.block_on(call(&self.api))
    }

    /// Opens a streamed answer (`|api| api.logs(..)`) as a blocking reader.
    pub fn stream<'a, F>(
        &'a self,
        call: impl FnOnce(&'a Client) -> F,
    ) -> Result<BodyReader, ApiError>
    where
        F: Future<Output = Result<Body, ApiError>>,
    {
        let body = self.run(call)?;
        Ok(Box::new(StreamReader {
            body,
            runtime: self.runtime.clone(),
            pending: Bytes::new(),
        }))
    }
}

/// A [`Body`] read through the command's runtime, chunk by chunk.
struct StreamReader {
    body: Body,
    runtime: Arc<Runtime>,
    pending: Bytes,
}

impl Read for StreamReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pending.is_empty() {
            match self.runtime.block_on(self.body.chunk()) {
                Ok(Some(chunk)) => self.pending = chunk,
                Ok(None) => return Ok(0),
                Err(e) => return Err(std::io::Error::other(e.to_string())),
            }
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending.split_to(n));
        Ok(n)
    }
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
        assert_eq!(client("https://h:1").address(), "https://h:1");
    }

    #[test]
    fn refused_connection_is_go_style() {
        // Port 1 on loopback is closed on any sane machine.
        let c = client("http://127.0.0.1:1");
        let err = c.run(|api| api.jobs("")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Get \"http://127.0.0.1:1/v1/jobs\": dial tcp 127.0.0.1:1: connect: connection refused"
        );
    }
}
