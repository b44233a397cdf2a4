//! Agent configuration files (`-config=FILE`): HCL1 or JSON, Nomad's keys.
//!
//! Every field is optional so files can be merged: a later file overrides what an earlier
//! one set ([`AgentConfig::merge`]). Unknown keys are errors with `file:line:col`, as in
//! Nomad; keys of Nomad features Caravan does not have yet are refused with a message
//! that says so, rather than silently ignored.

// Fields are named exactly after the Nomad configuration keys they hold; the key is the doc.
#![allow(missing_docs)]

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::ast::{Body, Item, Value, ValueKind};
use crate::error::{ParseError, Pos};
use crate::hcl1;

mod host_volume;
mod limits;
mod server;
mod tls;

use limits::decode_limits;
pub use limits::{
    DEFAULT_HANDSHAKE_TIMEOUT_NS, DEFAULT_MAX_CONNS_PER_CLIENT, LimitsBlock,
    MIN_RPC_MAX_CONNS_PER_CLIENT,
};
use server::decode_server;
pub use server::{SearchBlock, ServerBlock, ServerJoin};
pub use tls::TlsBlock;

/// `ports { http rpc serf }`, `addresses { ... }` and `advertise { ... }`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PerProtocol<T> {
    pub http: Option<T>,
    pub rpc: Option<T>,
    pub serf: Option<T>,
}

/// The `client` block.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientBlock {
    pub enabled: Option<bool>,
    pub servers: Option<Vec<String>>,
    pub node_class: Option<String>,
    pub node_pool: Option<String>,
    pub meta: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    pub state_dir: Option<String>,
    pub alloc_dir: Option<String>,
    /// Overrides of what the client fingerprints: total CPU (MHz), memory (MiB), and the
    /// disk's total and free space (MiB), the free space being what the scheduler places
    /// against.
    pub cpu_total_compute: Option<i64>,
    pub memory_total_mb: Option<i64>,
    pub disk_total_mb: Option<i64>,
    pub disk_free_mb: Option<i64>,
    pub network_interface: Option<String>,
    /// Nanoseconds.
    pub max_kill_timeout: Option<i64>,
    /// `chroot_env { "/bin" = "/bin" }`: what the `exec` driver puts in a task's root.
    pub chroot_env: Option<BTreeMap<String, String>>,
    /// Allocation garbage collection: how often (nanoseconds), above which disk and
    /// inode usage (percent), past how many allocations, and how many at once.
    pub gc_interval: Option<i64>,
    pub gc_disk_usage_threshold: Option<f64>,
    pub gc_inode_usage_threshold: Option<f64>,
    pub gc_max_allocs: Option<i64>,
    pub gc_parallel_destroys: Option<i64>,
    /// `host_volume "name" { path read_only }`, by name.
    pub host_volumes: BTreeMap<String, caravan_structs::ClientHostVolumeConfig>,
}

/// The `telemetry` block.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TelemetryBlock {
    pub publish_allocation_metrics: Option<bool>,
    pub publish_node_metrics: Option<bool>,
    pub prometheus_metrics: Option<bool>,
    pub disable_hostname: Option<bool>,
    /// Nanoseconds.
    pub collection_interval: Option<i64>,
}

/// One agent configuration file, or several merged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentConfig {
    pub region: Option<String>,
    pub datacenter: Option<String>,
    pub name: Option<String>,
    pub data_dir: Option<String>,
    pub bind_addr: Option<String>,
    pub log_level: Option<String>,
    pub log_json: Option<bool>,
    pub log_file: Option<String>,
    /// Rotate the log file past this many bytes (0: never by size).
    pub log_rotate_bytes: Option<i64>,
    /// Rotate the log file this often, nanoseconds (Nomad's default: 24h).
    pub log_rotate_duration: Option<i64>,
    /// How many rotated log files to keep (0: all).
    pub log_rotate_max_files: Option<i64>,
    /// Each line names its source file and line.
    pub log_include_location: Option<bool>,
    pub ports: PerProtocol<u16>,
    pub addresses: PerProtocol<String>,
    pub advertise: PerProtocol<String>,
    pub server: ServerBlock,
    pub client: ClientBlock,
    /// `plugin "NAME" { config { ... } }`: each plugin's `config` as JSON.
    pub plugins: BTreeMap<String, serde_json::Value>,
    pub telemetry: TelemetryBlock,
    pub limits: LimitsBlock,
    pub ui_enabled: Option<bool>,
    pub acl_enabled: Option<bool>,
    /// The rest of the `acl` block.
    pub acl: AclBlock,
    pub leave_on_interrupt: Option<bool>,
    pub leave_on_terminate: Option<bool>,
    pub tls: TlsBlock,
}

