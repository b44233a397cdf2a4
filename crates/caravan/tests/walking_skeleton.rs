//! The workshop's first step end to end on a dev agent, plus restarts, stops and bad input.

mod common;

use std::time::Duration;

use common::*;

#[test]
fn workshop_batch_job_runs_logs_and_stops_without_leftovers() {
    let agent = DevAgent::start();
    let work = tempfile::tempdir().unwrap();
    write(work.path(), "exec.nomad", WORKSHOP_EXEC_JOB);

    let run = agent.cli(&["job", "run", "-hcl1", "exec.nomad"], work.path());
    let out = stdout(&run);
    assert!(
        run.status.success(),
        "job run failed: {out}{}",
        stderr(&run)
    );
    assert!(out.starts_with("==> Monitoring evaluation \""), "{out}");
    assert!(
        out.contains("    Evaluation triggered by job \"hello-exec-batch\""),
        "{out}"
    );
    assert!(out.contains("created: node \""), "{out}");
    assert!(out.contains("group \"hello-exec\""), "{out}");
    assert!(out.contains("finished with status \"complete\""), "{out}");

    let status = agent.cli(
        &["job", "status", "-verbose", "hello-exec-batch"],
        work.path(),
    );
    let status_out = stdout(&status);
    let allocs = agent.allocations("hello-exec-batch");
    assert_eq!(allocs.len(), 1);
    let alloc_id = allocs[0]["ID"].as_str().unwrap().to_string();
    assert!(
        status_out.contains(&alloc_id),
        "job status -verbose does not list {alloc_id}:\n{status_out}"
    );

    let mut log = String::new();
    agent.eventually("the task's output", Duration::from_secs(10), || {
        let fs = agent.cli(&["fs", &alloc_id, "alloc/logs/echo.stdout.0"], work.path());
        log = stdout(&fs);
        log == "Hi Nomad Exec Driver\n"
    });
    assert!(
        !processes_of_alloc(&alloc_id).is_empty(),
        "the task should be running"
    );

    agent.stop_job("hello-exec-batch", work.path());
    agent.eventually(
        "the task's processes to exit",
        Duration::from_secs(10),
        || processes_of_alloc(&alloc_id).is_empty(),
    );
    let alloc = agent.read(|api| api.allocation(&alloc_id)).unwrap();
    assert_eq!(alloc["DesiredStatus"], "stop");
}

#[test]
fn service_job_is_restarted_then_fails_per_its_policy() {
    let agent = DevAgent::start();
    let work = tempfile::tempdir().unwrap();
    write(
        work.path(),
        "flaky.nomad",
        r#"job "flaky" {
  datacenters = ["dc1"]
  type = "service"
  group "web" {
    restart {
      attempts = 2
      interval = "1m"
      delay    = "200ms"
      mode     = "fail"
    }
    task "server" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo started; exit 3"]
      }
    }
  }
}
"#,
    );
    let run = agent.cli(
        &["job", "run", "-detach", "-hcl1", "flaky.nomad"],
        work.path(),
    );
    assert!(run.status.success(), "{}{}", stdout(&run), stderr(&run));
    assert!(stdout(&run).contains("Evaluation ID: "));
    let mut alloc = serde_json::Value::Null;
    agent.eventually(
        "the allocation to fail after its restarts",
        Duration::from_secs(20),
        || {
            alloc = agent
                .allocations("flaky")
                .first()
                .cloned()
                .unwrap_or_default();
            alloc["ClientStatus"] == "failed"
        },
    );
    let state = &alloc["TaskStates"]["server"];
    assert_eq!(state["Restarts"], 2);
    assert_eq!(state["Failed"], true);
    let events: Vec<&str> = state["Events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["Type"].as_str().unwrap())
        .collect();
    assert_eq!(
        events.iter().filter(|t| **t == "Restarting").count(),
        2,
        "{events:?}"
    );
    let last = state["Events"].as_array().unwrap().last().unwrap();
    assert_eq!(last["Type"], "Not Restarting");
    assert_eq!(
        last["DisplayMessage"],
        "Exceeded allowed attempts 2 in interval 1m0s and mode is \"fail\""
    );
    let log = agent.cli(
        &["alloc", "logs", alloc["ID"].as_str().unwrap()],
        work.path(),
    );
    assert_eq!(stdout(&log), "started\nstarted\nstarted\n");
}

#[test]
fn stopping_a_service_kills_the_children_it_started() {
    let agent = DevAgent::start();
    let work = tempfile::tempdir().unwrap();
    let alloc_id = agent.run_job(
        work.path(),
        "parent.nomad",
        r#"job "parent" {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "sleep 1000 & wait"]
      }
    }
  }
}
"#,
        &["-hcl1"],
        "parent",
    );
    agent.eventually("the shell and its child", Duration::from_secs(10), || {
        processes_of_alloc(&alloc_id).len() >= 2
    });
    agent.stop_job("parent", work.path());
    agent.eventually("no process of the task", Duration::from_secs(10), || {
        processes_of_alloc(&alloc_id).is_empty()
    });
}

