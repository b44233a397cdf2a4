//! The isolated `exec` driver end to end on a dev agent: the workshop's batch job, what a
//! task can and cannot see, its cgroup limits, OOM kills, fork bombs, and a stop that
//! leaves no process, mount or cgroup behind. These need root and cgroups; elsewhere
//! each test prints `skipping: ...` and passes.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use caravan_testkit::require_exec;
use common::*;

fn batch_job(name: &str, task_body: &str) -> String {
    batch_job_hcl(
        name,
        &format!(
            r#"    reschedule {{
      attempts  = 0
      unlimited = false
    }}
    task "t" {{
      driver = "exec"
{task_body}
    }}"#
        ),
    )
}

/// Runs a job file and returns its single allocation's ID.
fn run_job(agent: &DevAgent, work: &Path, file: &str, text: &str, job: &str) -> String {
    write(work, file, text);
    let run = agent.cli(&["job", "run", "-detach", "-hcl1", file], work);
    assert!(run.status.success(), "{}{}", stdout(&run), stderr(&run));
    let mut alloc_id = String::new();
    agent.eventually("the allocation", Duration::from_secs(20), || {
        let allocs = agent.allocations(job);
        if let Some(id) = allocs.first().and_then(|a| a["ID"].as_str()) {
            alloc_id = id.to_string();
            true
        } else {
            false
        }
    });
    alloc_id
}

fn read_log(agent: &DevAgent, work: &Path, alloc_id: &str, file: &str) -> String {
    stdout(&agent.cli(&["fs", alloc_id, &format!("alloc/logs/{file}")], work))
}

