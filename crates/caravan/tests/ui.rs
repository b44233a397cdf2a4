//! The web UI: served at `/ui` by every agent, and driven end to end in headless
//! Chromium (`tests/ui/drive.mjs`, Node + playwright-core with Debian's chromium).
//! `.ci/run` installs both; where they are missing the browser test says `skipping:`.

#[path = "ui/browser.rs"]
mod browser;
mod common;

use std::time::Duration;

use browser::*;
use common::*;

const HELLO: &str = r#"job "ui-hello" {
  datacenters = ["dc1"]
  group "web" {
    task "hello" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo hello from caravan; sleep 300"]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
"#;

/// `GET <path>` without following redirects: status, `Location` and body text.
fn http(agent: &Agent, path: &str) -> (u16, Option<String>, String) {
    block_on(async {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client");
        let response = client
            .get(format!("{}{path}", agent.addr()))
            .send()
            .await
            .expect("GET");
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let status = response.status().as_u16();
        (status, location, response.text().await.unwrap_or_default())
    })
}

#[test]
fn the_ui_is_served_at_ui_and_the_root_redirects_there() {
    let agent = Agent::start();
    let (status, location, _) = http(&agent, "/");
    assert_eq!((status, location.as_deref()), (307, Some("/ui/")));
    for path in [
        "/ui",
        "/ui/",
        "/ui/jobs",
        "/ui/jobs/web@default",
        "/ui/clients/x",
    ] {
        let (status, _, body) = http(&agent, path);
        assert_eq!(status, 200, "{path}");
        assert!(body.contains("<title>Caravan</title>"), "{path}: {body}");
    }
    let (status, _, body) = http(&agent, "/ui/assets/app.js");
    assert_eq!(status, 200);
    assert!(body.contains("import"), "app.js: {body}");
    let (status, _, _) = http(&agent, "/ui/assets/missing.js");
    assert_eq!(status, 404);
    // The API is still the API.
    let (status, _, body) = http(&agent, paths::JOBS);
    assert_eq!((status, body.as_str()), (200, "[]"));
}

#[test]
fn a_browser_watches_a_job_run_reads_its_log_and_stops_it() {
    let (chromium, driver_dir) = match browser_tools() {
        Ok(tools) => tools,
        Err(why) => {
            eprintln!("skipping: {why}");
            return;
        }
    };
    let agent = Agent::start();
    let work = tempfile::tempdir().expect("temp dir");
    write(work.path(), "hello.nomad", HELLO);
    let run = agent.cli(&["job", "run", "-detach", "hello.nomad"], work.path());
    assert!(run.status.success(), "job run: {}", stderr(&run));

    let shots = screenshot_dir();
    std::fs::create_dir_all(&shots).expect("create the screenshot directory");
    let log_path = work.path().join("driver.log");
    // The browser starts at once: the job page is open while the allocation starts.
    let run = run_script(
        &driver_dir,
        "drive.mjs",
        &[
            agent.addr().as_ref(),
            "ui-hello".as_ref(),
            shots.as_os_str(),
            chromium.as_os_str(),
        ],
        &log_path,
        Duration::from_secs(180),
    );
    let output = run.output;
    println!("{output}");
    match run.success {
        Some(true) => {}
        Some(false) => panic!(
            "the browser run failed; screenshots in {}:\n{output}\nagent log:\n{}",
            shots.display(),
            agent.log()
        ),
        None => panic!("the browser run took over 3 minutes:\n{output}"),
    }

    // What the browser saw is what the API says.
    agent.eventually("the job to be dead", Duration::from_secs(10), || {
        agent
            .read(|api| api.job("ui-hello"))
            .is_ok_and(|job| job["Status"] == "dead" && job["Stop"] == true)
    });
    for name in ["job-running", "allocation-log", "job-dead"] {
        assert!(
            shots.join(format!("{name}.png")).exists(),
            "screenshot {name}.png"
        );
    }
    let alloc_id = agent.allocations("ui-hello")[0]["ID"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    agent.eventually(
        "the task's processes to exit",
        Duration::from_secs(10),
        || processes_of_alloc(&alloc_id).is_empty(),
    );
}

/// With ACLs on, a page the anonymous caller may not see says so and offers the token
/// page; the token set there is kept in local storage and sent with every call.
#[test]
fn a_browser_asks_for_a_token_when_the_agent_refuses() {
    let (chromium, driver_dir) = match browser_tools() {
        Ok(tools) => tools,
        Err(why) => {
            eprintln!("skipping: {why}");
            return;
        }
    };
    let agent = Agent::with_config(&["-dev", "-acl-enabled"], "");
    let mut bootstrap = (0, String::new());
    agent.eventually("the ACL bootstrap", Duration::from_secs(20), || {
        bootstrap = agent.send_json(
            caravan_api_client::Method::Post,
            "/v1/acl/bootstrap",
            &serde_json::Value::Null,
        );
        bootstrap.0 == 200
    });
    let token: serde_json::Value = serde_json::from_str(&bootstrap.1).expect("a token");
    let secret = token["SecretID"].as_str().expect("a secret").to_string();
    let work = tempfile::tempdir().expect("temp dir");
    write(work.path(), "hello.nomad", HELLO);
    let run = agent.cli(
        &[
            "job",
            "run",
            "-detach",
            &format!("-token={secret}"),
            "hello.nomad",
        ],
        work.path(),
    );
    assert!(run.status.success(), "job run: {}", stderr(&run));

    let shots = screenshot_dir();
    std::fs::create_dir_all(&shots).expect("create the screenshot directory");
    let run = run_script(
        &driver_dir,
        "tokens.mjs",
        &[
            agent.addr().as_ref(),
            secret.as_ref(),
            shots.as_os_str(),
            chromium.as_os_str(),
        ],
        &work.path().join("driver.log"),
        Duration::from_secs(120),
    );
    println!("{}", run.output);
    assert_eq!(
        run.success,
        Some(true),
        "the browser run failed:\n{}",
        run.output
    );
}

/// A canary deployment from the job page: its canary shown waiting, promoted with the
/// page's button, the rollout followed to its end.
#[test]
fn a_browser_promotes_a_canary_deployment() {
    let (chromium, driver_dir) = match browser_tools() {
        Ok(tools) => tools,
        Err(why) => {
            eprintln!("skipping: {why}");
            return;
        }
    };
    let agent = Agent::start();
    let work = tempfile::tempdir().expect("temp dir");
    let job = |version: &str| {
        job_hcl(
            "web",
            "",
            &format!(
                "    count = 2\n    update {{\n      canary           = 1\n      min_healthy_time = \"1s\"\n    }}\n    task \"web\" {{\n      driver = \"raw_exec\"\n      config {{\n        command = \"/bin/sleep\"\n        args    = [\"600\"]\n      }}\n      env {{\n        VERSION = \"{version}\"\n      }}\n    }}"
            ),
        )
    };
    write(work.path(), "web.nomad", &job("1"));
    let run = agent.cli(&["job", "run", "-detach", "web.nomad"], work.path());
    assert!(run.status.success(), "job run: {}", stderr(&run));
    agent.wait_for_deployment("web");
    write(work.path(), "web.nomad", &job("2"));
    let run = agent.cli(&["job", "run", "-detach", "web.nomad"], work.path());
    assert!(run.status.success(), "job run: {}", stderr(&run));

    let shots = screenshot_dir();
    std::fs::create_dir_all(&shots).expect("create the screenshot directory");
    let run = run_script(
        &driver_dir,
        "deployment.mjs",
        &[
            agent.addr().as_ref(),
            "web".as_ref(),
            shots.as_os_str(),
            chromium.as_os_str(),
        ],
        &work.path().join("driver.log"),
        Duration::from_secs(180),
    );
    println!("{}", run.output);
    assert_eq!(
        run.success,
        Some(true),
        "the browser run failed:\n{}",
        run.output
    );
    let versions: Vec<u64> = agent
        .allocations("web")
        .iter()
        .filter(|a| a["DesiredStatus"] == "run")
        .filter_map(|a| a["JobVersion"].as_u64())
        .collect();
    assert_eq!(versions, vec![1, 1]);
}
