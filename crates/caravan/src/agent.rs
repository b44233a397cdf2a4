//! `caravan agent`: flags and configuration files in, a running server and/or client out.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use caravan_api::conn_limit::LimitedListener;
use caravan_api::{AgentInfo, AgentState, LocalRpc, RemoteRpc};
use caravan_cli::flags::{FlagKind, FlagSet};
use caravan_client::{Client, ClientConfig};
use caravan_drivers::ExecutorCommand;
use caravan_jobspec::agent_config::{AgentConfig, parse_agent_config_hcl, parse_agent_config_json};
use caravan_raft::{RaftNode, ServerNode};

use crate::agent_settings::{
    client_gc_config, driver_registry, raft_settings, server_config, telemetry_config,
};
use crate::agent_tls::TlsSetup;
use caravan_server::Server;

const USAGE: &str = "Usage: caravan agent [options]

  Starts the Caravan agent and runs until an interrupt is received.
  The agent may be a client and/or server.

General Options:

  -dev                 Start the agent in development mode: server and client in one
                       process, bound to 127.0.0.1, state in a temporary directory,
                       raw_exec enabled. Its tasks stop when it stops.
  -config=<path>       A configuration file or directory (HCL or JSON); repeatable.
                       Files in a directory are read in lexical order, later ones win.
  -bind=<addr>         The address the agent binds to (default 127.0.0.1; Nomad's
                       is 0.0.0.0). Set bind_addr to serve other machines.
  -data-dir=<path>     Where the agent keeps its state.
  -dc=<datacenter>     The datacenter of the agent (default dc1).
  -region=<region>     The region of the agent (default global).
  -log-level=<level>   TRACE, DEBUG, INFO, WARN, ERROR or OFF (default INFO).
  -log-json            Write the log as JSON objects, one a line.
  -log-include-location
                       Name the source file and line of each log line.
  -log-file=<path>     Also write the log to this file (a directory gets nomad.log),
                       rotated as log_rotate_bytes/_duration/_max_files say.
  -node=<name>         The node name (default: the hostname).
  -server              Enable server mode.
  -bootstrap-expect=<n>
                       How many servers form the cluster; the servers wait for
                       that many to join before electing a leader.
  -join=<address>      A server's serf address (host[:port], port 4648) to join
                       at start; repeatable.
  -retry-join=<address>
                       Like -join, retried until it succeeds; repeatable.
  -retry-interval=<duration>
                       How long to wait between join attempts (default 30s).
  -retry-max=<n>       How many join attempts to make; 0 (default) retries forever.
  -client              Enable client mode.
  -acl-enabled         Enable the ACL system (as acl { enabled = true }).
  -meta=<key=value>    Node metadata; repeatable.
  -node-class=<class>  The node class.
";

/// The agent's settings after flags, files and defaults.
struct Settings {
    dev: bool,
    config: AgentConfig,
}

fn load_config_path(path: &Path) -> Result<AgentConfig, String> {
    if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| format!("Error loading configuration from {}: {e}", path.display()))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "hcl" || x == "json"))
            .collect();
        files.sort();
        let mut merged = AgentConfig::default();
        for file in files {
            merged = merged.merge(load_config_file(&file)?);
        }
        return Ok(merged);
    }
    load_config_file(path)
}

fn load_config_file(path: &Path) -> Result<AgentConfig, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("Error loading configuration from {}: {e}", path.display()))?;
    let name = path.display().to_string();
    let parsed = if path.extension().is_some_and(|x| x == "json") {
        parse_agent_config_json(&name, &text)
    } else {
        parse_agent_config_hcl(&name, &text)
    };
    parsed.map_err(|e| format!("Error loading configuration from {name}: {e}"))
}

