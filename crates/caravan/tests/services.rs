//! Nomad-native services (`provider = "nomad"`) end to end on a dev agent: registrations
//! in the catalogue, the `service` commands, checks and `check_restart`, and templates
//! that list another job's instances and restart their task when those change.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;

const WAIT: Duration = Duration::from_secs(60);

/// A service job `name` of `count` raw_exec Python HTTP servers on their allocated
/// port `http`, registered as service `name` with `service_extra` inside the block.
fn backend_job(name: &str, count: i64, service_extra: &str) -> String {
    format!(
        r#"job "{name}" {{
  datacenters = ["dc1"]
  group "g" {{
    count = {count}
    update {{
      min_healthy_time = "1s"
    }}
    network {{
      port "http" {{}}
    }}
    service {{
      name     = "{name}"
      provider = "nomad"
      port     = "http"
      tags     = ["web", "v1"]
{service_extra}
    }}
    task "server" {{
      driver = "raw_exec"
      config {{
        command = "/usr/bin/python3"
        args    = ["-m", "http.server", "${{NOMAD_PORT_http}}", "--bind", "127.0.0.1"]
      }}
      resources {{
        cpu    = 20
        memory = 64
      }}
    }}
  }}
}}
"#
    )
}

/// The registrations of service `name`, as the API answers them.
fn registrations(agent: &Agent, name: &str) -> Vec<serde_json::Value> {
    agent
        .get_json(&format!("/v1/service/{name}"))
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
}

fn wait_for_registrations(agent: &Agent, name: &str, count: usize) -> Vec<serde_json::Value> {
    agent.eventually(&format!("{count} registrations of {name}"), WAIT, || {
        registrations(agent, name).len() == count
    });
    registrations(agent, name)
}

