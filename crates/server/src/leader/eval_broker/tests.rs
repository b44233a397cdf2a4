//! Table tests of the broker's delivery rules, on explicit times.

use super::*;

const S: i64 = 1_000_000_000;

fn broker() -> EvalBroker {
    EvalBroker::new(BrokerConfig {
        nack_timeout_ns: 60 * S,
        delivery_limit: 3,
    })
}

fn eval(id: &str, job: &str, priority: i64) -> Evaluation {
    Evaluation {
        id: id.into(),
        namespace: "default".into(),
        job_id: job.into(),
        priority,
        ..Evaluation::default()
    }
}

fn delayed(id: &str, job: &str, wait_until: i64) -> Evaluation {
    Evaluation {
        wait_until: caravan_structs::time::rfc3339(wait_until),
        ..eval(id, job, 50)
    }
}

fn next(broker: &EvalBroker, now: i64) -> Option<String> {
    broker.try_dequeue(now).map(|(id, _)| id.to_string())
}

#[test]
fn ready_by_priority_then_order_once_each_and_delayed_until_due() {
    let broker = broker();
    broker.enqueue(&eval("a", "j1", 50));
    broker.enqueue(&eval("b", "j2", 50));
    broker.enqueue(&eval("urgent", "j3", 90));
    broker.enqueue(&eval("a", "j1", 50));
    broker.enqueue(&delayed("late", "j4", 300 * S));
    broker.enqueue(&delayed("soon", "j5", 100 * S));
    let stats = broker.stats();
    assert_eq!((stats.ready, stats.delayed), (3, 2));
    assert_eq!(next(&broker, 0).as_deref(), Some("urgent"));
    assert_eq!(next(&broker, 0).as_deref(), Some("a"));
    assert_eq!(next(&broker, 0).as_deref(), Some("b"));
    assert_eq!(next(&broker, 0), None);
    // The next wake is the earliest of the delayed ones and the nack deadlines (60s).
    assert_eq!(broker.tick(50 * S), Some(60 * S));
    assert_eq!(broker.stats().unacked, 3);
}

#[test]
fn an_unacked_evaluation_is_delivered_again_after_the_nack_timeout() {
    let broker = broker();
    broker.enqueue(&eval("e", "job", 50));
    let (id, first) = broker.try_dequeue(0).expect("ready");
    assert_eq!(broker.tick(59 * S), Some(60 * S));
    // Past the deadline: nacked, delivered again after Nomad's first nack delay (1s).
    assert_eq!(broker.tick(60 * S), Some(61 * S));
    assert_eq!(broker.stats().unacked, 0);
    assert_eq!(next(&broker, 60 * S), None);
    broker.tick(61 * S);
    let (again, second) = broker.try_dequeue(61 * S).expect("redelivered");
    assert_eq!(again, id);
    // The first delivery's token no longer acks it; the second's does.
    assert_eq!(broker.ack(&id, first), Err(NotOutstanding(id.clone())));
    assert_eq!(broker.ack(&id, second), Ok(()));
    assert_eq!(broker.stats(), BrokerStats::default());
}

#[test]
fn a_worker_still_at_it_resets_the_nack_deadline() {
    let broker = broker();
    broker.enqueue(&eval("e", "job", 50));
    let (id, token) = broker.try_dequeue(0).expect("ready");
    broker.touch(&id, token, 50 * S).expect("outstanding");
    assert_eq!(broker.tick(100 * S), Some(110 * S));
    assert_eq!(broker.stats().unacked, 1);
}

#[test]
fn the_delivery_limit_sends_an_evaluation_to_the_failed_queue() {
    let broker = broker();
    broker.enqueue(&eval("e", "job", 50));
    broker.enqueue(&eval("waits", "job", 50));
    let mut now = 0;
    for delivery in 1..=3 {
        broker.tick(now);
        let (id, token) = broker.try_dequeue(now).expect("delivered");
        assert_eq!(id.as_str(), "e", "delivery {delivery}");
        broker.nack(&id, token, now).expect("outstanding");
        now += 30 * S;
    }
    broker.tick(now);
    assert_eq!(next(&broker, now), None);
    assert_eq!(broker.stats().failed, 1);
    let reapable = broker.take_reapable();
    assert_eq!(reapable.failed, vec![EvalId::from("e")]);
    // The job's next evaluation runs once the failed one is written.
    assert_eq!(next(&broker, now), None);
    broker.release_failed(&"e".into());
    assert_eq!(next(&broker, now).as_deref(), Some("waits"));
}

#[test]
fn one_evaluation_per_job_is_outstanding_and_the_newest_pending_one_supersedes_the_rest() {
    let broker = broker();
    broker.enqueue(&eval("first", "web", 50));
    broker.enqueue(&eval("other-job", "db", 50));
    broker.enqueue(&eval("second", "web", 50));
    broker.enqueue(&eval("third", "web", 50));
    broker.enqueue(&eval("fourth", "web", 50));
    assert_eq!(broker.stats().pending, 3);
    let (first, token) = broker.try_dequeue(0).expect("ready");
    assert_eq!(first.as_str(), "first");
    assert_eq!(next(&broker, 0).as_deref(), Some("other-job"));
    assert_eq!(next(&broker, 0), None, "web has one outstanding already");
    broker.ack(&first, token).expect("outstanding");
    assert_eq!(next(&broker, 0).as_deref(), Some("fourth"));
    let mut canceled = broker.take_reapable().canceled;
    canceled.sort();
    assert_eq!(
        canceled,
        vec![EvalId::from("second"), EvalId::from("third")]
    );
    assert_eq!(broker.stats().pending, 0);
}

#[test]
fn a_higher_priority_pending_evaluation_wins_over_a_newer_one() {
    let broker = broker();
    broker.enqueue(&eval("running", "web", 50));
    broker.enqueue(&eval("important", "web", 80));
    broker.enqueue(&eval("newer", "web", 50));
    let (id, token) = broker.try_dequeue(0).expect("ready");
    broker.ack(&id, token).expect("outstanding");
    assert_eq!(next(&broker, 0).as_deref(), Some("important"));
    assert_eq!(broker.take_reapable().canceled, vec![EvalId::from("newer")]);
}

#[test]
fn an_evaluation_enqueued_while_unacked_runs_again_once_acked() {
    let broker = broker();
    broker.enqueue(&eval("blocked", "web", 50));
    let (id, token) = broker.try_dequeue(0).expect("ready");
    // Unblocked while being scheduled (a missed unblock).
    broker.enqueue(&eval("blocked", "web", 50));
    assert_eq!(next(&broker, 0), None);
    broker.ack(&id, token).expect("outstanding");
    assert_eq!(next(&broker, 0).as_deref(), Some("blocked"));
}

#[test]
fn a_delayed_evaluation_waits_its_turn_behind_the_job_outstanding_one() {
    let broker = broker();
    broker.enqueue(&eval("now", "web", 50));
    broker.enqueue(&delayed("later", "web", 10 * S));
    let (id, token) = broker.try_dequeue(0).expect("ready");
    broker.tick(10 * S);
    assert_eq!(next(&broker, 10 * S), None);
    assert_eq!(broker.stats().pending, 1);
    broker.ack(&id, token).expect("outstanding");
    assert_eq!(next(&broker, 10 * S).as_deref(), Some("later"));
}
