//! The state store's memory for many allocations of few job versions (issue 16):
//! `cargo bench -p caravan-state --bench job_memory [-- JOBS COUNT]`.
//!
//! Registers JOBS jobs (default 100) and applies one plan of COUNT allocations
//! (default 1,000) for each, every allocation carrying its own decoded copy of the
//! job as a plan read from the replicated log does. Reports the process's resident
//! memory growth, then the same for the state encoded as a snapshot and restored in a
//! fresh process (what a restarted server holds).

use std::time::Instant;

use caravan_state::{Command, StateStore};
use caravan_structs::Job;

/// Resident memory of this process, in KiB (Linux).
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn populate(store: &StateStore, jobs: usize, count: usize) {
    for j in 0..jobs {
        let id = format!("job-{j:03}");
        store.apply(Command::JobRegister {
            job: caravan_testkit::sized_job(&id, count as i64),
            eval: None,
            now: 1,
            enforce_index: None,
        });
        let snapshot = store.snapshot();
        let stored = &snapshot.job_versions("default", &id)[0];
        let allocs = (0..count)
            .map(|i| {
                let mut alloc =
                    caravan_testkit::alloc(&format!("{id}-{i:05}"), stored, "n1").build();
                // As decoded from the log: a copy of its own.
                alloc.job = Some(Job::clone(stored).into());
                alloc
            })
            .collect();
        store.apply(Command::PlanApply {
            job: None,
            stopped: Vec::new(),
            allocs,
            evals: Vec::new(),
            now: 2,
            deployment: None,
            deployment_updates: Vec::new(),
        });
    }
}

fn restore(path: &str) {
    // Measured before the file is read: its bytes are freed before the second reading.
    let before = rss_kib();
    let bytes = std::fs::read(path).expect("reads the snapshot");
    let started = Instant::now();
    let state = rmp_serde::from_slice(&bytes).expect("decodes the snapshot");
    drop(bytes);
    let store = StateStore::new();
    store.restore(state);
    let grown = rss_kib().saturating_sub(before);
    println!(
        "restored: {} allocations, RSS +{} MiB ({:.0} bytes per allocation), {:?}",
        store.snapshot().all_allocs().count(),
        grown / 1024,
        grown as f64 * 1024.0 / store.snapshot().all_allocs().count().max(1) as f64,
        started.elapsed()
    );
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if let [mode, path] = args.as_slice()
        && mode == "restore"
    {
        restore(path);
        return;
    }
    let jobs = args.first().and_then(|a| a.parse().ok()).unwrap_or(100);
    let count = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let job_bytes = rmp_serde::to_vec_named(&caravan_testkit::sized_job("job-000", count as i64))
        .map(|b| b.len())
        .unwrap_or(0);
    println!("{jobs} jobs x {count} allocations, {job_bytes} bytes per job encoded");

    let before = rss_kib();
    let started = Instant::now();
    let store = StateStore::new();
    populate(&store, jobs, count);
    let grown = rss_kib().saturating_sub(before);
    let total = jobs * count;
    println!(
        "applied: {total} allocations, RSS +{} MiB ({:.0} bytes per allocation), {:?}",
        grown / 1024,
        grown as f64 * 1024.0 / total as f64,
        started.elapsed()
    );

    let path = std::env::temp_dir().join(format!("caravan-job-memory-{}.bin", std::process::id()));
    let encoded = rmp_serde::to_vec_named(&*store.snapshot()).expect("encodes the state");
    println!("snapshot: {} MiB encoded", encoded.len() / (1024 * 1024));
    std::fs::write(&path, encoded).expect("writes the snapshot");
    drop(store);
    let exe = std::env::current_exe().expect("knows its own path");
    let status = std::process::Command::new(exe)
        .arg("restore")
        .arg(&path)
        .status();
    let _ = std::fs::remove_file(&path);
    if !status.is_ok_and(|s| s.success()) {
        eprintln!("the restore run failed");
        std::process::exit(1);
    }
}
