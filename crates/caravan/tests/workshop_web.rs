//! The workshop's step 3, "web services of any runtime", on the workshop's cluster (one
//! server, three clients with raw_exec): the seed's `main.go` and `hello.php`, the job
//! files its heredocs generate, `caravan job run -hcl1`, `curl localhost:<port>`; the Go
//! job's page in the web UI, as the workshop opens it (headless Chromium: the job, its
//! running allocation, its log, and a Restart); then `caravan job stop` for both, after
//! which none of their processes (`go run` and the binary it built) is left and the
//! ports are closed.
//!
//! Needs `go` and `php` (`.ci/run` installs golang-go and php-cli); says `skipping:`
//! without them. The browser part needs what `tests/ui.rs` needs, and is skipped the same
//! way on its own.

#[path = "ui/browser.rs"]
mod browser;
mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;

/// The seed's `main.go` (`cat <<EOF > main.go`), also in `examples/workshop`.
const MAIN_GO: &str = include_str!("../../../examples/workshop/main.go");
/// The seed's `hello.php` (note the space after `<?php`).
const HELLO_PHP: &str = include_str!("../../../examples/workshop/hello.php");

/// The seed's `cat <<EOF > hello-exec-go.nomad`, before the shell expands `${PATH_TO_GO}`
/// (`$(which go)`) and `${DIR}` (`$(pwd)`).
const HELLO_EXEC_GO: &str = r#"job "hello-exec-go-web" {
  datacenters = ["dc1"]
  type = "service"
  group "go-web" {
    count = 1
    task "go-web" {
      driver = "raw_exec"
      config {
        command = "${PATH_TO_GO}"
        args    = ["run", "${DIR}/main.go"]
      }
    }
  }
}
"#;

/// The seed's `cat <<EOF > hello-exec-php.nomad`, before `${PATH_TO_PHP}` and `${DIR}`.
const HELLO_EXEC_PHP: &str = r#"job "hello-exec-php-web" {
  datacenters = ["dc1"]
  type = "service"
  group "php-web" {
    count = 1
    task "php-web" {
      driver = "raw_exec"
      config {
        command = "${PATH_TO_PHP}"
        args    = ["-S", "localhost:8888", "${DIR}/hello.php"]
      }
    }
  }
}
"#;

/// What the shell's heredoc does: `${NAME}` replaced by its value.
fn expand(template: &str, vars: &[(&str, &str)]) -> String {
    vars.iter()
        .fold(template.to_string(), |text, (name, value)| {
            text.replace(&format!("${{{name}}}"), value)
        })
}

/// `which <program>`: the first executable of that name on `PATH`.
fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(candidate)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// `go run` needs a writable build cache (`$GOCACHE`, default `$HOME/.cache/go-build`).
/// raw_exec tasks inherit the agent's environment, and the agents this test's own:
/// where `HOME` is missing or read-only, point both at a directory of the test's.
fn go_cache_for_the_agents(scratch: &Path) {
    let home_writable = std::env::var_os("HOME").is_some_and(|home| {
        let probe = Path::new(&home).join(".caravan-test-probe");
        let ok = std::fs::write(&probe, b"").is_ok();
        let _ = std::fs::remove_file(&probe);
        ok
    });
    if home_writable || std::env::var_os("GOCACHE").is_some() {
        return;
    }
    let home = scratch.join("home");
    std::fs::create_dir_all(&home).expect("create a HOME for go");
    eprintln!(
        "HOME is not writable: HOME and GOCACHE point at {} for the agents",
        home.display()
    );
    // SAFETY: called before this test starts any agent; std's own environment reads
    // (process spawns in the other test of this binary) take the same lock.
    unsafe {
        std::env::set_var("HOME", &home);
        std::env::set_var("GOCACHE", home.join("go-build"));
    }
}

/// The workshop's server config (`bind_addr` on loopback; the harness sets the ports).
/// `curl localhost:<port>`: the body, or why there is none.
fn curl(port: u16) -> Result<String, String> {
    block_on(async {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| e.to_string())?;
        let response = http
            .get(format!("http://localhost:{port}/"))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        response.text().await.map_err(|e| e.to_string())
    })
}

/// `POST <path>` (one of [`paths`]) with a JSON body: status and body text.
fn post(agent: &Agent, path: &str, body: &str) -> (u16, String) {
    let answer = agent
        .run(|api| api.send_raw(Method::Post, path, Some(body.as_bytes())))
        .expect("POST");
    (answer.status, answer.body)
}

fn port_open(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(500),
    )
    .is_ok()
}