fn parse_settings(args: &[String]) -> Result<Settings, String> {
    let flags = FlagSet::new()
        .bools(&[
            "dev",
            "server",
            "client",
            "acl-enabled",
            "log-json",
            "log-include-location",
        ])
        .strings(&[
            "bind",
            "data-dir",
            "dc",
            "region",
            "log-level",
            "log-file",
            "node",
            "node-class",
            "bootstrap-expect",
            "retry-interval",
            "retry-max",
        ])
        .flag("config", FlagKind::List)
        .flag("join", FlagKind::List)
        .flag("retry-join", FlagKind::List)
        .flag("meta", FlagKind::List);
    let parsed = flags.parse(args).map_err(|e| format!("{e}\n\n{USAGE}"))?;
    if let Some(extra) = parsed.args.first() {
        return Err(format!("unexpected argument \"{extra}\"\n\n{USAGE}"));
    }
    let dev = parsed.bool("dev");
    let mut config = AgentConfig::default();
    if dev {
        // Nomad's DevConfig: both roles, loopback, raw_exec on, telemetry on.
        config.bind_addr = Some("127.0.0.1".into());
        config.server.enabled = Some(true);
        config.server.bootstrap_expect = Some(1);
        config.client.enabled = Some(true);
        config
            .client
            .options
            .insert("driver.raw_exec.enable".into(), "1".into());
        config.log_level = Some("DEBUG".into());
        config.telemetry.prometheus_metrics = Some(true);
        config.telemetry.publish_allocation_metrics = Some(true);
        config.telemetry.publish_node_metrics = Some(true);
    }
    for path in parsed.list("config") {
        config = config.merge(load_config_path(Path::new(&path))?);
    }
    let mut from_flags = AgentConfig {
        bind_addr: parsed.string("bind").map(String::from),
        data_dir: parsed.string("data-dir").map(String::from),
        datacenter: parsed.string("dc").map(String::from),
        region: parsed.string("region").map(String::from),
        log_level: parsed.string("log-level").map(String::from),
        log_file: parsed.string("log-file").map(String::from),
        log_json: parsed.bool("log-json").then_some(true),
        log_include_location: parsed.bool("log-include-location").then_some(true),
        name: parsed.string("node").map(String::from),
        ..AgentConfig::default()
    };
    from_flags.client.node_class = parsed.string("node-class").map(String::from);
    if parsed.bool("acl-enabled") {
        from_flags.acl_enabled = Some(true);
    }
    if let Some(text) = parsed.string("bootstrap-expect") {
        let expect = text
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| format!("-bootstrap-expect \"{text}\" must be a whole number"))?;
        from_flags.server.bootstrap_expect = Some(expect);
    }
    let join = &mut from_flags.server.server_join;
    let retry_join = parsed.list("retry-join");
    if !retry_join.is_empty() {
        join.retry_join = Some(retry_join);
    }
    let start_join = parsed.list("join");
    if !start_join.is_empty() {
        join.start_join = Some(start_join);
    }
    if let Some(text) = parsed.string("retry-interval") {
        join.retry_interval = Some(
            caravan_jobspec::parse_duration(text)
                .map_err(|e| format!("-retry-interval \"{text}\": {e}"))?,
        );
    }
    if let Some(text) = parsed.string("retry-max") {
        join.retry_max = Some(
            text.parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| format!("-retry-max \"{text}\" must be a whole number"))?,
        );
    }
    if parsed.bool("server") {
        from_flags.server.enabled = Some(true);
    }
    if parsed.bool("client") {
        from_flags.client.enabled = Some(true);
    }
    for pair in parsed.list("meta") {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("-meta \"{pair}\" must be written key=value"))?;
        from_flags
            .client
            .meta
            .insert(key.to_string(), value.to_string());
    }
    config = config.merge(from_flags);
    Ok(Settings { dev, config })
}

/// Runs the agent; returns the exit code.
pub fn run(args: &[String]) -> i32 {
    if args
        .iter()
        .any(|a| matches!(a.as_str(), "-h" | "-help" | "--help"))
    {
        println!("{USAGE}");
        return 0;
    }
    let settings = match parse_settings(args) {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("==> {message}");
            return 1;
        }
    };
    let server_enabled = settings.config.server.enabled.unwrap_or(false);
    let client_enabled = settings.config.client.enabled.unwrap_or(false);
    if !server_enabled && !client_enabled {
        eprintln!("==> Must specify either server, client or dev mode for the agent.");
        return 1;
    }
    let log = match crate::agent_log::install(&settings.config) {
        Ok(log) => log,
        Err(message) => {
            eprintln!("==> {message}");
            return 1;
        }
    };
    caravan_tls::install_default_provider();
    caravan_api::conn_limit::raise_open_files_limit();
    // The HTTP API runs on threads of its own. A server's runtime is busy with its
    // clients: a write wakes a thousand long-polls at once and queues their answers,
    // and `/v1/status/leader` or a `job status` would wait behind them.
    let (runtime, api_runtime) = match (runtime("tokio-runtime-worker"), runtime("caravan-api")) {
        (Ok(runtime), Ok(api_runtime)) => (runtime, api_runtime),
        (Err(error), _) | (_, Err(error)) => {
            eprintln!("==> Error starting the async runtime: {error}");
            return 1;
        }
    };
    let gate = log.gate.clone();
    let served = runtime.block_on(serve(settings, log, api_runtime.handle().clone()));
    // What is left of it (a stream cut by the shutdown) needs no finishing.
    api_runtime.shutdown_background();
    // What was logged before a failed start explains it.
    gate.open();
    match served {
        Ok(()) => 0,
        Err(message) => {
            eprintln!("==> {message}");
            1
        }
    }
}

