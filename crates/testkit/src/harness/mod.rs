//! Real `caravan` processes for end-to-end tests and benches: a dev [`Agent`] on free
//! loopback ports, a [`Cluster`] of one server and clients as separate processes, a
//! [`ServerCluster`] of servers that replicate with Raft, the CLI pointed at them,
//! `caravan-api-client` to read their API, and checks on the processes a task leaves.
//! Dropping an agent stops it and every task it started.
//!
//! The binary is found by [`binary`]: `$CARAVAN_BIN` when set, else the `caravan` cargo
//! built next to the running test or bench (`target/<profile>/caravan` for a binary in
//! `target/<profile>/deps`). Cargo builds it before the tests and benches of the
//! `caravan` package run (it is what `env!("CARGO_BIN_EXE_caravan")` names there); another
//! package's tests need `cargo build -p caravan` first, or `CARAVAN_BIN`.

mod agent;
mod cluster;
mod event_stream;
mod process;
mod servers;
mod tls;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::LazyLock;

pub use crate::host::process_alive;
pub use agent::{Agent, AgentExit, DevAgent};
pub use caravan_api_client::{Client, Method, paths};
pub use cluster::{
    Cluster, SERVER_CONFIG, TEST_DISK_FREE_MB, client_config, workshop_client_config,
};
pub use event_stream::EventStream;
pub use process::{kill_processes_of_alloc, processes_of_alloc, processes_with_env_prefix};
pub use servers::{ServerCluster, get_indexed, job_ids, send_within_timeout, server_hcl};
pub use tls::{TestPki, cli_with_tls, https_client_of};

use caravan_api_client::Config;

/// The `caravan` binary the harness runs (see the module's documentation).
pub fn binary() -> &'static Path {
    static BINARY: LazyLock<PathBuf> = LazyLock::new(|| {
        if let Some(path) = std::env::var_os("CARAVAN_BIN") {
            return PathBuf::from(path);
        }
        let beside_deps = std::env::current_exe().ok().and_then(|exe| {
            // target/<profile>/deps/<test>-<hash> -> target/<profile>/caravan
            Some(exe.parent()?.parent()?.join("caravan"))
        });
        match beside_deps {
            Some(path) if path.is_file() => path,
            _ => panic!(
                "no caravan binary next to this test: run `cargo build -p caravan` or set CARAVAN_BIN"
            ),
        }
    });
    &BINARY
}

/// The runtime every harness HTTP call runs on (tests are synchronous; they block on it).
static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime for the tests' HTTP calls")
});

/// Runs `future` to completion on the harness's runtime.
pub fn block_on<F: Future>(future: F) -> F::Output {
    RUNTIME.block_on(future)
}

/// An API client for `address` (`http://127.0.0.1:<port>`).
pub fn client_of(address: &str) -> Client {
    Client::new(Config::address(address)).expect("an API client")
}

/// Where [`free_port`] looks: below Nomad's dynamic port range (20000-32000, which a
/// test's tasks draw from) and below Linux's ephemeral range (32768-60999, which every
/// outgoing connection and every `bind(:0)` draws from).
const TEST_PORTS: std::ops::Range<u32> = 10_000..20_000;

/// The next candidate [`free_port`] tries, as an offset into [`TEST_PORTS`]; it starts
/// where the process id says, so test binaries run side by side start apart.
static NEXT_TEST_PORT: LazyLock<std::sync::atomic::AtomicU32> = LazyLock::new(|| {
    let span = TEST_PORTS.end - TEST_PORTS.start;
    std::sync::atomic::AtomicU32::new(std::process::id().wrapping_mul(7919) % span)
});