/// Mount lines, in any process's view, that mention the allocation.
fn mounts_of_alloc(alloc_id: &str) -> Vec<String> {
    let mut tables = vec![PathBuf::from("/proc/self/mountinfo")];
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().parse::<u32>().is_ok() {
                tables.push(entry.path().join("mountinfo"));
            }
        }
    }
    tables
        .iter()
        .flat_map(|table| {
            std::fs::read_to_string(table)
                .unwrap_or_default()
                .lines()
                .filter(|l| l.contains(alloc_id))
                .map(|l| format!("{}: {l}", table.display()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The allocation's cgroups: `/sys/fs/cgroup/*/nomad/<alloc>*` (v1) and
/// `/sys/fs/cgroup/nomad.slice/<alloc>*` (v2).
fn cgroups_of_alloc(alloc_id: &str) -> Vec<PathBuf> {
    let mut parents = vec![PathBuf::from("/sys/fs/cgroup/nomad.slice")];
    if let Ok(entries) = std::fs::read_dir("/sys/fs/cgroup") {
        parents.extend(entries.flatten().map(|e| e.path().join("nomad")));
    }
    parents
        .iter()
        .filter_map(|parent| std::fs::read_dir(parent).ok())
        .flat_map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with(alloc_id))
                .map(|e| e.path())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn assert_nothing_left(agent: &DevAgent, alloc_id: &str) {
    agent.eventually(
        "no process, mount or cgroup of the allocation",
        Duration::from_secs(20),
        || {
            processes_of_alloc(alloc_id).is_empty()
                && mounts_of_alloc(alloc_id).is_empty()
                && cgroups_of_alloc(alloc_id).is_empty()
        },
    );
}

#[test]
fn the_seed_batch_job_runs_under_exec_and_stop_leaves_nothing() {
    require_exec!();
    let agent = DevAgent::start();
    let work = tempfile::tempdir().unwrap();

    // The node offers exec: healthy driver, legacy attribute.
    let nodes = agent.read(|api| api.nodes("")).unwrap();
    let node_id = nodes[0]["ID"].as_str().unwrap().to_string();
    let node = agent
        .read(|api| api.node(&node_id, Default::default()))
        .unwrap();
    assert_eq!(
        node["Drivers"]["exec"]["Healthy"], true,
        "{}",
        node["Drivers"]
    );
    assert_eq!(node["Attributes"]["driver.exec"], "1");

    write(work.path(), "exec.nomad", &workshop_exec_job_under_exec());
    let run = agent.cli(&["job", "run", "-hcl1", "exec.nomad"], work.path());
    let out = stdout(&run);
    assert!(run.status.success(), "{out}{}", stderr(&run));
    assert!(out.contains("finished with status \"complete\""), "{out}");
    let allocs = agent.allocations("hello-exec-batch");
    let alloc_id = allocs[0]["ID"].as_str().unwrap().to_string();

    let mut log = String::new();
    agent.eventually("the task's output", Duration::from_secs(20), || {
        log = read_log(&agent, work.path(), &alloc_id, "echo.stdout.0");
        log == "Hi Nomad Exec Driver\n"
    });
    assert!(!processes_of_alloc(&alloc_id).is_empty(), "the task runs");
    let cgroups = cgroups_of_alloc(&alloc_id);
    assert!(!cgroups.is_empty(), "the task has a cgroup");

    // Stats come from the cgroup, in Nomad's shape: the agent's answer as sent.
    let stats = agent.get_json(&paths::allocation_stats(&alloc_id)).unwrap();
    assert!(
        stats["ResourceUsage"]["MemoryStats"]["RSS"].is_u64(),
        "{stats}"
    );
    assert!(
        stats["Tasks"]["echo"]["ResourceUsage"]["CpuStats"]["Percent"].is_f64(),
        "{stats}"
    );
    assert!(stats["Timestamp"].as_i64().unwrap() > 0);

    agent.stop_job("hello-exec-batch", work.path());
    assert_nothing_left(&agent, &alloc_id);
}

#[test]
fn an_exec_task_sees_only_its_chroot_pid_namespace_and_limits() {
    require_exec!();
    let agent = DevAgent::start();
    let work = tempfile::tempdir().unwrap();
    // Another allocation, whose directory the task must not see.
    let other = run_job(
        &agent,
        work.path(),
        "other.nomad",
        &batch_job(
            "other",
            r#"      config {
        command = "/bin/sleep"
        args    = ["300"]
      }"#,
        ),
        "other",
    );
    let data_dir = agent.dir.path().join("data");
    let other_dir = data_dir.join("alloc").join(&other);
    agent.eventually(
        "the other allocation's directory",
        Duration::from_secs(20),
        || other_dir.exists(),
    );
    // A directory on the host, outside the chroot_env.
    let marker = tempfile::Builder::new()
        .prefix("caravan-exec-marker-")
        .tempdir_in("/tmp")
        .unwrap();
    let script = format!(
        r#"echo "pid=$$ ppid=$PPID"
test -e {marker} && echo marker=visible || echo marker=hidden
test -e {other} && echo other=visible || echo other=hidden
ls /alloc >/dev/null && echo alloc_dir=ok
echo hi > /local/f && echo local=ok
echo hi > "$NOMAD_ALLOC_DIR/data/f" && echo alloc=ok
echo "task_dir=$NOMAD_TASK_DIR"
head -c 100 /etc/hostname >/dev/null && echo etc=ok
sleep 120"#,
        marker = marker.path().display(),
        other = other_dir.display(),
    );
    let body = format!(
        r#"      config {{
        command = "/bin/bash"
        args    = ["-c", {script:?}]
      }}
      resources {{
        memory = 300
      }}"#
    );
    let alloc_id = run_job(
        &agent,
        work.path(),
        "probe.nomad",
        &batch_job("probe", &body),
        "probe",
    );
    let mut log = String::new();
    agent.eventually("the probe's report", Duration::from_secs(20), || {
        log = read_log(&agent, work.path(), &alloc_id, "t.stdout.0");
        log.contains("etc=ok")
    });
    for expected in [
        "pid=2 ppid=1",
        "marker=hidden",
        "other=hidden",
        "alloc_dir=ok",
        "local=ok",
        "alloc=ok",
        "task_dir=/local",
    ] {
        assert!(log.contains(expected), "missing {expected} in:\n{log}");
    }
    // The cgroup holds `resources { memory = 300 }`.
    let limit = cgroups_of_alloc(&alloc_id)
        .iter()
        .find_map(|dir| {
            ["memory.limit_in_bytes", "memory.max"]
                .iter()
                .find_map(|f| std::fs::read_to_string(dir.join(f)).ok())
        })
        .expect("a memory cgroup");
    assert_eq!(limit.trim(), (300u64 << 20).to_string());

    for (job, alloc) in [("probe", &alloc_id), ("other", &other)] {
        agent.stop_job(job, work.path());
        assert_nothing_left(&agent, alloc);
    }
}

#[test]
fn a_task_beyond_its_memory_limit_is_oom_killed_and_reported() {
    require_exec!();
    let agent = DevAgent::start();
    let work = tempfile::tempdir().unwrap();
    let body = r#"      config {
        command = "/bin/bash"
        args    = ["-c", "x=$(head -c 400000000 /dev/zero | tr '\\0' a); echo survived"]
      }
      resources {
        memory = 50
      }"#;
    let alloc_id = run_job(
        &agent,
        work.path(),
        "oom.nomad",
        &batch_job("oom", body),
        "oom",
    );
    let mut state = serde_json::Value::Null;
    agent.eventually("the task to die", Duration::from_secs(60), || {
        state = agent.task_state(&alloc_id, "t");
        state["State"] == "dead"
    });
    assert_eq!(state["Failed"], true, "{state}");
    let events = state["Events"].as_array().unwrap();
    let terminated = events
        .iter()
        .find(|e| e["Type"] == "Terminated")
        .unwrap_or_else(|| panic!("no Terminated event: {state}"));
    assert_eq!(terminated["Details"]["oom_killed"], "true", "{terminated}");
    assert!(
        terminated["DisplayMessage"]
            .as_str()
            .unwrap()
            .contains("OOM Killed"),
        "{terminated}"
    );
    let status = agent.cli(&["alloc", "status", &alloc_id], work.path());
    assert!(
        stdout(&status).contains("OOM Killed"),
        "{}",
        stdout(&status)
    );
    assert!(!read_log(&agent, work.path(), &alloc_id, "t.stdout.0").contains("survived"));
    assert_nothing_left(&agent, &alloc_id);
}

