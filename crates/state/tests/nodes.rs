//! Nodes as the store keeps them.

use caravan_state::{Command, StateStore};

#[test]
fn a_registered_node_gets_its_computed_class_whatever_the_client_sent() {
    let store = StateStore::new();
    let mut node = caravan_testkit::node("n1")
        .ready()
        .attribute("os.name", "debian")
        .build();
    node.computed_class = "v1:made-up".into();
    let expected = {
        let mut n = node.clone();
        n.computed_class.clear();
        n.compute_class()
    };
    store.apply(Command::NodeRegister {
        node,
        now: 1,
        evals: Vec::new(),
    });
    let stored = store.snapshot().node("n1").unwrap();
    assert_eq!(stored.computed_class, expected);
    let json = serde_json::to_value(&*stored).unwrap();
    assert_eq!(json["ComputedClass"], expected.as_str());
}