fn events(agent: &Agent, alloc_id: &str, task: &str) -> Vec<(String, String)> {
    agent.task_state(alloc_id, task)["Events"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| {
            (
                e["Type"].as_str().unwrap_or_default().to_string(),
                e["DisplayMessage"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn run(agent: &Agent, dir: &Path, file: &str, text: &str) {
    write(dir, file, text);
    succeeded(&agent.cli(&["job", "run", "-detach", file], dir));
}

#[test]
fn a_template_follows_another_jobs_instances_and_restarts_its_task() {
    let agent = DevAgent::start();
    let work = tempfile::tempdir().expect("temp dir");
    run(
        &agent,
        work.path(),
        "backend.nomad",
        &backend_job("backend", 1, ""),
    );
    wait_for_registrations(&agent, "backend", 1);

    let frontend = r#"job "frontend" {
  datacenters = ["dc1"]
  group "g" {
    task "app" {
      driver = "raw_exec"
      config {
        command = "/bin/sleep"
        args    = ["600"]
      }
      template {
        data        = "{{ range nomadService \"backend\" }}{{ .Address }}:{{ .Port }}\n{{ end }}"
        destination = "local/backends.txt"
        change_mode = "restart"
        splay       = "100ms"
      }
      resources {
        cpu    = 20
        memory = 32
      }
    }
  }
}
"#;
    run(&agent, work.path(), "frontend.nomad", frontend);
    // A second reader is signalled instead (sleep ignores SIGWINCH).
    let signalled = frontend
        .replace("job \"frontend\"", "job \"signalled\"")
        .replace(
            "change_mode = \"restart\"",
            "change_mode = \"signal\"\n        change_signal = \"SIGWINCH\"",
        );
    run(&agent, work.path(), "signalled.nomad", &signalled);
    let signalled_alloc = agent.wait_for_alloc_status("signalled", &["running"], "run", WAIT);
    let signalled_alloc = signalled_alloc["ID"]
        .as_str()
        .expect("alloc ID")
        .to_string();
    let alloc = agent.wait_for_alloc_status("frontend", &["running"], "run", WAIT);
    let alloc_id = alloc["ID"].as_str().expect("alloc ID").to_string();
    let rendered = || {
        stdout(&agent.cli(
            &["alloc", "fs", &alloc_id, "app/local/backends.txt"],
            work.path(),
        ))
    };
    let first = rendered();
    assert_eq!(first.lines().count(), 1, "{first}");
    assert!(first.starts_with("127.0.0.1:"), "{first}");

    // Scaled from 1 to 3 (once its first deployment is done: Nomad does not scale a job
    // mid-deployment): the file lists 3 instances and the task restarts.
    agent.wait_for_deployment("backend");
    succeeded(&agent.cli(&["job", "scale", "-detach", "backend", "3"], work.path()));
    let instances = wait_for_registrations(&agent, "backend", 3);
    agent.eventually("the template to list 3 instances", WAIT, || {
        rendered().lines().count() == 3
    });
    let mut listed: Vec<String> = rendered().lines().map(str::to_string).collect();
    let mut registered: Vec<String> = instances
        .iter()
        .map(|r| {
            format!(
                "{}:{}",
                r["Address"].as_str().unwrap_or_default(),
                r["Port"]
            )
        })
        .collect();
    listed.sort();
    registered.sort();
    assert_eq!(listed, registered);
    agent.eventually("the restart the template asked for", WAIT, || {
        let state = agent.task_state(&alloc_id, "app");
        state["State"] == "running" && state["Restarts"].as_u64() >= Some(1)
    });
    let restarted = events(&agent, &alloc_id, "app");
    assert!(
        restarted.iter().any(|(kind, message)| {
            kind == "Restart Signaled" && message == "Template with change_mode restart re-rendered"
        }),
        "{restarted:?}"
    );

    agent.eventually("the signal the other template asked for", WAIT, || {
        events(&agent, &signalled_alloc, "app")
            .iter()
            .any(|(kind, message)| kind == "Signaling" && message == "Template re-rendered")
    });
    let state = agent.task_state(&signalled_alloc, "app");
    assert_eq!(state["State"], "running");
    assert_eq!(state["Restarts"], 0, "a signalled task is not restarted");

    agent.stop_job("signalled", work.path());
    agent.stop_job("frontend", work.path());
    agent.stop_job("backend", work.path());
    wait_for_registrations(&agent, "backend", 0);
}

#[test]
fn service_commands_list_show_and_delete_registrations() {
    let agent = DevAgent::start();
    let work = tempfile::tempdir().expect("temp dir");
    run(&agent, work.path(), "api.nomad", &backend_job("api", 1, ""));
    let registration = wait_for_registrations(&agent, "api", 1).remove(0);
    let id = registration["ID"].as_str().expect("an ID").to_string();
    let alloc_id = registration["AllocID"]
        .as_str()
        .expect("an alloc ID")
        .to_string();
    assert_eq!(registration["ServiceName"], "api");
    assert_eq!(registration["Namespace"], "default");
    assert_eq!(registration["JobID"], "api");
    assert_eq!(registration["Datacenter"], "dc1");
    assert_eq!(registration["Address"], "127.0.0.1");
    assert!(registration["Port"].as_u64().is_some_and(|p| p > 0));
    assert!(
        id.starts_with(&format!("_nomad-task-{alloc_id}-group-g-api-http")),
        "{id}"
    );

    let by_job = agent
        .get_json("/v1/job/api/services")
        .expect("the job's services");
    assert_eq!(by_job.as_array().map(Vec::len), Some(1), "{by_job}");
    assert_eq!(by_job[0]["ID"], id.as_str());
    let (status, text) = agent.send_json(
        Method::Get,
        "/v1/job/nope/services",
        &serde_json::Value::Null,
    );
    assert_eq!((status, text.trim()), (404, "job not found"));

    let list = succeeded(&agent.cli(&["service", "list"], work.path()));
    assert_eq!(list, "Service Name  Tags\napi           [v1,web]\n");
    let all = succeeded(&agent.cli(&["service", "list", "-namespace=*"], work.path()));
    assert_eq!(
        all,
        "Service Name  Namespace  Tags\napi           default    [v1,web]\n"
    );

    let info = succeeded(&agent.cli(&["service", "info", "api"], work.path()));
    let address = format!("127.0.0.1:{}", registration["Port"]);
    let lines: Vec<&str> = info.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["Job", "ID", "Address", "Tags", "Node", "ID", "Alloc", "ID"]
    );
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        [
            "api",
            address.as_str(),
            "[web,v1]",
            &agent.node_id().as_str()[..8],
            &alloc_id[..8]
        ]
    );
    let verbose = succeeded(&agent.cli(&["service", "info", "-verbose", "api"], work.path()));
    assert!(
        verbose.contains(&format!("ID           = {id}\n")),
        "{verbose}"
    );
    assert!(
        verbose.contains(&format!("Alloc ID     = {alloc_id}\n")),
        "{verbose}"
    );

    let usage = agent.cli(&["service", "delete", "api"], work.path());
    assert_eq!(usage.status.code(), Some(1));
    assert!(
        stderr(&usage)
            .starts_with("This command takes two arguments: <service_name> and <service_id>")
    );
    let delete = succeeded(&agent.cli(&["service", "delete", "api", &id], work.path()));
    assert_eq!(delete, "Successfully deleted service registration\n");
    let none = succeeded(&agent.cli(&["service", "info", "api"], work.path()));
    assert_eq!(none, "No service registrations found\n");
    let again = agent.cli(&["service", "delete", "api", &id], work.path());
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).starts_with("Error deleting service registration: "),
        "{}",
        stderr(&again)
    );
    agent.stop_job("api", work.path());
}

