//! The agent configuration's `server` block: scheduling, garbage collection, Raft tuning
//! and how a server finds the others (`server_join`).

use super::{pick, value_pos};
use crate::ast::Body;
use crate::error::ParseError;

/// Nomad's `MaxRaftMultiplier`: past 10 a cluster takes too long to notice a dead leader.
const MAX_RAFT_MULTIPLIER: i64 = 10;

/// The `server` block.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerBlock {
    pub enabled: Option<bool>,
    pub bootstrap_expect: Option<i64>,
    pub num_schedulers: Option<i64>,
    /// Nanoseconds a scheduler worker has to ack an evaluation (Nomad: 60s).
    pub eval_nack_timeout: Option<i64>,
    /// Deliveries of an evaluation before it fails (Nomad: 3).
    pub eval_delivery_limit: Option<i64>,
    /// Nanoseconds.
    pub heartbeat_grace: Option<i64>,
    /// Nanoseconds.
    pub min_heartbeat_ttl: Option<i64>,
    pub max_heartbeats_per_second: Option<f64>,
    pub data_dir: Option<String>,
    /// `default_scheduler_config { scheduler_algorithm }`: `binpack` or `spread`.
    pub scheduler_algorithm: Option<String>,
    /// `default_scheduler_config { memory_oversubscription_enabled }`.
    pub memory_oversubscription_enabled: Option<bool>,
    /// Garbage collection (all nanoseconds): how old a dead job, a terminal
    /// evaluation, a down node or a finished deployment must be to be collected, and how
    /// often the server looks.
    pub job_gc_interval: Option<i64>,
    pub job_gc_threshold: Option<i64>,
    pub eval_gc_threshold: Option<i64>,
    pub batch_eval_gc_threshold: Option<i64>,
    pub node_gc_threshold: Option<i64>,
    pub deployment_gc_threshold: Option<i64>,
    /// Always 3 when set: the only Raft protocol Nomad 1.4 and later speak.
    pub raft_protocol: Option<i64>,
    /// 1 to 10: scales Raft's election, heartbeat, lease and commit timeouts.
    pub raft_multiplier: Option<i64>,
    /// How many new log entries make the server take a Raft snapshot.
    pub raft_snapshot_threshold: Option<i64>,
    /// How many log entries a snapshot leaves behind for slow followers.
    pub raft_trailing_logs: Option<i64>,
    /// `server_join { ... }`, or the deprecated `retry_join`, `retry_interval`,
    /// `retry_max` and `start_join` keys of the `server` block itself.
    pub server_join: ServerJoin,
    /// Whether the server keeps events for `/v1/event/stream` (Nomad: true).
    pub enable_event_broker: Option<bool>,
    /// How many writes' events are kept for replay (Nomad: 100).
    pub event_buffer_size: Option<i64>,
    /// `search { ... }`: `/v1/search` and `/v1/search/fuzzy`.
    pub search: SearchBlock,
}

/// The `search` block of `server`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchBlock {
    pub fuzzy_enabled: Option<bool>,
    pub limit_query: Option<i64>,
    pub limit_results: Option<i64>,
    pub min_term_length: Option<i64>,
}

/// The `server_join` block: the servers to join at start.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerJoin {
    /// Addresses (or cloud auto-join strings) joined until a join succeeds.
    pub retry_join: Option<Vec<String>>,
    /// Nanoseconds between join attempts.
    pub retry_interval: Option<i64>,
    /// Attempts before giving up; 0 means no limit.
    pub retry_max: Option<i64>,
    /// Addresses joined once at start.
    pub start_join: Option<Vec<String>>,
}

