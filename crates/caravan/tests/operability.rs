//! Operating an agent as a Nomad user does: its log in hclog's layout (text or JSON,
//! to stdout and a rotated file), `caravan monitor` at a finer level than the agent's,
//! `/v1/agent/health`, `agent-info`, `caravan ui`, shell completion, and flags given
//! before the command.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::*;

/// The agent's log lines (stdout and stderr, as the harness keeps them) that are log
/// events rather than the banner.
fn event_lines(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.starts_with("    20") || l.starts_with('{'))
        .collect()
}

/// `    2024-05-01T12:00:00.123Z [INFO]  module: message...`: hclog's layout under
/// the banner's indent.
fn assert_hclog_layout(line: &str) {
    let rest = line
        .strip_prefix("    ")
        .unwrap_or_else(|| panic!("not indented: {line:?}"));
    let (time, rest) = rest.split_at(24);
    let bytes = time.as_bytes();
    assert!(
        bytes[4] == b'-' && bytes[10] == b'T' && bytes[19] == b'.' && bytes[23] == b'Z',
        "timestamp of {line:?}"
    );
    let level = &rest[..9];
    assert!(
        [
            " [TRACE] ",
            " [DEBUG] ",
            " [INFO]  ",
            " [WARN]  ",
            " [ERROR] "
        ]
        .contains(&level),
        "level of {line:?}"
    );
    assert!(rest[9..].contains(": "), "module of {line:?}");
}

#[test]
fn a_dev_agent_logs_nomads_lines_for_registration_evaluation_and_task_start() {
    let agent = Agent::start();
    let work = tempfile::tempdir().unwrap();
    let alloc_id = agent.run_job(work.path(), "sleeper.nomad", SLEEPER_JOB, &[], "sleeper");
    let started = format!(
        "[INFO]  client.alloc_runner.task_runner: Task event: alloc_id={alloc_id} task=t type=Started msg=\"Task started by client\" failed=false"
    );
    agent.eventually("the Started task event", Duration::from_secs(20), || {
        agent.log().contains(&started)
    });
    let log = agent.log();
    assert!(
        log.contains("[INFO]  client: node registration complete"),
        "{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.contains("[DEBUG] worker: ack evaluation: eval_id=")
                && l.contains("job_id=sleeper")
                && l.contains("triggered_by=job-register")),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "[INFO]  client.alloc_runner.task_runner: Task event: alloc_id={alloc_id} task=t type=Received msg=\"Task received by client\" failed=false"
        )),
        "{log}"
    );
    // The banner comes first, the log streams in below it, uncoloured off a terminal.
    let banner = log
        .find("Log data will stream in below")
        .expect("the banner");
    let first_event = log.find("    20").expect("a log line");
    assert!(banner < first_event, "{log}");
    assert!(!log.contains('\x1b'), "colour off a terminal:\n{log}");
    for line in event_lines(&log) {
        assert_hclog_layout(line);
    }

    // agent-info: Nomad's sections, keys sorted under each.
    let info = succeeded(&agent.cli(&["agent-info"], work.path()));
    let sections: Vec<&str> = info.lines().filter(|l| !l.starts_with(' ')).collect();
    assert_eq!(
        sections,
        ["client", "nomad", "raft", "runtime", "serf"],
        "{info}"
    );
    assert!(info.contains("\n  num_allocations = 1\n"), "{info}");
    assert!(info.contains("\n  leader = true\n"), "{info}");
    assert!(info.contains("\n  state = Leader\n"), "{info}");
    let client_keys: Vec<&str> = info
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| l.trim().split(" = ").next().unwrap())
        .collect();
    let mut sorted = client_keys.clone();
    sorted.sort();
    assert_eq!(client_keys, sorted);

    // Health: both parts, ok.
    let health = agent.get_json("/v1/agent/health").unwrap();
    assert_eq!(
        health,
        serde_json::json!({
            "client": {"ok": true, "message": "ok"},
            "server": {"ok": true, "message": "ok"},
        })
    );
    let server_only = agent.get_json("/v1/agent/health?type=server").unwrap();
    assert!(server_only.get("client").is_none(), "{server_only}");

    // `caravan ui` with an allocation prefix opens its page; without a browser the
    // URL is the answer.
    let no_browser = tempfile::tempdir().unwrap();
    let ui = Command::new(CARAVAN)
        .args(["ui", &alloc_id[..8]])
        .env("CARAVAN_ADDR", agent.addr())
        .env("PATH", no_browser.path())
        .output()
        .unwrap();
    assert_eq!(
        succeeded(&ui).trim(),
        format!("Opening URL \"{}/ui/allocations/{alloc_id}\"", agent.addr())
    );
    let job_url = succeeded(&agent.cli(&["ui", "-show-url", "sleeper"], work.path()));
    assert_eq!(
        job_url.trim(),
        format!("URL for web UI: {}/ui/jobs/sleeper", agent.addr())
    );
    let unknown = agent.cli(&["ui", "no-such-thing"], work.path());
    assert_eq!(unknown.status.code(), Some(1));
    assert_eq!(
        stderr(&unknown).trim(),
        "Unable to resolve ID: \"no-such-thing\""
    );
}

