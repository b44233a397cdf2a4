//! `alloc exec` end to end on a dev agent: `caravan alloc exec` and the
//! `/v1/client/allocation/:id/exec` websocket into raw_exec and exec tasks (output,
//! stdin, exit codes, a TTY, errors), and its ACL check. The `exec` driver test needs
//! root and cgroups; elsewhere it prints `skipping: ...` and passes.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use caravan_api_client::{Client, Config};
use caravan_testkit::require_exec;
use common::*;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// A service job of one task `t` that sleeps, under `driver`.
fn sleeper(job: &str, driver: &str) -> String {
    format!(
        "job \"{job}\" {{\n  group \"g\" {{\n    task \"t\" {{\n      driver = \"{driver}\"\n      \
         config {{\n        command = \"/bin/sleep\"\n        args = [\"300\"]\n      }}\n    }}\n  }}\n}}\n"
    )
}

/// Runs the job and waits until its task runs; its allocation's ID.
fn running_alloc(agent: &Agent, work: &Path, job: &str, driver: &str, token: &[&str]) -> String {
    write(work, &format!("{job}.nomad"), &sleeper(job, driver));
    let file = format!("{job}.nomad");
    let args: Vec<&str> = ["job", "run", "-detach"]
        .into_iter()
        .chain(token.iter().copied())
        .chain([file.as_str()])
        .collect();
    let run = agent.cli(&args, work);
    assert!(run.status.success(), "{}{}", stdout(&run), stderr(&run));
    let mut alloc_id = String::new();
    agent.eventually("the task to run", Duration::from_secs(30), || {
        let status = agent.cli(
            &[&["job", "allocs", "-json"][..], token, &[job]].concat(),
            work,
        );
        let allocs: Value = serde_json::from_slice(&status.stdout).unwrap_or(Value::Null);
        let running =
            allocs.as_array().into_iter().flatten().find(|a| {
                a["ClientStatus"] == "running" && a["TaskStates"]["t"]["State"] == "running"
            });
        if let Some(alloc) = running {
            alloc_id = alloc["ID"].as_str().unwrap_or_default().to_string();
        }
        !alloc_id.is_empty()
    });
    alloc_id
}

/// `caravan alloc exec <args>` with `input` on its stdin.
fn exec_cli(agent: &Agent, args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(binary())
        .args(["alloc", "exec"])
        .args(args)
        .env("CARAVAN_ADDR", agent.addr())
        .env_remove("NOMAD_ADDR")
        .env_remove("NOMAD_TOKEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run caravan alloc exec");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input).expect("write stdin");
    drop(stdin);
    child.wait_with_output().expect("alloc exec output")
}

/// What one websocket exec answered: stdout, stderr, the exit code, or the close frame.
#[derive(Debug, Default)]
struct WsExec {
    stdout: String,
    stderr: String,
    exit_code: Option<i64>,
    close: Option<(u16, String)>,
}