/// The `server` keys Caravan reads.
const SERVER_KEYS: &[&str] = &[
    "enabled",
    "bootstrap_expect",
    "num_schedulers",
    "eval_nack_timeout",
    "eval_delivery_limit",
    "heartbeat_grace",
    "min_heartbeat_ttl",
    "max_heartbeats_per_second",
    "data_dir",
    "default_scheduler_config",
    "job_gc_threshold",
    "job_gc_interval",
    "eval_gc_threshold",
    "batch_eval_gc_threshold",
    "node_gc_threshold",
    "deployment_gc_threshold",
    "raft_protocol",
    "raft_multiplier",
    "raft_snapshot_threshold",
    "raft_trailing_logs",
    "server_join",
    "retry_join",
    "retry_interval",
    "retry_max",
    "start_join",
    "enable_event_broker",
    "event_buffer_size",
    "search",
];

/// `server` keys accepted and ignored.
const IGNORED_SERVER_KEYS: &[&str] = &[
    "enabled_schedulers",
    "encrypt",
    "rejoin_after_leave",
    "license_path",
];

/// The keys of `server_join`, which are also the deprecated keys of `server` itself.
const JOIN_KEYS: &[&str] = &["retry_join", "retry_interval", "retry_max", "start_join"];

/// Reads the `server` block.
pub(super) fn decode_server(server: &Body) -> Result<ServerBlock, ParseError> {
    server.check_keys("server", SERVER_KEYS, IGNORED_SERVER_KEYS)?;
    let mut block = ServerBlock {
        enabled: server.bool("enabled")?,
        bootstrap_expect: server.int("bootstrap_expect")?,
        num_schedulers: non_negative(server, "num_schedulers")?,
        eval_nack_timeout: positive_duration(server, "eval_nack_timeout")?,
        eval_delivery_limit: at_least_one(server, "eval_delivery_limit")?,
        heartbeat_grace: server.duration("heartbeat_grace")?,
        min_heartbeat_ttl: server.duration("min_heartbeat_ttl")?,
        max_heartbeats_per_second: server.float("max_heartbeats_per_second")?,
        data_dir: server.string("data_dir")?,
        job_gc_interval: server.duration("job_gc_interval")?,
        job_gc_threshold: server.duration("job_gc_threshold")?,
        eval_gc_threshold: server.duration("eval_gc_threshold")?,
        batch_eval_gc_threshold: server.duration("batch_eval_gc_threshold")?,
        node_gc_threshold: server.duration("node_gc_threshold")?,
        deployment_gc_threshold: server.duration("deployment_gc_threshold")?,
        raft_protocol: raft_protocol(server)?,
        raft_multiplier: raft_multiplier(server)?,
        raft_snapshot_threshold: at_least_one(server, "raft_snapshot_threshold")?,
        raft_trailing_logs: at_least_one(server, "raft_trailing_logs")?,
        server_join: server_join(server)?,
        enable_event_broker: server.bool("enable_event_broker")?,
        event_buffer_size: non_negative(server, "event_buffer_size")?,
        search: search(server)?,
        ..ServerBlock::default()
    };
    if let Some(scheduler) = server.block("default_scheduler_config")? {
        scheduler.check_keys(
            "default_scheduler_config",
            &["scheduler_algorithm", "memory_oversubscription_enabled"],
            &[
                "preemption_config",
                "reject_job_registration",
                "pause_eval_broker",
                "node_limit_for_feasibility_checks",
            ],
        )?;
        if let Some(algorithm) = scheduler.string("scheduler_algorithm")? {
            if algorithm != "binpack" && algorithm != "spread" {
                return Err(scheduler.error_at(
                    value_pos(scheduler, "scheduler_algorithm"),
                    format!(
                        "\"scheduler_algorithm\" must be \"binpack\" or \"spread\", got \"{algorithm}\""
                    ),
                ));
            }
            block.scheduler_algorithm = Some(algorithm);
        }
        block.memory_oversubscription_enabled =
            scheduler.bool("memory_oversubscription_enabled")?;
    }
    Ok(block)
}

/// Nomad 1.4 dropped Raft protocols 1 and 2; 0 means "the default", which is 3.
fn raft_protocol(server: &Body) -> Result<Option<i64>, ParseError> {
    match server.int("raft_protocol")? {
        None | Some(0) => Ok(None),
        Some(3) => Ok(Some(3)),
        Some(other) => Err(server.error_at(
            value_pos(server, "raft_protocol"),
            format!(
                "\"raft_protocol\" must be 3, the only Raft protocol of Nomad 1.4 and later, got {other}"
            ),
        )),
    }
}

