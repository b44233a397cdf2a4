//! python-nomad's own deployment tests (`tests/test_deployment.py` and
//! `tests/test_deployments.py`) against a dev agent, with the `example.json` python-nomad's
//! CI makes (`job init`, then `job run -output example.nomad`): the deployment of the
//! example job is read, listed, failed, and then refused as Nomad refuses actions on a
//! terminal deployment.

mod common;

use common::*;

#[test]
fn python_nomads_deployment_tests_pass() {
    let Some(work) = python_nomad::suite() else {
        return;
    };
    let agent = DevAgent::start();
    succeeded(&agent.cli(&["job", "init"], work.path()));
    let json = succeeded(&agent.cli(&["job", "run", "-output", "example.nomad"], work.path()));
    std::fs::write(work.path().join("example.json"), json).expect("write example.json");
    // The suite reads the deployment right after registering the job; the scheduler
    // makes it a few milliseconds later (as Nomad's does), so the registration runs first.
    let (registered, out) = python_nomad::pytest(
        work.path(),
        &agent,
        &["tests/test_deployment.py::test_register_job"],
    );
    assert!(registered, "{out}");
    agent.eventually(
        "the example job's deployment",
        std::time::Duration::from_secs(10),
        || {
            agent
                .get_json("/v1/deployments")
                .is_ok_and(|d| d.as_array().is_some_and(|d| !d.is_empty()))
        },
    );
    let (passed, out) = python_nomad::pytest(
        work.path(),
        &agent,
        &["tests/test_deployment.py", "tests/test_deployments.py"],
    );
    assert!(passed, "python-nomad's deployment tests failed:\n{out}");
    // Both files' tests, the registration counted twice (it runs in each file).
    assert!(out.contains("29 passed"), "{out}");
    println!("{out}");
}
