//! Test harness: a real `caravan agent -dev` on a free loopback port, the CLI pointed at
//! it, and `caravan-api-client` to read its API. Dropping the agent stops it and every
//! task it started.

#![allow(dead_code)]

use std::future::Future;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

// For the tests that send to a route themselves (not every test binary does).
#[allow(unused_imports)]
pub use caravan_api_client::{Client, Method, paths};
use caravan_api_client::{Config, Error as ApiError, Indexed};
use serde::Serialize;

pub const CARAVAN: &str = env!("CARGO_BIN_EXE_caravan");

/// The runtime every test's HTTP calls run on (tests are synchronous; they block on it).
static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime for the tests' HTTP calls")
});

/// Runs `future` to completion on the tests' runtime.
pub fn block_on<F: Future>(future: F) -> F::Output {
    RUNTIME.block_on(future)
}

/// An API client for `address` (`http://127.0.0.1:<port>`).
pub fn client_of(address: &str) -> Client {
    Client::new(Config::address(address)).expect("an API client")
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local address").port()
}

/// An agent started for one test. Dropping it stops it (SIGINT, then SIGKILL).
pub struct Agent {
    child: Option<Child>,
    api: Client,
    pub port: u16,
    pub rpc_port: u16,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    log_path: PathBuf,
}

/// The dev agent of most tests.
pub type DevAgent = Agent;

impl Agent {
    /// Starts `caravan agent -dev` with its HTTP API on a free port and waits for its node.
    pub fn start() -> Agent {
        let agent = Agent::with_config(&["-dev"], "");
        agent.wait_for_ready_nodes(1);
        agent
    }

    /// Starts `caravan agent <flags> -config=<file>` where the file holds `config` plus
    /// free HTTP and RPC ports and a data_dir of its own. Does not wait.
    pub fn with_config(flags: &[&str], config: &str) -> Agent {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let rpc_port = free_port();
        let config_path = dir.path().join("agent.hcl");
        let text = format!(
            "data_dir = \"{}\"\n{config}\nports {{\n  http = {port}\n  rpc  = {rpc_port}\n  serf = {}\n}}\n",
            dir.path().join("data").display(),
            free_port()
        );
        std::fs::write(&config_path, text).expect("write config");
        let log_path = dir.path().join("agent.log");
        let api = client_of(&format!("http://127.0.0.1:{port}"));
        let mut agent = Agent {
            child: None,
            api,
            port,
            rpc_port,
            dir,
            config_path,
            log_path,
        };
        agent.spawn(flags);
        agent
    }