/// 0 means "the default" (1), as in Nomad.
fn raft_multiplier(server: &Body) -> Result<Option<i64>, ParseError> {
    match server.int("raft_multiplier")? {
        None | Some(0) => Ok(None),
        Some(n) if (1..=MAX_RAFT_MULTIPLIER).contains(&n) => Ok(Some(n)),
        Some(n) => Err(server.error_at(
            value_pos(server, "raft_multiplier"),
            format!("\"raft_multiplier\" must be between 1 and {MAX_RAFT_MULTIPLIER}, got {n}"),
        )),
    }
}

/// A count that Nomad refuses below 1 (`raft_trailing_logs`, `raft_snapshot_threshold`).
fn at_least_one(body: &Body, key: &str) -> Result<Option<i64>, ParseError> {
    match body.int(key)? {
        Some(n) if n < 1 => Err(body.error_at(
            value_pos(body, key),
            format!("\"{key}\" must be at least 1, got {n}"),
        )),
        value => Ok(value),
    }
}

/// A duration that must be above zero (`eval_nack_timeout`).
fn positive_duration(body: &Body, key: &str) -> Result<Option<i64>, ParseError> {
    match body.duration(key)? {
        Some(n) if n <= 0 => Err(body.error_at(
            value_pos(body, key),
            format!("\"{key}\" must be a duration above zero, such as \"60s\""),
        )),
        value => Ok(value),
    }
}

/// A count Nomad refuses below 0 (`event_buffer_size`, `num_schedulers`).
fn non_negative(body: &Body, key: &str) -> Result<Option<i64>, ParseError> {
    match body.int(key)? {
        Some(n) if n < 0 => Err(body.error_at(
            value_pos(body, key),
            format!("\"{key}\" must be non-negative, got {n}"),
        )),
        value => Ok(value),
    }
}

/// The `search` block; Nomad refuses limits and a term length below 1.
fn search(server: &Body) -> Result<SearchBlock, ParseError> {
    let Some(block) = server.block("search")? else {
        return Ok(SearchBlock::default());
    };
    block.check_keys(
        "search",
        &[
            "fuzzy_enabled",
            "limit_query",
            "limit_results",
            "min_term_length",
        ],
        &[],
    )?;
    Ok(SearchBlock {
        fuzzy_enabled: block.bool("fuzzy_enabled")?,
        limit_query: at_least_one(block, "limit_query")?,
        limit_results: at_least_one(block, "limit_results")?,
        min_term_length: at_least_one(block, "min_term_length")?,
    })
}

/// The keys of a `server_join` block, or the same keys in `server` itself.
fn join_keys(body: &Body) -> Result<ServerJoin, ParseError> {
    let retry_interval = body.duration("retry_interval")?;
    if let Some(n) = retry_interval
        && n < 0
    {
        return Err(body.error_at(
            value_pos(body, "retry_interval"),
            "\"retry_interval\" must not be negative",
        ));
    }
    let retry_max = body.int("retry_max")?;
    if let Some(n) = retry_max
        && n < 0
    {
        return Err(body.error_at(
            value_pos(body, "retry_max"),
            format!("\"retry_max\" must be >= 0 (0 retries forever), got {n}"),
        ));
    }
    Ok(ServerJoin {
        retry_join: body.strings("retry_join")?,
        retry_interval,
        retry_max,
        start_join: body.strings("start_join")?,
    })
}