#[test]
fn checks_are_reported_and_a_failing_one_restarts_its_task() {
    let agent = DevAgent::start();
    let work = tempfile::tempdir().expect("temp dir");
    let checks = r#"      check {
        name     = "alive"
        type     = "tcp"
        interval = "1s"
        timeout  = "1s"
      }
      check {
        name     = "ready"
        type     = "http"
        path     = "/missing"
        interval = "1s"
        timeout  = "1s"
        check_restart {
          limit = 2
          grace = "1s"
        }
      }"#;
    run(
        &agent,
        work.path(),
        "checked.nomad",
        &backend_job("checked", 1, checks),
    );
    let alloc = agent.wait_for_alloc_status("checked", &["running"], "run", WAIT);
    let alloc_id = alloc["ID"].as_str().expect("alloc ID").to_string();
    let path = format!("/v1/client/allocation/{alloc_id}/checks");
    // The server takes a moment to listen: the tcp check passes once it does. (The
    // failing one restarts the task, and each start begins pending: the answer is
    // kept from the moment both stood as expected.)
    let mut results = serde_json::Value::Null;
    agent.eventually(
        "the tcp check to pass and the http one to fail",
        WAIT,
        || {
            let Ok(answer) = agent.get_json(&path) else {
                return false;
            };
            // The http check fails by connection until the server listens, by its
            // 404 after.
            let statuses: Vec<String> = answer
                .as_object()
                .into_iter()
                .flat_map(|map| map.values())
                .map(|r| format!("{} {} {}", r["Check"], r["Status"], r["StatusCode"]))
                .collect();
            let expected = statuses.len() == 2
                && statuses.contains(&"\"alive\" \"success\" 0".to_string())
                && statuses.contains(&"\"ready\" \"failure\" 404".to_string());
            if expected {
                results = answer;
            }
            expected
        },
    );
    let by_name = |name: &str| {
        results
            .as_object()
            .and_then(|map| map.values().find(|r| r["Check"] == name).cloned())
            .unwrap_or_else(|| panic!("no result for {name}: {results}"))
    };
    let alive = by_name("alive");
    assert_eq!(alive["Status"], "success");
    assert_eq!(alive["Output"], "nomad: tcp ok");
    assert_eq!(alive["Mode"], "healthiness");
    assert_eq!(alive["Service"], "checked");
    assert_eq!(alive["Group"], "checked.g[0]");
    assert_eq!(alive["Task"], "");
    let id = alive["ID"].as_str().expect("an ID");
    assert_eq!(results[id]["ID"], id, "results are keyed by check ID");
    assert!(alive["Timestamp"].as_i64().is_some_and(|t| t > 0));
    let ready = by_name("ready");
    assert_eq!(ready["Status"], "failure");
    assert_eq!(ready["StatusCode"], 404);

    // Each block is aligned on its own keys (an http result adds StatusCode). The
    // task restarts now and then (check_restart): each start begins pending, so the
    // command is asked until it shows both results again.
    let expected: [&[&str]; 7] = [
        &["Status", "of", "2", "Nomad", "Service", "Checks"],
        &["Name", "=", "alive"],
        &["Group", "=", "checked.g[0]"],
        &["Task", "=", "(group)"],
        &["Service", "=", "checked"],
        &["StatusCode", "=", "404"],
        &["Output", "=", "nomad:", "tcp", "ok"],
    ];
    let mut cli = String::new();
    agent.eventually("alloc checks to show both results", WAIT, || {
        cli = succeeded(&agent.cli(&["alloc", "checks", &alloc_id[..8]], work.path()));
        let words: Vec<Vec<&str>> = cli
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        expected.iter().all(|line| words.iter().any(|w| w == line))
    });
    assert!(
        cli.starts_with("Status of 2 Nomad Service Checks\n\nID "),
        "{cli}"
    );

    agent.eventually("check_restart to restart the task", WAIT, || {
        events(&agent, &alloc_id, "server")
            .iter()
            .any(|(kind, message)| {
                kind == "Restart Signaled" && message == "healthcheck: check \"ready\" unhealthy"
            })
    });
    agent.stop_job("checked", work.path());
}

