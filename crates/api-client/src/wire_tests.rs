//! The cluster routes on the wire: the request line and body the agent sees, and the
//! answer read back, against a fake agent that serves one request on a loopback port.

use base64::Engine;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::{Client, Config, Error};

/// What the fake agent received.
#[derive(Debug)]
struct Seen {
    /// `PUT /v1/agent/join?address=a HTTP/1.1`.
    request_line: String,
    /// Lower-cased header lines.
    headers: Vec<String>,
    body: Vec<u8>,
}

/// The canned answer.
struct Answer {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

fn ok(body: &str) -> Answer {
    Answer {
        status: 200,
        headers: Vec::new(),
        body: body.as_bytes().to_vec(),
    }
}

/// A client for a fake agent that serves one request with `answer`.
async fn fake_agent(answer: Answer, config: Config) -> (Client, JoinHandle<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let served = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut received = Vec::new();
        let mut buf = [0u8; 4096];
        let head_end = loop {
            let n = socket.read(&mut buf).await.unwrap();
            assert!(n > 0, "the request ended before its headers did");
            received.extend_from_slice(&buf[..n]);
            if let Some(at) = received.windows(4).position(|w| w == b"\r\n\r\n") {
                break at;
            }
        };
        let head = String::from_utf8_lossy(&received[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let request_line = lines.next().unwrap_or_default().to_string();
        let headers: Vec<String> = lines.map(str::to_lowercase).collect();
        let length: usize = headers
            .iter()
            .find_map(|h| h.strip_prefix("content-length: "))
            .map(|n| n.parse().unwrap())
            .unwrap_or(0);
        let mut body = received[head_end + 4..].to_vec();
        while body.len() < length {
            let n = socket.read(&mut buf).await.unwrap();
            body.extend_from_slice(&buf[..n]);
        }
        let mut response = format!(
            "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n",
            answer.status,
            answer.body.len()
        );
        for (name, value) in &answer.headers {
            response.push_str(&format!("{name}: {value}\r\n"));
        }
        response.push_str("\r\n");
        socket.write_all(response.as_bytes()).await.unwrap();
        socket.write_all(&answer.body).await.unwrap();
        Seen {
            request_line,
            headers,
            body,
        }
    });
    let client = Client::new(Config { address, ..config }).unwrap();
    (client, served)
}

async fn request_line_of<T: std::fmt::Debug>(
    answer: Answer,
    call: impl AsyncFnOnce(&Client) -> Result<T, Error>,
) -> (String, T) {
    let (client, served) = fake_agent(answer, Config::default()).await;
    let value = call(&client).await.unwrap();
    (served.await.unwrap().request_line, value)
}

#[tokio::test]
async fn cluster_routes_send_nomads_requests() {
    let (line, peers) =
        request_line_of(ok(r#"["10.0.0.1:4647"]"#), async |c| c.status_peers().await).await;
    assert_eq!(line, "GET /v1/status/peers HTTP/1.1");
    assert_eq!(peers, ["10.0.0.1:4647"]);

    let (line, servers) = request_line_of(ok(r#"["10.0.0.1:4647"]"#), async |c| {
        c.agent_servers().await
    })
    .await;
    assert_eq!(line, "GET /v1/agent/servers HTTP/1.1");
    assert_eq!(servers, ["10.0.0.1:4647"]);

    let members = r#"{"ServerName":"s1","ServerRegion":"global","ServerDC":"dc1",
        "Members":[{"Name":"s1.global","Addr":"10.0.0.1","Port":4648,"Tags":{"port":"4647"},
        "Status":"alive","ProtocolMin":1,"ProtocolMax":5,"ProtocolCur":2,
        "DelegateMin":2,"DelegateMax":5,"DelegateCur":4}]}"#;
    let (line, members) = request_line_of(ok(members), async |c| c.agent_members().await).await;
    assert_eq!(line, "GET /v1/agent/members HTTP/1.1");
    assert_eq!(members.server_dc, "dc1");
    assert_eq!(members.members[0].tag("port"), "4647");

    let addresses = ["10.0.0.1".to_string(), "10.0.0.2:4648".to_string()];
    let (line, joined) = request_line_of(ok(r#"{"num_joined":2,"error":""}"#), async |c| {
        c.agent_join(&addresses).await
    })
    .await;
    assert_eq!(
        line,
        "PUT /v1/agent/join?address=10.0.0.1&address=10.0.0.2%3A4648 HTTP/1.1"
    );
    assert_eq!(joined.num_joined, 2);

    let (line, ()) = request_line_of(ok(""), async |c| {
        c.agent_force_leave("s2.global", true).await
    })
    .await;
    assert_eq!(
        line,
        "PUT /v1/agent/force-leave?node=s2.global&prune=true HTTP/1.1"
    );
    let (line, ()) = request_line_of(ok(""), async |c| {
        c.agent_force_leave("s2.global", false).await
    })
    .await;
    assert_eq!(line, "PUT /v1/agent/force-leave?node=s2.global HTTP/1.1");

    let raft = r#"{"Index":7,"Servers":[{"ID":"a","Node":"s1.global","Address":"10.0.0.1:4647",
        "Leader":true,"Voter":true,"RaftProtocol":"3"}]}"#;
    let (line, config) =
        request_line_of(ok(raft), async |c| c.raft_configuration(true).await).await;
    assert_eq!(
        line,
        "GET /v1/operator/raft/configuration?stale=true HTTP/1.1"
    );
    assert_eq!((config.index, config.servers[0].leader), (7, true));
    let (line, _) = request_line_of(ok(raft), async |c| c.raft_configuration(false).await).await;
    assert_eq!(line, "GET /v1/operator/raft/configuration HTTP/1.1");

    let (line, ()) = request_line_of(ok(""), async |c| {
        c.raft_remove_peer_by_address("10.0.0.3:4647").await
    })
    .await;
    assert_eq!(
        line,
        "DELETE /v1/operator/raft/peer?address=10.0.0.3%3A4647 HTTP/1.1"
    );
    let (line, ()) =
        request_line_of(ok(""), async |c| c.raft_remove_peer_by_id("d7927f2b").await).await;
    assert_eq!(line, "DELETE /v1/operator/raft/peer?id=d7927f2b HTTP/1.1");
}

