//! What a committed plan costs on the write path (issue 16), without the network:
//! `cargo bench -p caravan-state --bench plan_entry [-- JOBS COUNT]`.
//!
//! For JOBS jobs (default 20) of COUNT allocations (default 1,000), each plan is encoded
//! as the Raft log does (MessagePack, named), decoded and applied to a store, once
//! normalized (`Command::plan_apply`: the job once) and once with a job per allocation
//! as plans were written before. Then the state's snapshot: its size, encode and decode
//! time. It asserts nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use caravan_state::{Command, StateStore};
use caravan_structs::Allocation;

struct Run {
    entry_bytes: usize,
    write: Duration,
    store: StateStore,
}

fn run(jobs: usize, count: usize, normalized: bool) -> Run {
    let store = StateStore::new();
    let mut entry_bytes = 0;
    let mut write = Duration::ZERO;
    for j in 0..jobs {
        let id = format!("job-{j:03}");
        store.apply(Command::JobRegister {
            job: caravan_testkit::sized_job(&id, count as i64),
            eval: None,
            now: 1,
            enforce_index: None,
        });
        let stored = store.snapshot().job_versions("default", &id)[0].clone();
        // As the scheduler places them: every allocation holds the job it read.
        let placements: Vec<Allocation> = (0..count)
            .map(|i| {
                let node = format!("node-{:04}", i % 2000);
                let mut alloc =
                    caravan_testkit::alloc(&format!("{id}-{i:05}"), &stored, &node).build();
                alloc.job = Some(Arc::clone(&stored));
                alloc
            })
            .collect();
        let started = Instant::now();
        let command = if normalized {
            Command::plan_apply(&[], placements, Vec::new(), 2, None, Vec::new())
        } else {
            Command::PlanApply {
                job: None,
                allocs: placements,
                stopped: Vec::new(),
                evals: Vec::new(),
                now: 2,
                deployment: None,
                deployment_updates: Vec::new(),
            }
        };
        let bytes = rmp_serde::to_vec_named(&command).expect("encodes the entry");
        entry_bytes = bytes.len();
        let decoded: Command = rmp_serde::from_slice(&bytes).expect("decodes the entry");
        store.apply(decoded);
        write += started.elapsed();
    }
    Run {
        entry_bytes,
        write,
        store,
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let jobs = args.first().and_then(|a| a.parse().ok()).unwrap_or(20);
    let count = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    println!("{jobs} jobs x {count} allocations");
    for normalized in [false, true] {
        let Run {
            entry_bytes,
            write,
            store,
        } = run(jobs, count, normalized);
        let placements = (jobs * count) as f64;
        println!(
            "{}: entry {} KiB per plan; encode + decode + apply {:?} ({:.0} placements/s)",
            if normalized {
                "job once       "
            } else {
                "job per alloc  "
            },
            entry_bytes / 1024,
            write,
            placements / write.as_secs_f64()
        );
        let snapshot = store.snapshot();
        let started = Instant::now();
        let bytes = rmp_serde::to_vec_named(&*snapshot).expect("encodes the state");
        let encoded = started.elapsed();
        let started = Instant::now();
        let decoded: caravan_state::Snapshot =
            rmp_serde::from_slice(&bytes).expect("decodes the state");
        let restored = StateStore::new();
        restored.restore(decoded);
        println!(
            "  snapshot: {} MiB, encode {:?}, decode + restore {:?}",
            bytes.len() / (1024 * 1024),
            encoded,
            started.elapsed()
        );
        if !normalized {
            // The allocation table as snapshots wrote it before: a job per allocation.
            let allocs: Vec<_> = snapshot.all_allocs().collect();
            let table = rmp_serde::to_vec_named(&allocs).expect("encodes the allocations");
            println!(
                "  (its allocations with a job each, as snapshots held them before: {} MiB)",
                table.len() / (1024 * 1024)
            );
        }
    }
}