#[test]
fn services_on_ports_the_group_does_not_define_are_refused() {
    let agent = DevAgent::start();
    let work = tempfile::tempdir().expect("temp dir");
    let bad = backend_job("bad", 1, "").replace("port     = \"http\"", "port     = \"nope\"");
    write(work.path(), "bad.nomad", &bad);
    let run = agent.cli(&["job", "run", "bad.nomad"], work.path());
    assert_eq!(run.status.code(), Some(1));
    assert!(
        stderr(&run).contains("port label \"nope\" referenced by services bad does not exist"),
        "{}",
        stderr(&run)
    );
    let grpc = backend_job(
        "grpc",
        1,
        "      check {\n        type     = \"grpc\"\n        interval = \"1s\"\n        timeout  = \"1s\"\n      }",
    );
    write(work.path(), "grpc.nomad", &grpc);
    let run = agent.cli(&["job", "run", "grpc.nomad"], work.path());
    assert_eq!(run.status.code(), Some(1));
    assert!(
        stderr(&run).contains("invalid check type (\"grpc\"), must be one of http, tcp, script"),
        "{}",
        stderr(&run)
    );
    assert!(agent.allocations("bad").is_empty() && agent.allocations("grpc").is_empty());
}

/// A client agent apart from its server: it registers through the RPC port, its
/// templates read the catalogue there, and the server forwards checks queries to it.
#[test]
fn a_client_agent_registers_checks_and_reads_services_through_its_server() {
    let cluster = Cluster::start(SERVER_CONFIG, 1, |server, n| {
        workshop_client_config(server.rpc_port, n, true)
    });
    cluster.wait_for_raw_exec(1, WAIT);
    let server = &cluster.server;
    let work = tempfile::tempdir().expect("temp dir");
    let script = r#"      check {
        name     = "script"
        type     = "script"
        task     = "server"
        command  = "/bin/sh"
        args     = ["-c", "echo fine"]
        interval = "1s"
        timeout  = "5s"
      }"#;
    run(
        server,
        work.path(),
        "remote.nomad",
        &backend_job("remote", 1, script),
    );
    let registration = wait_for_registrations(server, "remote", 1).remove(0);
    let alloc_id = registration["AllocID"]
        .as_str()
        .expect("an alloc ID")
        .to_string();
    assert_eq!(
        registration["NodeID"],
        cluster.clients[0].node_id().as_str()
    );

    let path = format!("/v1/client/allocation/{alloc_id}/checks");
    server.eventually(
        "the script check to pass, asked through the server",
        WAIT,
        || {
            server.get_json(&path).is_ok_and(|results| {
                results.as_object().is_some_and(|map| {
                    map.values().any(|r| {
                        r["Check"] == "script"
                            && r["Status"] == "success"
                            && r["Output"] == "fine\n"
                    })
                })
            })
        },
    );

    let reader = r#"job "reader" {
  datacenters = ["dc1"]
  group "g" {
    task "app" {
      driver = "raw_exec"
      config {
        command = "/bin/sleep"
        args    = ["600"]
      }
      template {
        data        = "{{ range nomadService \"remote\" }}{{ .Port }}{{ end }}"
        destination = "local/port.txt"
      }
      template {
        data        = "{{ range nomadServices }}{{ .Name }}={{ join \",\" .Tags }}\n{{ end }}"
        destination = "local/services.txt"
      }
    }
  }
}
"#;
    run(server, work.path(), "reader.nomad", reader);
    let alloc = server.wait_for_alloc_status("reader", &["running"], "run", WAIT);
    let reader_alloc = alloc["ID"].as_str().expect("alloc ID");
    let port = stdout(&server.cli(
        &["alloc", "fs", reader_alloc, "app/local/port.txt"],
        work.path(),
    ));
    assert_eq!(port, registration["Port"].to_string());
    let services = stdout(&server.cli(
        &["alloc", "fs", reader_alloc, "app/local/services.txt"],
        work.path(),
    ));
    assert_eq!(services, "remote=v1,web\n");

    server.stop_job("reader", work.path());
    server.stop_job("remote", work.path());
    wait_for_registrations(server, "remote", 0);
}

