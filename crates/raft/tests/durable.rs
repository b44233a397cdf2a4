//! One server on Raft: what it acknowledged is on disk, and a restart (from the log, or
//! from a snapshot and the log after it) gives the same state back.

use std::sync::Arc;
use std::time::Duration;

use caravan_raft::{RaftNode, RaftSettings, ServerNode};
use caravan_server::{RandomIds, Replicator, Server, ServerConfig, SystemClock};
use caravan_state::StateStore;
use caravan_structs::JobType;
use caravan_testkit as testkit;

fn settings(directory: &std::path::Path) -> RaftSettings {
    let me = ServerNode {
        name: "one.global".into(),
        rpc_addr: "127.0.0.1:1".into(),
        http_addr: "127.0.0.1:2".into(),
        serf_addr: "127.0.0.1:3".into(),
        region: "global".into(),
        datacenter: "dc1".into(),
        ..ServerNode::default()
    };
    let mut settings = RaftSettings::new(directory.to_path_buf(), me);
    settings.snapshot_threshold = 50;
    settings.trailing_logs = 10;
    settings
}

async fn start(directory: &std::path::Path) -> (Arc<RaftNode>, Arc<Server>, Arc<StateStore>) {
    let store = Arc::new(StateStore::new());
    let raft = RaftNode::start(settings(directory), store.clone())
        .await
        .expect("raft starts");
    raft.bootstrap().await.expect("one server bootstraps");
    let mut leadership = raft.leadership();
    tokio::time::timeout(
        Duration::from_secs(10),
        leadership.wait_for(|term| *term != 0),
    )
    .await
    .expect("leads within 10 s")
    .expect("leadership watch");
    let server = Server::start_replicated(
        ServerConfig::default(),
        store.clone(),
        raft.clone(),
        Arc::new(SystemClock),
        Arc::new(RandomIds),
    );
    (raft, server, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_has_every_acknowledged_write() {
    let directory = tempfile::tempdir().unwrap();
    let (raft, server, store) = start(directory.path()).await;
    server
        .register_node(testkit::node("n1").build())
        .await
        .unwrap();
    for n in 0..120 {
        let job = testkit::job(&format!("job-{n}"))
            .kind(JobType::Batch)
            .command("/bin/true")
            .resources(10, 16)
            .build();
        server.register_job(job).await.unwrap();
    }
    testkit::server::settle(&server, Duration::from_secs(10)).await;
    let before = store.snapshot();
    assert!(before.index > 120);
    let metrics = raft.metrics();
    assert!(metrics.snapshot.is_some(), "a snapshot past the threshold");
    assert!(metrics.purged.is_some(), "the log compacted after it");
    raft.shutdown().await;
    drop(server);
    drop(raft);

    let (raft, _server, store) = start(directory.path()).await;
    let after = store.snapshot();
    assert_eq!(after.index, before.index);
    assert!(*after == *before, "the restarted state differs");
    raft.shutdown().await;
}

/// Something done to a raft.db file.
type Damage = fn(&std::path::Path);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_log_is_refused_not_replaced() {
    let damages: [(&str, Damage); 3] = [
        ("truncated to half", |db| {
            let file = std::fs::OpenOptions::new().write(true).open(db).unwrap();
            let length = file.metadata().unwrap().len();
            file.set_len(length / 2).unwrap();
        }),
        ("emptied", |db| {
            let file = std::fs::OpenOptions::new().write(true).open(db).unwrap();
            file.set_len(0).unwrap();
        }),
        ("overwritten with garbage", |db| {
            let length = std::fs::metadata(db).unwrap().len() as usize;
            std::fs::write(db, vec![0x5a; length]).unwrap();
        }),
    ];
    for (damage, apply) in damages {
        let directory = tempfile::tempdir().unwrap();
        let (raft, server, _) = start(directory.path()).await;
        server
            .register_job(testkit::job("web").command("/bin/true").build())
            .await
            .unwrap();
        raft.shutdown().await;
        drop(server);
        drop(raft);
        let db = directory.path().join("raft/raft.db");
        apply(&db);
        let damaged = std::fs::read(&db).unwrap();

        let error = RaftNode::start(settings(directory.path()), Arc::new(StateStore::new()))
            .await
            .err()
            .unwrap_or_else(|| panic!("a log {damage} is refused"));
        let line = error.to_string();
        assert!(line.contains("raft.db is damaged"), "{damage}: {line}");
        assert!(!line.contains('\n'), "one line: {line}");
        // Past redb's header page (its crash recovery may rewrite the layout there
        // before it finds the pages it needs gone), raft.db is as it was.
        let after = std::fs::read(&db).unwrap();
        assert_eq!(
            after.len(),
            damaged.len(),
            "{damage}: raft.db changed length"
        );
        let header = damaged.len().min(4096);
        assert!(
            after[header..] == damaged[header..],
            "{damage}: raft.db changed"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_another_server_has_open_is_in_use_not_damaged() {
    let directory = tempfile::tempdir().unwrap();
    let (raft, _server, _) = start(directory.path()).await;

    let error = RaftNode::start(settings(directory.path()), Arc::new(StateStore::new()))
        .await
        .err()
        .expect("a log that is open elsewhere is refused");
    let line = error.to_string();
    assert!(
        line.contains("raft.db is in use by another process"),
        "{line}"
    );
    assert!(!line.contains("damaged"), "{line}");
    raft.shutdown().await;
}
