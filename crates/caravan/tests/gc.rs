//! Garbage collection end to end: a burst of short jobs leaves no lasting trace once
//! `caravan system gc` has run: the jobs, evaluations and allocations are gone from the
//! API, the allocation directories from the disk, and the agent's memory returns to
//! where it was.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;

fn short_job(id: &str) -> serde_json::Value {
    true_batch_job(id, "dc1")
}

/// Entries and bytes under `dir`.
fn disk_usage(dir: &Path) -> (usize, u64) {
    let mut entries = 0;
    let mut bytes = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(read) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in read.flatten() {
            entries += 1;
            match entry.metadata() {
                Ok(meta) if meta.is_dir() => stack.push(entry.path()),
                Ok(meta) => bytes += meta.len(),
                Err(_) => {}
            }
        }
    }
    (entries, bytes)
}

/// The length of a list read, or `usize::MAX` when the read failed.
fn count(list: Result<serde_json::Value, String>) -> usize {
    list.ok()
        .and_then(|v| v.as_array().map(Vec::len))
        .unwrap_or(usize::MAX)
}

/// Runs `n` short jobs and waits until all are dead.
fn burst(agent: &DevAgent, prefix: &str, n: usize) {
    for i in 0..n {
        let (status, body) = agent.send_json(
            Method::Put,
            paths::JOBS,
            &short_job(&format!("{prefix}-{i}")),
        );
        assert_eq!(status, 200, "{body}");
    }
    agent.eventually(
        &format!("{n} jobs to finish"),
        Duration::from_secs(300),
        || {
            agent.read(|api| api.jobs("")).ok().is_some_and(|jobs| {
                let jobs = jobs.as_array().cloned().unwrap_or_default();
                jobs.len() >= n && jobs.iter().all(|j| j["Status"] == "dead")
            })
        },
    );
}

/// `caravan system gc`, then waits until the API lists nothing and no allocation
/// directory is left.
fn collect(agent: &DevAgent, alloc_root: &Path) {
    let gc = agent.cli(&["system", "gc"], Path::new("."));
    assert!(gc.status.success(), "{}", stderr(&gc));
    assert_eq!(stdout(&gc), "", "Nomad's system gc prints nothing");
    agent.eventually(
        "everything to be collected",
        Duration::from_secs(60),
        || {
            count(agent.read(|api| api.jobs(""))) == 0
                && count(agent.read(|api| api.evaluations(""))) == 0
                && count(agent.read(|api| api.allocations(""))) == 0
                && disk_usage(alloc_root).0 == 0
        },
    );
}

/// The agent's own memory (heap and stacks) once it stops going down: the agent hands
/// freed memory back every 10 s, the client removes directories a few at a time. The
/// pages of the binary it has run (RssFile) are clean and the kernel's to drop, and a
/// burst runs code a warm-up may not (a Raft snapshot), so they are not counted.
fn settled_memory_kb(agent: &DevAgent) -> u64 {
    let mut last = agent.memory_kb("RssAnon");
    for _ in 0..12 {
        std::thread::sleep(Duration::from_secs(11));
        let now = agent.memory_kb("RssAnon");
        if now + now / 100 >= last {
            return now.min(last);
        }
        last = now;
    }
    last
}

#[test]
fn after_two_thousand_jobs_and_a_system_gc_memory_and_disk_are_back() {
    let agent = DevAgent::start();
    let data_dir = agent.read(|api| api.agent_self()).unwrap()["config"]["DataDir"]
        .as_str()
        .unwrap()
        .to_string();
    let alloc_root = PathBuf::from(data_dir).join("alloc");
    // Where the agent starts: after a first burst of the same size and its gc. A cold
    // agent does not come back to its first figure: the few objects that outlive a
    // burst are spread over pages that held its short-lived ones, and pin them
    // (jemalloc's statistics: 7-8 MB allocated in 12-13 MB of active pages, against 3 MB
    // in 3 MB cold). What a second burst leaves is what this test bounds: no job,
    // evaluation or allocation is kept.
    burst(&agent, "warm", 2000);
    collect(&agent, &alloc_root);
    let start_kb = settled_memory_kb(&agent);
    let start_file_kb = agent.memory_kb("RssFile");
    let start_disk = disk_usage(&alloc_root);

    burst(&agent, "short", 2000);
    let peak_kb = agent.memory_kb("RssAnon");
    // The client keeps the directories of at most gc_max_allocs (50) allocations: the
    // newest, whose logs can still be read.
    let alloc_dirs = || std::fs::read_dir(&alloc_root).map_or(0, |d| d.count());
    agent.eventually(
        "at most 50 allocation directories",
        Duration::from_secs(30),
        || (1..=50).contains(&alloc_dirs()),
    );
    collect(&agent, &alloc_root);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut end_kb = agent.memory_kb("RssAnon");
    // Issue 17: within 10% of where it started.
    let bound_kb = start_kb * 110 / 100;
    while end_kb > bound_kb && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
        end_kb = agent.memory_kb("RssAnon");
    }
    let end_file_kb = agent.memory_kb("RssFile");
    assert!(
        end_kb <= bound_kb,
        "the agent's memory did not come back: RssAnon {start_kb} kB at the start, \
         {peak_kb} kB after the burst, {end_kb} kB a minute after gc; agent log:\n{}",
        agent.log()
    );
    println!(
        "RssAnon: {start_kb} kB at the start, {peak_kb} kB after the burst, {end_kb} kB after gc \
         (RssFile {start_file_kb} kB, then {end_file_kb} kB)"
    );
    let end_disk = disk_usage(&alloc_root);
    assert_eq!(end_disk, start_disk, "the allocation directories are gone");
}
