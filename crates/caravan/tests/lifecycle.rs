//! Task `lifecycle` blocks as a Nomad user sees them: prestart tasks before the main
//! ones, poststart tasks once the main ones run, poststop tasks after everything else,
//! sidecars stopped once the main tasks are done, and a client restarted in the middle
//! picking up where it was.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;

/// A raw_exec task `name` running `sh -c <script>`, with `lifecycle` (its block's
/// body; empty for a main task). The script sees the shared `alloc/data` directory as
/// `$D`.
fn task(name: &str, lifecycle: &str, script: &str) -> String {
    let lifecycle = if lifecycle.is_empty() {
        String::new()
    } else {
        format!("      lifecycle {{\n        {lifecycle}\n      }}\n")
    };
    format!(
        r#"    task "{name}" {{
      driver = "raw_exec"
{lifecycle}      config {{
        command = "/bin/sh"
        args = ["-c", "D=$NOMAD_ALLOC_DIR/data; {script}"]
      }}
    }}
"#
    )
}

/// Runs a batch job `job` of `tasks` (never restarted nor rescheduled) from `dir` and
/// answers its allocation's ID.
fn run_batch(agent: &Agent, dir: &Path, job: &str, tasks: &[String]) -> String {
    let group = format!(
        "    reschedule {{\n      attempts  = 0\n      unlimited = false\n    }}\n{}",
        tasks.concat()
    );
    agent.run_job(dir, "job.nomad", &batch_job_hcl(job, &group), &[], job)
}

