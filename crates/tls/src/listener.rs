//! One listener's accept loop: each connection is plaintext, HTTPS, or mutual TLS as the
//! listener's [`ListenerTls`] says, and is served the axum router over HTTP/1.1 with the
//! peer's certificate names on every request ([`PeerIdentity`]).
//!
//! axum's own `serve` cannot do TLS, hence this loop. It looks at the first byte of a
//! connection before the handshake: a TLS connection starts with a handshake record
//! (0x16). Plaintext sent to a TLS port gets Go's answer (`400 Client sent an HTTP
//! request to an HTTPS server.`) rather than a handshake error, unless the listener also
//! takes plaintext (`rpc_upgrade_mode`).

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tower::ServiceExt;

use crate::{AgentIdentity, PeerIdentity};

/// How long a peer has to open TLS (and to send anything at all).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a peer has to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// How long connections may take to finish once the listener stops.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// The first byte of a TLS connection: a handshake record.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// Whether a listener asks the peer for a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// HTTPS: the peer proves nothing.
    None,
    /// Mutual TLS: the peer must present a certificate the CA signed.
    Required,
}

/// How a listener speaks TLS.
#[derive(Debug, Clone)]
pub struct ListenerTls {
    pub identity: Arc<AgentIdentity>,
    pub client_auth: ClientAuth,
    /// `rpc_upgrade_mode`: plaintext connections are served too (without identity),
    /// while a cluster moves to TLS.
    pub accept_plaintext: bool,
}

/// A connection the accept loop serves: a byte stream whose first byte can be looked
/// at without taking it (a TLS connection is told by it). A plain `TcpStream`, or a
/// wrapper that counts connections (the agent's `limits {}`).
pub trait Connection: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// Reads what has arrived without consuming it.
    fn peek<'a>(&'a self, buf: &'a mut [u8])
    -> impl Future<Output = io::Result<usize>> + Send + 'a;
    /// Turns Nagle's algorithm off: answers are small and wanted at once.
    fn set_nodelay(&self);
}

impl Connection for TcpStream {
    fn peek<'a>(
        &'a self,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        TcpStream::peek(self, buf)
    }

    fn set_nodelay(&self) {
        let _ = TcpStream::set_nodelay(self, true);
    }
}

/// Serves `app` on `listener` until `stop` turns true, then lets open connections
/// finish their requests (for up to 10 s). Failed accepts (a full file table) are
/// retried by the listener with a pause, as axum's own server does.
pub async fn serve<L>(
    mut listener: L,
    tls: Option<ListenerTls>,
    app: Router,
    mut stop: watch::Receiver<bool>,
) where
    L: axum::serve::Listener,
    L::Io: Connection,
    L::Addr: std::fmt::Debug,
{
    // Each connection holds a receiver; all of them gone means all connections closed.
    let (alive, _) = watch::channel(());
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|stopped| *stopped) => break,
        };
        let tls = tls.clone();
        let app = app.clone();
        let stop = stop.clone();
        let alive = alive.subscribe();
        tokio::spawn(async move {
            let _alive = alive;
            if let Err(reason) = connection(stream, tls, app, stop).await {
                tracing::warn!(?peer, "connection refused: {reason}");
            }
        });
    }
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, alive.closed()).await;
}

async fn connection(
    stream: impl Connection,
    tls: Option<ListenerTls>,
    app: Router,
    stop: watch::Receiver<bool>,
) -> Result<(), String> {
    stream.set_nodelay();
    let Some(tls) = tls else {
        serve_http(stream, None, app, stop).await;
        return Ok(());
    };
    let mut first = [0u8; 1];
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, stream.peek(&mut first)).await {
        Ok(Ok(1)) => {}
        // Closed, failed or silent: nothing to serve.
        _ => return Ok(()),
    }
    if first[0] != TLS_HANDSHAKE_RECORD {
        if tls.accept_plaintext {
            serve_http(stream, None, app, stop).await;
            return Ok(());
        }
        refuse_plaintext(stream).await;
        return Err("plaintext sent to a TLS listener".into());
    }
    let material = tls.identity.material();
    let config = match tls.client_auth {
        ClientAuth::Required => material.mutual.clone(),
        ClientAuth::None => material.one_way.clone(),
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => return Err(format!("TLS handshake failed: {error}")),
        Err(_) => return Err("TLS handshake timed out".into()),
    };
    let identity = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|cert| PeerIdentity::from_der(cert.as_ref()));
    serve_http(stream, identity, app, stop).await;
    Ok(())
}

/// What Go's HTTPS server answers plaintext HTTP with.
async fn refuse_plaintext(mut stream: impl AsyncWrite + Unpin) {
    const ANSWER: &[u8] =
        b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";
    let _ = tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
        let _ = stream.write_all(ANSWER).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

async fn serve_http<S>(
    stream: S,
    identity: Option<PeerIdentity>,
    app: Router,
    mut stop: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service =
        hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
            if let Some(identity) = &identity {
                request.extensions_mut().insert(identity.clone());
            }
            app.clone().oneshot(request)
        });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    let connection = builder
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => return,
        _ = stop.wait_for(|stopped| *stopped) => connection.as_mut().graceful_shutdown(),
    }
    let _ = connection.await;
}