/// A multi-threaded runtime of two workers, its threads named `thread_name`.
fn runtime(thread_name: &str) -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(thread_name)
        .on_thread_park(crate::allocator::worker_idle)
        .enable_all()
        .build()
}

fn data_dir(settings: &Settings) -> Result<(PathBuf, Option<tempfile::TempDir>), String> {
    if let Some(dir) = &settings.config.data_dir {
        let path = PathBuf::from(dir);
        std::fs::create_dir_all(&path)
            .map_err(|e| format!("Error creating data_dir \"{dir}\": {e}"))?;
        let probe = path.join(".caravan-write-check");
        std::fs::write(&probe, b"")
            .map_err(|e| format!("data_dir \"{dir}\" is not writable: {e}"))?;
        let _ = std::fs::remove_file(probe);
        return Ok((path, None));
    }
    if settings.dev {
        let temp = tempfile::Builder::new()
            .prefix("caravan-dev-")
            .tempdir()
            .map_err(|e| format!("Error creating a temporary data_dir: {e}"))?;
        return Ok((temp.path().to_path_buf(), Some(temp)));
    }
    Err("Must specify \"data_dir\" in the configuration or -data-dir for a non-dev agent".into())
}

/// Checks and resolves `client { servers = [...] }`: each `host[:port]` (port 4647 by
/// default) must resolve now, so a typo fails at start; a server that is merely down is
/// retried later.
async fn resolve_servers(servers: &[String]) -> Result<Vec<String>, String> {
    let mut resolved = Vec::new();
    for server in servers {
        let with_port = if server
            .rsplit_once(':')
            .is_some_and(|(_, port)| port.parse::<u16>().is_ok())
        {
            server.clone()
        } else if server.contains(':') && !server.starts_with('[') {
            return Err(format!(
                "client.servers: \"{server}\" has an invalid port: use host:port, e.g. 127.0.0.1:4647"
            ));
        } else {
            format!("{server}:4647")
        };
        let mut addresses = tokio::net::lookup_host(&with_port)
            .await
            .map_err(|e| format!("client.servers: cannot resolve \"{server}\": {e}"))?;
        let address = addresses
            .next()
            .ok_or_else(|| format!("client.servers: \"{server}\" resolves to no address"))?;
        resolved.push(address.to_string());
    }
    Ok(resolved)
}

fn listen(address: &str, what: &str) -> Result<tokio::net::TcpListener, String> {
    let parsed: SocketAddr = address.parse().map_err(|_| {
        format!("Invalid {what} bind address \"{address}\": use an IP address such as 127.0.0.1")
    })?;
    caravan_api::conn_limit::bind(parsed)
        .map_err(|e| format!("Error starting agent: failed to listen for {what} on {parsed}: {e}"))
}

