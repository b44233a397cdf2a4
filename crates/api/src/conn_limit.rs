//! Connection limits of a listener: the agent's `limits {}` block applied where
//! connections are accepted, before any request is read.
//!
//! [`LimitedListener`] wraps a `TcpListener` and is an [`axum::serve::Listener`], so a
//! listener is limited by wrapping it and nothing else changes (a TLS acceptor wraps the
//! [`LimitedStream`]s it yields). Two rules, each Nomad's:
//!
//! - **Per client address** (`http_max_conns_per_client`, `rpc_max_conns_per_client`;
//!   100 each; 0 turns it off): a connection past the limit is answered
//!   `429 Too Many Requests` and closed at once, as Nomad's connlimit does.
//!   Loopback addresses are not counted. On loopback every caller shares one address:
//!   the CLI, the UI in a local browser, a dev agent's own client, the servers and
//!   clients of a cluster on one host; and a process on the agent's host can stop the
//!   agent by other means anyway. The limit is for remote addresses. Nomad counts
//!   loopback like any address.
//! - **Silence** (`https_handshake_timeout`, `rpc_handshake_timeout`; 5 s; 0 turns it off):
//!   a connection that has not sent its first byte by then is closed, so connections that
//!   are opened and never used (loopback's included) cannot pile up. Nomad applies the
//!   HTTP one only with TLS; a plaintext connection that never speaks costs the agent the
//!   same, so Caravan applies it to both. Once a byte arrives the connection is the
//!   request's: a slow upload or a blocking query is not cut.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Binds a listener with the kernel's largest accept backlog (`net.core.somaxconn`), as
/// Go's listeners do (so Nomad's): connections a busy moment leaves unaccepted wait in
/// the kernel's queue rather than being dropped, which costs each caller a second-long
/// SYN retry. tokio's own `bind` asks for 1024, which Linux may cut further.
pub fn bind(address: SocketAddr) -> io::Result<TcpListener> {
    let socket = match address {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    // As std and Go do on Unix: a restarted agent can bind while old connections linger.
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(accept_backlog())
}

/// Raises this process's soft limit on open files to its hard one, as Go programs
/// (Nomad among them) do at start: every connection is a descriptor, and the usual soft
/// limit of 1024 would let a few hundred callers use up what an agent needs for its own
/// files. Answers the soft limit now in force, `None` when it cannot be read.
pub fn raise_open_files_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return None;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    Some(limit.rlim_cur)
}

/// `net.core.somaxconn`, or 4096 (Linux's default since 5.4) when it cannot be read.
fn accept_backlog() -> u32 {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|text| text.trim().parse::<u32>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(4096)
        .min(65535)
}

/// The limits of one listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections one (non-loopback) address may hold open at once; 0: no limit.
    pub max_per_client: usize,
    /// How long a new connection may stay silent before its first byte; zero: forever.
    pub handshake_timeout: Duration,
    /// The `limits` key that sets `max_per_client`, named in the refusal.
    pub key: &'static str,
}

impl ConnectionLimits {
    /// Nomad's defaults for the listener whose per-client key is `key`.
    pub fn nomad_defaults(key: &'static str) -> ConnectionLimits {
        ConnectionLimits {
            max_per_client: 100,
            handshake_timeout: Duration::from_secs(5),
            key,
        }
    }
}

/// Open connections per client address, shared by a listener and its streams.
type OpenCounts = Arc<Mutex<HashMap<IpAddr, usize>>>;

/// A `TcpListener` that applies [`ConnectionLimits`] to what it accepts.
pub struct LimitedListener {
    listener: TcpListener,
    limits: ConnectionLimits,
    open: OpenCounts,
}

impl LimitedListener {
    /// Wraps `listener`.
    pub fn new(listener: TcpListener, limits: ConnectionLimits) -> LimitedListener {
        LimitedListener {
            listener,
            limits,
            open: OpenCounts::default(),
        }
    }

    /// A slot for one more connection from `ip`, or `None` past the limit.
    fn admit(&self, ip: IpAddr) -> Option<Option<Slot>> {
        let max = self.limits.max_per_client;
        if max == 0 || is_loopback(ip) {
            return Some(None);
        }
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(ip).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(Some(Slot {
            ip,
            open: self.open.clone(),
        }))
    }