/// `acl { }` beyond `enabled`: durations in nanoseconds. Its `Debug` leaves the
/// token out, so a configuration printed for a bug report carries no secret.
#[derive(Clone, Default, PartialEq)]
pub struct AclBlock {
    pub token_ttl: Option<i64>,
    pub policy_ttl: Option<i64>,
    pub token_min_expiration_ttl: Option<i64>,
    pub token_max_expiration_ttl: Option<i64>,
    /// The secret a client agent registers its node with when ACLs are on (it needs
    /// `node:write`); Caravan's, as Nomad's clients have no such setting.
    pub token: Option<String>,
}

impl std::fmt::Debug for AclBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AclBlock")
            .field("token_ttl", &self.token_ttl)
            .field("policy_ttl", &self.policy_ttl)
            .field("token_min_expiration_ttl", &self.token_min_expiration_ttl)
            .field("token_max_expiration_ttl", &self.token_max_expiration_ttl)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Nomad keys accepted and ignored: they tune things Caravan does differently or not at
/// all, and ignoring them changes no behaviour a user relies on.
const IGNORED_TOP: &[&str] = &[
    "disable_update_check",
    "disable_anonymous_signature",
    "enable_syslog",
    "syslog_facility",
    "enable_debug",
    "http_api_response_headers",
    "plugin_dir",
    "reporting",
];

/// Nomad blocks for features Caravan does not have yet; using them is an error, because
/// ignoring them would quietly drop security or integration the user asked for.
const UNSUPPORTED_TOP: &[&str] = &[
    "vault",
    "consul",
    "audit",
    "sentinel",
    "autopilot",
    "keyring",
];

/// Reads an HCL1 agent configuration file.
pub fn parse_agent_config_hcl(file_name: &str, source: &str) -> Result<AgentConfig, ParseError> {
    let body = hcl1::parse(file_name, source)?;
    decode(&body)
}

/// Reads a JSON agent configuration file (`*.json`).
pub fn parse_agent_config_json(file_name: &str, source: &str) -> Result<AgentConfig, ParseError> {
    let value: serde_json::Value = serde_json::from_str(source).map_err(|e| ParseError {
        file: file_name.to_string(),
        line: e.line(),
        col: e.column(),
        message: e.to_string(),
    })?;
    let serde_json::Value::Object(map) = value else {
        return Err(ParseError {
            file: file_name.to_string(),
            line: 1,
            col: 1,
            message: "an agent configuration must be a JSON object".into(),
        });
    };
    let file: Arc<str> = Arc::from(file_name);
    decode(&json_body(&file, &map))
}

/// Turns a JSON object into the tree HCL1 produces. JSON has no positions to keep, so
/// errors point at the file's start.
fn json_body(file: &Arc<str>, map: &serde_json::Map<String, serde_json::Value>) -> Body {
    let pos = Pos::new(1, 1);
    let mut items = Vec::new();
    for (key, value) in map {
        // Nomad's JSON form of a labelled block: `"plugin": {"raw_exec": {...}}`.
        if key == "plugin"
            && let serde_json::Value::Object(plugins) = value
        {
            for (name, inner) in plugins {
                items.push(Item {
                    key: key.clone(),
                    labels: vec![name.clone()],
                    value: json_value(file, inner),
                    is_block: true,
                    pos,
                });
            }
            continue;
        }
        items.push(Item {
            key: key.clone(),
            labels: Vec::new(),
            value: json_value(file, value),
            is_block: value.is_object(),
            pos,
        });
    }
    Body {
        file: file.clone(),
        items,
    }
}

fn json_value(file: &Arc<str>, value: &serde_json::Value) -> Value {
    let pos = Pos::new(1, 1);
    let kind = match value {
        serde_json::Value::Null => ValueKind::String(String::new()),
        serde_json::Value::Bool(b) => ValueKind::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => ValueKind::Int(i),
            None => ValueKind::Float(n.as_f64().unwrap_or(0.0)),
        },
        serde_json::Value::String(s) => ValueKind::String(s.clone()),
        serde_json::Value::Array(items) => {
            ValueKind::List(items.iter().map(|v| json_value(file, v)).collect())
        }
        serde_json::Value::Object(map) => ValueKind::Object(json_body(file, map)),
    };
    Value::new(kind, pos)
}

