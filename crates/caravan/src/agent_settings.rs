//! What each part of the agent is started with, read from its configuration: the
//! server's settings and Raft's, the drivers, the client's garbage collection, telemetry.
//! Nomad's defaults where a setting is unset.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use caravan_drivers::{
    DockerDriver, DockerPluginConfig, DriverRegistry, ExecDriver, ExecutorCommand, RawExecDriver,
};
use caravan_jobspec::agent_config::AgentConfig;
use caravan_raft::{RaftSettings, ServerNode};

/// The server's settings from the `server` block, Nomad's defaults where unset, and the
/// drivers' task config schemas.
pub(crate) fn server_config(
    config: &AgentConfig,
    driver_schemas: caravan_structs::driver_schema::DriverSchemas,
) -> caravan_server::ServerConfig {
    let defaults = caravan_server::HeartbeatConfig::default();
    let duration = |nanos: Option<i64>, default: std::time::Duration| {
        nanos
            .map(|n| std::time::Duration::from_nanos(n.max(0) as u64))
            .unwrap_or(default)
    };
    caravan_server::ServerConfig {
        acl: server_acl(config),
        heartbeat: caravan_server::HeartbeatConfig {
            min_ttl: duration(config.server.min_heartbeat_ttl, defaults.min_ttl),
            grace: duration(config.server.heartbeat_grace, defaults.grace),
            max_per_second: config
                .server
                .max_heartbeats_per_second
                .unwrap_or(defaults.max_per_second),
        },
        scheduler: caravan_server::SchedulerConfiguration {
            scheduler_algorithm: config
                .server
                .scheduler_algorithm
                .clone()
                .unwrap_or_else(|| "binpack".into()),
            memory_oversubscription_enabled: config
                .server
                .memory_oversubscription_enabled
                .unwrap_or(false),
            ..Default::default()
        },
        gc: {
            let gc = caravan_server::gc::GcConfig::default();
            let server = &config.server;
            caravan_server::gc::GcConfig {
                interval: duration(server.job_gc_interval, gc.interval),
                job_threshold: duration(server.job_gc_threshold, gc.job_threshold),
                eval_threshold: duration(server.eval_gc_threshold, gc.eval_threshold),
                batch_eval_threshold: duration(
                    server.batch_eval_gc_threshold,
                    gc.batch_eval_threshold,
                ),
                node_threshold: duration(server.node_gc_threshold, gc.node_threshold),
                deployment_threshold: duration(
                    server.deployment_gc_threshold,
                    gc.deployment_threshold,
                ),
            }
        },
        driver_schemas,
        search: search_config(config),
        num_schedulers: config.server.num_schedulers.unwrap_or(0).max(0) as usize,
        broker: {
            let broker = caravan_server::BrokerConfig::default();
            caravan_server::BrokerConfig {
                nack_timeout_ns: config
                    .server
                    .eval_nack_timeout
                    .unwrap_or(broker.nack_timeout_ns),
                delivery_limit: config
                    .server
                    .eval_delivery_limit
                    .map_or(broker.delivery_limit, |n| {
                        n.clamp(1, i64::from(u32::MAX)) as u32
                    }),
            }
        },
    }
}

/// The `server { search {} }` block, Nomad's defaults where unset.
fn search_config(config: &AgentConfig) -> caravan_server::search::SearchConfig {
    let defaults = caravan_server::search::SearchConfig::default();
    let search = &config.server.search;
    let count = |value: Option<i64>, default: usize| {
        value.map_or(default, |n| usize::try_from(n).unwrap_or(default))
    };
    caravan_server::search::SearchConfig {
        fuzzy_enabled: search.fuzzy_enabled.unwrap_or(defaults.fuzzy_enabled),
        limit_query: count(search.limit_query, defaults.limit_query),
        limit_results: count(search.limit_results, defaults.limit_results),
        min_term_length: count(search.min_term_length, defaults.min_term_length),
    }
}