#[test]
fn a_fork_bomb_is_stopped_by_the_pids_limit_and_the_agent_stays_healthy() {
    require_exec!();
    let agent = Agent::with_config(
        &["-dev"],
        "plugin \"exec\" {\n  config {\n    pids_limit = 50\n  }\n}\n",
    );
    agent.wait_for_ready_nodes(1);
    let work = tempfile::tempdir().unwrap();
    let body = r#"      config {
        command = "/bin/bash"
        args    = ["-c", "bomb() { bomb | bomb & }; bomb; sleep 300"]
      }
      resources {
        memory = 100
      }"#;
    let alloc_id = run_job(
        &agent,
        work.path(),
        "bomb.nomad",
        &batch_job("bomb", body),
        "bomb",
    );
    agent.eventually("the bomb to run", Duration::from_secs(20), || {
        processes_of_alloc(&alloc_id).len() > 5
    });
    std::thread::sleep(Duration::from_secs(3));
    let count = processes_of_alloc(&alloc_id).len();
    assert!(count <= 50, "{count} processes despite pids_limit = 50");
    // The agent still answers, quickly.
    let started = std::time::Instant::now();
    let health = agent.run(|api| api.agent_health());
    assert!(health.is_ok(), "{health:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let status = agent.cli(&["node", "status"], work.path());
    assert!(stdout(&status).contains("ready"), "{}", stdout(&status));

    agent.stop_job("bomb", work.path());
    assert_nothing_left(&agent, &alloc_id);
}