fn per_protocol_strings(body: &Body) -> Result<PerProtocol<String>, ParseError> {
    body.check_keys("this block", &["http", "rpc", "serf"], &[])?;
    Ok(PerProtocol {
        http: body.string("http")?,
        rpc: body.string("rpc")?,
        serf: body.string("serf")?,
    })
}

fn port(body: &Body, key: &str) -> Result<Option<u16>, ParseError> {
    let Some(number) = body.int(key)? else {
        return Ok(None);
    };
    let item = value_pos(body, key);
    u16::try_from(number)
        .ok()
        .filter(|p| *p > 0)
        .map(Some)
        .ok_or_else(|| {
            body.error_at(
                item,
                format!("\"{key}\" must be a port between 1 and 65535, got {number}"),
            )
        })
}

fn decode(body: &Body) -> Result<AgentConfig, ParseError> {
    const TOP: &[&str] = &[
        "region",
        "datacenter",
        "name",
        "data_dir",
        "bind_addr",
        "log_level",
        "log_json",
        "log_file",
        "log_rotate_bytes",
        "log_rotate_duration",
        "log_rotate_max_files",
        "log_include_location",
        "ports",
        "addresses",
        "advertise",
        "server",
        "client",
        "plugin",
        "telemetry",
        "limits",
        "ui",
        "acl",
        "leave_on_interrupt",
        "leave_on_terminate",
        "tls",
    ];
    for item in &body.items {
        if UNSUPPORTED_TOP.contains(&item.key.as_str()) {
            return Err(body.error_at(
                item.pos,
                format!(
                    "\"{}\" is not supported by Caravan yet; remove the block to start the agent",
                    item.key
                ),
            ));
        }
    }
    body.check_keys("the agent configuration", TOP, IGNORED_TOP)?;
    let mut config = AgentConfig {
        region: body.string("region")?,
        datacenter: body.string("datacenter")?,
        name: body.string("name")?,
        data_dir: body.string("data_dir")?,
        bind_addr: body.string("bind_addr")?,
        log_level: body.string("log_level")?,
        log_json: body.bool("log_json")?,
        log_file: body.string("log_file")?,
        log_rotate_bytes: body.int("log_rotate_bytes")?,
        log_rotate_duration: body.duration("log_rotate_duration")?,
        log_rotate_max_files: body.int("log_rotate_max_files")?,
        log_include_location: body.bool("log_include_location")?,
        leave_on_interrupt: body.bool("leave_on_interrupt")?,
        leave_on_terminate: body.bool("leave_on_terminate")?,
        ..AgentConfig::default()
    };
    if let Some(ports) = body.block("ports")? {
        ports.check_keys("ports", &["http", "rpc", "serf"], &[])?;
        config.ports = PerProtocol {
            http: port(ports, "http")?,
            rpc: port(ports, "rpc")?,
            serf: port(ports, "serf")?,
        };
    }
    if let Some(addresses) = body.block("addresses")? {
        config.addresses = per_protocol_strings(addresses)?;
    }
    if let Some(advertise) = body.block("advertise")? {
        config.advertise = per_protocol_strings(advertise)?;
    }
    if let Some(server) = body.block("server")? {
        config.server = decode_server(server)?;
    }
    if let Some(client) = body.block("client")? {
        client.check_keys(
            "client",
            &[
                "enabled",
                "servers",
                "node_class",
                "node_pool",
                "meta",
                "options",
                "state_dir",
                "alloc_dir",
                "cpu_total_compute",
                "memory_total_mb",
                "disk_total_mb",
                "disk_free_mb",
                "network_interface",
                "max_kill_timeout",
                "chroot_env",
                "gc_interval",
                "gc_disk_usage_threshold",
                "gc_inode_usage_threshold",
                "gc_max_allocs",
                "gc_parallel_destroys",
                "host_volume",
            ],
            &[
                "min_dynamic_port",
                "max_dynamic_port",
                "reserved",
                "host_network",
                "network_speed",
                "server_join",
                "no_host_uuid",
                "drain_on_shutdown",
                "cni_path",
                "bridge_network_name",
                "bridge_network_subnet",
            ],
        )?;
        config.client = ClientBlock {
            enabled: client.bool("enabled")?,
            servers: client.strings("servers")?,
            node_class: client.string("node_class")?,
            node_pool: client.string("node_pool")?,
            meta: client.string_map("meta")?.unwrap_or_default(),
            options: client.string_map("options")?.unwrap_or_default(),
            state_dir: client.string("state_dir")?,
            alloc_dir: client.string("alloc_dir")?,
            cpu_total_compute: client.int("cpu_total_compute")?,
            memory_total_mb: client.int("memory_total_mb")?,
            disk_total_mb: client.int("disk_total_mb")?,
            disk_free_mb: client.int("disk_free_mb")?,
            network_interface: client.string("network_interface")?,
            max_kill_timeout: client.duration("max_kill_timeout")?,
            chroot_env: client.string_map("chroot_env")?,
            gc_interval: client.duration("gc_interval")?,
            gc_disk_usage_threshold: client.float("gc_disk_usage_threshold")?,
            gc_inode_usage_threshold: client.float("gc_inode_usage_threshold")?,
            gc_max_allocs: client.int("gc_max_allocs")?,
            gc_parallel_destroys: client.int("gc_parallel_destroys")?,
            host_volumes: host_volume::decode_host_volumes(client)?,
        };
        let totals = [
            ("cpu_total_compute", config.client.cpu_total_compute),
            ("memory_total_mb", config.client.memory_total_mb),
            ("disk_total_mb", config.client.disk_total_mb),
            ("disk_free_mb", config.client.disk_free_mb),
        ];
        for (key, value) in totals {
            if let Some(value) = value.filter(|v| *v < 0) {
                return Err(client.error_at(
                    value_pos(client, key),
                    format!(
                        "\"{key}\" must be non-negative (0 keeps what the client detects), got {value}"
                    ),
                ));
            }
        }
    }
    for item in body.all("plugin") {
        let name = body.single_label(item)?.to_string();
        let plugin = body.value_object("plugin", &item.value)?;
        plugin.check_keys(&format!("plugin \"{name}\""), &["config"], &["args"])?;
        let plugin_config = match plugin.block("config")? {
            Some(config) => serde_json::Value::Object(config.to_json_map()),
            None => serde_json::Value::Object(Default::default()),
        };
        if name == "raw_exec"
            && let Some(config) = plugin.block("config")?
        {
            config.check_keys(
                "plugin \"raw_exec\" config",
                &["enabled"],
                &[
                    "no_cgroups",
                    "denied_host_uids",
                    "denied_host_gids",
                    "denied_envvars",
                ],
            )?;
            config.bool("enabled")?;
        }
        if name == "docker"
            && let Some(config) = plugin.block("config")?
        {
            check_docker_plugin(config)?;
        }
        config.plugins.insert(name, plugin_config);
    }
    if let Some(telemetry) = body.block("telemetry")? {
        telemetry.check_keys(
            "telemetry",
            &[
                "publish_allocation_metrics",
                "publish_node_metrics",
                "prometheus_metrics",
                "disable_hostname",
                "collection_interval",
            ],
            &[
                "use_node_name",
                "statsite_address",
                "statsd_address",
                "datadog_address",
                "datadog_tags",
                "circonus_api_token",
                "prefix_filter",
                "filter_default",
                "disable_dispatched_job_summary_metrics",
                "disable_rpc_rate_metrics_labels",
                "in_memory_collection_interval",
                "in_memory_retention_period",
            ],
        )?;
        config.telemetry = TelemetryBlock {
            publish_allocation_metrics: telemetry.bool("publish_allocation_metrics")?,
            publish_node_metrics: telemetry.bool("publish_node_metrics")?,
            prometheus_metrics: telemetry.bool("prometheus_metrics")?,
            disable_hostname: telemetry.bool("disable_hostname")?,
            collection_interval: telemetry.duration("collection_interval")?,
        };
    }
    if let Some(limits) = body.block("limits")? {
        config.limits = decode_limits(limits)?;
    }
    if let Some(ui) = body.block("ui")? {
        ui.check_keys(
            "ui",
            &["enabled"],
            &[
                "show_cli_hints",
                "content_security_policy",
                "label",
                "consul",
                "vault",
            ],
        )?;
        config.ui_enabled = ui.bool("enabled")?;
    }
    if let Some(tls) = body.block("tls")? {
        config.tls = tls::decode_tls(tls)?;
    }
    if let Some(acl) = body.block("acl")? {
        acl.check_keys(
            "acl",
            &[
                "enabled",
                "token_ttl",
                "policy_ttl",
                "token_min_expiration_ttl",
                "token_max_expiration_ttl",
                "token",
            ],
            &["role_ttl", "replication_token"],
        )?;
        config.acl_enabled = acl.bool("enabled")?;
        config.acl = AclBlock {
            token_ttl: acl.duration("token_ttl")?,
            policy_ttl: acl.duration("policy_ttl")?,
            token_min_expiration_ttl: acl.duration("token_min_expiration_ttl")?,
            token_max_expiration_ttl: acl.duration("token_max_expiration_ttl")?,
            token: acl.string("token")?,
        };
        if let (Some(min), Some(max)) = (
            config.acl.token_min_expiration_ttl,
            config.acl.token_max_expiration_ttl,
        ) && min > max
        {
            let pos = acl
                .get("token_min_expiration_ttl")
                .map(|i| i.value.pos)
                .unwrap_or_default();
            return Err(acl.error_at(
                pos,
                "\"token_min_expiration_ttl\" must not be longer than \"token_max_expiration_ttl\"",
            ));
        }
    }
    Ok(config)
}