/// Reads `child`'s stdout lines on a thread until one satisfies `wanted`, while
/// `poke` runs between waits (to make the agent log something); kills the child.
fn read_until(
    mut child: std::process::Child,
    mut poke: impl FnMut(),
    wanted: impl Fn(&str) -> bool,
) -> Vec<String> {
    let stdout = child.stdout.take().unwrap();
    let (sender, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        poke();
        while let Ok(line) = lines.recv_timeout(Duration::from_millis(100)) {
            let done = wanted(&line);
            seen.push(line);
            if done {
                let _ = child.kill();
                let _ = child.wait();
                return seen;
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!(
        "the monitor never printed the line wanted; it printed:\n{}",
        seen.join("\n")
    );
}

fn monitor(agent: &Agent, flags: &[&str]) -> std::process::Child {
    Command::new(CARAVAN)
        .arg("monitor")
        .args(flags)
        .env("CARAVAN_ADDR", agent.addr())
        .env_remove("NOMAD_ADDR")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn monitor_streams_debug_lines_from_an_agent_that_logs_at_info() {
    let agent = Agent::with_config(&["-dev", "-log-level=INFO"], "");
    agent.wait_for_ready_nodes(1);
    let poke = || {
        let _ = agent.get_json("/v1/agent/self");
    };
    let lines = read_until(monitor(&agent, &["-log-level=debug"]), poke, |l| {
        l.contains(" [DEBUG] http: request complete: method=GET path=/v1/agent/self")
    });
    assert!(lines.iter().all(|l| !l.starts_with(' ')), "{lines:?}");
    // The agent's own output stays at INFO.
    assert!(!agent.log().contains("[DEBUG]"), "{}", agent.log());

    // -json: hclog's objects.
    let lines = read_until(monitor(&agent, &["-log-level=debug", "-json"]), poke, |l| {
        l.contains("\"path\":\"/v1/agent/self\"")
    });
    let last: serde_json::Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    assert_eq!(last["@level"], "debug");
    assert_eq!(last["@module"], "http");
    assert_eq!(last["@message"], "request complete");
    assert_eq!(last["path"], "/v1/agent/self");
    assert!(last["@timestamp"].as_str().unwrap().ends_with('Z'));

    // -log-include-location: the call site before the module, as hclog writes it.
    let lines = read_until(
        monitor(&agent, &["-log-level=debug", "-log-include-location"]),
        poke,
        |l| l.contains("path=/v1/agent/self"),
    );
    let last = lines.last().unwrap();
    assert!(
        last.contains(" [DEBUG] crates/api/src/layers.rs:")
            && last.contains(": http: request complete"),
        "{last}"
    );

    // plain=true over HTTP: the bare lines, no frames.
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", agent.port)).unwrap();
    std::io::Write::write_all(
        &mut stream,
        b"GET /v1/agent/monitor?log_level=debug&plain=true HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut plain = String::new();
    agent.eventually("a plain monitor line", Duration::from_secs(20), || {
        poke();
        let mut buffer = [0u8; 4096];
        if let Ok(n) = std::io::Read::read(&mut stream, &mut buffer) {
            plain.push_str(&String::from_utf8_lossy(&buffer[..n]));
        }
        plain.contains("path=/v1/agent/self")
    });
    assert!(plain.starts_with("HTTP/1.1 200"), "{plain}");
    assert!(plain.contains("content-type: text/plain"), "{plain}");
    assert!(!plain.contains("\"Data\""), "{plain}");

    // -server-id=leader on the leader: its own log.
    read_until(
        monitor(&agent, &["-log-level=debug", "-server-id=leader"]),
        poke,
        |l| l.contains("path=/v1/agent/self"),
    );
    let unknown = agent.cli(&["monitor", "-server-id=nobody"], agent.dir.path());
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        stderr(&unknown).contains("Unknown server \"nobody\""),
        "{}",
        stderr(&unknown)
    );

    // A level the agent does not know is refused.
    let bad = agent.cli(&["monitor", "-log-level=loud"], agent.dir.path());
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("Unknown log level: loud"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn log_json_and_a_log_file_rotated_by_size() {
    let logs = tempfile::tempdir().unwrap();
    let config = format!(
        "log_json = true\nlog_file = \"{}/\"\nlog_rotate_bytes = 4096\nlog_rotate_max_files = 2\n",
        logs.path().display()
    );
    let agent = Agent::with_config(&["-dev"], &config);
    agent.wait_for_ready_nodes(1);
    let rotated = || -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(logs.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != "nomad.log")
            .collect();
        names.sort();
        names
    };
    // Every request logs a debug line: enough of them fill three files.
    agent.eventually("three rotations", Duration::from_secs(30), || {
        for _ in 0..20 {
            let _ = agent.get_json("/v1/agent/self");
        }
        std::fs::read_dir(logs.path()).unwrap().count() >= 3
            && rotated().len() == 2
            && std::fs::metadata(logs.path().join("nomad.log")).is_ok()
    });
    for _ in 0..100 {
        let _ = agent.get_json("/v1/agent/self");
    }
    let names = rotated();
    assert_eq!(
        names.len(),
        2,
        "only log_rotate_max_files are kept: {names:?}"
    );
    for name in &names {
        let stamp = name
            .strip_prefix("nomad-")
            .and_then(|n| n.strip_suffix(".log"))
            .unwrap_or_else(|| panic!("{name}"));
        assert!(stamp.parse::<u128>().is_ok(), "{name}");
        let size = std::fs::metadata(logs.path().join(name)).unwrap().len();
        assert!(size >= 4096, "{name} rotated at {size} bytes");
    }
    let mut objects = Vec::new();
    for name in names.iter().map(String::as_str).chain(["nomad.log"]) {
        let text = std::fs::read_to_string(logs.path().join(name)).unwrap();
        objects.extend(text.lines().map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("{l}: {e}"))
        }));
    }
    for object in &objects {
        for key in ["@level", "@message", "@module", "@timestamp"] {
            assert!(object[key].is_string(), "{key} in {object}");
        }
    }
    // The agent's stdout has the same objects.
    let log = agent.log();
    let stdout_events = event_lines(&log);
    assert!(!stdout_events.is_empty());
    for line in stdout_events {
        let object: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(object["@module"].is_string(), "{line}");
    }
}

#[test]
fn a_server_without_a_leader_is_unhealthy() {
    let agent = Agent::with_config(&["-server"], "server {\n  bootstrap_expect = 3\n}\n");
    let mut answer = (0, String::new());
    agent.eventually("the HTTP API", Duration::from_secs(20), || {
        answer = agent
            .run(|api| api.send_raw(Method::Get, "/v1/agent/health", None))
            .map(|a| (a.status, a.body))
            .unwrap_or((0, String::new()));
        answer.0 != 0
    });
    assert_eq!(answer.0, 500, "{}", answer.1);
    let body: serde_json::Value = serde_json::from_str(&answer.1).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"server": {"ok": false, "message": "No cluster leader"}})
    );
}

