//! The event buffer, fed by the store's writes.

use caravan_state::events::Topic;
use caravan_state::{Command, StateStore};
use caravan_structs::{EvalId, Evaluation};

fn register(id: &str, now: i64) -> Command {
    let job = caravan_testkit::job(id).count(1).canonical();
    let eval = Evaluation {
        id: EvalId::from(format!("eval-{id}").as_str()),
        namespace: job.namespace.clone(),
        job_id: job.id.clone(),
        ..Evaluation::default()
    };
    Command::JobRegister {
        job,
        eval: Some(eval),
        now,
        enforce_index: None,
    }
}

#[test]
fn a_registration_is_a_job_and_an_evaluation_event_at_its_index() {
    let store = StateStore::new();
    let index = store.apply(register("web", 1));
    let (batches, latest) = store.events_since(0);
    assert_eq!(latest, index);
    assert_eq!(batches.len(), 1);
    let batch = &batches[0];
    assert_eq!(batch.index, index);
    let seen: Vec<(Topic, &str, &str)> = batch
        .events
        .iter()
        .map(|e| (e.topic, e.event_type, e.key.as_str()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (Topic::Job, "JobRegistered", "web"),
            (Topic::Evaluation, "JobRegistered", "eval-web"),
        ]
    );
    let json = serde_json::to_value(batch).unwrap();
    assert_eq!(json["Events"][0]["Payload"]["Job"]["ID"], "web");
    assert_eq!(json["Events"][1]["FilterKeys"], serde_json::json!(["web"]));
}

#[test]
fn the_buffer_keeps_the_newest_writes_and_replays_from_an_index() {
    let store = StateStore::new();
    store.set_event_buffer_size(2);
    let indexes: Vec<u64> = ["a", "b", "c"]
        .iter()
        .map(|id| store.apply(register(id, 1)))
        .collect();
    let kept: Vec<u64> = store.events_since(0).0.iter().map(|b| b.index).collect();
    assert_eq!(kept, indexes[1..].to_vec());
    let from_last: Vec<u64> = store
        .events_since(indexes[2])
        .0
        .iter()
        .map(|b| b.index)
        .collect();
    assert_eq!(from_last, vec![indexes[2]]);
}

#[test]
fn a_disabled_broker_keeps_nothing() {
    let store = StateStore::new();
    store.set_event_buffer_size(0);
    store.apply(register("web", 1));
    assert!(!store.events_enabled());
    assert!(store.events_since(0).0.is_empty());
}