/// Where the value of `key` in `body` starts, for an error about it.
fn value_pos(body: &Body, key: &str) -> Pos {
    body.get(key).map(|i| i.value.pos).unwrap_or_default()
}

fn pick<T>(later: Option<T>, earlier: Option<T>) -> Option<T> {
    later.or(earlier)
}

impl<T> PerProtocol<T> {
    fn merge(self, later: PerProtocol<T>) -> PerProtocol<T> {
        PerProtocol {
            http: pick(later.http, self.http),
            rpc: pick(later.rpc, self.rpc),
            serf: pick(later.serf, self.serf),
        }
    }
}

impl AgentConfig {
    /// Merges `later` over `self`: what `later` sets wins; maps are merged key by key.
    pub fn merge(self, later: AgentConfig) -> AgentConfig {
        let mut meta = self.client.meta;
        meta.extend(later.client.meta);
        let mut options = self.client.options;
        options.extend(later.client.options);
        let mut host_volumes = self.client.host_volumes;
        host_volumes.extend(later.client.host_volumes);
        let mut plugins = self.plugins;
        plugins.extend(later.plugins);
        AgentConfig {
            region: pick(later.region, self.region),
            datacenter: pick(later.datacenter, self.datacenter),
            name: pick(later.name, self.name),
            data_dir: pick(later.data_dir, self.data_dir),
            bind_addr: pick(later.bind_addr, self.bind_addr),
            log_level: pick(later.log_level, self.log_level),
            log_json: pick(later.log_json, self.log_json),
            log_file: pick(later.log_file, self.log_file),
            log_rotate_bytes: pick(later.log_rotate_bytes, self.log_rotate_bytes),
            log_rotate_duration: pick(later.log_rotate_duration, self.log_rotate_duration),
            log_rotate_max_files: pick(later.log_rotate_max_files, self.log_rotate_max_files),
            log_include_location: pick(later.log_include_location, self.log_include_location),
            ports: self.ports.merge(later.ports),
            addresses: self.addresses.merge(later.addresses),
            advertise: self.advertise.merge(later.advertise),
            server: self.server.merge(later.server),
            client: ClientBlock {
                enabled: pick(later.client.enabled, self.client.enabled),
                servers: pick(later.client.servers, self.client.servers),
                node_class: pick(later.client.node_class, self.client.node_class),
                node_pool: pick(later.client.node_pool, self.client.node_pool),
                meta,
                options,
                state_dir: pick(later.client.state_dir, self.client.state_dir),
                alloc_dir: pick(later.client.alloc_dir, self.client.alloc_dir),
                cpu_total_compute: pick(
                    later.client.cpu_total_compute,
                    self.client.cpu_total_compute,
                ),
                memory_total_mb: pick(later.client.memory_total_mb, self.client.memory_total_mb),
                disk_total_mb: pick(later.client.disk_total_mb, self.client.disk_total_mb),
                disk_free_mb: pick(later.client.disk_free_mb, self.client.disk_free_mb),
                network_interface: pick(
                    later.client.network_interface,
                    self.client.network_interface,
                ),
                max_kill_timeout: pick(later.client.max_kill_timeout, self.client.max_kill_timeout),
                chroot_env: pick(later.client.chroot_env, self.client.chroot_env),
                gc_interval: pick(later.client.gc_interval, self.client.gc_interval),
                gc_disk_usage_threshold: pick(
                    later.client.gc_disk_usage_threshold,
                    self.client.gc_disk_usage_threshold,
                ),
                gc_inode_usage_threshold: pick(
                    later.client.gc_inode_usage_threshold,
                    self.client.gc_inode_usage_threshold,
                ),
                gc_max_allocs: pick(later.client.gc_max_allocs, self.client.gc_max_allocs),
                gc_parallel_destroys: pick(
                    later.client.gc_parallel_destroys,
                    self.client.gc_parallel_destroys,
                ),
                host_volumes,
            },
            plugins,
            telemetry: TelemetryBlock {
                publish_allocation_metrics: pick(
                    later.telemetry.publish_allocation_metrics,
                    self.telemetry.publish_allocation_metrics,
                ),
                publish_node_metrics: pick(
                    later.telemetry.publish_node_metrics,
                    self.telemetry.publish_node_metrics,
                ),
                prometheus_metrics: pick(
                    later.telemetry.prometheus_metrics,
                    self.telemetry.prometheus_metrics,
                ),
                disable_hostname: pick(
                    later.telemetry.disable_hostname,
                    self.telemetry.disable_hostname,
                ),
                collection_interval: pick(
                    later.telemetry.collection_interval,
                    self.telemetry.collection_interval,
                ),
            },
            limits: self.limits.merge(later.limits),
            ui_enabled: pick(later.ui_enabled, self.ui_enabled),
            acl_enabled: pick(later.acl_enabled, self.acl_enabled),
            acl: AclBlock {
                token_ttl: pick(later.acl.token_ttl, self.acl.token_ttl),
                policy_ttl: pick(later.acl.policy_ttl, self.acl.policy_ttl),
                token_min_expiration_ttl: pick(
                    later.acl.token_min_expiration_ttl,
                    self.acl.token_min_expiration_ttl,
                ),
                token_max_expiration_ttl: pick(
                    later.acl.token_max_expiration_ttl,
                    self.acl.token_max_expiration_ttl,
                ),
                token: pick(later.acl.token, self.acl.token),
            },
            leave_on_interrupt: pick(later.leave_on_interrupt, self.leave_on_interrupt),
            leave_on_terminate: pick(later.leave_on_terminate, self.leave_on_terminate),
            tls: self.tls.merge(later.tls),
        }
    }