/// The only allocation of `job`, once it runs.
fn running_alloc(server: &Agent, job: &str) -> serde_json::Value {
    let mut alloc = serde_json::Value::Null;
    server.eventually(
        &format!("the allocation of {job} to run"),
        Duration::from_secs(60),
        || {
            let allocs = server.allocations(job);
            alloc = allocs.first().cloned().unwrap_or_default();
            allocs.len() == 1 && alloc["ClientStatus"] == "running"
        },
    );
    alloc
}

/// Waits until the task runs again after its `restarts`-th restart.
fn wait_restarted(server: &Agent, alloc_id: &str, task: &str, restarts: u64) -> serde_json::Value {
    let mut state = serde_json::Value::Null;
    server.eventually(
        &format!("{task} to run again after restart {restarts}"),
        Duration::from_secs(60),
        || {
            state = server.task_state(alloc_id, task);
            state["State"] == "running"
                && state["Restarts"] == restarts
                && event_types(&state).last().map(String::as_str) == Some("Started")
        },
    );
    state
}

/// The tail Nomad gives a task restarted in place.
const RESTART_EVENTS: [&str; 5] = [
    "Restart Signaled",
    "Killing",
    "Terminated",
    "Restarting",
    "Started",
];

#[test]
fn workshop_step_3_runs_go_and_php_web_services_shows_restarts_and_stops_them() {
    let (Some(go), Some(php)) = (which("go"), which("php")) else {
        eprintln!(
            "skipping: go and php are needed (apt-get install -y golang-go php-cli); found go: {:?}, php: {:?}",
            which("go"),
            which("php")
        );
        return;
    };
    let work = tempfile::tempdir().expect("temp dir");
    go_cache_for_the_agents(work.path());
    let started = Instant::now();
    let lap = |what: &str| eprintln!("[{:>6.1}s] {what}", started.elapsed().as_secs_f64());

    let cluster = Cluster::start(SERVER_CONFIG, 3, |server, n| {
        workshop_client_config(server.rpc_port, n, true)
    });
    cluster.wait_for_raw_exec(3, Duration::from_secs(20));
    let Cluster { server, clients } = cluster;
    lap("cluster: 1 server + 3 clients ready");

    // The seed listens on 8080 and 8888; a test takes free ports instead, substituted in
    // main.go and the PHP job's args. Everything else is the seed's text.
    let go_port = free_port();
    let php_port = free_port();
    let dir = work.path().display().to_string();
    write(
        work.path(),
        "main.go",
        &MAIN_GO.replace("\"8080\"", &format!("\"{go_port}\"")),
    );
    write(work.path(), "hello.php", HELLO_PHP);
    write(
        work.path(),
        "hello-exec-go.nomad",
        &expand(
            HELLO_EXEC_GO,
            &[("PATH_TO_GO", &go.display().to_string()), ("DIR", &dir)],
        ),
    );
    write(
        work.path(),
        "hello-exec-php.nomad",
        &expand(
            &HELLO_EXEC_PHP.replace("localhost:8888", &format!("localhost:{php_port}")),
            &[("PATH_TO_PHP", &php.display().to_string()), ("DIR", &dir)],
        ),
    );

    // $ nomad job run -hcl1 hello-exec-go.nomad ; curl localhost:8080
    let run = server.cli(&["job", "run", "-hcl1", "hello-exec-go.nomad"], work.path());
    assert!(run.status.success(), "{}{}", stdout(&run), stderr(&run));
    lap("job run hello-exec-go-web returned");
    let mut answer = Err(String::new());
    server.eventually(
        "the Go service to answer (go run compiles first)",
        Duration::from_secs(120),
        || {
            answer = curl(go_port);
            answer.is_ok()
        },
    );
    assert_eq!(answer.as_deref(), Ok("Hello World! Go is running on Nomad"));
    lap("curl localhost:<go port>: Hello World! Go is running on Nomad");

    // $ nomad job run -hcl1 hello-exec-php.nomad ; curl localhost:8888
    let run = server.cli(
        &["job", "run", "-hcl1", "hello-exec-php.nomad"],
        work.path(),
    );
    assert!(run.status.success(), "{}{}", stdout(&run), stderr(&run));
    server.eventually("the PHP service to answer", Duration::from_secs(60), || {
        answer = curl(php_port);
        answer.is_ok()
    });
    assert_eq!(
        answer.as_deref(),
        Ok("Hello World! PHP is running on Nomad")
    );
    lap("curl localhost:<php port>: Hello World! PHP is running on Nomad");

    let go_alloc = running_alloc(&server, "hello-exec-go-web");
    let go_alloc_id = go_alloc["ID"].as_str().unwrap().to_string();
    let php_alloc = running_alloc(&server, "hello-exec-php-web");
    let php_alloc_id = php_alloc["ID"].as_str().unwrap().to_string();
    // `go run` and the program it built and started, both the task's.
    let go_pids = processes_of_alloc(&go_alloc_id);
    assert!(go_pids.len() >= 2, "go run and its program: {go_pids:?}");

    // http://127.0.0.1:4646/ui/jobs/hello-exec-go-web, and a restart from the UI; the
    // API does the same restart where no browser is installed.
    match browser::browser_tools() {
        Ok((chromium, driver_dir)) => {
            let shots = browser::screenshot_dir();
            std::fs::create_dir_all(&shots).expect("create the screenshot directory");
            let run = browser::run_script(
                &driver_dir,
                "workshop.mjs",
                &[
                    format!("http://127.0.0.1:{}", server.port).as_ref(),
                    "hello-exec-go-web".as_ref(),
                    shots.as_os_str(),
                    chromium.as_os_str(),
                ],
                &work.path().join("workshop-driver.log"),
                Duration::from_secs(180),
            );
            println!("{}", run.output);
            match run.success {
                Some(true) => {}
                Some(false) => panic!(
                    "the browser run failed; screenshots in {}:\n{}\nserver log:\n{}\nclient logs:\n{}",
                    shots.display(),
                    run.output,
                    server.log(),
                    clients
                        .iter()
                        .map(Agent::log)
                        .collect::<Vec<_>>()
                        .join("\n---\n")
                ),
                None => panic!("the browser run took over 3 minutes:\n{}", run.output),
            }
            for name in [
                "workshop-go-job",
                "workshop-go-allocation",
                "workshop-go-restarted",
                "workshop-go-stderr",
            ] {
                assert!(shots.join(format!("{name}.png")).exists(), "{name}.png");
            }
            lap("browser: job page, allocation, log, Restart");
        }
        Err(why) => {
            eprintln!("skipping the browser part: {why}; restarting through the API instead");
            let (status, body) = post(
                &server,
                &paths::allocation_restart(&go_alloc_id),
                r#"{"TaskName": "", "AllTasks": false}"#,
            );
            assert_eq!((status, body.as_str()), (200, "{}"));
        }
    }

    // The restart as the API sees it: Nomad's events, one restart, the old processes gone
    // and the service back.
    let state = wait_restarted(&server, &go_alloc_id, "go-web", 1);
    let types = event_types(&state);
    assert!(
        types.ends_with(&RESTART_EVENTS.map(String::from)),
        "events after a restart: {types:?}"
    );
    let events = state["Events"].as_array().unwrap();
    let signaled = &events[events.len() - 5];
    assert_eq!(
        signaled["DisplayMessage"],
        "User requested running tasks to restart"
    );
    assert_eq!(
        events[events.len() - 2]["DisplayMessage"],
        "Task restarting in 0s"
    );
    let after = processes_of_alloc(&go_alloc_id);
    assert!(
        go_pids.iter().all(|pid| !after.contains(pid)),
        "the processes before the restart {go_pids:?} must be gone: {after:?}"
    );
    server.eventually(
        "the Go service to answer again",
        Duration::from_secs(120),
        || curl(go_port).is_ok_and(|body| body == "Hello World! Go is running on Nomad"),
    );
    lap("go-web restarted in place and answers again");

    // A named task, through the server (which forwards to the client that runs it), three
    // times: more than the service default's 2 attempts, none counted against it.
    for restart in 1..=3 {
        let (status, body) = post(
            &server,
            &paths::allocation_restart(&php_alloc_id),
            r#"{"TaskName": "php-web"}"#,
        );
        assert_eq!((status, body.as_str()), (200, "{}"), "restart {restart}");
        let state = wait_restarted(&server, &php_alloc_id, "php-web", restart);
        assert!(
            event_types(&state).ends_with(&RESTART_EVENTS.map(String::from)),
            "{state}"
        );
        let events = state["Events"].as_array().unwrap();
        assert_eq!(
            events[events.len() - 5]["DisplayMessage"],
            "User requested task to restart"
        );
        assert!(!event_types(&state).contains(&"Not Restarting".to_string()));
    }
    server.eventually(
        "the PHP service to answer again",
        Duration::from_secs(30),
        || curl(php_port).is_ok_and(|body| body == "Hello World! PHP is running on Nomad"),
    );
    assert_eq!(
        server.allocations("hello-exec-php-web")[0]["ClientStatus"],
        "running"
    );
    lap("php-web restarted 3 times by name, still running");

    // What cannot be restarted, in Nomad's words.
    let (status, body) = post(
        &server,
        &paths::allocation_restart("00000000-0000-0000-0000-000000000000"),
        "{}",
    );
    assert_eq!(status, 404, "{body}");
    assert!(body.starts_with("Unknown allocation"), "{body}");
    let (status, body) = post(
        &server,
        &paths::allocation_restart(&php_alloc_id),
        r#"{"TaskName": "nope"}"#,
    );
    assert_eq!(
        (status, body.as_str()),
        (400, "Could not find task runner for task: nope")
    );
    let (status, body) = post(
        &server,
        &paths::allocation_restart(&php_alloc_id),
        r#"{"TaskName": "php-web", "AllTasks": true}"#,
    );
    assert_eq!(
        (status, body.as_str()),
        (400, "task name cannot be set when restarting all tasks")
    );

    // $ nomad job stop hello-exec-go-web ; nomad job stop hello-exec-php-web
    for job in ["hello-exec-go-web", "hello-exec-php-web"] {
        server.stop_job(job, work.path());
    }
    for (alloc_id, port) in [(&go_alloc_id, go_port), (&php_alloc_id, php_port)] {
        server.eventually(
            "the allocation's processes to be gone and its port closed",
            Duration::from_secs(30),
            || processes_of_alloc(alloc_id).is_empty() && !port_open(port),
        );
    }
    for job in ["hello-exec-go-web", "hello-exec-php-web"] {
        server.eventually(
            &format!("{job} to be dead"),
            Duration::from_secs(15),
            || {
                server
                    .read(|api| api.job(job))
                    .is_ok_and(|j| j["Status"] == "dead")
            },
        );
    }
    lap("job stop: no process of either allocation left, ports closed");
    drop(clients);
}