/// A client agent restarted under running tasks re-attaches to them and watches their
/// templates again: a change after the restart still re-renders and restarts.
#[test]
fn a_restarted_client_agent_watches_its_templates_again() {
    let mut cluster = Cluster::start(SERVER_CONFIG, 1, |server, n| {
        workshop_client_config(server.rpc_port, n, true)
    });
    cluster.wait_for_raw_exec(1, WAIT);
    let work = tempfile::tempdir().expect("temp dir");
    let server = &cluster.server;
    run(
        server,
        work.path(),
        "pool.nomad",
        &backend_job("pool", 1, ""),
    );
    wait_for_registrations(server, "pool", 1);
    let reader = r#"job "watcher" {
  datacenters = ["dc1"]
  group "g" {
    task "app" {
      driver = "raw_exec"
      config {
        command = "/bin/sleep"
        args    = ["600"]
      }
      template {
        data        = "{{ range nomadService \"pool\" }}{{ .Port }}\n{{ end }}"
        destination = "local/pool.txt"
        splay       = "100ms"
      }
    }
  }
}
"#;
    run(server, work.path(), "watcher.nomad", reader);
    let alloc = server.wait_for_alloc_status("watcher", &["running"], "run", WAIT);
    let alloc_id = alloc["ID"].as_str().expect("alloc ID").to_string();
    let lines = |server: &Agent| {
        stdout(&server.cli(
            &["alloc", "fs", &alloc_id, "app/local/pool.txt"],
            work.path(),
        ))
        .lines()
        .count()
    };
    assert_eq!(lines(server), 1);

    let config = workshop_client_config(cluster.server.rpc_port, 1, true);
    let client = &mut cluster.clients[0];
    client.stop();
    client.set_config(&config);
    client.spawn(&[]);
    let server = &cluster.server;
    server.wait_for_ready_nodes(1);

    run(
        server,
        work.path(),
        "pool.nomad",
        &backend_job("pool", 2, ""),
    );
    wait_for_registrations(server, "pool", 2);
    server.eventually(
        "the re-attached task's template to list 2 instances",
        WAIT,
        || lines(server) == 2,
    );
    server.eventually("the restart it asked for", WAIT, || {
        let state = server.task_state(&alloc_id, "app");
        state["State"] == "running" && state["Restarts"].as_u64() >= Some(1)
    });
    server.stop_job("watcher", work.path());
    server.stop_job("pool", work.path());
    wait_for_registrations(server, "pool", 0);
}
