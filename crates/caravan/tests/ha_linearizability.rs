//! A linearizability-style check of three servers under faults. For
//! `CARAVAN_LINEARIZABILITY_SECS` seconds (60 by default), four writers register jobs
//! with unique IDs through random servers and keep every ID that was acknowledged, and
//! a reader asks random servers for a fresh (not `?stale`) read and keeps the highest
//! `X-Nomad-Index` it has seen. Meanwhile the leader is killed (`kill -9`) and started
//! again, and a follower is cut off from Raft's messages for a while.
//!
//! At the end every acknowledged job is listed exactly once, by the leader and by every
//! server on its own (`?stale`), and no fresh read ever answered with an index below one
//! a read before it had seen.
//!
//! The cut: every server advertises as its RPC address a port of the test's, where a
//! TCP proxy ([`RpcProxy`]) relays to its RPC listener. The other servers reach a
//! server's Raft only through its proxy, so cutting the proxy keeps the leader's appends
//! and heartbeats from it. The server's own calls go out directly (a proxy cannot tell
//! which server a connection comes from): the cut is one-way, as a firewall dropping
//! incoming traffic is, and the cut-off follower's election attempts still reach the
//! others.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::*;

/// Generous: an election takes 1–2 s (a lease, then 0.5–1 s), a loaded CI machine may need several.
const ELECTION: Duration = Duration::from_secs(30);
/// How long one write or read may take before it counts as unanswered.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
const WRITERS: usize = 4;