#[test]
fn flags_before_the_command_are_refused_as_nomad_does() {
    let dir = tempfile::tempdir().unwrap();
    let output = cli_at(
        "http://127.0.0.1:1",
        &["-address=http://127.0.0.1:1", "job", "status"],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).starts_with(
            "Invalid flags before the subcommand. If these flags are for\nthe subcommand, please put them after the subcommand.\n"
        ),
        "{}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("\n\nUsage: caravan job status"),
        "{}",
        stderr(&output)
    );
    assert_eq!(stdout(&output), "");
}

#[test]
fn autocomplete_installs_into_the_shell_and_answers_completion_requests() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join(".bashrc"), "alias ll='ls -l'\n").unwrap();
    std::fs::create_dir_all(home.path().join(".config/fish")).unwrap();
    let fish = home.path().join(".config/fish/completions/caravan.fish");
    let caravan = |args: &[&str]| {
        Command::new(CARAVAN)
            .args(args)
            .env("HOME", home.path())
            .env_remove("COMP_LINE")
            .output()
            .unwrap()
    };
    succeeded(&caravan(&["-autocomplete-install"]));
    let bashrc = std::fs::read_to_string(home.path().join(".bashrc")).unwrap();
    assert_eq!(
        bashrc,
        format!("alias ll='ls -l'\ncomplete -C {CARAVAN} caravan\n")
    );
    let fish_script = std::fs::read_to_string(&fish).unwrap();
    assert!(
        fish_script.contains(&format!("    {CARAVAN}\n"))
            && fish_script.ends_with("complete -f -c caravan -a \"(__complete_caravan)\"\n"),
        "{fish_script}"
    );
    let again = caravan(&["-autocomplete-install"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("already installed in"),
        "{}",
        stderr(&again)
    );

    // What bash does on <TAB>: the binary, with the line and the cursor.
    let line = "caravan job st";
    let completion = Command::new(CARAVAN)
        .args(["caravan", "st", "job"])
        .env("COMP_LINE", line)
        .env("COMP_POINT", line.len().to_string())
        .output()
        .unwrap();
    assert_eq!(succeeded(&completion), "status\nstop\n");
    let flags_line = "caravan monitor -log";
    let flags = Command::new(CARAVAN)
        .args(["caravan", "-log", "monitor"])
        .env("COMP_LINE", flags_line)
        .env("COMP_POINT", flags_line.len().to_string())
        .output()
        .unwrap();
    assert!(stdout(&flags).is_empty() || stdout(&flags).lines().all(|l| l.starts_with("-log")));

    succeeded(&caravan(&["-autocomplete-uninstall"]));
    let bashrc = std::fs::read_to_string(home.path().join(".bashrc")).unwrap();
    assert_eq!(bashrc, "alias ll='ls -l'\n");
    assert!(!fish.exists());
}

