//! One `caravan agent` process on free loopback ports, with a data_dir of its own.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use caravan_api_client::{Client, Error as ApiError, Indexed, Method};
use caravan_structs::{NodeId, NodeStatus};
use serde::Serialize;

use super::{binary, block_on, cli_at, client_of, free_port, processes_of_alloc};

/// An agent started for one test. Dropping it stops it (SIGINT, then SIGKILL) and kills
/// any task process it left.
pub struct Agent {
    child: Option<Child>,
    api: Client,
    pub port: u16,
    pub rpc_port: u16,
    /// The serf port: fixed for the agent's life, as a server's serf address is part of
    /// the cluster's membership and must survive a restart.
    pub serf_port: u16,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    log_path: PathBuf,
    /// The CLI's TLS settings once [`Agent::use_tls`] made the API HTTPS.
    tls: Option<caravan_tls::outgoing::CliTls>,
}

/// How an agent run by [`Agent::run_to_exit`] ended.
#[derive(Debug)]
pub struct AgentExit {
    /// The exit code; `None` when it was still running at the timeout and was killed.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// The dev agent of most tests.
pub type DevAgent = Agent;

impl Agent {
    /// Starts `caravan agent -dev` with its HTTP API on a free port and waits for its node,
    /// which reports [`super::TEST_DISK_FREE_MB`] of free disk.
    pub fn start() -> Agent {
        let disk = format!(
            "client {{\n  disk_free_mb = {}\n}}\n",
            super::TEST_DISK_FREE_MB
        );
        let agent = Agent::with_config(&["-dev"], &disk);
        agent.wait_for_ready_nodes(1);
        agent
    }

    /// Starts `caravan agent <flags> -config=<file>` where the file holds `config` plus
    /// free HTTP, RPC and serf ports and a data_dir of its own. Does not wait.
    pub fn with_config(flags: &[&str], config: &str) -> Agent {
        let mut agent = Agent::unstarted();
        agent.set_config(config);
        agent.spawn(flags);
        agent
    }

    /// An agent with free ports and a data_dir of its own that is neither configured nor
    /// started: for agents whose configurations name each other's ports (a cluster of
    /// servers). [`Agent::set_config`], then [`Agent::spawn`].
    pub fn unstarted() -> Agent {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let config_path = dir.path().join("agent.hcl");
        let log_path = dir.path().join("agent.log");
        Agent {
            child: None,
            api: client_of(&format!("http://127.0.0.1:{port}")),
            port,
            rpc_port: free_port(),
            serf_port: free_port(),
            dir,
            config_path,
            log_path,
            tls: None,
        }
    }

    /// Talks to the agent over HTTPS from now on, its API client and the CLI alike,
    /// with `tls` (a CA and a certificate: [`super::TestPki::cli_tls`]).
    pub fn use_tls(&mut self, tls: caravan_tls::outgoing::CliTls) {
        self.api = super::tls::https_client_of(&format!("https://127.0.0.1:{}", self.port), &tls);
        self.tls = Some(tls);
    }

    /// (Re)starts the agent process with the same configuration.
    pub fn spawn(&mut self, flags: &[&str]) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .expect("agent log");
        let child = Command::new(binary())
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

