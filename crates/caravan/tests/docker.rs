//! The `docker` driver end to end, against the host's Docker Engine and an image built
//! locally from busybox (no registry is reachable): logs, limits, ports, host paths,
//! re-attaching after `kill -9` of the client, cleanup, and bad input. Where no daemon
//! answers, each test prints `skipping: ...` and passes.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use caravan_testkit::docker::{TEST_IMAGE, containers_of_alloc, remove_containers_of_alloc};
use caravan_testkit::require_docker;
use common::*;

/// The plugin block of the tests' agents: host paths allowed, and the shared test image
/// never garbage-collected under a test running in parallel.
const DOCKER_PLUGIN: &str = r#"
plugin "docker" {
  config {
    volumes {
      enabled = true
    }
    gc {
      image = false
    }
  }
}
"#;

fn dev_agent(plugin: &str) -> DevAgent {
    let agent = Agent::with_config(&["-dev"], plugin);
    agent.wait_for_ready_nodes(1);
    agent
}

/// A job of one docker task from the test image; `task_body` goes inside `config`
/// after `image`, `group_extra` inside the group.
fn docker_job(name: &str, kind: &str, group_extra: &str, task_extra: &str, config: &str) -> String {
    format!(
        r#"job "{name}" {{
  datacenters = ["dc1"]
  type        = "{kind}"
  group "g" {{
    restart {{
      attempts = 0
      mode     = "fail"
    }}
    reschedule {{
      attempts  = 0
      unlimited = false
    }}
{group_extra}
    task "t" {{
      driver = "docker"
{task_extra}
      config {{
        image = "{TEST_IMAGE}"
{config}
      }}
    }}
  }}
}}
"#
    )
}

/// Removes the allocation's containers whatever the test's outcome.
struct ContainerCleanup(String);

impl Drop for ContainerCleanup {
    fn drop(&mut self) {
        remove_containers_of_alloc(&self.0);
    }
}

fn logs(agent: &Agent, work: &Path, alloc_id: &str, stderr_too: bool) -> String {
    let mut args = vec!["alloc", "logs"];
    if stderr_too {
        args.push("-stderr");
    }
    args.extend([alloc_id, "t"]);
    stdout(&agent.cli(&args, work))
}

fn wait_for_log(agent: &Agent, work: &Path, alloc_id: &str, needle: &str) -> String {
    let mut log = String::new();
    agent.eventually(
        &format!("{needle:?} in the task's log"),
        Duration::from_secs(60),
        || {
            log = logs(agent, work, alloc_id, false);
            log.contains(needle)
        },
    );
    log
}

fn wait_for_client_status(agent: &Agent, alloc_id: &str, status: &str) -> serde_json::Value {
    let mut alloc = serde_json::Value::Null;
    agent.eventually(
        &format!("allocation {alloc_id} {status}"),
        Duration::from_secs(60),
        || {
            alloc = agent.allocation(alloc_id);
            alloc["ClientStatus"] == status
        },
    );
    alloc
}