#[test]
fn ui_without_an_identifier_prints_the_address() {
    let dir = tempfile::tempdir().unwrap();
    let no_browser = tempfile::tempdir().unwrap();
    let output = Command::new(CARAVAN)
        .arg("ui")
        .env("CARAVAN_ADDR", "http://127.0.0.1:4646")
        .env("PATH", no_browser.path())
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        succeeded(&output),
        "Opening URL \"http://127.0.0.1:4646\"\n"
    );
}

#[test]
fn a_server_relays_the_monitor_of_the_client_its_node_id_names() {
    let server_config = "server {\n  enabled = true\n  bootstrap_expect = 1\n}\n";
    let cluster = Cluster::start(server_config, 1, |server, _| {
        client_config(server.rpc_port, "", "")
    });
    let client = &cluster.clients[0];
    let node_id = client.node_id().to_string();
    // Only the client is asked for its own stats, so only its log has that request.
    let poke = || {
        let _ = client.get_json("/v1/agent/self");
    };
    let lines = read_until(
        monitor(
            &cluster.server,
            &["-log-level=debug", &format!("-node-id={}", &node_id[..8])],
        ),
        poke,
        |l| l.contains("http: request complete: method=GET path=/v1/agent/self"),
    );
    assert!(!lines.is_empty());
    // A node the servers do not know.
    let unknown = cluster.server.cli(
        &["monitor", "-node-id=ffffffff-ffff-ffff-ffff-ffffffffffff"],
        cluster.server.dir.path(),
    );
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        stderr(&unknown).contains("No node(s) with prefix or id"),
        "{}",
        stderr(&unknown)
    );
    // A client's health: its part only, ok.
    assert_eq!(
        client.get_json("/v1/agent/health").unwrap(),
        serde_json::json!({"client": {"ok": true, "message": "ok"}})
    );
}

#[test]
fn a_client_that_cannot_register_says_so_before_its_banner() {
    // No server listens on this port.
    let agent = Agent::with_config(&[], &client_config(free_port(), "", ""));
    agent.eventually("the registration warning", Duration::from_secs(20), || {
        agent
            .log()
            .contains("[WARN]  client: failed to register node, retrying:")
    });
    assert!(!agent.log().contains("Log data will stream in below"));
}