/// `server_join`, filled from the deprecated keys of `server` where the block leaves a
/// field unset. The conflicts Nomad refuses at start (`retryJoiner.Validate`,
/// `startupJoin`) are refused here, with its messages, at the key's position.
fn server_join(server: &Body) -> Result<ServerJoin, ParseError> {
    let deprecated = join_keys(server)?;
    let Some(block) = server.block("server_join")? else {
        return Ok(deprecated);
    };
    block.check_keys("server_join", JOIN_KEYS, &[])?;
    let join = join_keys(block)?;
    if join.retry_join.is_some()
        && let Some(start) = block.get("start_join")
    {
        return Err(block.error_at(
            start.pos,
            "retry_join and start_join cannot both be defined",
        ));
    }
    for key in JOIN_KEYS {
        let Some(item) = server.get(key) else {
            continue;
        };
        let conflicts =
            join.retry_join.is_some() || (*key == "start_join" && join.start_join.is_some());
        if conflicts {
            return Err(server.error_at(
                item.pos,
                format!(
                    "server_join and {key} cannot both be defined; prefer setting the server_join block"
                ),
            ));
        }
    }
    Ok(join.merge(deprecated))
}

impl ServerJoin {
    /// `self` over `other`: what `self` sets wins.
    fn merge(self, other: ServerJoin) -> ServerJoin {
        ServerJoin {
            retry_join: pick(self.retry_join, other.retry_join),
            retry_interval: pick(self.retry_interval, other.retry_interval),
            retry_max: pick(self.retry_max, other.retry_max),
            start_join: pick(self.start_join, other.start_join),
        }
    }
}

impl ServerBlock {
    /// Merges `later` over `self`, field by field.
    pub(super) fn merge(self, later: ServerBlock) -> ServerBlock {
        ServerBlock {
            enabled: pick(later.enabled, self.enabled),
            bootstrap_expect: pick(later.bootstrap_expect, self.bootstrap_expect),
            num_schedulers: pick(later.num_schedulers, self.num_schedulers),
            eval_nack_timeout: pick(later.eval_nack_timeout, self.eval_nack_timeout),
            eval_delivery_limit: pick(later.eval_delivery_limit, self.eval_delivery_limit),
            heartbeat_grace: pick(later.heartbeat_grace, self.heartbeat_grace),
            min_heartbeat_ttl: pick(later.min_heartbeat_ttl, self.min_heartbeat_ttl),
            max_heartbeats_per_second: pick(
                later.max_heartbeats_per_second,
                self.max_heartbeats_per_second,
            ),
            data_dir: pick(later.data_dir, self.data_dir),
            scheduler_algorithm: pick(later.scheduler_algorithm, self.scheduler_algorithm),
            memory_oversubscription_enabled: pick(
                later.memory_oversubscription_enabled,
                self.memory_oversubscription_enabled,
            ),
            job_gc_interval: pick(later.job_gc_interval, self.job_gc_interval),
            job_gc_threshold: pick(later.job_gc_threshold, self.job_gc_threshold),
            eval_gc_threshold: pick(later.eval_gc_threshold, self.eval_gc_threshold),
            batch_eval_gc_threshold: pick(
                later.batch_eval_gc_threshold,
                self.batch_eval_gc_threshold,
            ),
            node_gc_threshold: pick(later.node_gc_threshold, self.node_gc_threshold),
            deployment_gc_threshold: pick(
                later.deployment_gc_threshold,
                self.deployment_gc_threshold,
            ),
            raft_protocol: pick(later.raft_protocol, self.raft_protocol),
            raft_multiplier: pick(later.raft_multiplier, self.raft_multiplier),
            raft_snapshot_threshold: pick(
                later.raft_snapshot_threshold,
                self.raft_snapshot_threshold,
            ),
            raft_trailing_logs: pick(later.raft_trailing_logs, self.raft_trailing_logs),
            server_join: later.server_join.merge(self.server_join),
            enable_event_broker: pick(later.enable_event_broker, self.enable_event_broker),
            event_buffer_size: pick(later.event_buffer_size, self.event_buffer_size),
            search: SearchBlock {
                fuzzy_enabled: pick(later.search.fuzzy_enabled, self.search.fuzzy_enabled),
                limit_query: pick(later.search.limit_query, self.search.limit_query),
                limit_results: pick(later.search.limit_results, self.search.limit_results),
                min_term_length: pick(later.search.min_term_length, self.search.min_term_length),
            },
        }
    }
}
