//! The end-to-end harness (`caravan-testkit`'s `harness`): a real `caravan agent` on free
//! loopback ports, clusters of them, the CLI pointed at them, and process checks.

#![allow(dead_code, unused_imports)]

pub mod python_nomad;

pub use caravan_testkit::harness::*;

/// The binary cargo built for these tests; the harness finds the same file beside the
/// test binary (checked once, in `architecture.rs`).
pub const CARAVAN: &str = env!("CARGO_BIN_EXE_caravan");

/// A datacenter no client is in: a job placed there is stored with a blocked
/// evaluation and never runs, however many clients join.
pub const NO_CLIENTS: &str = "dc-without-clients";

/// The API body that registers batch job `id`: one task running `/bin/true` with
/// raw_exec, in `datacenter`.
pub fn true_batch_job(id: &str, datacenter: &str) -> serde_json::Value {
    serde_json::json!({"Job": {
        "ID": id,
        "Type": "batch",
        "Datacenters": [datacenter],
        "TaskGroups": [{
            "Name": "g",
            "Tasks": [{
                "Name": "t",
                "Driver": "raw_exec",
                "Config": {"command": "/bin/true"},
                "Resources": {"CPU": 10, "MemoryMB": 10},
            }],
        }],
    }})
}

/// The output of a CLI run that must have succeeded (else the test fails, showing it).
pub fn succeeded(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "{}{}",
        stdout(output),
        stderr(output)
    );
    stdout(output)
}