    /// Tells a connection past the limit why it is closed, if its socket takes the
    /// answer at once (never waiting on a client that does not read), and closes it.
    fn refuse(&self, stream: TcpStream, peer: SocketAddr) {
        tracing::debug!(%peer, key = self.limits.key, "refused a connection past the per-client limit");
        let _ = stream.try_write(refusal(&self.limits).as_bytes());
    }
}

/// Whether `ip` is this host's loopback, in either family (`::ffff:127.0.0.1` too).
fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// The answer a refused connection gets: a whole HTTP response, since both listeners
/// speak HTTP.
fn refusal(limits: &ConnectionLimits) -> String {
    let body = format!(
        "Your IP is issuing too many concurrent connections, please rate limit your calls (the agent allows {} per address: limits.{})\n",
        limits.max_per_client, limits.key
    );
    format!(
        "HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

impl axum::serve::Listener for LimitedListener {
    type Io = LimitedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (LimitedStream, SocketAddr) {
        loop {
            // axum's accept retries and backs off on errors (a full fd table) itself.
            let (stream, peer) = axum::serve::Listener::accept(&mut self.listener).await;
            match self.admit(peer.ip()) {
                Some(slot) => {
                    let timeout = self.limits.handshake_timeout;
                    return (LimitedStream::new(stream, slot, timeout), peer);
                }
                None => self.refuse(stream, peer),
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

/// One counted connection; dropping it (the connection closed) frees the place.
struct Slot {
    ip: IpAddr,
    open: OpenCounts,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// An accepted connection: a `TcpStream` that keeps its place in the per-client count
/// and fails its reads once it has been silent past the handshake timeout.
pub struct LimitedStream {
    stream: TcpStream,
    _slot: Option<Slot>,
    /// Until the first byte (or end of stream) arrives: when the connection is closed.
    silence: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl LimitedStream {
    fn new(stream: TcpStream, slot: Option<Slot>, timeout: Duration) -> LimitedStream {
        LimitedStream {
            stream,
            _slot: slot,
            silence: (!timeout.is_zero()).then(|| Box::pin(tokio::time::sleep(timeout))),
        }
    }
}

/// TLS listeners look at a connection's first byte before the handshake.
impl caravan_tls::Connection for LimitedStream {
    fn peek<'a>(
        &'a self,
        buf: &'a mut [u8],
    ) -> impl std::future::Future<Output = io::Result<usize>> + Send + 'a {
        self.stream.peek(buf)
    }

    fn set_nodelay(&self) {
        let _ = self.stream.set_nodelay(true);
    }
}

impl AsyncRead for LimitedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let read = Pin::new(&mut self.stream).poll_read(cx, buf);
        match &read {
            // Data or the end of the stream: the connection has spoken.
            Poll::Ready(Ok(())) => self.silence = None,
            Poll::Ready(Err(_)) => {}
            Poll::Pending => {
                // Polled after the read so the timer's waker is registered too.
                if let Some(silence) = self.silence.as_mut()
                    && silence.as_mut().poll(cx).is_ready()
                {
                    // The runtime may not have looked at the socket since it was
                    // accepted (a busy server's first poll of a connection can come
                    // late), so its "nothing yet" is asked of the kernel: a request
                    // that did arrive is read, never answered with a reset.
                    if has_bytes_waiting(&self.stream) {
                        self.silence = None;
                        return Poll::Pending;
                    }
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the connection sent nothing within the handshake timeout",
                    )));
                }
            }
        }
        read
    }
}

/// Whether the peer sent something the socket holds unread (or closed its end), asked
/// of the kernel directly rather than of the runtime's last readiness event.
fn has_bytes_waiting(stream: &TcpStream) -> bool {
    use std::os::fd::AsRawFd;
    let mut byte = 0u8;
    // SAFETY: a one-byte peek into a local buffer on a descriptor the stream owns;
    // MSG_DONTWAIT keeps it from blocking.
    let peeked = unsafe {
        libc::recv(
            stream.as_raw_fd(),
            (&raw mut byte).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    peeked >= 0
}

impl AsyncWrite for LimitedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, data)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests;