#[test]
fn a_docker_task_logs_and_leaves_no_container_after_stop() {
    require_docker!();
    let agent = dev_agent(DOCKER_PLUGIN);
    let work = tempfile::tempdir().unwrap();
    let node = agent
        .get_json(&format!("/v1/node/{}", agent.node_id().as_str()))
        .unwrap();
    assert_eq!(
        node["Drivers"]["docker"]["Healthy"], true,
        "{}",
        node["Drivers"]
    );
    assert_eq!(node["Attributes"]["driver.docker"], "1");
    assert!(
        node["Attributes"]["driver.docker.version"]
            .as_str()
            .is_some_and(|v| !v.is_empty())
    );

    let job = docker_job(
        "dlogs",
        "service",
        "",
        "",
        r#"        command = "/bin/sh"
        args    = ["-c", "echo hello from docker in $NOMAD_TASK_DIR; echo to stderr >&2; exec sleep 3600"]"#,
    );
    let alloc_id = agent.run_job(work.path(), "dlogs.nomad", &job, &[], "dlogs");
    let _cleanup = ContainerCleanup(alloc_id.clone());
    wait_for_log(
        &agent,
        work.path(),
        &alloc_id,
        "hello from docker in /local\n",
    );
    agent.eventually("stderr in the task's log", Duration::from_secs(30), || {
        logs(&agent, work.path(), &alloc_id, true) == "to stderr\n"
    });
    let containers = containers_of_alloc(&alloc_id);
    assert_eq!(containers.len(), 1, "{containers:?}");
    // Usage comes from the daemon's stats, as `alloc status -stats` shows it.
    let stats = agent
        .get_json(&format!("/v1/client/allocation/{alloc_id}/stats"))
        .unwrap();
    let memory = &stats["Tasks"]["t"]["ResourceUsage"]["MemoryStats"];
    assert!(memory["Usage"].as_u64().is_some_and(|u| u > 0), "{stats:#}");
    let status = stdout(&agent.cli(&["alloc", "status", "-stats", &alloc_id], work.path()));
    assert!(status.contains("Memory Stats"), "{status}");

    // `alloc exec` runs in the container, with the task's environment.
    let exec = agent.cli(
        &[
            "alloc",
            "exec",
            "-i=false",
            "-t=false",
            &alloc_id,
            "/bin/sh",
            "-c",
            "echo in the container at $NOMAD_TASK_DIR; echo oops >&2; exit 3",
        ],
        work.path(),
    );
    assert_eq!(stdout(&exec), "in the container at /local\n");
    assert_eq!(stderr(&exec), "oops\n");
    assert_eq!(exec.status.code(), Some(3));

    agent.stop_job("dlogs", work.path());
    agent.eventually(
        "no container of the allocation",
        Duration::from_secs(60),
        || containers_of_alloc(&alloc_id).is_empty(),
    );
    // Nomad stops docker tasks with SIGTERM unless they name their kill_signal.
    let alloc = wait_for_client_status(&agent, &alloc_id, "complete");
    let events = alloc["TaskStates"]["t"]["Events"].as_array().unwrap();
    let killing = events.iter().find(|e| e["Type"] == "Killing").unwrap();
    let message = killing["DisplayMessage"].as_str().unwrap();
    assert!(message.starts_with("Sent SIGTERM."), "{message}");
}

#[test]
fn a_docker_task_beyond_its_memory_limit_is_oom_killed() {
    require_docker!();
    let agent = dev_agent(DOCKER_PLUGIN);
    let work = tempfile::tempdir().unwrap();
    // dd holds a buffer of its block size: 256 MB does not fit in 32.
    let job = docker_job(
        "doom",
        "batch",
        "",
        "      resources {\n        memory = 32\n      }",
        r#"        command = "/bin/dd"
        args    = ["if=/dev/zero", "of=/dev/null", "bs=256M", "count=4"]"#,
    );
    let alloc_id = agent.run_job(work.path(), "doom.nomad", &job, &[], "doom");
    let _cleanup = ContainerCleanup(alloc_id.clone());
    let alloc = wait_for_client_status(&agent, &alloc_id, "failed");
    let events = alloc["TaskStates"]["t"]["Events"].as_array().unwrap();
    let terminated = events
        .iter()
        .find(|e| e["Type"] == "Terminated")
        .unwrap_or_else(|| panic!("{events:#?}"));
    assert_eq!(
        terminated["Details"]["oom_killed"], "true",
        "{terminated:#}"
    );
    assert_eq!(terminated["ExitCode"], 137, "{terminated:#}");
}