    /// Runs `caravan agent <flags> -config=<file>` with this agent's configuration in
    /// the foreground until it exits by itself, or kills it once `timeout` has passed:
    /// for starts that must fail. The agent must not be running already.
    pub fn run_to_exit(&self, flags: &[&str], timeout: Duration) -> AgentExit {
        assert!(self.child.is_none(), "run_to_exit on a running agent");
        let stdout_path = self.dir.path().join("exit.stdout");
        let stderr_path = self.dir.path().join("exit.stderr");
        let file = |path: &Path| std::fs::File::create(path).expect("an output file");
        let mut child = Command::new(binary())
            .arg("agent")
            .args(flags)
            .arg(format!("-config={}", self.config_path.display()))
            .stdout(file(&stdout_path))
            .stderr(file(&stderr_path))
            .stdin(Stdio::null())
            .spawn()
            .expect("start caravan agent");
        let deadline = Instant::now() + timeout;
        let code = loop {
            if let Ok(Some(status)) = child.try_wait() {
                break status.code();
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        AgentExit {
            code,
            stdout: std::fs::read_to_string(stdout_path).unwrap_or_default(),
            stderr: std::fs::read_to_string(stderr_path).unwrap_or_default(),
        }
    }

    /// Kills the agent at once, as `kill -9` does.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Writes the configuration: `config` plus the agent's data_dir and ports.
    pub fn set_config(&self, config: &str) {
        let text = format!(
            "data_dir = \"{}\"\n{config}\nports {{\n  http = {}\n  rpc  = {}\n  serf = {}\n}}\n",
            self.data_dir().display(),
            self.port,
            self.rpc_port,
            self.serf_port
        );
        std::fs::write(&self.config_path, text).expect("write config");
    }

    /// Stops the agent the way Ctrl-C does and waits for it (SIGKILL after 15 s).
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-2", &child.id().to_string()])
            .status();
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
        super::memory_kb(self.pid().expect("the agent runs"), field)
    }

    /// Runs one call of the agent's API client: `agent.run(|api| api.job("web"))`.
    pub fn run<'a, F: Future>(&'a self, call: impl FnOnce(&'a Client) -> F) -> F::Output {
        block_on(call(&self.api))
    }

    /// A read through the API client (`|api| api.node(id, Default::default())`), as the
    /// JSON the tests look into: the client's typed value written out again, so fields
    /// the type defaults are present whatever the agent sent. To check the agent's own
    /// answer, use [`Agent::get_json`].
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

    /// `GET path` (one of [`super::paths`]): the agent's answer as it came over the wire,
    /// or the status and body of an error.
    pub fn get_json(&self, path: &str) -> Result<serde_json::Value, String> {
        let answer = self
            .run(|api| api.send_raw(Method::Get, path, None))
            .map_err(|e| e.to_string())?;
        if answer.status != 200 {
            return Err(format!("{}: {}", answer.status, answer.body));
        }
        serde_json::from_str(&answer.body).map_err(|e| format!("{e}: {}", answer.body))
    }

    /// Sends `body` as JSON with `method` to `path` (one of [`super::paths`]) and returns
    /// the status and body text, error statuses included.
    pub fn send_json(&self, method: Method, path: &str, body: &serde_json::Value) -> (u16, String) {
        let body = body.to_string();
        match self.run(|api| api.send_raw(method, path, Some(body.as_bytes()))) {
            Ok(answer) => (answer.status, answer.body),
            Err(error) => (0, error.to_string()),
        }
    }

    /// The agent's data_dir.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The agent's HTTP address, `http://127.0.0.1:<port>` (`https://` after
    /// [`Agent::use_tls`]).
    pub fn addr(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// What the agent has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Waits until `count` nodes are ready.
    pub fn wait_for_ready_nodes(&self, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let ready = self.run(|api| api.nodes("")).is_ok_and(|nodes| {
                nodes
                    .value
                    .iter()
                    .filter(|n| n.status == NodeStatus::Ready)
                    .count()
                    >= count
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
        match &self.tls {
            Some(tls) => super::tls::cli_with_tls(&self.addr(), tls, args, cwd),
            None => cli_at(&self.addr(), args, cwd),
        }
    }

    /// Writes `text` to `<dir>/<file>`, runs `caravan job run -detach <flags> <file>` in
    /// `dir` (failing the test if it fails), waits for job `job`'s first allocation and
    /// returns its ID. Detached, because a service job's `job run` would also wait for
    /// its deployment (10 s of `min_healthy_time` by default), which the tests using
    /// this do not look at.
    pub fn run_job(&self, dir: &Path, file: &str, text: &str, flags: &[&str], job: &str) -> String {
        super::write(dir, file, text);
        let args: Vec<&str> = ["job", "run", "-detach"]
            .into_iter()
            .chain(flags.iter().copied())
            .chain([file])
            .collect();
        let run = self.cli(&args, dir);
        assert!(
            run.status.success(),
            "{}{}",
            super::stdout(&run),
            super::stderr(&run)
        );
        let mut first = String::new();
        self.eventually(
            "the job's first allocation",
            Duration::from_secs(30),
            || {
                if let Some(id) = self.allocations(job).first().and_then(|a| a["ID"].as_str()) {
                    first = id.to_string();
                }
                !first.is_empty()
            },
        );
        first
    }

    /// Runs `caravan job stop <job>` against this agent and fails the test if it fails.
    /// A stop that cancels a running deployment exits 1 after its monitor shows the
    /// cancelled deployment, as Nomad's CLI does; the stop itself succeeded then.
    pub fn stop_job(&self, job: &str, cwd: &Path) {
        let stop = self.cli(&["job", "stop", job], cwd);
        let out = super::stdout(&stop);
        let cancelled_deployment = stop.status.code() == Some(1)
            && out.contains(
                "\nStatus      = cancelled\nDescription = Cancelled because job is stopped\n",
            );
        assert!(
            stop.status.success() || cancelled_deployment,
            "{out}{}",
            super::stderr(&stop)
        );
    }

    /// Waits until job `job`'s latest deployment has ended successfully (Nomad refuses
    /// some changes, such as `job scale`, while one is running).
    pub fn wait_for_deployment(&self, job: &str) {
        let path = format!("/v1/job/{job}/deployment");
        self.eventually(
            &format!("the deployment of {job} to succeed"),
            Duration::from_secs(60),
            || {
                self.get_json(&path)
                    .is_ok_and(|d| d["Status"] == "successful")
            },
        );
    }

    /// Waits until `check` holds, or fails the test with `what` and the agent's log.
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

    /// One allocation, as JSON (`null` if it cannot be read).
    pub fn allocation(&self, alloc_id: &str) -> serde_json::Value {
        self.read(|api| api.allocation(alloc_id))
            .unwrap_or_default()
    }

    /// The state of `task` in an allocation, as JSON (`null` if it cannot be read).
    pub fn task_state(&self, alloc_id: &str, task: &str) -> serde_json::Value {
        self.read(|api| api.allocation(alloc_id))
            .map(|a| a["TaskStates"][task].clone())
            .unwrap_or_default()
    }

    /// Waits until the job's first allocation's `ClientStatus` is one of `statuses`, and
    /// returns the allocation.
    pub fn wait_for_alloc_status(
        &self,
        job: &str,
        statuses: &[&str],
        what: &str,
        timeout: Duration,
    ) -> serde_json::Value {
        let mut alloc = serde_json::Value::Null;
        self.eventually(
            &format!("the allocation of {job} to {what}"),
            timeout,
            || {
                alloc = self.allocations(job).first().cloned().unwrap_or_default();
                statuses.iter().any(|s| alloc["ClientStatus"] == *s)
            },
        );
        alloc
    }

    /// Waits until the allocation's client status is `failed` after its client re-attached
    /// to the task (no process other than `before` may appear: a second copy of the
    /// task), and returns the allocation.
    pub fn wait_for_reattached_failure(
        &self,
        alloc_id: &str,
        before: &[i32],
        timeout: Duration,
    ) -> serde_json::Value {
        let mut alloc = serde_json::Value::Null;
        self.eventually("the re-attached task to finish", timeout, || {
            let now = processes_of_alloc(alloc_id);
            assert!(
                now.iter().all(|pid| before.contains(pid)),
                "a second copy started: {now:?} vs {before:?}"
            );
            alloc = self.allocation(alloc_id);
            alloc["ClientStatus"] == "failed"
        });
        alloc
    }

    /// The ID of the node of this (client) agent, once it has one.
    pub fn node_id(&self) -> NodeId {
        let mut id = NodeId::default();
        self.eventually("the client's node ID", Duration::from_secs(10), || {
            id = self
                .read(|api| api.agent_self())
                .ok()
                .and_then(|s| s["stats"]["client"]["node_id"].as_str().map(NodeId::from))
                .unwrap_or_default();
            !id.is_empty()
        });
        id
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        // SIGINT lets a dev agent stop its tasks; SIGKILL if it does not exit in time.
        self.stop();
        // A non-dev agent leaves its tasks running on purpose (the next start re-attaches);
        // the test started them, so the test ends them.
        let data_dir = self.data_dir();
        for pid in
            super::processes_with_env_prefix("NOMAD_ALLOC_DIR=", &data_dir.display().to_string())
        {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    }
}