/// A free TCP port on 127.0.0.1 that none of the last 10000 calls in this process returned.
///
/// Asking the kernel for port 0 and closing the socket is not enough: the kernel may
/// hand the same port to the next such call, or to an agent's outgoing connection,
/// before the agent that was given it binds it (two servers of one cluster once got the
/// same port that way). So ports come from [`TEST_PORTS`], outside the ranges the kernel
/// and the scheduler draw from, each at most once per process, and only if they bind now.
pub fn free_port() -> u16 {
    use std::sync::atomic::Ordering;
    let span = TEST_PORTS.end - TEST_PORTS.start;
    for _ in 0..span {
        let offset = NEXT_TEST_PORT.fetch_add(1, Ordering::Relaxed) % span;
        let port = u16::try_from(TEST_PORTS.start + offset).expect("test ports fit in u16");
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port on 127.0.0.1 in {TEST_PORTS:?}")
}

/// Runs the CLI in `cwd` against the agent at `address`.
pub fn cli_at(address: &str, args: &[&str], cwd: &Path) -> Output {
    Command::new(binary())
        .args(args)
        .current_dir(cwd)
        .env("CARAVAN_ADDR", address)
        .env_remove("NOMAD_ADDR")
        .output()
        .expect("run caravan CLI")
}

/// The workshop's first job, `examples/workshop/exec.nomad`: a raw_exec batch job
/// `hello-exec-batch` whose task `echo` prints `Hi Nomad Exec Driver` and sleeps 180 s.
pub const WORKSHOP_EXEC_JOB: &str = include_str!("../../../../examples/workshop/exec.nomad");

/// [`WORKSHOP_EXEC_JOB`] under the isolated `exec` driver.
pub fn workshop_exec_job_under_exec() -> String {
    WORKSHOP_EXEC_JOB.replace("driver = \"raw_exec\"", "driver = \"exec\"")
}

/// A service job `sleeper` of one raw_exec task `t` that sleeps for 300 s.
pub const SLEEPER_JOB: &str = "job \"sleeper\" {\n  group \"g\" {\n    task \"t\" {\n      driver = \"raw_exec\"\n      config {\n        command = \"/bin/sleep\"\n        args = [\"300\"]\n      }\n    }\n  }\n}\n";

/// A job file (HCL) `name` in `dc1` with `job_body` (its type and other job-level
/// blocks, each line indented and ended) and one group `g` holding `group_body`.
pub fn job_hcl(name: &str, job_body: &str, group_body: &str) -> String {
    format!(
        "job \"{name}\" {{\n  datacenters = [\"dc1\"]\n{job_body}  group \"g\" {{\n{group_body}\n  }}\n}}\n"
    )
}

/// The API body of a job `id` of type `kind` with one group `g` of `count` raw_exec
/// tasks sleeping for ten minutes, each asking 20 MHz and `memory_mb`.
pub fn sleeping_job(id: &str, kind: &str, count: i64, memory_mb: i64) -> serde_json::Value {
    serde_json::json!({"Job": {
        "ID": id,
        "Type": kind,
        "Datacenters": ["dc1"],
        "TaskGroups": [{
            "Name": "g",
            "Count": count,
            "Tasks": [{
                "Name": "t",
                "Driver": "raw_exec",
                "Config": {"command": "/bin/sleep", "args": ["600"]},
                "Resources": {"CPU": 20, "MemoryMB": memory_mb},
            }],
        }],
    }})
}

/// A batch job file (HCL) of one group `g` that is not restarted when a task fails,
/// with `group_body` (its tasks, and any other block) inside the group.
pub fn batch_job_hcl(name: &str, group_body: &str) -> String {
    job_hcl(
        name,
        "  type = \"batch\"\n",
        &format!(
            "    restart {{\n      attempts = 0\n      mode     = \"fail\"\n    }}\n{group_body}"
        ),
    )
}

/// Runs `caravan job run -detach <flags>` against `agent` with a batch job `name` whose
/// raw_exec task's first act is to write bash's `$EPOCHREALTIME` to a file in `dir`, and
/// returns the milliseconds from just before the CLI started to that instant, on the same
/// clock. bash's own start-up (about a millisecond) is included: an upper bound.
pub fn job_run_to_task_start_ms(agent: &Agent, dir: &Path, name: &str, flags: &[&str]) -> f64 {
    let stamp = dir.join(format!("{name}.stamp"));
    let job = write(
        dir,
        &format!("{name}.nomad"),
        &format!(
            "job \"{name}\" {{\n  datacenters = [\"dc1\"]\n  type = \"batch\"\n  group \"g\" {{\n    task \"t\" {{\n      driver = \"raw_exec\"\n      config {{\n        command = \"/bin/bash\"\n        args = [\"-c\", \"echo $EPOCHREALTIME > {}\"]\n      }}\n    }}\n  }}\n}}\n",
            stamp.display()
        ),
    );
    let job = job.display().to_string();
    let t0 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let args: Vec<&str> = ["job", "run", "-detach"]
        .into_iter()
        .chain(flags.iter().copied())
        .chain([job.as_str()])
        .collect();
    let run = agent.cli(&args, dir);
    assert!(run.status.success(), "job run failed: {}", stderr(&run));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let started = loop {
        if let Some(seconds) = std::fs::read_to_string(&stamp)
            .ok()
            .and_then(|t| t.trim().parse::<f64>().ok())
        {
            break seconds;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "task {name} never ran"
        );
        std::thread::sleep(std::time::Duration::from_micros(200));
    };
    (started - t0) * 1000.0
}

/// Writes a file in `dir` and returns its path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write test file");
    path
}

/// A command's standard output, as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A command's standard error, as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The `Type` of each event in a task state (`TaskStates[task]` of an allocation).
pub fn event_types(task_state: &serde_json::Value) -> Vec<String> {
    task_state["Events"]
        .as_array()
        .map(|events| {
            events
                .iter()
                .map(|e| e["Type"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// A `/proc/<pid>/status` figure of a process, in kB (`VmRSS`, `VmHWM`); 0 if unknown.
pub fn memory_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
