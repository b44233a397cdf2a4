//! The simulator's jobs: one group of `count` with a constraint on node meta and a
//! spread over the datacenters, submitted through `/v1/jobs` as any API client does.

use serde_json::{Value, json};

use crate::nodes::DATACENTERS;

/// Each allocation's task: small, so that a node holds many.
const TASK_CPU: i64 = 10;
const TASK_MEMORY_MB: i64 = 10;

/// Batch jobs: a simulated node reports its allocations running and they stay so, with
/// no deployment to wait out.
pub fn job(run: u32, index: usize, count: usize) -> Value {
    json!({
        "Job": {
            "ID": job_id(run, index),
            "Name": job_id(run, index),
            "Type": "batch",
            "Datacenters": DATACENTERS,
            "Constraints": [{
                "LTarget": "${meta.sim_tier}",
                "RTarget": "general",
                "Operand": "="
            }],
            "TaskGroups": [{
                "Name": "sim",
                "Count": count,
                "Spreads": [{ "Attribute": "${node.datacenter}", "Weight": 100 }],
                "RestartPolicy": { "Attempts": 0, "Mode": "fail" },
                "ReschedulePolicy": { "Attempts": 0, "Unlimited": false },
                "EphemeralDisk": { "SizeMB": 150 },
                "Tasks": [{
                    "Name": "sim",
                    "Driver": "raw_exec",
                    "Config": { "command": "/bin/true" },
                    "Resources": { "CPU": TASK_CPU, "MemoryMB": TASK_MEMORY_MB }
                }]
            }]
        }
    })
}

pub fn job_id(run: u32, index: usize) -> String {
    format!("{}{index}", job_prefix(run))
}

/// What every job ID of run `run` starts with.
pub fn job_prefix(run: u32) -> String {
    format!("sim-{run:08x}-")
}