/// A batch job whose first task finishes at once while the second runs on.
const TWO_TASKS: &str = r#"job "restart-all" {
  datacenters = ["dc1"]
  type = "batch"
  group "g" {
    task "once" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo once"]
      }
    }
    task "long" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "sleep 300"]
      }
    }
  }
}
"#;

#[test]
fn a_restart_takes_the_running_tasks_and_all_tasks_runs_the_finished_ones_again() {
    let agent = Agent::start();
    let work = tempfile::tempdir().expect("temp dir");
    write(work.path(), "two.nomad", TWO_TASKS);
    let run = agent.cli(&["job", "run", "two.nomad"], work.path());
    assert!(run.status.success(), "{}{}", stdout(&run), stderr(&run));
    let mut alloc_id = String::new();
    agent.eventually(
        "once to finish while long runs",
        Duration::from_secs(30),
        || {
            let Some(alloc) = agent.allocations("restart-all").first().cloned() else {
                return false;
            };
            alloc_id = alloc["ID"].as_str().unwrap_or_default().to_string();
            let states = &alloc["TaskStates"];
            states["once"]["State"] == "dead" && states["long"]["State"] == "running"
        },
    );
    let restart = paths::allocation_restart(&alloc_id);

    // No body: the running tasks only.
    let (status, body) = post(&agent, &restart, "");
    assert_eq!((status, body.as_str()), (200, "{}"));
    wait_restarted(&agent, &alloc_id, "long", 1);
    let once = agent.task_state(&alloc_id, "once");
    assert_eq!(
        (once["State"].as_str(), once["Restarts"].as_u64()),
        (Some("dead"), Some(0))
    );
    assert!(!event_types(&once).contains(&"Restart Signaled".to_string()));

    // A finished task cannot be restarted by name.
    let (status, body) = post(&agent, &restart, r#"{"TaskName": "once"}"#);
    assert_eq!((status, body.as_str()), (500, "Task not running"));

    // AllTasks: the finished task runs again too.
    let (status, body) = post(&agent, &restart, r#"{"AllTasks": true}"#);
    assert_eq!((status, body.as_str()), (200, "{}"));
    wait_restarted(&agent, &alloc_id, "long", 2);
    agent.eventually(
        "once to run again and finish",
        Duration::from_secs(30),
        || {
            let once = agent.task_state(&alloc_id, "once");
            let types = event_types(&once);
            once["State"] == "dead"
                && once["Restarts"] == 1
                && !once["Failed"].as_bool().unwrap_or(true)
                && types.ends_with(&[
                    "Restart Signaled".to_string(),
                    "Restarting".to_string(),
                    "Started".to_string(),
                    "Terminated".to_string(),
                ])
        },
    );
    let once = agent.task_state(&alloc_id, "once");
    let events = once["Events"].as_array().unwrap();
    assert_eq!(
        events[events.len() - 4]["DisplayMessage"],
        "User requested all tasks to restart"
    );
    let log = stdout(&agent.cli(&["fs", &alloc_id, "alloc/logs/once.stdout.0"], work.path()));
    assert_eq!(log, "once\nonce\n");

    agent.stop_job("restart-all", work.path());
    agent.eventually("the tasks to be gone", Duration::from_secs(15), || {
        processes_of_alloc(&alloc_id).is_empty()
    });
    // A stopped allocation is not restarted.
    agent.eventually(
        "a restart of the stopped allocation to be refused",
        Duration::from_secs(15),
        || post(&agent, &restart, "").0 != 200,
    );
}