    /// (Re)starts the agent process with the same configuration.
    pub fn spawn(&mut self, flags: &[&str]) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .expect("agent log");
        let child = Command::new(CARAVAN)
            .arg("agent")
            .args(flags)
            .arg(format!("-config={}", self.config_path.display()))
            .stdout(log.try_clone().expect("clone log"))
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("start caravan agent");
        self.child = Some(child);
    }

    /// Kills the agent at once, as `kill -9` does.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Rewrites the configuration (ports and data_dir are kept).
    pub fn set_config(&self, config: &str) {
        let text = format!(
            "data_dir = \"{}\"\n{config}\nports {{\n  http = {}\n  rpc  = {}\n  serf = {}\n}}\n",
            self.dir.path().join("data").display(),
            self.port,
            self.rpc_port,
            free_port()
        );
        std::fs::write(&self.config_path, text).expect("write config");
    }

    /// Stops the agent the way Ctrl-C does and waits for it.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        unsafe_kill(child.id() as i32, 2);
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// The agent process's PID, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// A `/proc/<pid>/status` figure of the agent, in kB (`VmRSS`, `VmHWM`).
    pub fn memory_kb(&self, field: &str) -> u64 {
        let pid = self.pid().expect("the agent runs");
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap_or_default()
            .lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    /// Runs one call of the agent's API client: `agent.run(|api| api.job("web"))`.
    pub fn run<'a, F: Future>(&'a self, call: impl FnOnce(&'a Client) -> F) -> F::Output {
        block_on(call(&self.api))
    }

    /// A read through the API client (`|api| api.node(id, Default::default())`), as the
    /// JSON the tests look into.
    pub fn read<'a, T, F>(
        &'a self,
        call: impl FnOnce(&'a Client) -> F,
    ) -> Result<serde_json::Value, String>
    where
        T: Serialize,
        F: Future<Output = Result<Indexed<T>, ApiError>>,
    {
        let read = self.run(call).map_err(|e| e.to_string())?;
        serde_json::to_value(read.value).map_err(|e| e.to_string())
    }

    /// Sends `body` as JSON with `method` to `path` (one of [`paths`]) and returns the
    /// status and body text, error statuses included.
    pub fn send_json(&self, method: Method, path: &str, body: &serde_json::Value) -> (u16, String) {
        let body = body.to_string();
        match self.run(|api| api.send_raw(method, path, Some(body.as_bytes()))) {
            Ok(answer) => (answer.status, answer.body),
            Err(error) => (0, error.to_string()),
        }
    }

    pub fn addr(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Waits until `count` nodes are ready.
    pub fn wait_for_ready_nodes(&self, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let ready = self.run(|api| api.nodes("")).is_ok_and(|nodes| {
                nodes.value.iter().filter(|n| n.status == "ready").count() >= count
            });
            if ready {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("{count} nodes did not become ready; log:\n{}", self.log());
    }

    /// Runs the CLI against this agent.
    pub fn cli(&self, args: &[&str], cwd: &Path) -> Output {
        Command::new(CARAVAN)
            .args(args)
            .current_dir(cwd)
            .env("CARAVAN_ADDR", self.addr())
            .env_remove("NOMAD_ADDR")
            .output()
            .expect("run caravan CLI")
    }

    /// Waits until `check` holds, or fails the test with `what`.
    pub fn eventually(&self, what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if check() {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("timed out waiting for {what}; agent log:\n{}", self.log());
    }

    /// Waits until the job's first allocation runs and its task's processes have settled
    /// (a shell has started its child), and returns their PIDs.
    pub fn settled_task_processes(&self, job: &str, alloc_id: &str, timeout: Duration) -> Vec<i32> {
        let mut settled = Vec::new();
        self.eventually("the task to run", timeout, || {
            settled = processes_of_alloc(alloc_id);
            std::thread::sleep(Duration::from_millis(150));
            !settled.is_empty()
                && processes_of_alloc(alloc_id) == settled
                && self
                    .allocations(job)
                    .first()
                    .is_some_and(|a| a["ClientStatus"] == "running")
        });
        settled
    }

    /// The allocations of a job, as JSON.
    pub fn allocations(&self, job: &str) -> Vec<serde_json::Value> {
        self.read(|api| api.job_allocations(job, false))
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        // SIGINT lets a dev agent stop its tasks; SIGKILL if it does not exit in time.
        self.stop();
        // A non-dev agent leaves its tasks running on purpose (the next start re-attaches);
        // the test started them, so the test ends them.
        let data_dir = self.dir.path().join("data");
        for pid in processes_with_env_prefix("NOMAD_ALLOC_DIR=", &data_dir.display().to_string()) {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    }
}

/// PIDs of live processes with an environment variable `name` (given with its `=`) whose
/// value starts with `prefix`.
pub fn processes_with_env_prefix(name: &str, prefix: &str) -> Vec<i32> {
    let needle = format!("{name}{prefix}");
    let mut pids = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if environ
            .split(|b| *b == 0)
            .any(|var| var.starts_with(needle.as_bytes()))
        {
            pids.push(pid);
        }
    }
    pids
}

fn unsafe_kill(pid: i32, signal: i32) {
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status();
}

/// PIDs of live processes whose environment says they belong to `alloc_id`.
pub fn processes_of_alloc(alloc_id: &str) -> Vec<i32> {
    let needle = format!("NOMAD_ALLOC_ID={alloc_id}");
    let mut pids = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let mut environ = Vec::new();
        let Ok(mut file) = std::fs::File::open(entry.path().join("environ")) else {
            continue;
        };
        if file.read_to_end(&mut environ).is_err() {
            continue;
        }
        if process_alive(pid)
            && environ
                .split(|b| *b == 0)
                .any(|var| var == needle.as_bytes())
        {
            pids.push(pid);
        }
    }
    pids
}

/// Whether `pid` runs (a zombie does not).
pub fn process_alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

/// Writes a file in `dir` and returns its path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write test file");
    path
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