/// An HTTP GET of `/` on `127.0.0.1:port`: the response, or why there is none.
fn http_get(host: &str, port: u64) -> Result<String, String> {
    let mut stream = TcpStream::connect((host, port as u16)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(b"GET / HTTP/1.0\r\nHost: test\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|e| e.to_string())?;
    Ok(response)
}

#[test]
fn a_docker_task_is_reached_through_its_mapped_dynamic_port() {
    require_docker!();
    let agent = dev_agent(DOCKER_PLUGIN);
    let work = tempfile::tempdir().unwrap();
    let job = docker_job(
        "dport",
        "service",
        "    network {\n      port \"http\" {\n        to = 8080\n      }\n    }",
        "",
        r#"        ports   = ["http"]
        command = "/bin/sh"
        args    = ["-c", "echo served-from-docker > /www/index.html; exec httpd -f -p 8080 -h /www"]"#,
    );
    let alloc_id = agent.run_job(work.path(), "dport.nomad", &job, &[], "dport");
    let _cleanup = ContainerCleanup(alloc_id.clone());
    let alloc = wait_for_client_status(&agent, &alloc_id, "running");
    let port = &alloc["AllocatedResources"]["Shared"]["Ports"][0];
    assert_eq!(port["To"], 8080, "{port}");
    let host_port = port["Value"].as_u64().unwrap();
    let host_ip = port["HostIP"].as_str().unwrap_or("127.0.0.1").to_string();
    let mut last = String::new();
    agent.eventually(
        "the page through the mapped port",
        Duration::from_secs(30),
        || {
            last = http_get(&host_ip, host_port).unwrap_or_else(|e| e);
            last.contains("served-from-docker")
        },
    );
    agent.stop_job("dport", work.path());
}

#[test]
fn a_docker_task_reads_but_cannot_write_a_read_only_host_directory() {
    require_docker!();
    let agent = dev_agent(DOCKER_PLUGIN);
    let work = tempfile::tempdir().unwrap();
    let host_dir = tempfile::tempdir().unwrap();
    std::fs::write(host_dir.path().join("greeting.txt"), "read from the host\n").unwrap();
    let job = docker_job(
        "dvol",
        "batch",
        "",
        "",
        &format!(
            r#"        volumes = ["{}:/data:ro"]
        command = "/bin/sh"
        args    = ["-c", "cat /data/greeting.txt; if touch /data/written 2>/dev/null; then echo write-succeeded; else echo write-refused; fi"]"#,
            host_dir.path().display()
        ),
    );
    let alloc_id = agent.run_job(work.path(), "dvol.nomad", &job, &[], "dvol");
    let _cleanup = ContainerCleanup(alloc_id.clone());
    wait_for_client_status(&agent, &alloc_id, "complete");
    assert_eq!(
        logs(&agent, work.path(), &alloc_id, false),
        "read from the host\nwrite-refused\n"
    );
    assert!(!host_dir.path().join("written").exists());
}

#[test]
fn a_docker_task_is_reattached_after_its_client_is_killed() {
    require_docker!();
    let Cluster {
        server,
        mut clients,
    } = Cluster::start(SERVER_CONFIG, 1, |server, _| {
        client_config(server.rpc_port, "", DOCKER_PLUGIN)
    });
    let work = tempfile::tempdir().unwrap();
    let job = docker_job(
        "dre",
        "service",
        "",
        "",
        r#"        command = "/bin/sh"
        args    = ["-c", "trap 'echo got USR1' USR1; i=0; while true; do i=$((i+1)); echo line $i; sleep 1; done"]"#,
    );
    let alloc_id = server.run_job(work.path(), "dre.nomad", &job, &[], "dre");
    let _cleanup = ContainerCleanup(alloc_id.clone());
    wait_for_log(&server, work.path(), &alloc_id, "line 2\n");
    let before = containers_of_alloc(&alloc_id);
    assert_eq!(before.len(), 1);

    clients[0].kill9();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        containers_of_alloc(&alloc_id),
        before,
        "the container outlives its client"
    );
    clients[0].spawn(&[]);

    // Lines written while no client ran, and after, arrive once each, in order.
    let log = wait_for_log(&server, work.path(), &alloc_id, "line 8\n");
    let lines: Vec<&str> = log.lines().filter(|l| l.starts_with("line ")).collect();
    let expected: Vec<String> = (1..=lines.len()).map(|i| format!("line {i}")).collect();
    assert_eq!(lines, expected, "{log}");
    assert_eq!(
        containers_of_alloc(&alloc_id),
        before,
        "the same container runs on"
    );
    let status = stdout(&server.cli(&["alloc", "status", &alloc_id], work.path()));
    assert!(status.contains("Client Status       = running"), "{status}");
    // The re-attached container takes signals.
    let signal = server.cli(
        &["alloc", "signal", "-s", "SIGUSR1", &alloc_id],
        work.path(),
    );
    assert!(
        signal.status.success(),
        "{}{}",
        stdout(&signal),
        stderr(&signal)
    );
    wait_for_log(&server, work.path(), &alloc_id, "got USR1\n");

    server.stop_job("dre", work.path());
    server.eventually(
        "no container of the allocation",
        Duration::from_secs(60),
        || containers_of_alloc(&alloc_id).is_empty(),
    );
}

#[test]
fn an_unreachable_daemon_leaves_docker_unhealthy_and_unplaceable() {
    let agent = dev_agent(
        r#"
plugin "docker" {
  config {
    endpoint = "unix:///nonexistent.sock"
  }
}
"#,
    );
    let work = tempfile::tempdir().unwrap();
    let node = agent
        .get_json(&format!("/v1/node/{}", agent.node_id().as_str()))
        .unwrap();
    let docker = &node["Drivers"]["docker"];
    assert_eq!(
        (docker["Detected"].clone(), docker["Healthy"].clone()),
        (false.into(), false.into())
    );
    let description = docker["HealthDescription"].as_str().unwrap();
    assert!(
        description.contains("Failed to connect to docker daemon")
            && description.contains("/nonexistent.sock"),
        "{description}"
    );
    write(
        work.path(),
        "dnone.nomad",
        &docker_job("dnone", "batch", "", "", "        command = \"/bin/true\""),
    );
    let run = agent.cli(&["job", "run", "dnone.nomad"], work.path());
    let out = stdout(&run);
    assert!(
        out.contains("failed to place all allocations")
            && out.contains("Constraint \"missing drivers\" filtered 1 nodes"),
        "{out}{}",
        stderr(&run)
    );
}

#[test]
fn a_missing_image_and_a_refused_privileged_task_fail_with_clear_events() {
    require_docker!();
    let agent = dev_agent(DOCKER_PLUGIN);
    let work = tempfile::tempdir().unwrap();
    let missing = docker_job(
        "dmissing",
        "batch",
        "",
        "",
        "        command = \"/bin/true\"",
    )
    .replace(TEST_IMAGE, "caravan-test/does-not-exist:9");
    let alloc_id = agent.run_job(work.path(), "dmissing.nomad", &missing, &[], "dmissing");
    let alloc = wait_for_client_status(&agent, &alloc_id, "failed");
    let events = alloc["TaskStates"]["t"]["Events"].as_array().unwrap();
    let types = event_types(&alloc["TaskStates"]["t"]);
    assert!(types.contains(&"Driver".to_string()), "{types:?}");
    let downloading = events.iter().find(|e| e["Type"] == "Driver").unwrap();
    assert_eq!(downloading["DisplayMessage"], "Downloading image");
    let failure = events
        .iter()
        .find(|e| e["Type"] == "Driver Failure")
        .unwrap();
    let message = failure["DisplayMessage"].as_str().unwrap();
    assert!(
        message.starts_with("Failed to pull `caravan-test/does-not-exist:9`: "),
        "{message}"
    );

    let privileged = docker_job(
        "dpriv",
        "batch",
        "",
        "",
        "        command = \"/bin/true\"\n        privileged = true",
    );
    let alloc_id = agent.run_job(work.path(), "dpriv.nomad", &privileged, &[], "dpriv");
    let alloc = wait_for_client_status(&agent, &alloc_id, "failed");
    let events = alloc["TaskStates"]["t"]["Events"].as_array().unwrap();
    let failure = events
        .iter()
        .find(|e| e["Type"] == "Driver Failure")
        .unwrap();
    let message = failure["DisplayMessage"].as_str().unwrap();
    assert!(
        message.contains("Docker privileged mode is disabled on this Nomad agent"),
        "{message}"
    );
    assert!(containers_of_alloc(&alloc_id).is_empty());
}

#[test]
fn a_daemon_that_comes_back_is_noticed_and_waiting_work_placed() {
    require_docker!();
    let sockets = tempfile::tempdir().unwrap();
    let socket = sockets.path().join("docker.sock");
    let agent = dev_agent(&format!(
        "plugin \"docker\" {{\n  config {{\n    endpoint = \"unix://{}\"\n    gc {{\n      image = false\n    }}\n  }}\n}}\n",
        socket.display()
    ));
    let work = tempfile::tempdir().unwrap();
    let node_path = format!("/v1/node/{}", agent.node_id().as_str());
    let node = agent.get_json(&node_path).unwrap();
    assert_eq!(node["Drivers"]["docker"]["Healthy"], false);
    write(
        work.path(),
        "dlater.nomad",
        &docker_job("dlater", "batch", "", "", "        command = \"/bin/true\""),
    );
    let run = agent.cli(&["job", "run", "-detach", "dlater.nomad"], work.path());
    assert!(run.status.success(), "{}{}", stdout(&run), stderr(&run));
    assert!(agent.allocations("dlater").is_empty());

    // The daemon "comes back" where the plugin looks for it.
    std::os::unix::fs::symlink("/var/run/docker.sock", &socket).unwrap();
    agent.eventually("docker healthy again", Duration::from_secs(60), || {
        agent.get_json(&node_path).is_ok_and(|node| {
            node["Drivers"]["docker"]["Healthy"] == true
                && node["Attributes"]["driver.docker"] == "1"
        })
    });
    agent.eventually(
        "the waiting job placed and run",
        Duration::from_secs(60),
        || {
            agent
                .allocations("dlater")
                .first()
                .is_some_and(|a| a["ClientStatus"] == "complete")
        },
    );
    if let Some(alloc) = agent.allocations("dlater").first() {
        remove_containers_of_alloc(alloc["ID"].as_str().unwrap_or_default());
    }
}

#[test]
fn an_image_no_task_uses_any_more_is_removed_after_its_delay() {
    require_docker!();
    // An image of its own (its own ID, not a second tag of the shared one): no other
    // test's container keeps it in use, and removing it leaves the shared image alone.
    let image = format!("caravan-test/docker-driver-gc:{}", std::process::id());
    caravan_testkit::docker::import_image(&image).unwrap();
    let agent = dev_agent(
        "plugin \"docker\" {\n  config {\n    gc {\n      image       = true\n      image_delay = \"1s\"\n    }\n  }\n}\n",
    );
    let work = tempfile::tempdir().unwrap();
    let job = docker_job("dgc", "batch", "", "", "        command = \"/bin/true\"")
        .replace(TEST_IMAGE, &image);
    let alloc_id = agent.run_job(work.path(), "dgc.nomad", &job, &[], "dgc");
    let _cleanup = ContainerCleanup(alloc_id.clone());
    wait_for_client_status(&agent, &alloc_id, "complete");
    let image_present = || {
        std::process::Command::new("docker")
            .args(["image", "inspect", &image])
            .output()
            .is_ok_and(|out| out.status.success())
    };
    agent.eventually("the unused image removed", Duration::from_secs(30), || {
        !image_present()
    });
    assert!(
        std::process::Command::new("docker")
            .args(["image", "inspect", TEST_IMAGE])
            .output()
            .is_ok_and(|out| out.status.success())
    );
}

#[test]
fn a_docker_tasks_output_rotates_per_its_logs_block() {
    require_docker!();
    let agent = dev_agent(DOCKER_PLUGIN);
    let work = tempfile::tempdir().unwrap();
    // 400,000 numbered lines: about 2.7 MB through files of 1 MB, two kept.
    let job = docker_job(
        "drotate",
        "batch",
        "",
        r#"      logs {
        max_files     = 2
        max_file_size = 1
      }"#,
        r#"        command = "/bin/seq"
        args    = ["1", "400000"]"#,
    );
    let alloc_id = agent.run_job(work.path(), "drotate.nomad", &job, &[], "drotate");
    let _cleanup = ContainerCleanup(alloc_id.clone());
    wait_for_client_status(&agent, &alloc_id, "complete");
    let dir = agent
        .data_dir()
        .join("alloc")
        .join(&alloc_id)
        .join("alloc/logs");
    let mut files: Vec<(u64, u64)> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|entry| {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            let index = name.strip_prefix("t.stdout.")?.parse().ok()?;
            Some((index, entry.metadata().unwrap().len()))
        })
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "two files kept: {files:?}");
    assert!(files[0].0 >= 1, "older files were rotated away: {files:?}");
    assert!(
        files.iter().all(|(_, size)| *size <= 1024 * 1024),
        "no file beyond max_file_size: {files:?}"
    );
    let tail = stdout(&agent.cli(
        &["alloc", "logs", "-tail", "-n", "2", &alloc_id, "t"],
        work.path(),
    ));
    assert_eq!(tail, "399999\n400000\n");
}
