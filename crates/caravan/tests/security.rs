//! What an unauthenticated job submitter could do to a client, tried as issue 17 tried
//! it: hostile names that reach host paths, escapes from `exec`, descendants that leave
//! a `raw_exec` task, and requests that make the agent do unbounded work. Each is
//! refused or kept inside, with sentinels outside the allocation directory to prove it.

mod common;

use std::path::Path;
use std::time::Duration;

use caravan_api_types::rpc::FORWARD_PREFIX;
use common::*;
use serde_json::{Value, json};

/// A batch job of one group with `tasks` (`[name, driver, config]`).
fn job(id: &str, group: Value, tasks: Vec<Value>) -> Value {
    let mut group = group;
    group["Tasks"] = Value::Array(tasks);
    json!({"Job": {"ID": id, "Type": "batch", "Datacenters": ["dc1"], "TaskGroups": [group]}})
}

fn task(name: &str, driver: &str, script: &str) -> Value {
    json!({
        "Name": name,
        "Driver": driver,
        "Config": {"command": "/bin/bash", "args": ["-c", script]},
        "Resources": {"CPU": 50, "MemoryMB": 32},
    })
}

fn group() -> Value {
    json!({"Name": "g", "Count": 1})
}

fn root_with_cgroups() -> Option<String> {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some("needs root".into());
    }
    if !Path::new("/sys/fs/cgroup/freezer").is_dir() {
        return Some("needs the cgroup v1 freezer (this machine's layout)".into());
    }
    None
}

/// The sentinels: a file and a directory outside any allocation, and a process in a
/// cgroup of its own that a stray `freeze-and-kill` would take down.
struct Sentinels {
    dir: tempfile::TempDir,
    process: std::process::Child,
    cgroup: Option<std::path::PathBuf>,
}

