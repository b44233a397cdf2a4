//! End to end: a group's `network` ports are reserved on the node by the scheduler, shown
//! in the allocation (`AllocatedResources.Shared.Ports`), handed to the task as
//! `NOMAD_PORT_<label>` & co, interpolated in its config, and a static port already held
//! by another job's allocation makes `job run` explain the collision.

mod common;

use std::time::Duration;

use common::*;

/// The allocations of `job` once `count` of them run and each has logged a line.
fn running_with_logs(
    agent: &DevAgent,
    work: &std::path::Path,
    job: &str,
    count: usize,
) -> Vec<(serde_json::Value, String)> {
    let mut found = Vec::new();
    agent.eventually(
        &format!("{count} running allocations of {job} with logs"),
        Duration::from_secs(30),
        || {
            let allocs: Vec<serde_json::Value> = agent
                .allocations(job)
                .into_iter()
                .filter(|a| a["ClientStatus"] == "running")
                .collect();
            if allocs.len() != count {
                return false;
            }
            found.clear();
            for alloc in allocs {
                let id = alloc["ID"].as_str().unwrap_or_default().to_string();
                let log = stdout(&agent.cli(&["alloc", "logs", &id], work));
                if !log.ends_with('\n') {
                    return false;
                }
                // The list is a stub: read the allocation itself for its resources.
                let Ok(full) = agent.read(|api| api.allocation(&id)) else {
                    return false;
                };
                found.push((full, log));
            }
            true
        },
    );
    found
}

/// `key=value` pairs of one log line.
fn fields(log: &str) -> std::collections::BTreeMap<String, String> {
    log.split_whitespace()
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn ports_reach_the_task_and_a_static_collision_is_explained() {
    let agent = DevAgent::start();
    let work = tempfile::tempdir().unwrap();
    let node = agent.read(|api| api.nodes("")).unwrap()[0].clone();
    let node_ip = node["Address"].as_str().unwrap().to_string();
    assert!(!node_ip.is_empty(), "the node has an address: {node}");

    // Two copies on the one node: each gets its own dynamic port. The `env` value and
    // the single-quoted argument (which sh does not expand) show the client's own
    // interpolation; `$NOMAD_*` are read by sh from the environment.
    write(
        work.path(),
        "web.nomad",
        r#"job "web" {
  datacenters = ["dc1"]
  # job run waits for the deployment: keep it short.
  update {
    min_healthy_time = "1s"
  }
  group "web" {
    count = 2
    network {
      port "http" {}
    }
    task "server" {
      driver = "raw_exec"
      env {
        LISTEN = "${NOMAD_ADDR_http}"
      }
      config {
        command = "/bin/sh"
        args = [
          "-c",
          "echo port=$NOMAD_PORT_http addr=$NOMAD_ADDR_http host_port=$NOMAD_HOST_PORT_http ip=$NOMAD_IP_http host_ip=$NOMAD_HOST_IP_http host_addr=$NOMAD_HOST_ADDR_http alloc_port=$NOMAD_ALLOC_PORT_http listen=$LISTEN 'arg=${NOMAD_PORT_http}'; exec sleep 600",
        ]
      }
      resources {
        cpu    = 20
        memory = 20
      }
    }
  }
}
"#,
    );
    let run = agent.cli(&["job", "run", "web.nomad"], work.path());
    assert!(
        run.status.success(),
        "job run failed:\n{}{}",
        stdout(&run),
        stderr(&run)
    );

    let allocs = running_with_logs(&agent, work.path(), "web", 2);
    let mut ports = Vec::new();
    for (alloc, log) in &allocs {
        let shared = &alloc["AllocatedResources"]["Shared"];
        let mapping = &shared["Ports"][0];
        assert_eq!(mapping["Label"], "http", "{shared}");
        assert_eq!(mapping["HostIP"], node_ip.as_str(), "{shared}");
        let port = mapping["Value"].as_i64().unwrap();
        assert!((20_000..=32_000).contains(&port), "{shared}");
        assert_eq!(shared["Networks"][0]["IP"], node_ip.as_str(), "{shared}");
        assert_eq!(shared["Networks"][0]["DynamicPorts"][0]["Value"], port);

        let addr = format!("{node_ip}:{port}");
        let got = fields(log);
        let want = [
            ("port", port.to_string()),
            ("host_port", port.to_string()),
            ("alloc_port", port.to_string()),
            ("arg", port.to_string()),
            ("ip", node_ip.clone()),
            ("host_ip", node_ip.clone()),
            ("addr", addr.clone()),
            ("host_addr", addr.clone()),
            ("listen", addr.clone()),
        ];
        for (key, value) in want {
            assert_eq!(got.get(key), Some(&value), "{key} in {log:?}");
        }
        ports.push(port);
    }
    assert_ne!(
        ports[0], ports[1],
        "two allocations on one node share a port"
    );

    // A static port held by a running allocation of one job...
    let static_port = 20_000 + i64::from(free_port()) % 10_000;
    let static_job = |name: &str| {
        format!(
            r#"job "{name}" {{
  datacenters = ["dc1"]
  # No deployment (Nomad: max_parallel = 0), so that job run ends with the
  # evaluation and an unplaceable job exits 2 instead of waiting for one.
  update {{
    max_parallel = 0
  }}
  group "g" {{
    network {{
      port "admin" {{
        static = {static_port}
      }}
    }}
    task "t" {{
      driver = "raw_exec"
      config {{
        command = "/bin/sh"
        args    = ["-c", "echo admin=$NOMAD_PORT_admin; exec sleep 600"]
      }}
      resources {{
        cpu    = 20
        memory = 20
      }}
    }}
  }}
}}
"#
        )
    };
    write(work.path(), "holder.nomad", &static_job("holder"));
    let run = agent.cli(&["job", "run", "holder.nomad"], work.path());
    assert!(run.status.success(), "{}{}", stdout(&run), stderr(&run));
    let holder = running_with_logs(&agent, work.path(), "holder", 1);
    assert_eq!(holder[0].1, format!("admin={static_port}\n"));
    assert_eq!(
        holder[0].0["AllocatedResources"]["Shared"]["Ports"][0]["Value"],
        static_port
    );

    // ...cannot be placed for another: `job run` says why.
    write(work.path(), "intruder.nomad", &static_job("intruder"));
    let run = agent.cli(&["job", "run", "intruder.nomad"], work.path());
    let out = stdout(&run);
    assert_eq!(run.status.code(), Some(2), "{out}{}", stderr(&run));
    assert!(
        out.contains(&format!(
            "* Dimension \"network: reserved port collision admin={static_port}\" exhausted on 1 nodes"
        )),
        "{out}"
    );
    assert!(agent.allocations("intruder").is_empty());

    // Bridge networking is refused at placement, in Nomad's words.
    write(
        work.path(),
        "bridge.nomad",
        r#"job "bridge" {
  datacenters = ["dc1"]
  update {
    max_parallel = 0
  }
  group "g" {
    network {
      mode = "bridge"
      port "http" {}
    }
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/true"
      }
    }
  }
}
"#,
    );
    let run = agent.cli(&["job", "run", "bridge.nomad"], work.path());
    let out = stdout(&run);
    assert_eq!(run.status.code(), Some(2), "{out}{}", stderr(&run));
    assert!(
        out.contains("* Constraint \"missing network\" filtered 1 nodes"),
        "{out}"
    );
}
