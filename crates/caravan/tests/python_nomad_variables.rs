//! python-nomad's own variables tests (`tests/test_variable.py`, `tests/test_variables.py`:
//! create with and without check-and-set, read, list by prefix and namespace, delete
//! with a 409 on a stale `cas`) against a `-dev` agent, unchanged (the suite:
//! `common::python_nomad`).

mod common;

use common::*;

#[test]
fn python_nomads_variables_tests_pass() {
    let Some(work) = python_nomad::suite() else {
        return;
    };
    let agent = Agent::start();
    let (passed, out) = python_nomad::pytest(
        work.path(),
        &agent,
        &["tests/test_variable.py", "tests/test_variables.py"],
    );
    assert!(passed, "python-nomad's variables tests failed:\n{out}");
    assert!(out.contains("28 passed"), "{out}");
}
