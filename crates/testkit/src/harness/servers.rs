//! A cluster of servers on loopback, each its own `caravan agent` process with its own
//! ports and data_dir, that find each other through `server_join { retry_join }` and
//! bootstrap once `bootstrap_expect` of them know each other, as a production cluster
//! does. Servers can be killed (`kill -9`) and started again on the same ports and data.

use std::time::{Duration, Instant};

use caravan_api_client::Method;

use super::Agent;

/// How long one call to a server may take: a server that is killed, paused or cut off
/// must fail the call, not hang the test.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// The configuration of server `name` (less `data_dir` and `ports`, which the harness
/// sets): `bootstrap_expect`, `retry_join` of the serf ports `join_serf_ports` on
/// 127.0.0.1 with a 1 s retry interval, and `server_extra` inside the `server` block.
pub fn server_hcl(
    name: &str,
    bootstrap_expect: usize,
    join_serf_ports: &[u16],
    server_extra: &str,
) -> String {
    let join: Vec<String> = join_serf_ports
        .iter()
        .map(|port| format!("\"127.0.0.1:{port}\""))
        .collect();
    format!(
        r#"name      = "{name}"
bind_addr = "127.0.0.1"

server {{
  enabled          = true
  bootstrap_expect = {bootstrap_expect}
{server_extra}
  server_join {{
    retry_join     = [{}]
    retry_interval = "1s"
  }}
}}
"#,
        join.join(", ")
    )
}

/// `n` servers that form one cluster. Dropping it stops them all.
pub struct ServerCluster {
    /// The servers, in the order they were started; a killed one keeps its place.
    pub servers: Vec<Agent>,
    /// `bootstrap_expect` of the first servers, given to those added later too.
    bootstrap_expect: usize,
}

impl ServerCluster {
    /// Starts `n` servers with `bootstrap_expect = n`, each joining all (itself
    /// included, as one file serves every server in Nomad's examples), with
    /// `server_extra` inside their `server` blocks. Does not wait for a leader.
    pub fn start(n: usize, server_extra: &str) -> ServerCluster {
        ServerCluster::start_with(n, server_extra, |_| String::new())
    }

    /// As [`ServerCluster::start`], with `agent_extra(i)` at the top level of server
    /// `i`'s configuration (`addresses`, `region`, ...).
    pub fn start_with(
        n: usize,
        server_extra: &str,
        agent_extra: impl Fn(usize) -> String,
    ) -> ServerCluster {
        let mut cluster = ServerCluster::configure(n, server_extra, agent_extra);
        for i in 0..n {
            cluster.restart(i);
        }
        cluster
    }

    /// As [`ServerCluster::start_with`], but no server is started yet: for a test that
    /// sets something up on the servers' ports first. [`ServerCluster::restart`] starts
    /// each.
    pub fn configure(
        n: usize,
        server_extra: &str,
        agent_extra: impl Fn(usize) -> String,
    ) -> ServerCluster {
        let servers: Vec<Agent> = (0..n).map(|_| Agent::unstarted()).collect();
        let serf_ports: Vec<u16> = servers.iter().map(|s| s.serf_port).collect();
        for (i, server) in servers.iter().enumerate() {
            let config = server_hcl(&format!("server{i}"), n, &serf_ports, server_extra);
            server.set_config(&format!("{config}{}", agent_extra(i)));
        }
        ServerCluster {
            servers,
            bootstrap_expect: n,
        }
    }

    /// Starts one more server, with the first servers' `bootstrap_expect` and every
    /// server so far in its `retry_join`: it finds the cluster and asks to join it.
    /// Returns its index. Does not wait for it to join.
    pub fn add_server(&mut self, server_extra: &str) -> usize {
        let mut server = Agent::unstarted();
        let mut serf_ports: Vec<u16> = self.servers.iter().map(|s| s.serf_port).collect();
        serf_ports.push(server.serf_port);
        let name = format!("server{}", self.servers.len());
        server.set_config(&server_hcl(
            &name,
            self.bootstrap_expect,
            &serf_ports,
            server_extra,
        ));
        server.spawn(&[]);
        self.servers.push(server);
        self.servers.len() - 1
    }

    /// Server `i`'s RPC address (the one it advertises, unless its configuration says
    /// otherwise).
    pub fn rpc_addr(&self, i: usize) -> String {
        format!("127.0.0.1:{}", self.servers[i].rpc_port)
    }

    /// Every server's RPC address.
    pub fn rpc_addrs(&self) -> Vec<String> {
        (0..self.servers.len()).map(|i| self.rpc_addr(i)).collect()
    }

    /// The servers whose process runs.
    pub fn running(&self) -> Vec<usize> {
        (0..self.servers.len())
            .filter(|&i| self.servers[i].pid().is_some())
            .collect()
    }