/// Runs the agent, its HTTP API on `api` (see [`run`]).
async fn serve(
    settings: Settings,
    log: crate::agent_log::InstalledLog,
    api: tokio::runtime::Handle,
) -> Result<(), String> {
    let config = &settings.config;
    let server_enabled = config.server.enabled.unwrap_or(false);
    let client_enabled = config.client.enabled.unwrap_or(false);
    let (data_dir, _temp_dir) = data_dir(&settings)?;
    // Caravan binds loopback unless told otherwise: an agent reachable from the
    // network runs anyone's jobs until ACLs exist, so exposing it must be a choice.
    let bind = config
        .bind_addr
        .clone()
        .unwrap_or_else(|| "127.0.0.1".into());
    let http_port = config.ports.http.unwrap_or(4646);
    let rpc_port = config.ports.rpc.unwrap_or(4647);
    let serf_port = config.ports.serf.unwrap_or(4648);
    let http_bind = config
        .addresses
        .http
        .clone()
        .unwrap_or_else(|| bind.clone());
    let rpc_bind = config.addresses.rpc.clone().unwrap_or_else(|| bind.clone());
    let advertise_ip = match bind.as_str() {
        "0.0.0.0" | "::" => "127.0.0.1".to_string(),
        other => other.to_string(),
    };
    // Nomad's `advertise` takes an address, with or without a port (the listener's
    // port when none is given).
    let advertised = |address: &Option<String>, port: u16| match address {
        Some(address)
            if address
                .rsplit_once(':')
                .is_some_and(|(_, p)| p.parse::<u16>().is_ok()) =>
        {
            address.clone()
        }
        Some(address) => format!("{address}:{port}"),
        None => format!("{advertise_ip}:{port}"),
    };
    let advertise_http = advertised(&config.advertise.http, http_port);
    let advertise_rpc = advertised(&config.advertise.rpc, rpc_port);
    let advertise_serf = advertised(&config.advertise.serf, serf_port);
    let region = config.region.clone().unwrap_or_else(|| "global".into());
    let datacenter = config.datacenter.clone().unwrap_or_else(|| "dc1".into());
    let log_level = crate::agent_log::level_name(config);

    let servers = if server_enabled {
        vec![advertise_rpc.clone()]
    } else {
        let listed = config.client.servers.clone().unwrap_or_default();
        if listed.is_empty() {
            return Err("client.servers is empty: list the servers' RPC addresses, e.g. servers = [\"127.0.0.1:4647\"]".into());
        }
        resolve_servers(&listed).await?
    };
    // The `limits` block: connections per client address and silent connections.
    let (http_limits, rpc_limits) = crate::agent_limits::connection_limits(config);
    let http_listener = {
        // Bound within the API's runtime, whose reactor then drives it.
        let _entered = api.enter();
        LimitedListener::new(
            listen(&format!("{http_bind}:{http_port}"), "HTTP")?,
            http_limits,
        )
    };
    let rpc_listener = if server_enabled {
        let listener = listen(&format!("{rpc_bind}:{rpc_port}"), "RPC")?;
        Some(LimitedListener::new(listener, rpc_limits))
    } else {
        None
    };
    let tls = TlsSetup::from_config(config, &region, server_enabled)?;
    let http_builder =
        || reqwest::Client::builder().connect_timeout(std::time::Duration::from_secs(5));
    let http = tls.servers_http(http_builder())?;

    // A dev agent's state dies with it, so its tasks must too; other agents leave
    // their tasks running across restarts and re-attach to them.
    let executor = ExecutorCommand::current_exe(settings.dev)
        .map_err(|e| format!("Error finding the caravan binary for task executors: {e}"))?;
    let drivers = driver_registry(config, executor);
    let node_name = config
        .name
        .clone()
        .filter(|name| !name.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|name| name.trim().to_string())
        })
        .unwrap_or_else(|| "caravan".into());
    let (server, raft, serf_listener) = if server_enabled {
        let me = ServerNode {
            id: String::new(),
            name: format!("{node_name}.{region}"),
            rpc_addr: advertise_rpc.clone(),
            http_addr: advertise_http.clone(),
            serf_addr: advertise_serf.clone(),
            region: region.clone(),
            datacenter: datacenter.clone(),
            bootstrap_expect: 0,
        };
        let mut settings = raft_settings(config, &data_dir, me)?;
        settings.peers = tls.peer_client()?;
        let serf_bind = config
            .addresses
            .serf
            .clone()
            .unwrap_or_else(|| bind.clone());
        let serf_listener = listen(&format!("{serf_bind}:{serf_port}"), "serf")?;
        let store = Arc::new(caravan_state::StateStore::new());
        store.set_event_buffer_size(crate::agent_settings::event_buffer_size(config));
        let raft = RaftNode::start(settings, store.clone())
            .await
            .map_err(|e| e.to_string())?;
        // The servers check task configs against the drivers' own schemas.
        let server = Server::start_replicated(
            server_config(config, drivers.schemas()),
            store,
            raft.clone(),
            Arc::new(caravan_server::SystemClock),
            Arc::new(caravan_server::RandomIds),
        );
        (Some(server), Some(raft), Some(serf_listener))
    } else {
        (None, None, None)
    };
    // A server that forms a cluster of its own (`-dev`, `bootstrap_expect = 1`) leads
    // within milliseconds; its client registers once it does. Servers of a larger
    // cluster bootstrap in the background, and the agent stops if that fails.
    let (fatal_sender, mut fatal) = tokio::sync::mpsc::channel::<String>(1);
    if let Some(raft) = &raft {
        let alone = raft.forms_cluster_alone();
        let bootstrapping = {
            let raft = raft.clone();
            async move {
                if let Err(line) = raft.bootstrap().await {
                    let _ = fatal_sender.send(line).await;
                }
            }
        };
        if alone {
            bootstrapping.await;
            let mut leadership = caravan_server::Replicator::leadership(raft.as_ref());
            let _ = tokio::time::timeout(
                raft.election_timeout() * 3,
                leadership.wait_for(|term| *term != 0),
            )
            .await;
        } else {
            tokio::spawn(bootstrapping);
        }
    }
    let client_config = ClientConfig {
        data_dir: data_dir.clone(),
        node_name: config.name.clone().unwrap_or_default(),
        datacenter: datacenter.clone(),
        region: region.clone(),
        node_class: config.client.node_class.clone().unwrap_or_default(),
        node_pool: config.client.node_pool.clone().unwrap_or_default(),
        meta: config.client.meta.clone(),
        http_addr: advertise_http.clone(),
        advertise_ip: advertise_ip.clone(),
        user_rules: caravan_client::user_rules::UserRules::from_options(&config.client.options),
        gc: client_gc_config(config),
        max_kill_timeout: config
            .client
            .max_kill_timeout
            .map(|n| std::time::Duration::from_nanos(n.max(0) as u64)),
        host_volumes: config.client.host_volumes.clone(),
        resource_overrides: caravan_client::fingerprint::ResourceOverrides {
            cpu_total_compute: config.client.cpu_total_compute,
            memory_total_mb: config.client.memory_total_mb,
            disk_total_mb: config.client.disk_total_mb,
            disk_free_mb: config.client.disk_free_mb,
        },
    };
    let client = if !client_enabled {
        None
    } else {
        // A client beside a server of a larger cluster talks to it over RPC like any
        // other client, so that its calls follow the leader.
        let local = server
            .as_ref()
            .filter(|_| raft.as_ref().is_none_or(|r| r.forms_cluster_alone()));
        let started = match local {
            Some(server) => {
                Client::start(client_config, drivers, Arc::new(LocalRpc(server.clone()))).await
            }
            None => {
                let rpc = if tls.rpc() {
                    RemoteRpc::over_tls(servers.clone(), http.clone())
                } else {
                    RemoteRpc::new(servers.clone(), http.clone())
                };
                let rpc = Arc::new(rpc.with_token(crate::agent_settings::node_token(config)));
                rpc.learn_peers();
                Client::start(client_config, drivers, rpc).await
            }
        };
        Some(started.map_err(|e| format!("Error starting client in {}: {e}", data_dir.display()))?)
    };
    let node_name = client
        .as_ref()
        .map(|c| c.node().name.clone())
        .unwrap_or(node_name);
    let info = AgentInfo {
        name: node_name,
        region: region.clone(),
        datacenter: datacenter.clone(),
        http_addr: advertise_http.clone(),
        rpc_addr: servers.first().cloned().unwrap_or_default(),
        server_enabled,
        client_enabled: client.is_some(),
        dev_mode: settings.dev,
        data_dir: data_dir.display().to_string(),
    };
    tokio::spawn(crate::allocator::release_freed_memory());
    let telemetry = caravan_api::metrics::Telemetry::new(telemetry_config(config));
    let state = Arc::new(AgentState {
        server,
        raft: raft.clone(),
        client: client.clone(),
        info,
        http,
        servers,
        telemetry: Some(telemetry.clone()),
        job_parser: std::env::current_exe()
            .ok()
            .map(|program| caravan_api::parse::JobParser {
                program,
                args: vec!["jobspec-parse".into()],
            }),
        acl: crate::agent_settings::acl_settings(config, &data_dir),
        tokens: Default::default(),
        tls: tls.api(http_builder())?,
        monitors: log.monitors.clone(),
    });
    tokio::spawn(telemetry.run(state.clone()));

    let rpc_line = if server_enabled {
        format!("RPC: {rpc_bind}:{rpc_port}; ")
    } else {
        String::new()
    };
    print_banner(
        &settings,
        &BTreeMap::from([
            (
                "Advertise Addrs",
                format!("HTTP: {advertise_http}; RPC: {advertise_rpc}; Serf: {advertise_serf}"),
            ),
            (
                "Bind Addrs",
                format!("HTTP: [{http_bind}:{http_port}]; {rpc_line}Serf: {bind}:{serf_port}"),
            ),
            ("Client", client.is_some().to_string()),
            ("Log Level", log_level),
            ("Region", format!("{region} (DC: {datacenter})")),
            ("Server", server_enabled.to_string()),
            ("Version", caravan_structs::CARAVAN_VERSION.to_string()),
        ]),
    );

    if server_enabled {
        for warning in tls.warnings(&advertise_rpc, config.acl_enabled == Some(true)) {
            println!("{warning}\n");
        }
    }
    log.gate.open();
    tokio::spawn(crate::agent_tls::reload_on_sighup(tls.identity()));

    let (stop_sender, stop) = tokio::sync::watch::channel(false);
    if let Some(listener) = rpc_listener {
        serve_until_stopped(
            listener,
            caravan_api::rpc_router(state.clone()),
            stop.clone(),
            "RPC",
            tls.rpc_listener(),
        );
    }
    if let Some(listener) = serf_listener {
        serve_until_stopped(
            listener,
            caravan_api::serf_router(state.clone()),
            stop.clone(),
            "serf",
            tls.rpc_listener(),
        );
    }
    let app = caravan_api::router(state);
    let failed = std::sync::Arc::new(std::sync::Mutex::new(None::<String>));
    let stopping = {
        let failed = failed.clone();
        async move {
            tokio::select! {
                _ = shutdown_signal() => {}
                Some(line) = fatal.recv() => {
                    *failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(line);
                }
            }
        }
    };
    api.spawn(crate::agent_tls::serve_http_api(
        http_listener,
        tls.http_listener(),
        app,
        stopping,
    ))
    .await
    .map_err(|e| format!("HTTP server failed: {e}"))??;
    let _ = stop_sender.send(true);
    if let Some(raft) = &raft {
        raft.shutdown().await;
    }
    let failure = failed.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(line) = failure {
        if let Some(client) = client {
            client.shutdown().await;
        }
        return Err(line);
    }
    println!("==> Caravan agent shutting down");
    if let Some(client) = client {
        if settings.dev {
            // Nomad: a dev agent stops its workloads when it stops.
            client.stop_all().await;
        } else {
            // The tasks keep running under their executors; the next start re-attaches.
            client.shutdown().await;
        }
    }
    Ok(())
}