#[test]
fn a_command_missing_from_the_chroot_fails_the_task_with_a_driver_failure() {
    require_exec!();
    let agent = DevAgent::start();
    let work = tempfile::tempdir().unwrap();
    let body = r#"      config {
        command = "/opt/caravan-not-in-chroot/tool"
      }"#;
    let alloc_id = run_job(
        &agent,
        work.path(),
        "missing.nomad",
        &batch_job("missing", body),
        "missing",
    );
    let mut state = serde_json::Value::Null;
    agent.eventually("the task to fail", Duration::from_secs(20), || {
        state = agent.task_state(&alloc_id, "t");
        state["State"] == "dead"
    });
    assert_eq!(state["Failed"], true);
    let failure = state["Events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["Type"] == "Driver Failure")
        .unwrap_or_else(|| panic!("no Driver Failure event: {state}"));
    let message = failure["DisplayMessage"].as_str().unwrap();
    assert!(
        message.contains("/opt/caravan-not-in-chroot/tool") && message.contains("not found"),
        "{message}"
    );
    assert_nothing_left(&agent, &alloc_id);
}

#[test]
fn an_exec_task_survives_a_client_kill_and_is_reattached() {
    require_exec!();
    let Cluster {
        server,
        mut clients,
    } = Cluster::start(SERVER_CONFIG, 1, |server, _| {
        client_config(server.rpc_port, "", "")
    });
    let client = &mut clients[0];
    let work = tempfile::tempdir().unwrap();
    let body = r#"      config {
        command = "/bin/sh"
        args    = ["-c", "echo begin; sleep 6; echo end; exit 3"]
      }"#;
    let alloc_id = run_job(
        &server,
        work.path(),
        "long.nomad",
        &batch_job("long", body),
        "long",
    );
    let before = server.settled_task_processes("long", &alloc_id, Duration::from_secs(20));
    client.kill9();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        processes_of_alloc(&alloc_id),
        before,
        "the task outlives its client"
    );
    assert!(!cgroups_of_alloc(&alloc_id).is_empty());
    client.spawn(&[]);
    let alloc = server.wait_for_reattached_failure(&alloc_id, &before, Duration::from_secs(40));
    let events = alloc["TaskStates"]["t"]["Events"].as_array().unwrap();
    let started = events.iter().filter(|e| e["Type"] == "Started").count();
    assert_eq!(started, 1, "{events:?}");
    let terminated = events.iter().find(|e| e["Type"] == "Terminated").unwrap();
    assert_eq!(terminated["DisplayMessage"], "Exit Code: 3");
    let log = server.cli(&["alloc", "logs", &alloc_id], work.path());
    assert_eq!(stdout(&log), "begin\nend\n");
    assert_nothing_left(&server, &alloc_id);
}

#[test]
fn an_exec_job_is_not_placed_where_exec_is_unhealthy() {
    // No root needed: a bad plugin block makes the driver unhealthy on any node.
    let agent = Agent::with_config(
        &["-dev"],
        "plugin \"exec\" {\n  config {\n    default_pid_mode = \"shared\"\n  }\n}\n",
    );
    agent.wait_for_ready_nodes(1);
    let nodes = agent.read(|api| api.nodes("")).unwrap();
    let node_id = nodes[0]["ID"].as_str().unwrap().to_string();
    let node = agent
        .read(|api| api.node(&node_id, Default::default()))
        .unwrap();
    assert_eq!(node["Drivers"]["exec"]["Healthy"], false);
    assert!(node["Attributes"]["driver.exec"].is_null());
    let work = tempfile::tempdir().unwrap();
    write(work.path(), "exec.nomad", &workshop_exec_job_under_exec());
    let run = agent.cli(&["job", "run", "-hcl1", "exec.nomad"], work.path());
    let out = stdout(&run);
    assert!(out.contains("missing drivers"), "{out}{}", stderr(&run));
    assert!(agent.allocations("hello-exec-batch").is_empty());
}