/// How many writes' events the server keeps for `/v1/event/stream`: Nomad's
/// `event_buffer_size` (100), or none with `enable_event_broker = false`. An enabled
/// broker keeps at least the latest write, so its subscribers follow new events.
pub(crate) fn event_buffer_size(config: &AgentConfig) -> usize {
    if !config.server.enable_event_broker.unwrap_or(true) {
        return 0;
    }
    config
        .server
        .event_buffer_size
        .map_or(caravan_state::events::DEFAULT_EVENT_BUFFER_SIZE, |n| {
            usize::try_from(n).unwrap_or(0)
        })
        .max(1)
}

/// The server's Raft settings from the `server` block: `bootstrap_expect` (1 when unset
/// and nothing to join), `server_join`, `raft_multiplier` and the snapshot thresholds.
pub(crate) fn raft_settings(
    config: &AgentConfig,
    data_dir: &Path,
    mut me: ServerNode,
) -> Result<RaftSettings, String> {
    let server = &config.server;
    let join = &server.server_join;
    let mut addresses: Vec<String> = join.start_join.clone().unwrap_or_default();
    addresses.extend(join.retry_join.clone().unwrap_or_default());
    let expect = match server.bootstrap_expect {
        Some(n) => u32::try_from(n).map_err(|_| {
            format!(
                "server.bootstrap_expect = {n}: must be between 0 and {}",
                u32::MAX
            )
        })?,
        None if addresses.is_empty() => 1,
        None => 0,
    };
    me.bootstrap_expect = expect;
    let directory = match &server.data_dir {
        Some(dir) => PathBuf::from(dir),
        None => data_dir.join("server"),
    };
    std::fs::create_dir_all(&directory).map_err(|e| {
        format!(
            "Error creating the server's data directory {}: {e}",
            directory.display()
        )
    })?;
    let mut settings = RaftSettings::new(directory, me);
    settings.bootstrap_expect = expect;
    settings.join = addresses;
    if let Some(nanos) = join.retry_interval {
        settings.retry_interval = std::time::Duration::from_nanos(nanos.max(0) as u64);
    }
    // `-join`/`start_join` alone is tried once, as Nomad does at start.
    settings.retry_max = match join.retry_max {
        Some(n) => n.max(0) as u32,
        None if join.retry_join.is_none() && join.start_join.is_some() => 1,
        None => 0,
    };
    if let Some(multiplier) = server.raft_multiplier {
        settings.raft_multiplier = multiplier.clamp(1, 10) as u32;
    }
    if let Some(threshold) = server.raft_snapshot_threshold {
        settings.snapshot_threshold = threshold.max(1) as u64;
    }
    if let Some(trailing) = server.raft_trailing_logs {
        settings.trailing_logs = trailing.max(0) as u64;
    }
    Ok(settings)
}

/// The `telemetry` block, Nomad's defaults where unset.
pub(crate) fn telemetry_config(config: &AgentConfig) -> caravan_api::metrics::TelemetryConfig {
    let telemetry = &config.telemetry;
    caravan_api::metrics::TelemetryConfig {
        prometheus_metrics: telemetry.prometheus_metrics.unwrap_or(false),
        publish_allocation_metrics: telemetry.publish_allocation_metrics.unwrap_or(false),
        publish_node_metrics: telemetry.publish_node_metrics.unwrap_or(false),
        disable_hostname: telemetry.disable_hostname.unwrap_or(false),
        collection_interval: telemetry
            .collection_interval
            .map(|n| std::time::Duration::from_nanos(n.max(0) as u64))
            .unwrap_or(std::time::Duration::from_secs(1)),
    }
}

