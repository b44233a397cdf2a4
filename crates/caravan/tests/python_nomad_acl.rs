//! python-nomad's own ACL tests (`tests/test_acl.py`, and the 403 of an unknown token in
//! `tests/test_base.py`) against a `-dev -acl-enabled` agent: a real Nomad client
//! library, unchanged, bootstraps, writes policies and tokens and reads them back
//! (the suite: `common::python_nomad`).

mod common;

use common::*;

#[test]
fn python_nomads_acl_tests_pass() {
    let Some(work) = python_nomad::suite() else {
        return;
    };
    let agent = Agent::with_config(&["-dev", "-acl-enabled"], "");
    // The agent is up once it answers at all (every other route wants a token now).
    agent.eventually(
        "the agent to answer",
        std::time::Duration::from_secs(20),
        || agent.get_json("/v1/status/leader").is_ok(),
    );
    let (passed, out) = python_nomad::pytest(
        work.path(),
        &agent,
        &[
            "tests/test_acl.py",
            "tests/test_base.py::test_base_get_connnection_not_authorized",
        ],
    );
    assert!(passed, "python-nomad's ACL tests failed:\n{out}");
    assert!(out.contains("14 passed"), "{out}");
}