#[tokio::test]
async fn a_region_leader_query_names_its_own_region() {
    let config = Config {
        region: Some("europe".into()),
        ..Config::default()
    };
    let (client, served) = fake_agent(ok(r#""10.0.0.1:4647""#), config).await;
    let leader = client.status_region_leader("asia").await.unwrap();
    assert_eq!(leader, "10.0.0.1:4647");
    assert_eq!(
        served.await.unwrap().request_line,
        "GET /v1/status/leader?region=asia HTTP/1.1"
    );
}

fn digest_of(bytes: &[u8]) -> String {
    format!(
        "sha-256={}",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
    )
}

#[tokio::test]
async fn snapshot_save_checks_the_digest() {
    let archive = b"\x1f\x8barchive".to_vec();
    let cases = [
        ("no_digest", None, Ok(())),
        ("right_digest", Some(digest_of(&archive)), Ok(())),
        ("other_algorithm", Some("md5=xyz".to_string()), Ok(())),
        (
            "wrong_digest",
            Some(digest_of(b"other")),
            Err("failed to decode response: snapshot checksum mismatch"),
        ),
    ];
    for (name, digest, want) in cases {
        let answer = Answer {
            status: 200,
            headers: digest.into_iter().map(|d| ("Digest", d)).collect(),
            body: archive.clone(),
        };
        let (client, served) = fake_agent(answer, Config::default()).await;
        let got = client.snapshot_save(name == "right_digest").await;
        let line = served.await.unwrap().request_line;
        match want {
            Ok(()) => assert_eq!(got.unwrap(), archive, "{name}"),
            Err(prefix) => {
                let error = got.unwrap_err().to_string();
                assert!(error.starts_with(prefix), "{name}: {error}");
            }
        }
        let query = if name == "right_digest" {
            "?stale=true"
        } else {
            ""
        };
        assert_eq!(line, format!("GET /v1/operator/snapshot{query} HTTP/1.1"));
    }
}

#[tokio::test]
async fn snapshot_restore_sends_the_archive_as_is() {
    let archive = b"\x1f\x8b\x00binary".to_vec();
    let (client, served) = fake_agent(ok(""), Config::default()).await;
    client.snapshot_restore(&archive).await.unwrap();
    let seen = served.await.unwrap();
    assert_eq!(seen.request_line, "PUT /v1/operator/snapshot HTTP/1.1");
    assert!(
        seen.headers
            .contains(&"content-type: application/octet-stream".to_string()),
        "{:?}",
        seen.headers
    );
    assert_eq!(seen.body, archive);
}

#[tokio::test]
async fn a_refusal_is_an_error_status() {
    let answer = Answer {
        status: 500,
        headers: Vec::new(),
        body: b"No cluster leader".to_vec(),
    };
    let (client, served) = fake_agent(answer, Config::default()).await;
    let error = client.raft_configuration(false).await.unwrap_err();
    served.await.unwrap();
    assert_eq!(
        error.to_string(),
        "Unexpected response code: 500 (No cluster leader)"
    );
}