fn ws_exec(agent: &Agent, alloc_id: &str, query: &str, frames: &[Value]) -> WsExec {
    let url = format!(
        "{}/v1/client/allocation/{alloc_id}/exec?{query}",
        agent.addr().replacen("http://", "ws://", 1)
    );
    block_on(async move {
        let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .expect("websocket");
        for frame in frames {
            socket
                .send(Message::text(frame.to_string()))
                .await
                .expect("send");
        }
        let mut answer = WsExec::default();
        let read = async {
            while let Some(Ok(message)) = socket.next().await {
                match message {
                    Message::Text(text) => {
                        let value: Value = serde_json::from_str(text.as_str()).expect("json");
                        for (name, out) in [
                            ("stdout", &mut answer.stdout),
                            ("stderr", &mut answer.stderr),
                        ] {
                            if let Some(data) = value[name]["data"].as_str() {
                                let bytes = BASE64.decode(data).expect("base64");
                                out.push_str(&String::from_utf8_lossy(&bytes));
                            }
                        }
                        if value["exited"] == true {
                            answer.exit_code = value["result"]["exit_code"].as_i64();
                        }
                    }
                    Message::Close(frame) => {
                        answer.close = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                        break;
                    }
                    _ => {}
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(20), read)
            .await
            .expect("the exec to end");
        answer
    })
}

fn query(task: &str, command: &[&str], tty: bool) -> String {
    let command = serde_json::to_string(command).unwrap();
    let encoded: String = command
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("task={task}&command={encoded}&tty={tty}")
}

#[test]
fn alloc_exec_runs_commands_inside_a_raw_exec_task() {
    let agent = Agent::start();
    let work = tempfile::tempdir().unwrap();
    let alloc = running_alloc(&agent, work.path(), "execer", "raw_exec", &[]);
    let short = &alloc[..8];

    // Output and exit code; the task's environment and working directory.
    let echo = exec_cli(&agent, &["-i=false", short, "echo", "hello", "world"], b"");
    assert_eq!(stdout(&echo), "hello world\n", "{}", stderr(&echo));
    assert_eq!(echo.status.code(), Some(0), "{}", stderr(&echo));
    let env = exec_cli(
        &agent,
        &[
            "-task",
            "t",
            &alloc,
            "sh",
            "-c",
            "echo $NOMAD_TASK_NAME; pwd",
        ],
        b"",
    );
    let task_dir = agent.data_dir().join("alloc").join(&alloc).join("t");
    assert_eq!(
        stdout(&env),
        format!("t\n{}\n", task_dir.display()),
        "{}",
        stderr(&env)
    );

    let by_job = exec_cli(
        &agent,
        &["-job", "-i=false", "execer", "echo", "by job"],
        b"",
    );
    assert_eq!(stdout(&by_job), "by job\n", "{}", stderr(&by_job));

    // Stdin reaches the command; its end ends `cat`.
    let cat = exec_cli(&agent, &[short, "cat"], b"piped line one\nline two\n");
    assert_eq!(
        stdout(&cat),
        "piped line one\nline two\n",
        "{}",
        stderr(&cat)
    );
    assert_eq!(cat.status.code(), Some(0));

    // A failing command: its stderr, and its exit code is the CLI's.
    let fail = exec_cli(
        &agent,
        &["-i=false", short, "sh", "-c", "echo oops >&2; exit 3"],
        b"",
    );
    assert_eq!(fail.status.code(), Some(3), "{}", stderr(&fail));
    assert_eq!(stderr(&fail), "oops\n");
    assert_eq!(stdout(&fail), "");

    // Errors: an unknown task (CLI and API), a command that does not exist.
    let unknown = exec_cli(&agent, &["-task", "nope", short, "true"], b"");
    assert_eq!(unknown.status.code(), Some(1));
    assert!(stderr(&unknown).contains("Could not find task named: nope"));
    let api = ws_exec(&agent, &alloc, &query("nope", &["true"], false), &[]);
    assert_eq!(api.close, Some((1008, "unknown task name \"nope\"".into())));
    let missing = ws_exec(&agent, &alloc, &query("t", &["no-such-cmd"], false), &[]);
    let (code, reason) = missing.close.expect("a close frame");
    assert_eq!(code, 1011, "{reason}");
    assert!(reason.contains("no-such-cmd"), "{reason}");
    let cli_missing = exec_cli(&agent, &["-i=false", short, "no-such-cmd"], b"");
    assert_eq!(cli_missing.status.code(), Some(1));
    assert!(stderr(&cli_missing).contains("failed to exec into task"));

    // The websocket protocol: stdin frames, then a TTY with its size.
    let cat = ws_exec(
        &agent,
        &alloc,
        &query("t", &["cat"], false),
        &[
            json!({"stdin": {"data": BASE64.encode("over the socket\n")}}),
            json!({"stdin": {"close": true}}),
        ],
    );
    assert_eq!(cat.stdout, "over the socket\n");
    assert_eq!(cat.exit_code, Some(0));
    assert_eq!(cat.close.map(|c| c.0), Some(1000));
    let tty = ws_exec(
        &agent,
        &alloc,
        &query("t", &["sh", "-c", "tty; stty size"], true),
        &[json!({"tty_size": {"height": 33, "width": 101}})],
    );
    assert!(tty.stdout.contains("/dev/pts/"), "{tty:?}");
    assert!(tty.stdout.contains("33 101"), "{tty:?}");
    assert_eq!(tty.exit_code, Some(0));

    agent.stop_job("execer", work.path());
}

#[test]
fn alloc_exec_enters_an_exec_tasks_chroot_and_pid_namespace() {
    require_exec!();
    let agent = Agent::start();
    let work = tempfile::tempdir().unwrap();
    let alloc = running_alloc(&agent, work.path(), "isolated", "exec", &[]);
    let marker = agent
        .data_dir()
        .join("alloc")
        .join(&alloc)
        .join("t/local/only-in-the-task");
    std::fs::write(&marker, "inside\n").unwrap();

    let root = exec_cli(&agent, &["-i=false", &alloc, "ls", "/"], b"");
    let listing = stdout(&root);
    for dir in ["alloc", "local", "secrets"] {
        assert!(
            listing.lines().any(|l| l == dir),
            "{listing}{}",
            stderr(&root)
        );
    }
    let file = exec_cli(
        &agent,
        &["-i=false", &alloc, "cat", "/local/only-in-the-task"],
        b"",
    );
    assert_eq!(stdout(&file), "inside\n", "{}", stderr(&file));

    // The task's PID namespace: its init is 1, the task 2, the shell a few more.
    let pids = exec_cli(
        &agent,
        &[
            "-i=false",
            &alloc,
            "sh",
            "-c",
            "echo $$; ls /proc | grep -c '^[0-9]'; id -u",
        ],
        b"",
    );
    let out = stdout(&pids);
    let lines: Vec<u64> = out.lines().filter_map(|l| l.trim().parse().ok()).collect();
    assert_eq!(lines.len(), 3, "{out}{}", stderr(&pids));
    assert!(
        lines[0] < 10,
        "the shell's PID in the task's namespace: {out}"
    );
    assert!(lines[1] < 10, "processes the task's namespace shows: {out}");
    assert_eq!(lines[2], 65534, "runs as the task's user (nobody): {out}");
    assert_eq!(pids.status.code(), Some(0), "{}", stderr(&pids));

    let cat = exec_cli(&agent, &[&alloc, "cat"], b"through the namespaces\n");
    assert_eq!(stdout(&cat), "through the namespaces\n", "{}", stderr(&cat));
    assert_eq!(cat.status.code(), Some(0));
    let code = exec_cli(&agent, &["-i=false", &alloc, "sh", "-c", "exit 7"], b"");
    assert_eq!(code.status.code(), Some(7));

    // Hanging up kills the command (and the process that waits for it).
    hang_up(&agent, &alloc, &["sleep", "4322"]);

    agent.stop_job("isolated", work.path());
}

fn caller(agent: &Agent, token: Option<&str>) -> Client {
    Client::new(Config {
        token: token.map(str::to_string),
        ..Config::address(agent.addr())
    })
    .expect("client")
}

fn post(client: &Client, path: &str, body: &Value) -> Value {
    let body = body.to_string();
    let answer = block_on(client.send_raw(Method::Post, path, Some(body.as_bytes())))
        .expect("the agent answers");
    assert!(
        answer.status < 300,
        "{path}: {} {}",
        answer.status,
        answer.body
    );
    serde_json::from_str(&answer.body).unwrap_or(Value::Null)
}

fn token_with(admin: &Client, name: &str, rules: &str) -> String {
    post(
        admin,
        &format!("/v1/acl/policy/{name}"),
        &json!({"Name": name, "Rules": rules}),
    );
    let token = post(
        admin,
        "/v1/acl/token",
        &json!({"Name": name, "Type": "client", "Policies": [name]}),
    );
    token["SecretID"].as_str().expect("a secret").to_string()
}

#[test]
fn alloc_exec_needs_the_alloc_exec_capability() {
    let agent = Agent::with_config(&["-dev", "-acl-enabled"], "");
    let anonymous = caller(&agent, None);
    let mut management = String::new();
    agent.eventually(
        "the ACL bootstrap",
        Duration::from_secs(30),
        || match block_on(anonymous.send_raw(Method::Post, "/v1/acl/bootstrap", None)) {
            Ok(answer) if answer.status == 200 => {
                let token: Value = serde_json::from_str(&answer.body).unwrap_or_default();
                management = token["SecretID"].as_str().unwrap_or_default().to_string();
                true
            }
            _ => false,
        },
    );
    let admin = caller(&agent, Some(&management));
    let read = token_with(
        &admin,
        "reader",
        "namespace \"default\" { policy = \"read\" }",
    );
    let write = token_with(
        &admin,
        "writer",
        "namespace \"default\" { policy = \"write\" }",
    );
    let node_exec = token_with(
        &admin,
        "node-exec",
        "namespace \"default\" {\n  policy = \"write\"\n  capabilities = [\"alloc-node-exec\"]\n}",
    );
    let work = tempfile::tempdir().unwrap();
    let alloc = running_alloc(
        &agent,
        work.path(),
        "guarded",
        "raw_exec",
        &["-token", &management],
    );

    let denied = exec_cli(
        &agent,
        &["-token", &read, "-i=false", &alloc, "echo", "hi"],
        b"",
    );
    assert_eq!(denied.status.code(), Some(1));
    let message = stderr(&denied);
    assert!(
        message.contains("403") && message.contains("Permission denied"),
        "{message}"
    );
    let anonymous_exec = exec_cli(&agent, &["-i=false", &alloc, "echo", "hi"], b"");
    assert_eq!(anonymous_exec.status.code(), Some(1));

    // raw_exec reaches the whole node: `write` is not enough, `alloc-node-exec` is
    // needed too (Nomad's rule).
    let write_raw = exec_cli(
        &agent,
        &["-token", &write, "-i=false", &alloc, "echo", "hi"],
        b"",
    );
    assert_eq!(write_raw.status.code(), Some(1));
    assert!(
        stderr(&write_raw).contains("Permission denied"),
        "{}",
        stderr(&write_raw)
    );
    let allowed = exec_cli(
        &agent,
        &["-token", &node_exec, "-i=false", &alloc, "echo", "hi"],
        b"",
    );
    assert_eq!(stdout(&allowed), "hi\n", "{}", stderr(&allowed));
    assert_eq!(allowed.status.code(), Some(0));

    // A browser sends its token in the websocket's first message (`ws_handshake`).
    let handshake = format!("{}&ws_handshake=true", query("t", &["echo", "hs"], false));
    let greeted = ws_exec(
        &agent,
        &alloc,
        &handshake,
        &[json!({"version": 1, "auth_token": node_exec})],
    );
    assert_eq!(greeted.stdout, "hs\n", "{greeted:?}");
    for token in [&read, &write, &String::new()] {
        let refused = ws_exec(
            &agent,
            &alloc,
            &handshake,
            &[json!({"version": 1, "auth_token": token})],
        );
        assert_eq!(refused.close, Some((1008, "Permission denied".into())));
        assert_eq!(refused.stdout, "");
    }

    // An isolated task: `write` (which holds `alloc-exec`) is enough.
    if caravan_testkit::host::exec_unsupported().is_none() {
        let isolated = running_alloc(
            &agent,
            work.path(),
            "guarded-exec",
            "exec",
            &["-token", &management],
        );
        let allowed = exec_cli(
            &agent,
            &["-token", &write, "-i=false", &isolated, "echo", "in"],
            b"",
        );
        assert_eq!(stdout(&allowed), "in\n", "{}", stderr(&allowed));
        let denied = exec_cli(
            &agent,
            &["-token", &read, "-i=false", &isolated, "echo", "in"],
            b"",
        );
        assert!(stderr(&denied).contains("403"), "{}", stderr(&denied));
        let stop = agent.cli(
            &[
                "job",
                "stop",
                "-detach",
                "-token",
                &management,
                "guarded-exec",
            ],
            work.path(),
        );
        assert!(stop.status.success(), "{}", stderr(&stop));
    }

    let stop = agent.cli(
        &["job", "stop", "-detach", "-token", &management, "guarded"],
        work.path(),
    );
    assert!(stop.status.success(), "{}", stderr(&stop));
}

#[test]
fn a_server_relays_alloc_exec_to_the_client_that_runs_the_allocation() {
    let cluster = Cluster::start(SERVER_CONFIG, 1, |server, n| {
        workshop_client_config(server.rpc_port, n, true)
    });
    cluster.wait_for_raw_exec(1, Duration::from_secs(30));
    let server = &cluster.server;
    let work = tempfile::tempdir().unwrap();
    let alloc = running_alloc(server, work.path(), "relayed", "raw_exec", &[]);

    // The CLI talks to the server only; the server relays the socket.
    let echo = exec_cli(server, &["-i=false", &alloc, "echo", "via the server"], b"");
    assert_eq!(stdout(&echo), "via the server\n", "{}", stderr(&echo));
    let cat = exec_cli(
        server,
        &[&alloc, "sh", "-c", "cat; exit 4"],
        b"relayed stdin\n",
    );
    assert_eq!(stdout(&cat), "relayed stdin\n", "{}", stderr(&cat));
    assert_eq!(cat.status.code(), Some(4));
    let unknown = ws_exec(server, &alloc, &query("nope", &["true"], false), &[]);
    assert_eq!(
        unknown.close,
        Some((1008, "unknown task name \"nope\"".into()))
    );

    server.stop_job("relayed", work.path());
}

#[test]
fn alloc_exec_works_over_https_direct_and_relayed() {
    let pki = TestPki::new();
    let mut server = Agent::unstarted();
    server.set_config(&format!("{SERVER_CONFIG}{}", pki.tls_block("server")));
    server.use_tls(pki.cli_tls());
    server.spawn(&[]);
    let raw_exec = "plugin \"raw_exec\" {\n  config {\n    enabled = true\n  }\n}\n";
    let mut client = Agent::unstarted();
    client.set_config(&client_config(
        server.rpc_port,
        "",
        &format!("{raw_exec}{}", pki.tls_block("client")),
    ));
    client.use_tls(pki.cli_tls());
    client.spawn(&[]);
    server.wait_for_ready_nodes(1);
    let work = tempfile::tempdir().unwrap();
    let alloc = running_alloc(&server, work.path(), "secured", "raw_exec", &[]);

    for (agent, how) in [(&server, "relayed"), (&client, "direct")] {
        let args = [
            "alloc",
            "exec",
            "-i=false",
            &alloc,
            "sh",
            "-c",
            "echo $0; exit 6",
            how,
        ];
        let exec = cli_with_tls(&agent.addr(), &pki.cli_tls(), &args, work.path());
        assert_eq!(stdout(&exec), format!("{how}\n"), "{}", stderr(&exec));
        assert_eq!(exec.status.code(), Some(6));
    }
    server.stop_job("secured", work.path());
}

/// PIDs whose command line is exactly `args`.
fn processes_running(args: &[&str]) -> Vec<u32> {
    let wanted: Vec<u8> = args
        .iter()
        .flat_map(|a| [a.as_bytes(), b"\0"].concat())
        .collect();
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == wanted))
        .collect()
}

#[test]
fn a_client_that_hangs_up_kills_its_command() {
    let agent = Agent::start();
    let work = tempfile::tempdir().unwrap();
    let alloc = running_alloc(&agent, work.path(), "hangup", "raw_exec", &[]);
    hang_up(&agent, &alloc, &["sleep", "4321"]);
    agent.stop_job("hangup", work.path());
}

/// Starts `command` over a websocket, hangs up once it runs, and waits until it is gone.
fn hang_up(agent: &Agent, alloc: &str, command: &[&str]) {
    let url = format!(
        "{}/v1/client/allocation/{alloc}/exec?{}",
        agent.addr().replacen("http://", "ws://", 1),
        query("t", command, false)
    );
    block_on(async {
        let (socket, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .expect("websocket");
        let mut waited = 0;
        while processes_running(command).is_empty() && waited < 200 {
            tokio::time::sleep(Duration::from_millis(25)).await;
            waited += 1;
        }
        assert!(!processes_running(command).is_empty(), "the command runs");
        drop(socket);
    });
    agent.eventually("the command to be killed", Duration::from_secs(10), || {
        processes_running(command).is_empty()
    });
}