    /// The leader's index: a running server that a majority of all servers name as
    /// the leader. `None` while there is none (an election, no quorum).
    pub fn leader(&self) -> Option<usize> {
        let named: Vec<usize> = self
            .running()
            .into_iter()
            .filter_map(|i| self.leader_named_by(i))
            .collect();
        let majority = self.servers.len() / 2 + 1;
        self.running()
            .into_iter()
            .find(|&i| named.iter().filter(|&&n| n == i).count() >= majority)
    }

    /// The index of the server that server `i` names as the leader in its own Raft
    /// configuration (`?stale`: not the leader's), when it names one. Servers are
    /// matched by name, `server<index>`, whatever RPC address they advertise.
    pub fn leader_named_by(&self, i: usize) -> Option<usize> {
        let (_, configuration) =
            get_indexed(&self.servers[i], "/v1/operator/raft/configuration?stale").ok()?;
        let leader = configuration["Servers"]
            .as_array()?
            .iter()
            .find(|server| server["Leader"] == true)?;
        leader["Node"]
            .as_str()?
            .split('.')
            .next()?
            .strip_prefix("server")?
            .parse()
            .ok()
    }

    /// Waits until there is a [`ServerCluster::leader`] that serves what is asked of the
    /// leader (a fresh read of `/v1/jobs` through it answers) and returns its index.
    pub fn wait_for_leader(&self, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(leader) = self.leader()
                && get_indexed(&self.servers[leader], "/v1/jobs").is_ok()
            {
                return leader;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "no leader within {timeout:?}; servers' logs:\n{}",
            self.logs()
        );
    }

    /// Kills server `i` at once, as `kill -9` does.
    pub fn kill9(&mut self, i: usize) {
        self.servers[i].kill9();
    }

    /// Starts server `i` (again) with its configuration, ports and data.
    pub fn restart(&mut self, i: usize) {
        self.servers[i].spawn(&[]);
    }

    /// The configuration of a client agent of this cluster (`servers` lists every
    /// server's RPC address) with raw_exec enabled, less `data_dir` and `ports`.
    pub fn client_hcl(&self) -> String {
        let servers: Vec<String> = self
            .rpc_addrs()
            .iter()
            .map(|a| format!("\"{a}\""))
            .collect();
        format!(
            r#"name      = "client"
bind_addr = "127.0.0.1"

client {{
  enabled = true
  servers = [{}]

  options {{
    "driver.raw_exec.enable" = "1"
  }}
}}
"#,
            servers.join(", ")
        )
    }

    /// Every server's log, each under its name, for failure messages.
    pub fn logs(&self) -> String {
        self.servers
            .iter()
            .enumerate()
            .map(|(i, s)| format!("----- server{i} -----\n{}", s.log()))
            .collect()
    }
}

/// `GET path` on `agent` (the path may carry a query, e.g. `?stale`), within a few
/// seconds: `X-Nomad-Index` and the JSON body, or the status and body of an error.
pub fn get_indexed(agent: &Agent, path: &str) -> Result<(u64, serde_json::Value), String> {
    let answer = agent
        .run(|api| async move {
            // The timer is made inside the runtime, which `run` enters.
            tokio::time::timeout(CALL_TIMEOUT, api.send_raw(Method::Get, path, None)).await
        })
        .map_err(|_| format!("GET {path}: no answer within {CALL_TIMEOUT:?}"))?
        .map_err(|e| e.to_string())?;
    if answer.status != 200 {
        return Err(format!("{}: {}", answer.status, answer.body));
    }
    let value = serde_json::from_str(&answer.body).map_err(|e| format!("{e}: {}", answer.body))?;
    Ok((answer.index, value))
}

/// Sends `body` as JSON with `method` to `path` on `agent` within a few seconds: the
/// status and body (status 0 when there was no answer).
pub fn send_within_timeout(
    agent: &Agent,
    method: Method,
    path: &str,
    body: &serde_json::Value,
) -> (u16, String) {
    let body = body.to_string();
    let answer = agent.run(|api| async {
        tokio::time::timeout(
            CALL_TIMEOUT,
            api.send_raw(method, path, Some(body.as_bytes())),
        )
        .await
    });
    match answer {
        Ok(Ok(answer)) => (answer.status, answer.body),
        Ok(Err(error)) => (0, error.to_string()),
        Err(_) => (0, format!("no answer within {CALL_TIMEOUT:?}")),
    }
}

/// The IDs of the jobs `GET /v1/jobs<query>` lists on `agent` (`?stale` for its own
/// view), with the answer's `X-Nomad-Index`.
pub fn job_ids(agent: &Agent, query: &str) -> Result<(u64, Vec<String>), String> {
    let (index, jobs) = get_indexed(agent, &format!("/v1/jobs{query}"))?;
    let ids = jobs
        .as_array()
        .ok_or_else(|| format!("/v1/jobs is not a list: {jobs}"))?
        .iter()
        .filter_map(|job| job["ID"].as_str().map(str::to_string))
        .collect();
    Ok((index, ids))
}
