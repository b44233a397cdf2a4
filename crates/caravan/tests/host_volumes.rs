//! Host volumes end to end: a client's `host_volume` blocks are reported on its node,
//! jobs that ask for a volume no node offers compatibly are not placed (Nomad's
//! `missing compatible host volumes`), and an `exec` task sees the host directory at
//! its `volume_mount` destination, read-only when the volume is. The `exec` part needs
//! root and cgroups; elsewhere it prints `skipping: ...` and passes.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use caravan_testkit::require_exec;
use common::*;

/// A directory anyone may write to, holding `hello.txt`: what keeps a task from
/// writing to a read-only volume is then the mount alone.
fn host_dir(root: &Path, name: &str) -> std::path::PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("hello.txt"), format!("hello from {name}\n")).unwrap();
    std::fs::set_permissions(
        dir.join("hello.txt"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    // The directories above it must let `nobody` through too.
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// A dev agent whose client offers `ro` (read-only) and `rw` host volumes.
fn agent_with_volumes(volumes: &Path) -> DevAgent {
    let config = format!(
        r#"
client {{
  host_volume "ro" {{
    path      = "{ro}"
    read_only = true
  }}
  host_volume "rw" {{
    path = "{rw}"
  }}
}}
"#,
        ro = host_dir(volumes, "ro").display(),
        rw = host_dir(volumes, "rw").display(),
    );
    let agent = DevAgent::with_config(&["-dev"], &config);
    agent.wait_for_ready_nodes(1);
    agent
}

/// A batch job whose group asks for host volume `source` (`read_only` as given) and
/// whose task mounts it at `/data` and runs `script` with `driver`.
fn volume_job(name: &str, source: &str, read_only: bool, driver: &str, script: &str) -> String {
    batch_job_hcl(
        name,
        &format!(
            r#"    reschedule {{
      attempts  = 0
      unlimited = false
    }}
    volume "data" {{
      type      = "host"
      source    = "{source}"
      read_only = {read_only}
    }}
    task "t" {{
      driver = "{driver}"
      volume_mount {{
        volume      = "data"
        destination = "/data"
      }}
      config {{
        command = "/bin/sh"
        args    = ["-c", "{script}"]
      }}
    }}"#
        ),
    )
}

#[test]
fn the_node_reports_its_host_volumes() {
    let volumes = tempfile::tempdir().unwrap();
    let agent = agent_with_volumes(volumes.path());
    let work = tempfile::tempdir().unwrap();
    let node_id = agent.node_id();
    let node = agent.get_json(&format!("/v1/node/{node_id}")).unwrap();
    assert_eq!(
        node["HostVolumes"]["ro"],
        serde_json::json!({
            "Name": "ro",
            "Path": volumes.path().join("ro").display().to_string(),
            "ReadOnly": true
        }),
        "{}",
        node["HostVolumes"]
    );
    assert_eq!(node["HostVolumes"]["rw"]["ReadOnly"], false);
    let out = succeeded(&agent.cli(&["node", "status", node_id.as_str()], work.path()));
    assert!(out.contains("Host Volumes    = ro,rw\n"), "{out}");
    let out = succeeded(&agent.cli(
        &["node", "status", "-verbose", node_id.as_str()],
        work.path(),
    ));
    let table = format!(
        "Host Volumes\nName  ReadOnly  Source\nro    true      {}\nrw    false     {}\n",
        volumes.path().join("ro").display(),
        volumes.path().join("rw").display()
    );
    assert!(out.contains(&table), "{out}");
}

#[test]
fn jobs_without_a_compatible_host_volume_are_not_placed() {
    let volumes = tempfile::tempdir().unwrap();
    let agent = agent_with_volumes(volumes.path());
    let work = tempfile::tempdir().unwrap();
    // No node has the volume; the node's `ro` volume cannot be written to.
    for (name, source, read_only) in [("nowhere", "missing", true), ("writer", "ro", false)] {
        write(
            work.path(),
            &format!("{name}.nomad"),
            &volume_job(name, source, read_only, "raw_exec", "true"),
        );
        let run = agent.cli(&["job", "run", &format!("{name}.nomad")], work.path());
        let out = stdout(&run);
        assert_eq!(run.status.code(), Some(2), "{name}: {out}{}", stderr(&run));
        assert!(
            out.contains("* Constraint \"missing compatible host volumes\" filtered 1 nodes"),
            "{name}: {out}"
        );
        let status = succeeded(&agent.cli(&["job", "status", name], work.path()));
        assert!(
            status.contains("missing compatible host volumes"),
            "{name}: {status}"
        );
    }
    // The same volume, asked for read-only, is placed.
    write(
        work.path(),
        "reader.nomad",
        &volume_job("reader", "ro", true, "raw_exec", "true"),
    );
    let out = succeeded(&agent.cli(&["job", "run", "reader.nomad"], work.path()));
    assert!(out.contains("finished with status \"complete\""), "{out}");
    assert!(!out.contains("failed to place"), "{out}");
}