/// What the task printed, through `alloc logs`.
fn logs(agent: &Agent, dir: &Path, alloc_id: &str, task: &str) -> String {
    let out = agent.cli(&["alloc", "logs", alloc_id, task], dir);
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

/// The time (Unix nanoseconds) of the task's first event of type `kind`.
fn first_event(alloc: &serde_json::Value, task: &str, kind: &str) -> i64 {
    alloc["TaskStates"][task]["Events"]
        .as_array()
        .and_then(|events| events.iter().find(|e| e["Type"] == kind))
        .and_then(|e| e["Time"].as_i64())
        .unwrap_or_else(|| panic!("{task} has no {kind} event: {alloc}"))
}

fn wait_for(agent: &Agent, job: &str, status: &str) -> serde_json::Value {
    agent.wait_for_alloc_status(job, &[status], status, Duration::from_secs(30))
}

#[test]
fn a_prestart_task_prepares_what_the_main_task_reads() {
    let agent = DevAgent::start();
    let dir = tempfile::tempdir().unwrap();
    let alloc_id = run_batch(
        &agent,
        dir.path(),
        "prep",
        &[
            task("main", "", "cat $D/greeting"),
            task(
                "init",
                r#"hook = "prestart""#,
                "echo hello from init > $D/greeting",
            ),
        ],
    );
    wait_for(&agent, "prep", "complete");
    assert_eq!(
        logs(&agent, dir.path(), &alloc_id, "main"),
        "hello from init\n"
    );
    let job = agent.get_json("/v1/job/prep").unwrap();
    let tasks = &job["TaskGroups"][0]["Tasks"];
    assert_eq!(
        tasks[1]["Lifecycle"],
        serde_json::json!({"Hook": "prestart", "Sidecar": false})
    );
    let short = agent.cli(&["alloc", "status", "-short", &alloc_id], dir.path());
    let short = stdout(&short);
    let init_row = short.lines().find(|l| l.starts_with("init ")).unwrap_or("");
    assert!(init_row.trim_end().ends_with("prestart"), "{short}");
    let main_row = short.lines().find(|l| l.starts_with("main ")).unwrap_or("");
    assert!(main_row.trim_end().ends_with("main"), "{short}");
}

#[test]
fn a_poststop_task_runs_after_the_main_task_exits() {
    let agent = DevAgent::start();
    let dir = tempfile::tempdir().unwrap();
    let alloc_id = run_batch(
        &agent,
        dir.path(),
        "clean",
        &[
            task("main", "", "echo main >> $D/order"),
            task(
                "cleanup",
                r#"hook = "poststop""#,
                "echo cleanup >> $D/order; cat $D/order",
            ),
        ],
    );
    let alloc = wait_for(&agent, "clean", "complete");
    assert_eq!(
        logs(&agent, dir.path(), &alloc_id, "cleanup"),
        "main\ncleanup\n"
    );
    assert!(
        first_event(&alloc, "main", "Terminated") < first_event(&alloc, "cleanup", "Started"),
        "{alloc}"
    );
}

#[test]
fn a_prestart_sidecar_runs_beside_main_and_is_stopped_when_main_ends() {
    let agent = DevAgent::start();
    let dir = tempfile::tempdir().unwrap();
    let alloc_id = run_batch(
        &agent,
        dir.path(),
        "side",
        &[
            task(
                "main",
                "",
                "while [ ! -f $D/sidecar ]; do sleep 0.1; done; cat $D/sidecar",
            ),
            task(
                "proxy",
                "hook = \"prestart\"\n        sidecar = true",
                "echo proxy up > $D/sidecar; exec sleep 600",
            ),
        ],
    );
    let alloc = wait_for(&agent, "side", "complete");
    assert_eq!(logs(&agent, dir.path(), &alloc_id, "main"), "proxy up\n");
    let proxy = &alloc["TaskStates"]["proxy"];
    assert_eq!(proxy["State"], "dead");
    assert_eq!(proxy["Failed"], false);
    let events: Vec<String> = proxy["Events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("{}: {}", e["Type"], e["DisplayMessage"]))
        .collect();
    assert!(
        events.contains(&"\"Main Tasks Dead\": \"Main tasks in the group died\"".to_string()),
        "{events:?}"
    );
    assert!(processes_of_alloc(&alloc_id).is_empty());
}

#[test]
fn a_poststart_task_starts_once_main_runs() {
    let agent = DevAgent::start();
    let dir = tempfile::tempdir().unwrap();
    let alloc_id = run_batch(
        &agent,
        dir.path(),
        "after",
        &[
            task(
                "main",
                "",
                "while [ ! -f $D/announced ]; do sleep 0.1; done; echo main saw the announcement",
            ),
            task("announce", r#"hook = "poststart""#, "touch $D/announced"),
        ],
    );
    let alloc = wait_for(&agent, "after", "complete");
    assert!(
        first_event(&alloc, "main", "Started") < first_event(&alloc, "announce", "Started"),
        "{alloc}"
    );
    assert_eq!(
        logs(&agent, dir.path(), &alloc_id, "main"),
        "main saw the announcement\n"
    );
}

#[test]
fn a_failing_prestart_task_fails_the_allocation_and_main_never_starts() {
    let agent = DevAgent::start();
    let dir = tempfile::tempdir().unwrap();
    run_batch(
        &agent,
        dir.path(),
        "broken",
        &[
            task("main", "", "echo main ran"),
            task("init", r#"hook = "prestart""#, "exit 1"),
        ],
    );
    let alloc = wait_for(&agent, "broken", "failed");
    let main = &alloc["TaskStates"]["main"];
    assert_eq!(main["State"], "dead");
    let kinds = event_types(main);
    assert!(!kinds.contains(&"Started".to_string()), "{kinds:?}");
    assert!(
        kinds.contains(&"Sibling Task Failed".to_string()),
        "{kinds:?}"
    );
    assert_eq!(alloc["TaskStates"]["init"]["Failed"], true);
}

#[test]
fn a_client_restarted_mid_allocation_does_not_run_a_completed_prestart_task_again() {
    let Cluster {
        server,
        mut clients,
    } = Cluster::start(SERVER_CONFIG, 1, |server, n| {
        workshop_client_config(server.rpc_port, n, true)
    });
    let client = &mut clients[0];
    let dir = tempfile::tempdir().unwrap();
    let hcl = job_hcl(
        "resume",
        "",
        &[
            task("init", r#"hook = "prestart""#, "echo init >> $D/runs"),
            task("main", "", "exec sleep 600"),
        ]
        .concat(),
    );
    let alloc_id = server.run_job(dir.path(), "job.nomad", &hcl, &[], "resume");
    let before = server.settled_task_processes("resume", &alloc_id, Duration::from_secs(30));
    client.kill9();
    client.spawn(&[]);
    server.eventually(
        "the restarted client to report the allocation again",
        Duration::from_secs(30),
        || {
            let log = client.log();
            log.contains("re-attached to task")
                && server.allocation(&alloc_id)["ClientStatus"] == "running"
        },
    );
    assert_eq!(processes_of_alloc(&alloc_id), before);
    let alloc = server.allocation(&alloc_id);
    let init = &alloc["TaskStates"]["init"];
    assert_eq!(init["State"], "dead");
    let starts = event_types(init)
        .iter()
        .filter(|kind| *kind == "Started")
        .count();
    assert_eq!(starts, 1, "{init}");
    let runs = server.cli(&["alloc", "fs", &alloc_id, "alloc/data/runs"], dir.path());
    assert_eq!(stdout(&runs), "init\n");
    server.stop_job("resume", dir.path());
}

#[test]
fn stopping_a_job_stops_main_then_its_sidecar_then_runs_poststop() {
    let agent = DevAgent::start();
    let dir = tempfile::tempdir().unwrap();
    let hcl = job_hcl(
        "svc",
        "",
        &[
            task(
                "main",
                "",
                "trap 'echo main >> $D/order; exit 0' INT; while true; do sleep 0.1; done",
            ),
            task(
                "proxy",
                "hook = \"prestart\"\n        sidecar = true",
                "trap 'echo proxy >> $D/order; exit 0' INT; while true; do sleep 0.1; done",
            ),
            task(
                "cleanup",
                r#"hook = "poststop""#,
                "echo cleanup >> $D/order; cat $D/order",
            ),
        ]
        .concat(),
    );
    let alloc_id = agent.run_job(dir.path(), "job.nomad", &hcl, &[], "svc");
    agent.eventually("main to run", Duration::from_secs(30), || {
        agent.task_state(&alloc_id, "main")["State"] == "running"
    });
    let cleanup = agent.task_state(&alloc_id, "cleanup");
    assert_eq!(cleanup["State"], "pending", "{cleanup}");
    agent.stop_job("svc", dir.path());
    wait_for(&agent, "svc", "complete");
    assert_eq!(
        logs(&agent, dir.path(), &alloc_id, "cleanup"),
        "main\nproxy\ncleanup\n"
    );
}

#[test]
fn a_main_task_clones_at_a_tag_the_git_repository_its_prestart_task_made() {
    let agent = DevAgent::start();
    let dir = tempfile::tempdir().unwrap();
    let commit = "git -c user.name=t -c user.email=t@example.com commit -q";
    let make_repository = format!(
        "export HOME=$D; R=$D/repo.git; git init -q $R && cd $R && git checkout -q -b main && echo v1 > app.txt && git add app.txt && {commit} -m v1 && git tag v1 && echo v2 > app.txt && {commit} -am v2"
    );
    let main = r#"    task "main" {
      driver = "raw_exec"
      artifact {
        source      = "git::file://${NOMAD_ALLOC_DIR}/data/repo.git?ref=v1"
        destination = "local/repo"
      }
      config {
        command = "/bin/cat"
        args    = ["local/repo/app.txt"]
      }
    }
"#;
    let alloc_id = run_batch(
        &agent,
        dir.path(),
        "cloned",
        &[
            main.to_string(),
            task("init", r#"hook = "prestart""#, &make_repository),
        ],
    );
    let alloc = wait_for(&agent, "cloned", "complete");
    assert_eq!(
        logs(&agent, dir.path(), &alloc_id, "main"),
        "v1\n",
        "{alloc}"
    );
}

#[test]
fn a_service_whose_prestart_task_completed_is_healthy_in_its_deployment() {
    let agent = DevAgent::start();
    let dir = tempfile::tempdir().unwrap();
    let hcl = job_hcl(
        "healthy",
        "",
        &format!(
            "    update {{\n      min_healthy_time = \"1s\"\n    }}\n{}",
            [
                task("init", r#"hook = "prestart""#, "echo ready > $D/ready"),
                task("main", "", "exec sleep 600"),
                task("cleanup", r#"hook = "poststop""#, "echo bye"),
            ]
            .concat()
        ),
    );
    let alloc_id = agent.run_job(dir.path(), "job.nomad", &hcl, &[], "healthy");
    agent.wait_for_deployment("healthy");
    let alloc = agent.allocation(&alloc_id);
    assert_eq!(alloc["DeploymentStatus"]["Healthy"], true, "{alloc}");
    assert_eq!(alloc["TaskStates"]["cleanup"]["State"], "pending");
    agent.stop_job("healthy", dir.path());
}

#[test]
fn alloc_restart_all_tasks_runs_the_prestart_task_again_before_main() {
    let agent = DevAgent::start();
    let dir = tempfile::tempdir().unwrap();
    let hcl = job_hcl(
        "again",
        "",
        &[
            // Slow on purpose: a main task that did not wait for it would write first.
            task(
                "init",
                r#"hook = "prestart""#,
                "sleep 1; echo init >> $D/order",
            ),
            task("main", "", "echo main >> $D/order; exec sleep 600"),
        ]
        .concat(),
    );
    let alloc_id = agent.run_job(dir.path(), "job.nomad", &hcl, &[], "again");
    agent.eventually("main to run", Duration::from_secs(30), || {
        agent.task_state(&alloc_id, "main")["State"] == "running"
    });
    let restart = agent.cli(&["alloc", "restart", "-all-tasks", &alloc_id], dir.path());
    assert!(restart.status.success(), "{}", stderr(&restart));
    agent.eventually("main to run again", Duration::from_secs(30), || {
        let main = agent.task_state(&alloc_id, "main");
        main["State"] == "running" && main["Restarts"] == 1
    });
    let order = agent.cli(&["alloc", "fs", &alloc_id, "alloc/data/order"], dir.path());
    assert_eq!(stdout(&order), "init\nmain\ninit\nmain\n");
    let init = agent.task_state(&alloc_id, "init");
    assert_eq!(init["State"], "dead");
    assert_eq!(init["Failed"], false);
    agent.stop_job("again", dir.path());
}