#[test]
fn malformed_job_files_are_refused_with_their_position_and_register_nothing() {
    let agent = DevAgent::start();
    let work = tempfile::tempdir().unwrap();
    let cases = [
        (
            "missing-brace.nomad",
            "job \"broken\" {\n  group \"g\" {\n    task \"t\" {\n      driver = \"raw_exec\"\n    }\n",
            "missing-brace.nomad:",
        ),
        (
            "unknown-block.nomad",
            "job \"broken\" {\n  grop \"g\" {\n  }\n}\n",
            "unknown-block.nomad:2:3:",
        ),
        (
            "wrong-type.nomad",
            "job \"broken\" {\n  group \"g\" {\n    count = \"many\"\n  }\n}\n",
            "wrong-type.nomad:3:",
        ),
    ];
    for (file, text, position) in cases {
        write(work.path(), file, text);
        let run = agent.cli(&["job", "run", "-hcl1", file], work.path());
        let err = stderr(&run);
        assert_eq!(run.status.code(), Some(1), "{file}: {err}");
        assert!(
            err.contains(position),
            "{file}: error does not name {position}: {err}"
        );
    }
    let jobs = agent.read(|api| api.jobs("")).unwrap();
    assert_eq!(
        jobs.as_array().unwrap().len(),
        0,
        "nothing may be registered: {jobs}"
    );
}

#[test]
fn broken_api_input_gets_400_with_a_message() {
    let agent = DevAgent::start();
    let post = |body: &str| {
        agent
            .run(|api| api.send_raw(Method::Post, paths::JOBS, Some(body.as_bytes())))
            .unwrap()
    };
    let response = post("{\"Job\": {");
    assert_eq!(response.status, 400);
    let text = response.body;
    assert!(text.contains("Failed to decode request body"), "{text}");

    let response = post(r#"{"Job": {"ID": "x", "TaskGroups": [{"Name": "g", "Count": "many"}]}}"#);
    assert_eq!(response.status, 400);
    let text = response.body;
    assert!(text.contains("Count"), "{text}");

    let response = post(
        r#"{"Job": {"ID": "x", "TaskGroups": [{"Name": "g", "Count": -1, "Tasks": [{"Name": "t", "Driver": "raw_exec"}]}]}}"#,
    );
    assert_eq!(response.status, 400);
    let text = response.body;
    assert!(
        text.contains("group \"g\": count must be >= 0, got -1"),
        "{text}"
    );
    assert_eq!(
        agent
            .read(|api| api.jobs(""))
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[test]
fn fs_refuses_paths_outside_the_allocation() {
    let agent = DevAgent::start();
    let work = tempfile::tempdir().unwrap();
    let alloc_id = agent.run_job(
        work.path(),
        "escape.nomad",
        r#"job "escape" {
  datacenters = ["dc1"]
  type = "batch"
  group "g" {
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "ln -s /etc ${NOMAD_ALLOC_DIR}/tmp/out && echo done"]
      }
    }
  }
}
"#,
        &["-hcl1"],
        "escape",
    );
    agent.eventually("the symlink", Duration::from_secs(10), || {
        agent.allocations("escape")[0]["ClientStatus"] == "complete"
    });
    for path in [
        "../../etc/passwd",
        "alloc/tmp/out/passwd",
        "alloc/../../../etc/passwd",
    ] {
        let fs = agent.cli(&["fs", &alloc_id, path], work.path());
        assert_ne!(
            fs.status.code(),
            Some(0),
            "{path} was served: {}",
            stdout(&fs)
        );
        assert!(!stdout(&fs).contains("root:"), "{path} leaked /etc/passwd");
    }
}

