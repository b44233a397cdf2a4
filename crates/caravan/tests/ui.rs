//! The web UI: served at `/ui` by every agent, and driven end to end in headless
//! Chromium (`tests/ui/drive.mjs`, Node + playwright-core with Debian's chromium).
//! `.ci/run` installs both; where they are missing the browser test says `skipping:`.

mod common;

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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

fn http(agent: &Agent, path: &str) -> (u16, Option<String>, String) {
    let agent_config = ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .build();
    let client: ureq::Agent = agent_config.into();
    let mut response = client
        .get(&format!("{}{path}", agent.addr()))
        .call()
        .expect("GET");
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = response.body_mut().read_to_string().unwrap_or_default();
    (response.status().as_u16(), location, body)
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
    let (status, _, body) = http(&agent, "/v1/jobs");
    assert_eq!((status, body.as_str()), (200, "[]"));
}

/// Chromium, Node and playwright-core, or why the browser test cannot run here.
fn browser_tools() -> Result<(PathBuf, PathBuf), String> {
    let chromium = std::env::var_os("CARAVAN_CHROMIUM")
        .map(PathBuf::from)
        .or_else(|| {
            ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
                .iter()
                .map(PathBuf::from)
                .find(|p| p.exists())
        })
        .ok_or(
            "chromium is not installed (apt-get install -y chromium, or set CARAVAN_CHROMIUM)",
        )?;
    let node = Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        return Err("node is not installed (apt-get install -y nodejs npm)".into());
    }
    let driver = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui");
    if !driver
        .join("node_modules/playwright-core/package.json")
        .exists()
    {
        return Err(format!(
            "playwright-core is not installed (npm ci --prefix {})",
            driver.display()
        ));
    }
    Ok((chromium, driver))
}

/// `target/ui-screenshots`, next to the test binary's `debug` directory.
fn screenshot_dir() -> PathBuf {
    let target = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(Path::to_path_buf))
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("ui-screenshots")
}

/// The driver process in a process group of its own, so the browser it started goes
/// with it whatever happens.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill")
            .args(["-9", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.0.wait();
    }
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
    let log = std::fs::File::create(&log_path).expect("driver log");
    // The browser starts at once: the job page is open while the allocation starts.
    let mut driver = Driver(
        Command::new("node")
            .arg(driver_dir.join("drive.mjs"))
            .arg(agent.addr())
            .arg("ui-hello")
            .arg(&shots)
            .arg(&chromium)
            .current_dir(&driver_dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("start node"),
    );
    let deadline = Instant::now() + Duration::from_secs(180);
    let status = loop {
        if let Some(status) = driver.0.try_wait().expect("wait for the driver") {
            break Some(status);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut output = String::new();
    let _ = std::fs::File::open(&log_path).and_then(|mut f| f.read_to_string(&mut output));
    println!("{output}");
    match status {
        Some(status) if status.success() => {}
        Some(status) => panic!(
            "the browser run failed ({status}); screenshots in {}:\n{output}\nagent log:\n{}",
            shots.display(),
            agent.log()
        ),
        None => panic!("the browser run took over 3 minutes:\n{output}"),
    }
    drop(driver);

    // What the browser saw is what the API says.
    agent.eventually("the job to be dead", Duration::from_secs(10), || {
        agent
            .get_json("/v1/job/ui-hello")
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