    /// Whether `raw_exec` is enabled, by `plugin "raw_exec" { config { enabled = true } }`
    /// or the legacy `client { options { "driver.raw_exec.enable" = "1" } }`.
    pub fn raw_exec_enabled(&self) -> bool {
        let plugin = self
            .plugins
            .get("raw_exec")
            .and_then(|c| c.get("enabled"))
            .and_then(|v| {
                v.as_bool()
                    .or_else(|| v.as_str().map(|s| s == "true" || s == "1"))
            });
        let legacy = self
            .client
            .options
            .get("driver.raw_exec.enable")
            .map(|v| matches!(v.as_str(), "1" | "true" | "t" | "TRUE" | "True"));
        plugin.or(legacy).unwrap_or(false)
    }
}

#[cfg(test)]
mod tests;

/// `plugin "docker" { config { ... } }`: the keys Caravan carries out, and Nomad's others
/// accepted (and left at Docker's behaviour) so that a Nomad agent file still loads.
fn check_docker_plugin(config: &Body) -> Result<(), ParseError> {
    config.check_keys(
        "plugin \"docker\" config",
        &[
            "endpoint",
            "allow_privileged",
            "volumes",
            "gc",
            "disable_log_collection",
        ],
        &[
            "auth",
            "tls",
            "pull_activity_timeout",
            "infra_image",
            "infra_image_pull_timeout",
            "allow_caps",
            "allow_runtimes",
            "extra_labels",
            "logging",
            "image_pull_timeout",
        ],
    )?;
    config.bool("allow_privileged")?;
    config.bool("disable_log_collection")?;
    config.string("endpoint")?;
    if let Some(volumes) = config.block("volumes")? {
        volumes.check_keys(
            "plugin \"docker\" config volumes",
            &["enabled"],
            &["selinuxlabel"],
        )?;
        volumes.bool("enabled")?;
    }
    if let Some(gc) = config.block("gc")? {
        gc.check_keys(
            "plugin \"docker\" config gc",
            &["image", "image_delay", "container"],
            &["dangling_containers"],
        )?;
        gc.bool("image")?;
        gc.bool("container")?;
        gc.duration("image_delay")?;
    }
    Ok(())
}