#[test]
fn a_dev_agent_killed_with_sigkill_takes_its_tasks_with_it() {
    let mut agent = DevAgent::start();
    let work = tempfile::tempdir().unwrap();
    let alloc_id = agent.run_job(
        work.path(),
        "exec.nomad",
        WORKSHOP_EXEC_JOB,
        &["-hcl1"],
        "hello-exec-batch",
    );
    agent.eventually("the task to run", Duration::from_secs(10), || {
        !processes_of_alloc(&alloc_id).is_empty()
    });
    // A dev agent's state is in memory: nothing could re-attach to its tasks later.
    agent.kill9();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !processes_of_alloc(&alloc_id).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the task outlived its dev agent"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn alloc_restart_restarts_the_task_in_place() {
    let agent = DevAgent::start();
    let work = tempfile::tempdir().unwrap();
    let alloc_id = agent.run_job(work.path(), "sleeper.nomad", SLEEPER_JOB, &[], "sleeper");
    agent.eventually("the task to run", Duration::from_secs(10), || {
        agent.allocations("sleeper")[0]["ClientStatus"] == "running"
    });
    let restart = agent.cli(&["alloc", "restart", &alloc_id[..8]], work.path());
    assert!(
        restart.status.success(),
        "{}{}",
        stdout(&restart),
        stderr(&restart)
    );
    agent.eventually("the task to run again", Duration::from_secs(15), || {
        let alloc = agent
            .read(|api| api.allocation(&alloc_id))
            .unwrap_or_default();
        let state = &alloc["TaskStates"]["t"];
        let events: Vec<&str> = state["Events"]
            .as_array()
            .map(|e| e.iter().filter_map(|e| e["Type"].as_str()).collect())
            .unwrap_or_default();
        state["State"] == "running"
            && state["Restarts"] == 1
            && events.contains(&"Restart Signaled")
    });
    let bad = agent.cli(&["alloc", "restart", &alloc_id, "nope"], work.path());
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("Could not find task named: nope"),
        "{}",
        stderr(&bad)
    );
    agent.stop_job("sleeper", work.path());
}

#[test]
fn job_init_writes_an_example_that_runs_on_a_fresh_dev_agent() {
    let agent = DevAgent::start();
    let work = tempfile::tempdir().unwrap();
    let init = agent.cli(&["job", "init"], work.path());
    assert!(init.status.success(), "{}{}", stdout(&init), stderr(&init));
    assert_eq!(
        stdout(&init).trim(),
        "Example job file written to example.nomad"
    );
    let again = agent.cli(&["job", "init"], work.path());
    assert_eq!(again.status.code(), Some(1));
    let validate = agent.cli(&["job", "validate", "example.nomad"], work.path());
    assert!(
        stdout(&validate).contains("Job validation successful"),
        "{}{}",
        stdout(&validate),
        stderr(&validate)
    );
    // A service: job run follows its deployment to the end (min_healthy_time 10s).
    let run = agent.cli(&["job", "run", "example.nomad"], work.path());
    assert!(run.status.success(), "{}{}", stdout(&run), stderr(&run));
    assert!(
        stdout(&run).contains(
            "\nStatus      = successful\nDescription = Deployment completed successfully\n"
        ),
        "{}",
        stdout(&run)
    );
    let job: serde_json::Value = serde_json::from_str(&stdout(
        &agent.cli(&["job", "inspect", "example"], work.path()),
    ))
    .unwrap();
    assert_eq!(job["Job"]["ID"], "example");
    agent.eventually("the example to run", Duration::from_secs(15), || {
        agent
            .allocations("example")
            .iter()
            .any(|a| a["ClientStatus"] == "running")
    });
    agent.stop_job("example", work.path());
}

#[test]
fn a_failed_service_is_rescheduled_per_its_policy() {
    let agent = DevAgent::start();
    let work = tempfile::tempdir().unwrap();
    write(
        work.path(),
        "crashy.nomad",
        r#"job "crashy" {
  group "g" {
    restart {
      attempts = 0
      mode     = "fail"
    }
    reschedule {
      attempts       = 1
      interval       = "1h"
      delay          = "5s"
      delay_function = "constant"
      unlimited      = false
    }
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "exit 1"]
      }
    }
  }
}
"#,
    );
    assert!(
        agent
            .cli(&["job", "run", "-detach", "crashy.nomad"], work.path())
            .status
            .success()
    );
    let mut allocs = Vec::new();
    // Nomad's smallest reschedule delay is 5 s.
    agent.eventually("one reschedule, then none", Duration::from_secs(30), || {
        allocs = agent
            .read(|api| api.job_allocations("crashy", false))
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default();
        allocs.len() == 2 && allocs.iter().all(|a| a["ClientStatus"] == "failed")
    });
    let first = allocs
        .iter()
        .find(|a| a["Name"] == "crashy.g[0]" && a["NextAllocation"] != "")
        .unwrap();
    let second = allocs
        .iter()
        .find(|a| a["ID"] == first["NextAllocation"])
        .unwrap();
    let full = agent
        .read(|api| api.allocation(second["ID"].as_str().unwrap()))
        .unwrap();
    assert_eq!(full["PreviousAllocation"], first["ID"]);
    assert_eq!(
        full["RescheduleTracker"]["Events"][0]["PrevAllocID"],
        first["ID"]
    );
    // The policy allowed one attempt: the second failure gets no follow-up.
    std::thread::sleep(Duration::from_millis(500));
    let second = agent
        .read(|api| api.allocation(second["ID"].as_str().unwrap()))
        .unwrap();
    assert_eq!(second["FollowupEvalID"], "");
    assert_eq!(agent.allocations("crashy").len(), 2);
    agent.stop_job("crashy", work.path());
}
