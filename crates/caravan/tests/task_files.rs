//! `artifact { }` and `template { }` end to end on a dev agent: the files a task gets
//! before it starts, served by a tiny HTTP server on 127.0.0.1.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::Duration;

use common::*;

/// A `.tar.gz` holding `bin/hello.sh` (executable), made with the system's `tar`.
fn script_archive() -> Vec<u8> {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let script = dir.path().join("bin/hello.sh");
    std::fs::create_dir_all(dir.path().join("bin")).expect("mkdir bin");
    std::fs::write(
        &script,
        "#!/bin/sh\necho \"hello from the artifact, APP_MODE=$APP_MODE\"\n",
    )
    .expect("write the script");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let archive = dir.path().join("app.tar.gz");
    let status = std::process::Command::new("tar")
        .arg("-czf")
        .arg(&archive)
        .arg("-C")
        .arg(dir.path())
        .arg("bin")
        .status()
        .expect("run tar");
    assert!(status.success(), "tar failed");
    std::fs::read(&archive).expect("read the archive")
}

/// Serves `body` at `path` on 127.0.0.1 until the test ends; answers 404 otherwise.
fn serve(path: &'static str, body: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = format!("http://{}", listener.local_addr().expect("address"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
            let mut request = String::new();
            let _ = reader.read_line(&mut request);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            let found = request.split_whitespace().nth(1) == Some(path);
            let (status, body) = if found {
                ("200 OK", body.as_slice())
            } else {
                ("404 Not Found", &b"not found"[..])
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body);
        }
    });
    addr
}

fn job(name: &str, addr: &str, template: &str) -> String {
    batch_job_hcl(
        name,
        &format!(
            r#"    task "app" {{
      driver = "raw_exec"
      artifact {{
        source = "{addr}/app.tar.gz"
      }}
{template}
      config {{
        command = "/bin/sh"
        args    = ["-c", "local/bin/hello.sh && cat local/app.conf && echo \"from env: $APP_MODE/$RELEASE\""]
      }}
    }}"#
        ),
    )
}

const TEMPLATES: &str = r#"      template {
        data        = "port={{ env \"NOMAD_ALLOC_ID\" }}\n{{ range split \",\" \"a,b\" }}item={{ . | toUpper }}\n{{ end }}"
        destination = "local/app.conf"
        perms       = "0600"
      }
      template {
        data        = "APP_MODE=production\nRELEASE={{ env \"NOMAD_JOB_NAME\" }}-1\n"
        destination = "secrets/app.env"
        env         = true
      }"#;

fn wait_for_final_alloc(agent: &Agent, job: &str) -> serde_json::Value {
    agent.wait_for_alloc_status(
        job,
        &["complete", "failed"],
        "finish",
        Duration::from_secs(30),
    )
}

#[test]
fn artifacts_and_templates_are_in_place_before_the_task_starts() {
    let agent = DevAgent::start();
    let work = tempfile::tempdir().expect("temp dir");
    let addr = serve("/app.tar.gz", script_archive());
    write(work.path(), "files.nomad", &job("files", &addr, TEMPLATES));
    let run = agent.cli(&["job", "run", "-detach", "files.nomad"], work.path());
    assert!(run.status.success(), "{}{}", stdout(&run), stderr(&run));

    let alloc = wait_for_final_alloc(&agent, "files");
    let alloc_id = alloc["ID"].as_str().expect("alloc ID").to_string();
    let events = event_types(&alloc["TaskStates"]["app"]);
    assert_eq!(alloc["ClientStatus"], "complete", "events: {events:?}");
    assert_eq!(
        events,
        [
            "Received",
            "Task Setup",
            "Downloading Artifacts",
            "Started",
            "Terminated"
        ]
    );
    let logs = agent.cli(&["alloc", "logs", &alloc_id], work.path());
    assert_eq!(
        stdout(&logs),
        format!(
            "hello from the artifact, APP_MODE=production\nport={alloc_id}\nitem=A\nitem=B\nfrom env: production/files-1\n"
        )
    );
    let stat = agent
        .run(|api| api.fs_stat(&alloc_id, "app/local/app.conf"))
        .expect("stat the rendered file");
    assert_eq!(stat.file_mode, "-rw-------", "{stat:?}");
}

#[test]
fn a_template_needing_consul_fails_the_task_with_nomads_event() {
    let agent = DevAgent::start();
    let work = tempfile::tempdir().expect("temp dir");
    let addr = serve("/app.tar.gz", script_archive());
    let template = r#"      template {
        data        = "ok\n{{ key \"service/db\" }}"
        destination = "local/app.conf"
      }"#;
    write(work.path(), "consul.nomad", &job("consul", &addr, template));
    let run = agent.cli(&["job", "run", "-detach", "consul.nomad"], work.path());
    assert!(run.status.success(), "{}{}", stdout(&run), stderr(&run));

    let alloc = wait_for_final_alloc(&agent, "consul");
    assert_eq!(alloc["ClientStatus"], "failed");
    let state = &alloc["TaskStates"]["app"];
    assert_eq!(state["Failed"], true);
    let last = state["Events"]
        .as_array()
        .and_then(|e| e.last())
        .expect("an event");
    assert_eq!(last["Type"], "Killing");
    assert_eq!(last["FailsTask"], true);
    assert_eq!(
        last["DisplayMessage"],
        "Template failed: template \"local/app.conf\": parse: line 2: function \"key\" needs Consul, which Caravan does not support"
    );
    assert!(!event_types(&alloc["TaskStates"]["app"]).contains(&"Started".to_string()));
}

#[test]
fn a_missing_artifact_fails_the_task_per_its_restart_policy() {
    let agent = DevAgent::start();
    let work = tempfile::tempdir().expect("temp dir");
    let addr = serve("/elsewhere.tar.gz", script_archive());
    write(work.path(), "missing.nomad", &job("missing", &addr, ""));
    let run = agent.cli(&["job", "run", "-detach", "missing.nomad"], work.path());
    assert!(run.status.success(), "{}{}", stdout(&run), stderr(&run));

    let alloc = wait_for_final_alloc(&agent, "missing");
    assert_eq!(alloc["ClientStatus"], "failed");
    let events = alloc["TaskStates"]["app"]["Events"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let failed = events
        .iter()
        .find(|e| e["Type"] == "Failed Artifact Download")
        .unwrap_or_else(|| panic!("no Failed Artifact Download event: {events:?}"));
    assert_eq!(
        failed["DisplayMessage"],
        format!("failed to download artifact \"{addr}/app.tar.gz\": bad response code: 404")
    );
    let last = events.last().expect("an event");
    assert_eq!(last["Type"], "Not Restarting");
    assert_eq!(last["DisplayMessage"], "Policy allows no restarts");
}