/// The task drivers, configured from the agent's settings: `raw_exec` (enabled by its
/// plugin block, the client's `driver.raw_exec.enable` option or `-dev`), `exec`, `java`
/// and `docker` (their plugin blocks; a bad one leaves the driver unhealthy rather than
/// failing the agent).
pub(crate) fn driver_registry(config: &AgentConfig, executor: ExecutorCommand) -> DriverRegistry {
    let exec_config = caravan_drivers::ExecConfig::from_plugin_config(
        exec_plugin_config(config, "exec").as_ref(),
    );
    let java_config = caravan_drivers::ExecConfig::from_named_plugin_config(
        "java",
        exec_plugin_config(config, "java").as_ref(),
    );
    let die_with_agent = executor.die_with_agent;
    DriverRegistry::new(executor.clone())
        .with(Arc::new(RawExecDriver::new(
            executor.clone(),
            config.raw_exec_enabled(),
        )))
        .with(Arc::new(ExecDriver::from_plugin_config(
            executor.clone(),
            exec_config,
        )))
        .with(Arc::new(caravan_drivers::JavaDriver::from_plugin_config(
            executor,
            java_config,
        )))
        .with(Arc::new(DockerDriver::new(
            DockerPluginConfig::from_plugin_config(config.plugins.get("docker")),
            die_with_agent,
        )))
}

/// `plugin "<name>" { config { ... } }` of a driver that isolates as `exec` does, with
/// the client's `chroot_env` added, as the driver reads them together.
fn exec_plugin_config(config: &AgentConfig, name: &str) -> Option<serde_json::Value> {
    let mut plugin = config.plugins.get(name).cloned();
    if let Some(chroot_env) = &config.client.chroot_env {
        let object = plugin.get_or_insert_with(|| serde_json::Value::Object(Default::default()));
        if let Some(map) = object.as_object_mut() {
            map.insert("chroot_env".into(), serde_json::json!(chroot_env));
        }
    }
    plugin
}

/// The client's `gc_*` settings, Nomad's defaults where unset.
pub(crate) fn client_gc_config(config: &AgentConfig) -> caravan_client::gc::GcConfig {
    let defaults = caravan_client::gc::GcConfig::default();
    let client = &config.client;
    caravan_client::gc::GcConfig {
        interval: client
            .gc_interval
            .map(|n| std::time::Duration::from_nanos(n.max(0) as u64))
            .unwrap_or(defaults.interval),
        disk_usage_threshold: client
            .gc_disk_usage_threshold
            .unwrap_or(defaults.disk_usage_threshold),
        inode_usage_threshold: client
            .gc_inode_usage_threshold
            .unwrap_or(defaults.inode_usage_threshold),
        max_allocs: client
            .gc_max_allocs
            .map_or(defaults.max_allocs, |n| n.max(0) as usize),
        parallel_destroys: client
            .gc_parallel_destroys
            .map_or(defaults.parallel_destroys, |n| n.max(1) as usize),
    }
}

/// The server's ACL settings: `acl.enabled` and the bounds of a token's TTL.
fn server_acl(config: &AgentConfig) -> caravan_server::AclConfig {
    let defaults = caravan_server::AclConfig::default();
    let duration = |nanos: Option<i64>, default: std::time::Duration| {
        nanos
            .map(|n| std::time::Duration::from_nanos(n.max(0) as u64))
            .unwrap_or(default)
    };
    caravan_server::AclConfig {
        enabled: config.acl_enabled.unwrap_or(false),
        token_min_ttl: duration(config.acl.token_min_expiration_ttl, defaults.token_min_ttl),
        token_max_ttl: duration(config.acl.token_max_expiration_ttl, defaults.token_max_ttl),
    }
}

/// What every agent's API needs of the `acl` block.
pub(crate) fn acl_settings(config: &AgentConfig, data_dir: &Path) -> caravan_api::AclSettings {
    let defaults = caravan_api::AclSettings::default();
    caravan_api::AclSettings {
        enabled: config.acl_enabled.unwrap_or(false),
        token_ttl: config
            .acl
            .token_ttl
            .map(|n| std::time::Duration::from_nanos(n.max(0) as u64))
            .unwrap_or(defaults.token_ttl),
        bootstrap_reset_file: Some(data_dir.join("server").join("acl-bootstrap-reset")),
    }
}

/// The token a client agent registers its node with when ACLs are on: `acl.token`,
/// else the agent's `NOMAD_TOKEN`.
pub(crate) fn node_token(config: &AgentConfig) -> Option<String> {
    config
        .acl
        .token
        .clone()
        .or_else(|| std::env::var("NOMAD_TOKEN").ok())
        .filter(|t| !t.is_empty())
}
