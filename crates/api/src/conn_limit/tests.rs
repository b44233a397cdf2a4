use std::net::Ipv6Addr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

async fn listener(limits: ConnectionLimits) -> LimitedListener {
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    LimitedListener::new(tcp, limits)
}

fn limits(max_per_client: usize, handshake_timeout: Duration) -> ConnectionLimits {
    ConnectionLimits {
        max_per_client,
        handshake_timeout,
        key: "http_max_conns_per_client",
    }
}

#[tokio::test]
async fn each_remote_address_gets_its_limit_and_closed_connections_free_their_place() {
    let listener = listener(limits(2, Duration::ZERO)).await;
    let a: IpAddr = "10.0.0.1".parse().unwrap();
    let b: IpAddr = "10.0.0.2".parse().unwrap();
    let first = listener.admit(a).unwrap();
    let second = listener.admit(a).unwrap();
    assert!(listener.admit(a).is_none(), "a third from the same address");
    let other = listener.admit(b).unwrap();
    assert!(other.is_some(), "another address has its own count");
    drop(first);
    assert!(
        listener.admit(a).is_some(),
        "a closed connection frees its place"
    );
    drop(second);
    drop(other);
}

#[tokio::test]
async fn loopback_is_not_counted_and_zero_means_no_limit() {
    let limited = listener(limits(1, Duration::ZERO)).await;
    for ip in [
        IpAddr::from([127, 0, 0, 1]),
        IpAddr::from([127, 1, 2, 3]),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
        IpAddr::V6("::ffff:127.0.0.1".parse().unwrap()),
    ] {
        let slots: Vec<_> = (0..10).map(|_| limited.admit(ip)).collect();
        assert!(slots.iter().all(Option::is_some), "{ip}");
    }
    let unlimited = listener(limits(0, Duration::ZERO)).await;
    let remote: IpAddr = "192.0.2.7".parse().unwrap();
    let slots: Vec<_> = (0..1000).map(|_| unlimited.admit(remote)).collect();
    assert!(slots.iter().all(Option::is_some));
}

#[test]
fn the_refusal_is_a_whole_429_naming_the_key() {
    let text = refusal(&limits(100, Duration::ZERO));
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(
        head.starts_with("HTTP/1.1 429 Too Many Requests\r\n"),
        "{head}"
    );
    assert!(
        head.contains(&format!("Content-Length: {}", body.len())),
        "{head}"
    );
    assert!(
        body.contains("100 per address: limits.http_max_conns_per_client"),
        "{body}"
    );
}

/// Accepts one connection and echoes what it reads until it fails; answers the error.
async fn serve_one(mut listener: LimitedListener) -> io::Result<()> {
    let (mut stream, _) = axum::serve::Listener::accept(&mut listener).await;
    let mut buf = [0u8; 64];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n]).await?;
    }
}

#[tokio::test]
async fn a_silent_connection_is_closed_after_the_handshake_timeout() {
    let listener = listener(limits(100, Duration::from_millis(100))).await;
    let addr = axum::serve::Listener::local_addr(&listener).unwrap();
    let served = tokio::spawn(serve_one(listener));
    let _silent = TcpStream::connect(addr).await.unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(5), served)
        .await
        .expect("the silent connection is closed in time")
        .unwrap();
    assert_eq!(ended.unwrap_err().kind(), io::ErrorKind::TimedOut);
}

#[tokio::test]
async fn a_connection_that_spoke_is_not_cut_by_the_timeout() {
    let listener = listener(limits(100, Duration::from_millis(100))).await;
    let addr = axum::serve::Listener::local_addr(&listener).unwrap();
    let served = tokio::spawn(serve_one(listener));
    let mut client = TcpStream::connect(addr).await.unwrap();
    client.write_all(b"G").await.unwrap();
    let mut echo = [0u8; 1];
    client.read_exact(&mut echo).await.unwrap();
    // Quiet for longer than the timeout, then speaking again: still served.
    tokio::time::sleep(Duration::from_millis(300)).await;
    client.write_all(b"E").await.unwrap();
    client.read_exact(&mut echo).await.unwrap();
    assert_eq!(&echo, b"E");
    drop(client);
    served.await.unwrap().unwrap();
}

/// The timeout's last word comes from the kernel: a busy runtime may first look at a
/// connection after its timeout, before it has seen the request that arrived, and
/// closing then would reset a caller that did speak.
#[tokio::test]
async fn silence_is_asked_of_the_socket_itself() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut client = TcpStream::connect(addr).await.unwrap();
    let (accepted, _) = listener.accept().await.unwrap();
    assert!(!has_bytes_waiting(&accepted), "nothing was sent yet");
    client.write_all(b"GET").await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !has_bytes_waiting(&accepted) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the request never arrived"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Peeking leaves the request for the read.
    let mut accepted = accepted;
    let mut request = [0u8; 3];
    accepted.read_exact(&mut request).await.unwrap();
    assert_eq!(&request, b"GET");
}
