//! python-nomad's own event stream and search tests (`tests/test_event.py`: a stream of
//! every topic and one of `Node` events; `tests/test_search.py`: prefix and fuzzy search,
//! an unknown context refused) against a `-dev` agent, unchanged (the suite:
//! `common::python_nomad`).

mod common;

use common::*;

#[test]
fn python_nomads_event_and_search_tests_pass() {
    let Some(work) = python_nomad::suite() else {
        return;
    };
    // test_event.py registers the `example.json` of python-nomad's repository, which
    // its release leaves out: a batch job of the same ID stands in for it.
    let example = serde_json::json!({"Job": {
        "ID": "example", "Name": "example", "Type": "batch", "Datacenters": ["dc1"],
        "TaskGroups": [{"Name": "cache", "Tasks": [{
            "Name": "true", "Driver": "raw_exec", "Config": {"command": "/bin/true"},
            "Resources": {"CPU": 10, "MemoryMB": 10},
        }]}],
    }});
    std::fs::write(work.path().join("example.json"), example.to_string()).expect("write");
    let agent = Agent::start();
    let (passed, out) = python_nomad::pytest(
        work.path(),
        &agent,
        &["tests/test_event.py", "tests/test_search.py"],
    );
    assert!(
        passed,
        "python-nomad's event and search tests failed:\n{out}"
    );
    assert!(out.contains("9 passed"), "{out}");
}
