//! python-nomad's own scaling tests (`tests/test_scaling.py`: the policy list of a
//! fresh agent, a policy that does not exist) against a `-dev` agent, unchanged (the
//! suite: `common::python_nomad`).

mod common;

use common::*;

#[test]
fn python_nomads_scaling_tests_pass() {
    let Some(work) = python_nomad::suite() else {
        return;
    };
    let agent = Agent::start();
    let (passed, out) = python_nomad::pytest(work.path(), &agent, &["tests/test_scaling.py"]);
    assert!(passed, "python-nomad's scaling tests failed:\n{out}");
    assert!(out.contains("2 passed"), "{out}");
}
