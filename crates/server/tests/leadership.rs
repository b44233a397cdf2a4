//! A server that starts on a state it did not write (a replayed command log, as a new
//! leader finds it) picks up every piece of work in it: each leader service rebuilds its
//! own state from the store (Nomad's `establishLeadership`).

use std::sync::Arc;
use std::time::Duration;

use caravan_server::{Clock, ManualClock, RandomIds, Server, ServerConfig};
use caravan_state::{Command, StateStore};
use caravan_structs::time::rfc3339;
use caravan_structs::*;
use caravan_testkit::{self as testkit, wait};

/// Unix nanoseconds when the new leader starts (20.5 s into a minute).
const START: i64 = 1_750_000_020_500_000_000;
const SECOND: i64 = 1_000_000_000;

fn node(id: &str, cpu: i64) -> Node {
    testkit::node(id).cpu(cpu).ready().build()
}

fn job(id: &str, kind: JobType, cpu: i64) -> Job {
    testkit::job(id)
        .kind(kind)
        .command("/bin/true")
        .resources(cpu, 64)
        .canonical()
}

fn eval(id: &str, job: &Job, status: EvalStatus, at: i64) -> Evaluation {
    testkit::eval(id, job).status(status).at(at).build()
}

fn register(job: Job, eval: Option<Evaluation>, at: i64) -> Command {
    Command::JobRegister {
        job,
        eval,
        now: at,
        enforce_index: None,
    }
}

/// What a previous leader left: nodes (one draining with nothing left running), a
/// pending evaluation, a blocked one, a delayed one, and a periodic job that last
/// launched three minutes ago.
fn previous_leaders_log() -> Vec<Command> {
    let before = START - 200 * SECOND;
    let mut log = Vec::new();
    for (id, cpu) in [("n1", 4000), ("silent", 4000), ("d1", 4000)] {
        log.push(Command::NodeRegister {
            node: node(id, cpu),
            now: before,
            evals: Vec::new(),
        });
    }
    // d1 drains; its last allocation is then lost (no client report ends the drain).
    let old = job("old", JobType::Service, 100);
    log.push(register(old.clone(), None, before));
    let alloc = testkit::alloc("old-alloc", &old, "d1").build();
    log.push(Command::PlanApply {
        job: None,
        stopped: Vec::new(),
        allocs: vec![alloc.clone()],
        evals: Vec::new(),
        now: before,
        deployment: None,
        deployment_updates: Vec::new(),
    });
    log.push(Command::NodeUpdateDrain {
        node_id: "d1".into(),
        drain: true,
        strategy: None,
        eligible: false,
        event: None,
        now: before,
        evals: Vec::new(),
    });
    log.push(Command::PlanApply {
        job: None,
        stopped: Vec::new(),
        allocs: vec![Allocation {
            desired_status: AllocDesiredStatus::Stop,
            client_status: AllocClientStatus::Lost,
            ..alloc
        }],
        evals: Vec::new(),
        now: before,
        deployment: None,
        deployment_updates: Vec::new(),
    });

    let web = job("web", JobType::Service, 100);
    log.push(register(
        web.clone(),
        Some(eval("web-eval", &web, EvalStatus::Pending, before)),
        before,
    ));
    // More than any node has: blocked until a bigger node joins.
    let big = job("big", JobType::Service, 6000);
    log.push(register(big.clone(), None, before));
    log.push(Command::EvalsUpsert {
        evals: vec![eval("big-eval", &big, EvalStatus::Blocked, before)],
    });
    let later = job("later", JobType::Batch, 100);
    let mut delayed = eval("later-eval", &later, EvalStatus::Pending, before);
    delayed.wait_until = rfc3339(START + 5 * SECOND);
    log.push(register(later, Some(delayed), before));

    let mut cron = job("cron", JobType::Batch, 100);
    cron.periodic = Some(PeriodicConfig {
        spec: Some("* * * * *".into()),
        ..PeriodicConfig::default()
    });
    let last_launch = START / SECOND - 180;
    let mut child = cron.clone();
    child.id = format!("cron/periodic-{last_launch}").into();
    child.name = child.id.to_string();
    child.parent_id = "cron".into();
    child.periodic = None;
    log.push(register(cron, None, before));
    log.push(register(child, None, before));
    log
}

async fn eventually(what: &str, check: impl FnMut() -> bool) {
    wait::until(what, Duration::from_secs(3), check).await;
}

#[tokio::test]
async fn a_server_started_on_existing_state_picks_up_every_piece_of_work() {
    let store = Arc::new(StateStore::new());
    for command in previous_leaders_log() {
        // Through JSON, as a replicated log carries it.
        let wire = serde_json::to_vec(&command).unwrap();
        store.apply(serde_json::from_slice(&wire).unwrap());
    }
    let clock = Arc::new(ManualClock::new(START));
    let server = Server::start_with(
        ServerConfig::default(),
        store,
        clock.clone(),
        Arc::new(RandomIds),
    );
    let stats = server.leader_stats();
    assert_eq!(stats.blocked, 1, "{stats:?}");
    assert_eq!(stats.broker.delayed, 1, "{stats:?}");
    assert_eq!(stats.heartbeat_nodes, 3, "{stats:?}");
    assert_eq!(stats.periodic_jobs, 1, "{stats:?}");

    // The eval broker: the pending evaluation is scheduled.
    eventually("the pending evaluation's allocation", || {
        testkit::server::live_allocs(&server, "web").len() == 1
    })
    .await;
    assert_eq!(
        server.snapshot().eval("web-eval").unwrap().status,
        EvalStatus::Complete
    );
    // The drainer: a drain with nothing left to move is over.
    eventually("the drain to end", || {
        server.snapshot().node("d1").is_some_and(|n| !n.drain)
    })
    .await;
    // The periodic launcher: the launch missed since the last one is made now.
    let caught_up = format!("cron/periodic-{}", START / SECOND);
    eventually("the missed periodic launch", || {
        server.snapshot().job("default", &caught_up).is_some()
    })
    .await;

    // The delay heap: the delayed evaluation runs when its time comes, not before.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(testkit::server::live_allocs(&server, "later").is_empty());
    clock.advance(Duration::from_secs(5));
    server.heartbeat("n1", "secret-n1").await.unwrap();
    eventually("the delayed evaluation's allocation", || {
        testkit::server::live_allocs(&server, "later").len() == 1
    })
    .await;

    // Blocked evaluations: the blocked one runs again when capacity appears.
    assert!(testkit::server::live_allocs(&server, "big").is_empty());
    server.register_node(node("huge", 8000)).await.unwrap();
    eventually("the blocked evaluation's allocation", || {
        testkit::server::live_allocs(&server, "big").len() == 1
    })
    .await;

    // Heartbeats: a node that never speaks to the new leader is down after its TTL and
    // grace (at most 2 × 10 s + 10 s); one that heartbeats stays ready.
    for _ in 0..7 {
        clock.advance(Duration::from_secs(5));
        server.heartbeat("n1", "secret-n1").await.unwrap();
        server.heartbeat("huge", "secret-huge").await.unwrap();
    }
    eventually("the silent node to be marked down", || {
        server
            .snapshot()
            .node("silent")
            .is_some_and(|n| n.status == NodeStatus::Down)
    })
    .await;
    assert_eq!(
        server.snapshot().node("n1").unwrap().status,
        NodeStatus::Ready
    );
    assert!(clock.now_nanos() - START >= 30 * SECOND);
}