/// Runs a job and returns its single allocation once it has finished.
fn finished_alloc(agent: &DevAgent, work: &Path, name: &str, text: &str) -> String {
    write(work, &format!("{name}.nomad"), text);
    let out = succeeded(&agent.cli(&["job", "run", &format!("{name}.nomad")], work));
    assert!(out.contains("finished with status \"complete\""), "{out}");
    let alloc_id = agent.allocations(name)[0]["ID"]
        .as_str()
        .unwrap()
        .to_string();
    agent.eventually("the task to finish", Duration::from_secs(30), || {
        agent.allocation(&alloc_id)["ClientStatus"] != "running"
            && agent.allocation(&alloc_id)["ClientStatus"] != "pending"
    });
    alloc_id
}

#[test]
fn an_exec_task_reads_its_host_volume_and_cannot_write_a_read_only_one() {
    require_exec!();
    let volumes = tempfile::tempdir().unwrap();
    let agent = agent_with_volumes(volumes.path());
    let work = tempfile::tempdir().unwrap();

    let script = "cat /data/hello.txt; if echo x > /data/new.txt; then echo wrote; else echo write refused; fi";
    let alloc_id = finished_alloc(
        &agent,
        work.path(),
        "reader",
        &volume_job("reader", "ro", true, "exec", script),
    );
    let logs = |task_stream: &str| {
        stdout(&agent.cli(&["alloc", "logs", task_stream, &alloc_id, "t"], work.path()))
    };
    let out = logs("-stdout");
    assert_eq!(out, "hello from ro\nwrite refused\n");
    let err = logs("-stderr");
    assert!(err.contains("Read-only file system"), "{err}");
    assert!(!volumes.path().join("ro/new.txt").exists());

    // A writable volume takes the task's writes, on the host.
    let alloc_id = finished_alloc(
        &agent,
        work.path(),
        "writer",
        &volume_job("writer", "rw", false, "exec", script),
    );
    let out = stdout(&agent.cli(&["alloc", "logs", &alloc_id, "t"], work.path()));
    assert_eq!(out, "hello from rw\nwrote\n");
    assert_eq!(
        std::fs::read_to_string(volumes.path().join("rw/new.txt")).unwrap(),
        "x\n"
    );
}

/// `Secret ID = <secret>` from the CLI's token output.
fn secret_id(out: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix("Secret ID"))
        .and_then(|rest| rest.split('=').nth(1))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| panic!("no Secret ID in {out}"))
}

#[test]
fn with_acls_a_job_mounts_only_the_host_volumes_its_token_allows() {
    let volumes = tempfile::tempdir().unwrap();
    let config = format!(
        "client {{\n  host_volume \"ro\" {{\n    path = \"{}\"\n  }}\n  host_volume \"rw\" {{\n    path = \"{}\"\n  }}\n}}\n",
        host_dir(volumes.path(), "ro").display(),
        host_dir(volumes.path(), "rw").display(),
    );
    let agent = DevAgent::with_config(&["-dev", "-acl-enabled"], &config);
    let work = tempfile::tempdir().unwrap();
    let mut boot = String::new();
    agent.eventually("the bootstrap", Duration::from_secs(20), || {
        let out = agent.cli(&["acl", "bootstrap"], work.path());
        boot = stdout(&out);
        out.status.success()
    });
    let management = format!("-token={}", secret_id(&boot));
    write(
        work.path(),
        "volumes.hcl",
        "namespace \"default\" { policy = \"write\" }\nhost_volume \"ro\" { policy = \"read\" }\n",
    );
    succeeded(&agent.cli(
        &[
            "acl",
            "policy",
            "apply",
            &management,
            "volumes",
            "volumes.hcl",
        ],
        work.path(),
    ));
    let created = succeeded(&agent.cli(
        &[
            "acl",
            "token",
            "create",
            &management,
            "-name",
            "v",
            "-policy",
            "volumes",
        ],
        work.path(),
    ));
    let token = format!("-token={}", secret_id(&created));
    // Nomad: `read` on a host volume is `mount-readonly`; writing needs `write`.
    for (name, source, read_only, allowed) in [
        ("reads-ro", "ro", true, true),
        ("writes-ro", "ro", false, false),
        ("reads-rw", "rw", true, false),
    ] {
        write(
            work.path(),
            &format!("{name}.nomad"),
            &volume_job(name, source, read_only, "raw_exec", "true"),
        );
        let run = agent.cli(
            &["job", "run", "-detach", &token, &format!("{name}.nomad")],
            work.path(),
        );
        let (out, err) = (stdout(&run), stderr(&run));
        assert_eq!(run.status.success(), allowed, "{name}: {out}{err}");
        if !allowed {
            assert!(err.contains("Permission denied"), "{name}: {err}");
        }
    }
}

#[test]
fn a_client_whose_host_volume_is_missing_does_not_start() {
    let volumes = tempfile::tempdir().unwrap();
    let missing = volumes.path().join("not-there");
    let agent = DevAgent::unstarted();
    agent.set_config(&format!(
        "client {{\n  host_volume \"gone\" {{\n    path = \"{}\"\n  }}\n}}\n",
        missing.display()
    ));
    let exit = agent.run_to_exit(&["-dev"], Duration::from_secs(30));
    assert_ne!(exit.code, Some(0), "{exit:?}");
    assert_ne!(exit.code, None, "the agent kept running: {exit:?}");
    let output = format!("{}{}", exit.stdout, exit.stderr);
    assert!(
        output.contains(&format!(
            "failed to validate volume gone, err: stat {}",
            missing.display()
        )),
        "{output}"
    );
}
