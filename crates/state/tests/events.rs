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
        .events()
        .map(|e| (e.topic(), e.event_type(), e.key()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (Topic::Job, "JobRegistered", "web"),
            (Topic::Evaluation, "JobRegistered", "eval-web"),
        ]
    );
    let mut line = Vec::new();
    batch.write_line(batch.events(), &mut line);
    assert_eq!(line.last(), Some(&b'\n'));
    let json: serde_json::Value = serde_json::from_slice(&line).unwrap();
    assert_eq!(json["Index"], index);
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

/// (topic, type, key) of the events of the latest write.
fn latest_events(store: &StateStore) -> Vec<(Topic, &'static str, String)> {
    store
        .events_since(0)
        .0
        .last()
        .map(|batch| {
            batch
                .events()
                .map(|e| (e.topic(), e.event_type(), e.key().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn row(topic: Topic, event_type: &'static str, key: &str) -> (Topic, &'static str, String) {
    (topic, event_type, key.to_string())
}

/// Each kind of write, applied in order to one store, and the events it makes: the
/// type is the write's, the topic the table an object changed in (Nomad's events).
#[test]
fn each_write_makes_nomads_events() {
    use caravan_state::SecurityCommand;
    use caravan_structs::acl::{AclPolicy, AclToken};
    use caravan_structs::{
        AllocClientStatus, AllocClientUpdate, DesiredTransition, NodeEligibility, NodeStatus,
    };

    let store = StateStore::new();
    let job = caravan_testkit::job("web").count(1).canonical();
    let node = caravan_testkit::node("node-1").build();
    let alloc = caravan_testkit::alloc("alloc-1", &job, "node-1").build();
    let eval = caravan_testkit::eval("eval-2", &job).build();
    let policy = AclPolicy {
        name: "readers".into(),
        rules: "namespace \"default\" { policy = \"read\" }".into(),
        ..AclPolicy::default()
    };
    let token = AclToken {
        accessor_id: "acc-1".into(),
        secret_id: "secret-1".into(),
        name: "reader".into(),
        r#type: "client".into(),
        policies: vec!["readers".into()],
        ..AclToken::default()
    };
    type Row = (Topic, &'static str, String);
    let steps: Vec<(&str, Command, Vec<Row>)> = vec![
        (
            "a node registers",
            Command::NodeRegister {
                node: node.clone(),
                now: 1,
                evals: Vec::new(),
            },
            vec![row(Topic::Node, "NodeRegistration", "node-1")],
        ),
        (
            "a job registers",
            register("web", 2),
            vec![
                row(Topic::Job, "JobRegistered", "web"),
                row(Topic::Evaluation, "JobRegistered", "eval-web"),
            ],
        ),
        (
            "a plan places an allocation and finishes its evaluation",
            Command::PlanApply {
                job: None,
                stopped: Vec::new(),
                allocs: vec![alloc.clone()],
                evals: vec![eval.clone()],
                now: 3,
                deployment: None,
                deployment_updates: Vec::new(),
            },
            // The job's status changes in the same write: a Job event too.
            vec![
                row(Topic::Job, "PlanResult", "web"),
                row(Topic::Evaluation, "EvaluationUpdated", "eval-2"),
                row(Topic::Allocation, "PlanResult", "alloc-1"),
            ],
        ),
        (
            "the client reports it",
            Command::AllocClientUpdate {
                updates: vec![AllocClientUpdate {
                    id: "alloc-1".into(),
                    client_status: AllocClientStatus::Running,
                    client_description: String::new(),
                    task_states: Default::default(),
                    deployment_status: None,
                }],
                now: 4,
                evals: Vec::new(),
            },
            vec![row(Topic::Allocation, "AllocationUpdated", "alloc-1")],
        ),
        (
            "alloc stop",
            Command::AllocDesiredTransition {
                transitions: vec![(
                    "alloc-1".into(),
                    DesiredTransition {
                        migrate: Some(true),
                        ..DesiredTransition::default()
                    },
                )],
                evals: Vec::new(),
                now: 5,
            },
            vec![row(
                Topic::Allocation,
                "AllocationUpdateDesiredStatus",
                "alloc-1",
            )],
        ),
        (
            "node eligibility",
            Command::NodeUpdateEligibility {
                node_id: "node-1".into(),
                eligibility: NodeEligibility::Ineligible,
                event: None,
                now: 6,
                evals: Vec::new(),
            },
            vec![row(Topic::Node, "NodeEligibility", "node-1")],
        ),
        (
            "node drain",
            Command::NodeUpdateDrain {
                node_id: "node-1".into(),
                drain: true,
                strategy: None,
                eligible: false,
                event: None,
                now: 7,
                evals: Vec::new(),
            },
            vec![row(Topic::Node, "NodeDrain", "node-1")],
        ),
        (
            "node status",
            Command::NodeUpdateStatus {
                node_id: "node-1".into(),
                status: NodeStatus::Down,
                event: None,
                now: 8,
                evals: Vec::new(),
            },
            vec![row(Topic::Node, "NodeStreamEvent", "node-1")],
        ),
        (
            "a policy",
            Command::Security(SecurityCommand::PoliciesUpsert {
                policies: vec![policy],
            }),
            vec![row(Topic::AclPolicy, "ACLPolicyUpserted", "readers")],
        ),
        (
            "a token",
            Command::Security(SecurityCommand::TokensUpsert {
                tokens: vec![token],
            }),
            vec![row(Topic::AclToken, "ACLTokenUpserted", "acc-1")],
        ),
        (
            "the token deleted",
            Command::Security(SecurityCommand::TokensDelete {
                accessors: vec!["acc-1".into()],
            }),
            vec![row(Topic::AclToken, "ACLTokenDeleted", "acc-1")],
        ),
        (
            "the job stopped",
            Command::JobDeregister {
                namespace: "default".into(),
                job_id: "web".into(),
                purge: false,
                eval: None,
                now: 9,
            },
            vec![row(Topic::Job, "JobDeregistered", "web")],
        ),
        (
            "the job purged: only its evaluation tells",
            Command::JobDeregister {
                namespace: "default".into(),
                job_id: "web".into(),
                purge: true,
                eval: Some(caravan_testkit::eval("eval-3", &job).build()),
                now: 10,
            },
            vec![row(Topic::Evaluation, "JobDeregistered", "eval-3")],
        ),
        (
            "the node collected",
            Command::GarbageCollect {
                evals: Vec::new(),
                allocs: Vec::new(),
                jobs: Vec::new(),
                nodes: vec!["node-1".into()],
                deployments: Vec::new(),
            },
            vec![row(Topic::Node, "NodeDeregistration", "node-1")],
        ),
    ];
    for (what, command, expected) in steps {
        store.apply(command);
        assert_eq!(latest_events(&store), expected, "{what}");
    }
}