/// Serves `app` on `listener` until `stop` turns true (over TLS when `tls` says so).
fn serve_until_stopped<L>(
    listener: L,
    app: axum::Router,
    mut stop: tokio::sync::watch::Receiver<bool>,
    what: &'static str,
    tls: Option<caravan_tls::ListenerTls>,
) where
    L: axum::serve::Listener<Addr = SocketAddr>,
    L::Io: caravan_tls::Connection,
{
    if tls.is_some() {
        tokio::spawn(caravan_tls::serve(listener, tls, app, stop));
        return;
    }
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        // A made service hands each connection a clone of the router (an `Arc`);
        // serving the router itself rebuilds its route table for every connection,
        // 9 KB each of ten thousand clients' long-polls.
        if let Err(error) = axum::serve(listener, app.into_make_service())
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(%error, "{what} listener failed");
        }
    });
}

fn print_banner(settings: &Settings, lines: &BTreeMap<&str, String>) {
    if settings.dev {
        println!("==> No configuration files loaded");
    }
    println!("==> Starting Caravan agent...");
    println!("==> Caravan agent configuration:\n");
    for (key, value) in lines {
        println!("{key:>22}: {value}");
    }
    println!("\n==> Caravan agent started! Log data will stream in below:\n");
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
    println!("==> Caught signal: interrupt");
}