/// How long the writers and the reader run: `CARAVAN_LINEARIZABILITY_SECS`, 60 by
/// default.
fn run_time() -> Duration {
    let seconds = std::env::var("CARAVAN_LINEARIZABILITY_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    Duration::from_secs(seconds)
}

/// A small xorshift generator: which server each call goes to.
struct Dice(u64);

impl Dice {
    fn new(seed: u64) -> Dice {
        Dice(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// A TCP proxy from 127.0.0.1:`port` to 127.0.0.1:`target` that the test can cut: while
/// cut, open connections are closed and new ones are accepted and left unanswered
/// (closed when the cut ends), as when packets are dropped.
struct RpcProxy {
    cut: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    accepting: Option<JoinHandle<()>>,
}

impl RpcProxy {
    fn start(port: u16, target: u16) -> RpcProxy {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the proxy");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let target: SocketAddr = ([127, 0, 0, 1], target).into();
        let cut = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let accepting = {
            let (cut, stop) = (cut.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut held = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    if !cut.load(Ordering::SeqCst) {
                        held.clear();
                    }
                    match listener.accept() {
                        Ok((incoming, _)) if cut.load(Ordering::SeqCst) => held.push(incoming),
                        Ok((incoming, _)) => relay(incoming, target, &cut, &stop),
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
        };
        RpcProxy {
            cut,
            stop,
            accepting: Some(accepting),
        }
    }

    fn set_cut(&self, cut: bool) {
        self.cut.store(cut, Ordering::SeqCst);
    }
}

impl Drop for RpcProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(accepting) = self.accepting.take() {
            let _ = accepting.join();
        }
    }
}

/// Relays one connection both ways until either side closes, the proxy is cut or it
/// stops.
fn relay(incoming: TcpStream, target: SocketAddr, cut: &Arc<AtomicBool>, stop: &Arc<AtomicBool>) {
    let _ = incoming.set_nonblocking(false);
    let Ok(outgoing) = TcpStream::connect_timeout(&target, Duration::from_secs(1)) else {
        return;
    };
    for (from, to) in [
        (incoming.try_clone(), outgoing.try_clone()),
        (outgoing.try_clone(), incoming.try_clone()),
    ] {
        let (Ok(mut from), Ok(mut to)) = (from, to) else {
            return;
        };
        let (cut, stop) = (cut.clone(), stop.clone());
        std::thread::spawn(move || {
            let _ = from.set_read_timeout(Some(Duration::from_millis(50)));
            let mut buffer = [0u8; 16 * 1024];
            loop {
                if cut.load(Ordering::SeqCst) || stop.load(Ordering::SeqCst) {
                    break;
                }
                match from.read(&mut buffer) {
                    Ok(0) => break,
                    Ok(n) => {
                        if to.write_all(&buffer[..n]).is_err() {
                            break;
                        }
                    }
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                    Err(_) => break,
                }
            }
            let _ = from.shutdown(Shutdown::Both);
            let _ = to.shutdown(Shutdown::Both);
        });
    }
}

/// A job with a unique ID, in a datacenter no client is in: stored, never run.
fn job(id: &str) -> serde_json::Value {
    true_batch_job(id, NO_CLIENTS)
}

/// How a call ended.
enum Answer {
    /// The status, `X-Nomad-Index` and body.
    Status(u16, u64, String),
    /// No connection, or it broke.
    Unreachable,
    /// No answer within [`CALL_TIMEOUT`].
    TimedOut,
}

fn call(api: &Client, method: Method, path: &str, body: Option<&[u8]>) -> Answer {
    let answer = block_on(async {
        tokio::time::timeout(CALL_TIMEOUT, api.send_raw(method, path, body)).await
    });
    match answer {
        Ok(Ok(answer)) => Answer::Status(answer.status, answer.index, answer.body),
        Ok(Err(_)) => Answer::Unreachable,
        Err(_) => Answer::TimedOut,
    }
}

/// What one writer did.
#[derive(Default)]
struct Writes {
    attempted: usize,
    acknowledged: Vec<String>,
    /// Answers other than 200, by status: how many, and the first one's body.
    refused: BTreeMap<u16, (usize, String)>,
    unreachable: usize,
    timed_out: usize,
}

fn write_until(writer: usize, servers: Vec<Client>, until: Instant) -> Writes {
    let mut dice = Dice::new(writer as u64 + 1);
    let mut writes = Writes::default();
    while Instant::now() < until {
        let id = format!("w{writer}-{:06}", writes.attempted);
        writes.attempted += 1;
        let body = job(&id).to_string();
        let api = &servers[dice.below(servers.len())];
        match call(api, Method::Post, "/v1/jobs", Some(body.as_bytes())) {
            Answer::Status(200, _, _) => writes.acknowledged.push(id),
            Answer::Status(status, _, body) => {
                writes.refused.entry(status).or_insert((0, body)).0 += 1;
            }
            Answer::Unreachable => writes.unreachable += 1,
            Answer::TimedOut => writes.timed_out += 1,
        }
        if writes.attempted != writes.acknowledged.len() {
            // A server that is down or without a leader answers at once: do not spin.
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    writes
}

/// A fresh read whose index was below the highest seen before it.
struct IndexWentBack {
    server: usize,
    index: u64,
    highest_before: u64,
    at: Duration,
}

/// What the reader saw: how many fresh reads were answered, the highest index, and
/// every read that went back.
#[derive(Default)]
struct Reads {
    answered: usize,
    highest: u64,
    went_back: Vec<IndexWentBack>,
}

fn read_until(servers: Vec<Client>, started: Instant, until: Instant) -> Reads {
    let mut dice = Dice::new(99);
    let mut reads = Reads::default();
    while Instant::now() < until {
        let server = dice.below(servers.len());
        // A prefix no job has: the answer is small, its index is the jobs table's.
        match call(
            &servers[server],
            Method::Get,
            "/v1/jobs?prefix=zz-none",
            None,
        ) {
            Answer::Status(200, index, _) => {
                reads.answered += 1;
                if index < reads.highest {
                    reads.went_back.push(IndexWentBack {
                        server,
                        index,
                        highest_before: reads.highest,
                        at: started.elapsed(),
                    });
                }
                reads.highest = reads.highest.max(index);
            }
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    reads
}

/// Kills the leader, waits for the next one, and starts the killed server again:
/// returns how long the cluster was without a leader.
fn kill_and_restart_leader(cluster: &mut ServerCluster, log: &Mutex<Vec<String>>) -> Duration {
    let leader = cluster.wait_for_leader(ELECTION);
    let killed = Instant::now();
    cluster.kill9(leader);
    let next = cluster.wait_for_leader(ELECTION);
    let failover = killed.elapsed();
    cluster.restart(leader);
    log.lock().unwrap().push(format!(
        "server{leader} (leader) killed: server{next} led {failover:?} later; server{leader} restarted"
    ));
    failover
}

/// Cuts a follower off for `how_long` (at least 2 s), then lets it back. Checks that
/// the cut held: the follower's own index stood still while the leader's moved on.
fn cut_follower(
    cluster: &ServerCluster,
    proxies: &[RpcProxy],
    how_long: Duration,
    log: &Mutex<Vec<String>>,
) {
    // A prefix no job has: a small answer whose index is the jobs table's.
    let index = |i: usize, query: &str| {
        job_ids(&cluster.servers[i], &format!("?prefix=zz-none{query}")).map(|(index, _)| index)
    };
    let leader = cluster.wait_for_leader(ELECTION);
    let follower = (0..proxies.len()).find(|&i| i != leader).unwrap();
    proxies[follower].set_cut(true);
    // What was on its way when the cut began has arrived by then.
    std::thread::sleep(Duration::from_secs(1));
    let frozen = index(follower, "&stale").unwrap();
    std::thread::sleep(how_long.saturating_sub(Duration::from_secs(1)));
    let still = index(follower, "&stale").unwrap();
    let moved_on = index(leader, "").unwrap();
    proxies[follower].set_cut(false);
    assert_eq!(
        still, frozen,
        "server{follower} was sent entries while it was cut off"
    );
    assert!(
        moved_on > frozen,
        "no write was acknowledged while server{follower} was cut off"
    );
    let after = cluster.wait_for_leader(ELECTION);
    log.lock().unwrap().push(format!(
        "server{follower} (follower) cut off for {how_long:?} while server{leader} led \
         (its index stood at {frozen}, the leader's reached {moved_on}); server{after} leads after"
    ));
}

/// Three servers, each reached by the others through an [`RpcProxy`] the test owns
/// (its advertised RPC address), all started.
fn proxied_cluster() -> (ServerCluster, Vec<RpcProxy>) {
    let proxy_ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let mut cluster = ServerCluster::configure(3, "", |i| {
        format!(
            "advertise {{\n  rpc = \"127.0.0.1:{}\"\n}}\n",
            proxy_ports[i]
        )
    });
    let proxies: Vec<RpcProxy> = cluster
        .servers
        .iter()
        .zip(&proxy_ports)
        .map(|(server, &port)| RpcProxy::start(port, server.rpc_port))
        .collect();
    for i in 0..3 {
        cluster.restart(i);
    }
    (cluster, proxies)
}

#[test]
fn acknowledged_jobs_survive_leader_kills_and_a_cut_follower_and_fresh_reads_never_go_back() {
    let run = run_time();
    let (mut cluster, proxies) = proxied_cluster();
    cluster.wait_for_leader(ELECTION);

    let apis = || -> Vec<Client> {
        cluster
            .servers
            .iter()
            .map(|s| client_of(&s.addr()))
            .collect()
    };
    let started = Instant::now();
    let until = started + run;
    let writers: Vec<JoinHandle<Writes>> = (0..WRITERS)
        .map(|w| {
            let servers = apis();
            std::thread::spawn(move || write_until(w, servers, until))
        })
        .collect();
    let reader = {
        let servers = apis();
        std::thread::spawn(move || read_until(servers, started, until))
    };

    // The faults, spread over the run: a leader killed, a follower cut off, the leader
    // killed again.
    let events = Mutex::new(Vec::new());
    let mut failovers = Vec::new();
    std::thread::sleep(run / 5);
    failovers.push(kill_and_restart_leader(&mut cluster, &events));
    std::thread::sleep(run / 5);
    cut_follower(
        &cluster,
        &proxies,
        (run / 10).max(Duration::from_secs(3)),
        &events,
    );
    std::thread::sleep(run / 5);
    failovers.push(kill_and_restart_leader(&mut cluster, &events));

    let writes: Vec<Writes> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    let reads = reader.join().unwrap();
    let leader = cluster.wait_for_leader(ELECTION);

    let acknowledged: Vec<&String> = writes.iter().flat_map(|w| &w.acknowledged).collect();
    let attempted: usize = writes.iter().map(|w| w.attempted).sum();
    let mut refused: BTreeMap<u16, (usize, String)> = BTreeMap::new();
    for (status, (count, body)) in writes.iter().flat_map(|w| &w.refused) {
        refused.entry(*status).or_insert((0, body.clone())).0 += count;
    }
    let unreachable: usize = writes.iter().map(|w| w.unreachable).sum();
    let timed_out: usize = writes.iter().map(|w| w.timed_out).sum();
    let (_, on_leader) = job_ids(&cluster.servers[leader], "").unwrap();
    let listed: HashSet<&String> = on_leader.iter().collect();
    let lost: Vec<&&String> = acknowledged
        .iter()
        .filter(|id| !listed.contains(**id))
        .collect();
    eprintln!(
        "{:?}: {attempted} writes attempted, {} acknowledged, {} refused, {unreachable} unreachable, \
         {timed_out} timed out; {} jobs listed ({} not acknowledged); {} lost",
        run,
        acknowledged.len(),
        refused.values().map(|(count, _)| count).sum::<usize>(),
        on_leader.len(),
        on_leader.len().saturating_sub(acknowledged.len()),
        lost.len()
    );
    eprintln!(
        "{} fresh reads, highest X-Nomad-Index {}, {} went back",
        reads.answered,
        reads.highest,
        reads.went_back.len()
    );
    for (status, (count, body)) in &refused {
        eprintln!(
            "  {count} refused with {status}, the first: {}",
            body.trim()
        );
    }
    eprintln!("failovers: {failovers:?}");
    for event in events.lock().unwrap().iter() {
        eprintln!("  {event}");
    }

    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    assert_eq!(
        listed.len(),
        on_leader.len(),
        "a job is listed twice by the leader"
    );
    let went_back: Vec<String> = reads
        .went_back
        .iter()
        .map(|r| {
            format!(
                "at {:?} server{} answered {} after {} had been read",
                r.at, r.server, r.index, r.highest_before
            )
        })
        .collect();
    assert!(
        went_back.is_empty(),
        "fresh reads went back: {went_back:#?}"
    );
    assert!(!acknowledged.is_empty() && reads.answered > 0);
    // Every server, on its own, comes to list the same jobs, each once.
    let mut want = on_leader.clone();
    want.sort();
    for i in 0..3 {
        let server = &cluster.servers[i];
        let mut own = Vec::new();
        server.eventually(
            &format!("server{i} to list what the leader lists"),
            ELECTION,
            || {
                own = job_ids(server, "?stale")
                    .map(|(_, ids)| ids)
                    .unwrap_or_default();
                own.sort();
                own == want
            },
        );
    }
    drop(proxies);
}

/// A leader that no quorum answers stops serving as one: with both followers cut off
/// (their proxies drop what the leader sends them), it refuses fresh reads and writes
/// ("No cluster leader") within a few seconds, instead of answering from a state the
/// others may be moving past; once the cut ends, a leader is elected and writes are
/// acknowledged again, with nothing lost.
#[test]
fn a_leader_cut_off_from_every_follower_stops_serving_as_leader() {
    let (cluster, proxies) = proxied_cluster();
    let leader = cluster.wait_for_leader(ELECTION);
    let (status, body) = send_within_timeout(
        &cluster.servers[leader],
        Method::Post,
        "/v1/jobs",
        &job("before-cut"),
    );
    assert_eq!(status, 200, "{body}");

    let followers: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
    for &i in &followers {
        proxies[i].set_cut(true);
    }
    let cut = Instant::now();
    cluster.servers[leader].eventually(
        "the cut-off leader to stop answering fresh reads",
        ELECTION,
        || get_indexed(&cluster.servers[leader], "/v1/jobs").is_err(),
    );
    eprintln!(
        "the cut-off leader stopped serving {:?} after the cut",
        cut.elapsed()
    );
    let refused = get_indexed(&cluster.servers[leader], "/v1/jobs").unwrap_err();
    assert!(refused.contains("No cluster leader"), "{refused}");
    let (status, body) = send_within_timeout(
        &cluster.servers[leader],
        Method::Post,
        "/v1/jobs",
        &job("during-cut"),
    );
    assert_ne!(
        status, 200,
        "a write was acknowledged without a quorum: {body}"
    );
    // Its own view is still there for whoever asks for it.
    assert!(get_indexed(&cluster.servers[leader], "/v1/jobs?stale").is_ok());

    for &i in &followers {
        proxies[i].set_cut(false);
    }
    let after = cluster.wait_for_leader(ELECTION);
    let (status, body) = send_within_timeout(
        &cluster.servers[after],
        Method::Post,
        "/v1/jobs",
        &job("after-cut"),
    );
    assert_eq!(status, 200, "{body}");
    let (_, ids) = job_ids(&cluster.servers[after], "").unwrap();
    for id in ["before-cut", "after-cut"] {
        assert!(
            ids.iter().any(|listed| listed == id),
            "{id} missing: {ids:?}"
        );
    }
}
