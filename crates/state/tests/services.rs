//! The service registrations table: written for live allocations, gone with them, with
//! their node, and kept through a snapshot's serialization.

use caravan_state::{Command, ServiceCommand, Snapshot, StateStore};
use caravan_structs::{AllocClientStatus, AllocClientUpdate, NodeStatus, ServiceRegistration};

fn registration(id: &str, alloc: &str, node: &str) -> ServiceRegistration {
    ServiceRegistration {
        id: id.into(),
        service_name: "web".into(),
        namespace: "default".into(),
        node_id: node.into(),
        alloc_id: alloc.into(),
        job_id: "j".into(),
        address: "127.0.0.1".into(),
        port: 8080,
        tags: vec!["blue".into()],
        ..ServiceRegistration::default()
    }
}

/// A store with a job, a node and two running allocations on it.
fn store() -> StateStore {
    let store = StateStore::new();
    let job = caravan_testkit::job("j").canonical();
    store.apply(Command::NodeRegister {
        node: caravan_testkit::node("n1").ready().build(),
        now: 1,
        evals: Vec::new(),
    });
    let allocs = ["a1", "a2"]
        .map(|id| caravan_testkit::alloc(id, &job, "n1").build())
        .to_vec();
    store.apply(Command::JobRegister {
        job,
        eval: None,
        now: 1,
        enforce_index: None,
    });
    store.apply(Command::PlanApply {
        job: None,
        stopped: Vec::new(),
        allocs,
        evals: Vec::new(),
        now: 1,
        deployment: None,
        deployment_updates: Vec::new(),
    });
    store
}

fn upsert(services: Vec<ServiceRegistration>) -> Command {
    Command::Services(ServiceCommand::Upsert { services })
}

#[test]
fn registrations_go_with_their_allocation_and_their_node() {
    let store = store();
    let index = store.apply(upsert(vec![
        registration("s1", "a1", "n1"),
        registration("s2", "a2", "n1"),
    ]));
    let snapshot = store.snapshot();
    assert_eq!(snapshot.service_registrations("default", "web").len(), 2);
    assert_eq!(snapshot.table_index().services, index);
    let listed = snapshot.service_list("*");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].services[0].service_name, "web");
    assert_eq!(listed[0].services[0].tags, ["blue"]);

    // The same registration again writes nothing.
    store.apply(upsert(vec![registration("s1", "a1", "n1")]));
    assert_eq!(store.snapshot().table_index().services, index);

    store.apply(Command::AllocClientUpdate {
        updates: vec![AllocClientUpdate {
            id: "a1".into(),
            client_status: AllocClientStatus::Complete,
            ..AllocClientUpdate::default()
        }],
        now: 2,
        evals: Vec::new(),
    });
    let left: Vec<String> = store
        .snapshot()
        .service_registrations("default", "web")
        .iter()
        .map(|s| s.id.clone())
        .collect();
    assert_eq!(left, ["s2"], "a finished allocation's registration goes");

    // A late client cannot bring back a finished allocation's registration.
    store.apply(upsert(vec![registration("s1", "a1", "n1")]));
    assert!(store.snapshot().service_registration("s1").is_none());

    store.apply(Command::NodeUpdateStatus {
        node_id: "n1".into(),
        status: NodeStatus::Down,
        event: None,
        now: 3,
        evals: Vec::new(),
    });
    assert!(
        store
            .snapshot()
            .service_registrations("default", "web")
            .is_empty(),
        "a down node's registrations go"
    );
}

#[test]
fn delete_and_snapshots_keep_the_table() {
    let store = store();
    store.apply(upsert(vec![
        registration("s1", "a1", "n1"),
        registration("s2", "a2", "n1"),
    ]));
    store.apply(Command::Services(ServiceCommand::Delete {
        namespace: "default".into(),
        id: "s1".into(),
    }));
    let snapshot = store.snapshot();
    assert!(snapshot.service_registration("s1").is_none());
    let bytes = rmp_serde::to_vec_named(&*snapshot).expect("a snapshot serializes");
    let restored: Snapshot = rmp_serde::from_slice(&bytes).expect("and reads back");
    assert_eq!(restored, *snapshot);
    assert!(restored.service_registration("s2").is_some());
    store.apply(Command::Services(ServiceCommand::DeleteByAllocs {
        alloc_ids: vec!["a2".into()],
    }));
    assert!(
        store
            .snapshot()
            .service_registrations("default", "web")
            .is_empty()
    );
}