impl Sentinels {
    fn new() -> Sentinels {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("keep")).unwrap();
        std::fs::write(dir.path().join("keep/file"), "sentinel\n").unwrap();
        let process = std::process::Command::new("sleep")
            .arg("1000")
            .spawn()
            .unwrap();
        let cgroup = root_with_cgroups().is_none().then(|| {
            let cgroup = Path::new("/sys/fs/cgroup/freezer")
                .join(format!("caravan-sentinel-{}", std::process::id()));
            std::fs::create_dir_all(&cgroup).unwrap();
            std::fs::write(cgroup.join("cgroup.procs"), process.id().to_string()).unwrap();
            cgroup
        });
        Sentinels {
            dir,
            process,
            cgroup,
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn assert_untouched(&mut self) {
        assert_eq!(
            std::fs::read_to_string(self.path().join("keep/file")).unwrap(),
            "sentinel\n"
        );
        let entries: Vec<_> = std::fs::read_dir(self.path().join("keep"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            entries,
            ["file"],
            "nothing was written next to the sentinel"
        );
        assert!(
            process_alive(self.process.id() as i32),
            "the sentinel process was killed"
        );
    }
}

impl Drop for Sentinels {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
        if let Some(cgroup) = &self.cgroup {
            let _ = std::fs::remove_dir(cgroup);
        }
    }
}

#[test]
fn hostile_names_are_refused_and_nothing_outside_is_touched() {
    let mut sentinels = Sentinels::new();
    let agent = DevAgent::start();
    let outside = sentinels.path().join("keep").display().to_string();
    let freezer_escape = sentinels
        .cgroup
        .as_ref()
        .map(|c| format!("../{}", c.file_name().unwrap().to_string_lossy()))
        .unwrap_or_else(|| "../x".into());
    // Every way issue 17 reached a host path: the task directory and its template, the
    // log file, the state DB, remove_dir_all, the cgroup (to join or kill another).
    let names = [
        outside.clone(),
        format!("../../../../../../..{outside}"),
        "..".to_string(),
        ".".to_string(),
        freezer_escape,
        "a\\b".to_string(),
        "a\0b".to_string(),
        "a\nb".to_string(),
        "x".repeat(200),
    ];
    for name in &names {
        let mut bad = task(name, "raw_exec", "echo hi");
        bad["Templates"] = json!([{"EmbeddedTmpl": "owned", "DestPath": "local/cron"}]);
        let (status, body) = agent.send_json(
            Method::Put,
            paths::JOBS,
            &job("hostile", group(), vec![bad]),
        );
        assert_eq!(status, 400, "{name:?}: {body}");
        assert!(body.contains("Task name"), "{name:?}: {body}");
        // The same names as a group.
        let mut bad_group = group();
        bad_group["Name"] = json!(name);
        let (status, body) = agent.send_json(
            Method::Put,
            paths::JOBS,
            &job("hostile", bad_group, vec![task("t", "raw_exec", "echo hi")]),
        );
        assert_eq!(status, 400, "group {name:?}: {body}");
        assert!(body.contains("Group name"), "group {name:?}: {body}");
    }
    // Job IDs: path-like, control characters, and one too long to ever read back.
    for id in ["a/b", "..", "a\u{1}b", &"j".repeat(100_000)] {
        let (status, body) = agent.send_json(
            Method::Put,
            paths::JOBS,
            &job(id, group(), vec![task("t", "raw_exec", "echo hi")]),
        );
        assert_eq!(
            status,
            400,
            "job {:?}: {}",
            &id[..id.len().min(20)],
            &body[..body.len().min(200)]
        );
        assert!(body.len() < 2000, "the message does not repeat a huge ID");
    }
    assert!(
        agent
            .read(|api| api.jobs(""))
            .unwrap()
            .as_array()
            .unwrap()
            .is_empty(),
        "nothing was registered"
    );
    // The agent is alive and the sentinels are untouched.
    assert!(agent.run(|api| api.status_leader()).is_ok());
    sentinels.assert_untouched();
}

/// Runs an exec job whose task prints what it could do, and returns its output.
fn exec_output(agent: &DevAgent, id: &str, group: Value, script: &str) -> String {
    let (status, body) = agent.send_json(
        Method::Put,
        paths::JOBS,
        &job(id, group, vec![task("probe", "exec", script)]),
    );
    assert_eq!(status, 200, "{body}");
    let mut output = String::new();
    agent.eventually("the probe to finish", Duration::from_secs(30), || {
        let allocs = agent.allocations(id);
        let Some(alloc) = allocs.first() else {
            return false;
        };
        if alloc["ClientStatus"] != "complete" && alloc["ClientStatus"] != "failed" {
            return false;
        }
        let alloc_id = alloc["ID"].as_str().unwrap().to_string();
        let cat = agent.cli(
            &["fs", &alloc_id, "alloc/logs/probe.stdout.0"],
            Path::new("."),
        );
        output = stdout(&cat);
        true
    });
    output
}

#[test]
fn an_exec_task_cannot_escape() {
    if let Some(reason) = root_with_cgroups() {
        println!("skipping: {reason}");
        return;
    }
    let agent = DevAgent::start();
    let port = agent.port;
    // root is on the client's user.denylist by default, as in Nomad.
    let mut as_root = task("probe", "exec", "cat /etc/shadow");
    as_root["User"] = json!("root");
    let (status, body) = agent.send_json(
        Method::Put,
        paths::JOBS,
        &job("as-root", group(), vec![as_root]),
    );
    assert_eq!(status, 200, "{body}");
    agent.eventually("the root task to fail", Duration::from_secs(20), || {
        agent.allocations("as-root").first().is_some_and(|a| {
            a["ClientStatus"] == "failed"
                && a["TaskStates"]["probe"]["Events"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|e| {
                        e["DisplayMessage"] == "validate: running as user \"root\" is disallowed"
                    })
        })
    });
    let script = format!(
        "for tool in unshare mknod; do command -v $tool >/dev/null || echo \"$tool: missing\"; done
unshare -Ur true 2>/dev/null && echo 'unshare: allowed' || echo 'unshare: refused'
mknod /tmp/null c 1 3 2>/dev/null && echo 'mknod: allowed' || echo 'mknod: refused'
(exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null && echo 'api: reached' || echo 'api: unreachable'
if command -v curl >/dev/null; then curl -s -m 2 http://127.0.0.1:{port}/v1/status/leader >/dev/null && echo 'curl: reached' || echo 'curl: unreachable'; fi"
    );
    let output = exec_output(&agent, "escape", group(), &script);
    for line in ["unshare: refused", "mknod: refused", "api: unreachable"] {
        assert!(output.contains(line), "{line:?} missing from:\n{output}");
    }
    assert!(!output.contains("curl: reached"), "{output}");
    assert!(!output.contains("allowed"), "{output}");
    assert!(
        !output.contains("missing"),
        "the probe's tools are in the chroot: {output}"
    );
    // Host networking is there for a group that asks for it (Nomad's default mode).
    let mut host = group();
    host["Networks"] = json!([{"Mode": "host"}]);
    let output = exec_output(
        &agent,
        "host-net",
        host,
        &format!(
            "(exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null && echo 'api: reached' || echo 'api: unreachable'"
        ),
    );
    assert!(output.contains("api: reached"), "{output}");
}

#[test]
fn raw_exec_descendants_that_leave_the_group_die_with_the_job() {
    if let Some(reason) = root_with_cgroups() {
        println!("skipping: {reason}");
        return;
    }
    let agent = DevAgent::start();
    let script = "setsid sleep 1000 & (setsid sh -c 'sleep 1000 &' &) ; sleep 1000";
    let mut service = job("escapees", group(), vec![task("t", "raw_exec", script)]);
    service["Job"]["Type"] = json!("service");
    let (status, body) = agent.send_json(Method::Put, paths::JOBS, &service);
    assert_eq!(status, 200, "{body}");
    let mut alloc_id = String::new();
    agent.eventually("the task to run", Duration::from_secs(20), || {
        let allocs = agent.allocations("escapees");
        allocs.first().is_some_and(|a| {
            alloc_id = a["ID"].as_str().unwrap_or_default().to_string();
            a["ClientStatus"] == "running"
        })
    });
    // Three sleeps: the task (bash execs its last command), and two in sessions of
    // their own, one re-parented to init.
    agent.eventually("the descendants to start", Duration::from_secs(10), || {
        processes_of_alloc(&alloc_id).len() >= 3
    });
    let stop = agent.cli(&["job", "stop", "-detach", "escapees"], Path::new("."));
    assert!(stop.status.success(), "{}", stderr(&stop));
    agent.eventually(
        "every process of the task to be gone",
        Duration::from_secs(20),
        || processes_of_alloc(&alloc_id).is_empty(),
    );
}

#[test]
fn requests_that_would_make_unbounded_work_are_refused_or_bounded() {
    let agent = DevAgent::start();
    // A count of 2^31 that nothing can hold: registered (Nomad sets no upper bound),
    // the first copy tried, the rest counted.
    let mut huge = group();
    huge["Count"] = json!(2_147_483_648_i64);
    let mut unplaceable = task("t", "raw_exec", "true");
    unplaceable["Resources"]["MemoryMB"] = json!(i32::MAX);
    let (status, body) = agent.send_json(
        Method::Put,
        paths::JOBS,
        &job("huge", huge, vec![unplaceable]),
    );
    assert_eq!(status, 200, "{body}");
    agent.eventually(
        "the huge count to be coalesced",
        Duration::from_secs(10),
        || {
            agent
                .read(|api| api.job_evaluations("huge"))
                .ok()
                .and_then(|evals| evals.as_array().cloned())
                .is_some_and(|evals| {
                    evals.iter().any(|e| {
                        e["FailedTGAllocs"]["g"]["CoalescedFailures"].as_i64()
                            == Some(2_147_483_647)
                    })
                })
        },
    );
    // Disk beyond any machine, at task and group level.
    let mut disk = task("t", "raw_exec", "true");
    disk["Resources"]["DiskMB"] = json!(1_i64 << 62);
    let (status, body) =
        agent.send_json(Method::Put, paths::JOBS, &job("disk", group(), vec![disk]));
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("Task can't ask for disk resources"), "{body}");
    let mut big_disk = group();
    big_disk["EphemeralDisk"] = json!({"SizeMB": 1_i64 << 62});
    let (status, body) = agent.send_json(
        Method::Put,
        paths::JOBS,
        &job("disk", big_disk, vec![task("t", "raw_exec", "true")]),
    );
    assert_eq!(status, 400, "{body}");
    // 1000 cores on this machine: registered, never placed, "cores" exhausted.
    let mut cores = task("t", "raw_exec", "true");
    cores["Resources"]["Cores"] = json!(1000);
    let (status, body) = agent.send_json(
        Method::Put,
        paths::JOBS,
        &job("cores", group(), vec![cores]),
    );
    assert_eq!(status, 200, "{body}");
    agent.eventually(
        "the placement to fail on cores",
        Duration::from_secs(10),
        || {
            agent
                .read(|api| api.job_evaluations("cores"))
                .ok()
                .and_then(|evals| evals.as_array().cloned())
                .is_some_and(|evals| {
                    evals.iter().any(|e| {
                        e["FailedTGAllocs"]["g"]["DimensionExhausted"]["cores"].as_u64() == Some(1)
                    })
                })
        },
    );
    assert!(agent.allocations("cores").is_empty());
    // A format bomb is refused at the call.
    let bomb = "job \"f\" {\n  meta {\n    x = format(\"%999999999d\", 1)\n  }\n  group \"g\" {\n    task \"t\" {\n      driver = \"raw_exec\"\n      config {\n        command = \"true\"\n      }\n    }\n  }\n}\n";
    let (status, body) = agent.send_json(Method::Post, paths::JOBS_PARSE, &json!({"JobHCL": bomb}));
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("width 999999999 is over the limit"), "{body}");
    // A for-expression product of 10^9 elements, no function to charge: the parse
    // process's limits end it, and the agent keeps answering meanwhile.
    let big = format!("[{}]", vec!["1"; 1000].join(","));
    let product = format!(
        "locals {{\n  big = {big}\n}}\njob \"p\" {{\n  meta {{\n    n = length([for a in local.big : [for b in local.big : [for c in local.big : 1]]])\n  }}\n  group \"g\" {{\n    task \"t\" {{\n      driver = \"raw_exec\"\n      config {{\n        command = \"true\"\n      }}\n    }}\n  }}\n}}\n"
    );
    let api = client_of(&agent.addr());
    let parse = std::thread::spawn(move || {
        let body = json!({"JobHCL": product}).to_string();
        let answer =
            block_on(api.send_raw(Method::Post, paths::JOBS_PARSE, Some(body.as_bytes()))).unwrap();
        (answer.status, answer.body)
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(agent.run(|api| api.status_leader()).is_ok());
    assert!(
        !parse.is_finished(),
        "the leader answered while the parse still ran"
    );
    let (status, body) = parse.join().unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("simplify it"), "{body}");
    let peak_mb = agent.memory_kb("VmHWM") / 1024;
    assert!(peak_mb < 200, "the agent's RSS peaked at {peak_mb} MB");
}

#[test]
fn a_non_dev_agent_binds_loopback_serves_only_rpc_on_the_rpc_port_and_keeps_its_secret_private() {
    let agent = Agent::with_config(
        &[],
        "server {\n  enabled = true\n  bootstrap_expect = 1\n}\nclient {\n  enabled = true\n}\n",
    );
    agent.wait_for_ready_nodes(1);
    let log = agent.log();
    assert!(
        log.contains(&format!("HTTP: [127.0.0.1:{}]", agent.port)),
        "{log}"
    );
    // The RPC port answers its own calls, not the API.
    let rpc = client_of(&format!("http://127.0.0.1:{}", agent.rpc_port));
    let status = block_on(rpc.send_raw(Method::Get, paths::JOBS, None))
        .unwrap()
        .status;
    assert_eq!(status, 404);
    let forwarded_jobs = format!("{FORWARD_PREFIX}{}", paths::JOBS);
    let forwarded = block_on(rpc.send_raw(Method::Get, &forwarded_jobs, None))
        .unwrap()
        .status;
    assert_eq!(forwarded, 404, "no node secret, no API");
    use std::os::unix::fs::PermissionsExt;
    let node_json = agent.dir.path().join("data/client/node.json");
    let mode = std::fs::metadata(&node_json).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{}", node_json.display());
}
