//! The server agent the simulator starts when it is not given one: the `caravan` binary
//! next to the simulator's own, on free loopback ports, stopped (and its data directory
//! removed) when dropped.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use caravan_drivers::proc_stat::ProcStat;

pub struct ServerAgent {
    child: Child,
    pub http: String,
    pub rpc: String,
    _data_dir: tempfile::TempDir,
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The `caravan` binary built alongside this one.
fn caravan_binary() -> Result<PathBuf, String> {
    let me = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
    let path = me.with_file_name("caravan");
    if path.exists() {
        Ok(path)
    } else {
        Err(format!(
            "{} not found: build it too (cargo build --release --bin caravan --bin caravan-sim), or pass -server",
            path.display()
        ))
    }
}

impl ServerAgent {
    pub fn start(workers: Option<usize>) -> Result<ServerAgent, String> {
        let io = |e: std::io::Error| format!("cannot start the server agent: {e}");
        let data_dir = tempfile::tempdir().map_err(io)?;
        let (http, rpc, serf) = (
            free_port().map_err(io)?,
            free_port().map_err(io)?,
            free_port().map_err(io)?,
        );
        let schedulers = workers
            .map(|n| format!("  num_schedulers = {n}\n"))
            .unwrap_or_default();
        // The per-address connection limits do not count loopback, where every simulated
        // node lives, so the defaults stand.
        let config = format!(
            "data_dir = \"{dir}\"\nbind_addr = \"127.0.0.1\"\nlog_level = \"WARN\"\n\
             ports {{\n  http = {http}\n  rpc = {rpc}\n  serf = {serf}\n}}\n\
             server {{\n  enabled = true\n  bootstrap_expect = 1\n{schedulers}}}\n",
            dir = data_dir.path().join("data").display(),
        );
        let config_path = data_dir.path().join("server.hcl");
        std::fs::write(&config_path, config).map_err(io)?;
        let log = std::fs::File::create(data_dir.path().join("server.log")).map_err(io)?;
        let child = Command::new(caravan_binary()?)
            .arg("agent")
            .arg(format!("-config={}", config_path.display()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(io)?)
            .stderr(log)
            .spawn()
            .map_err(io)?;
        Ok(ServerAgent {
            child,
            http: format!("127.0.0.1:{http}"),
            rpc: format!("127.0.0.1:{rpc}"),
            _data_dir: data_dir,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's log so far, for an error message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self._data_dir.path().join("server.log")).unwrap_or_default()
    }

    /// Whether the agent exited.
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// CPU time the agent has used so far (user and system), in seconds.
    pub fn cpu_secs(&self) -> Option<f64> {
        ProcStat::of(self.pid() as i32).map(|stat| stat.cpu_secs())
    }

    /// Peak resident memory (`VmHWM`) in MiB.
    pub fn peak_rss_mib(&self) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib / 1024.0)
    }
}

impl Drop for ServerAgent {
    fn drop(&mut self) {
        // SIGINT first, as an operator stops an agent; SIGKILL if it lingers.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGINT);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
