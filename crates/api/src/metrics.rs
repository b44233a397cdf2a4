//! `/v1/metrics`: Nomad's metric names and labels, as go-metrics JSON or, with
//! `?format=prometheus`, the Prometheus text format.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use caravan_client::host_stats::{HostSampler, HostStats};
use caravan_client::state_db::StateDb;
use caravan_client::task_stats;
use caravan_structs::{AllocClientStatus, EvalStatus};

use crate::{AgentState, ApiError, RequestContext};

/// The `telemetry` block.
#[derive(Debug, Clone, Copy)]
pub struct TelemetryConfig {
    pub prometheus_metrics: bool,
    pub publish_allocation_metrics: bool,
    pub publish_node_metrics: bool,
    pub disable_hostname: bool,
    pub collection_interval: Duration,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            prometheus_metrics: false,
            publish_allocation_metrics: false,
            publish_node_metrics: false,
            disable_hostname: false,
            collection_interval: Duration::from_secs(1),
        }
    }
}

/// The latest samples, refreshed every `collection_interval` by [`Telemetry::run`].
pub struct Telemetry {
    pub config: TelemetryConfig,
    host: Mutex<Option<HostStats>>,
    /// Per task (`alloc_id/task`): the CPU ticks at the last sample and the share of one
    /// CPU used since, in percent.
    tasks: Mutex<HashMap<String, (u64, f64)>>,
}

/// One metric sample.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    value: f64,
    labels: BTreeMap<String, String>,
}

impl Telemetry {
    /// Telemetry with no sample yet.
    pub fn new(config: TelemetryConfig) -> Arc<Telemetry> {
        Arc::new(Telemetry {
            config,
            host: Mutex::new(None),
            tasks: Mutex::new(HashMap::new()),
        })
    }

    /// The latest sample of the host, if one was taken.
    pub fn host_sample(&self) -> Option<HostStats> {
        lock(&self.host).clone()
    }

    /// Samples the host and the tasks every collection interval, for as long as the
    /// agent runs.
    pub async fn run(self: Arc<Self>, state: Arc<AgentState>) {
        let data_dir = std::path::PathBuf::from(&state.info.data_dir);
        let mut sampler = HostSampler::new(&data_dir);
        let mut tick = tokio::time::interval(
            self.config
                .collection_interval
                .max(Duration::from_millis(100)),
        );
        loop {
            tick.tick().await;
            if state.client.is_none() {
                continue;
            }
            // Sampling reads /proc and the state DB: off the runtime's threads. The
            // sampler goes to the blocking thread and comes back; a panicked sample loses
            // it, and the next one starts afresh.
            let (telemetry, agent) = (self.clone(), state.clone());
            sampler = tokio::task::spawn_blocking(move || {
                telemetry.sample(&mut sampler, &agent);
                sampler
            })
            .await
            .unwrap_or_else(|_| HostSampler::new(&data_dir));
        }
    }

    /// One sample of the host and of every running task's CPU since the last one.
    fn sample(&self, sampler: &mut HostSampler, state: &AgentState) {
        let interval = self.config.collection_interval.as_secs_f64().max(0.1);
        let stats = sampler.sample();
        *lock(&self.host) = Some(stats);
        let running = running_tasks(state);
        let mut tasks = lock(&self.tasks);
        // Only running tasks are kept: a finished task's entry would stay forever.
        let previous = std::mem::take(&mut *tasks);
        for (key, pid) in running {
            let usage = task_stats::process_group_usage(pid);
            let ticks = usage.user_ticks + usage.system_ticks;
            let before = previous.get(&key).map(|(t, _)| *t).unwrap_or(ticks);
            let percent =
                ticks.saturating_sub(before) as f64 / task_stats::clock_ticks() as f64 / interval
                    * 100.0;
            tasks.insert(key, (ticks, percent));
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Samples only; a panicked writer leaves the previous sample, which is fine to read.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `alloc_id/task` → the task's leader PID, for tasks the client runs now.
fn running_tasks(state: &AgentState) -> Vec<(String, i32)> {
    let Some(client) = &state.client else {
        return Vec::new();
    };
    let db = StateDb::new(std::path::Path::new(&state.info.data_dir));
    let mut tasks = Vec::new();
    for alloc in client.allocations_by_prefix("") {
        for (task, task_state) in &alloc.task_states {
            if task_state.state != caravan_structs::TaskStateKind::Running {
                continue;
            }
            let Ok(store) = db.task(&alloc.id, task) else {
                continue;
            };
            if let Some(pid) = task_stats::recorded_task_pid(&store.executor_dir()) {
                tasks.push((format!("{}/{task}", alloc.id), pid));
            }
        }
    }
    tasks
}

fn sample(name: &str, value: f64, labels: &[(&str, &str)]) -> Sample {
    Sample {
        name: name.to_string(),
        value,
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

fn collect(state: &AgentState, telemetry: &Telemetry) -> Vec<Sample> {
    let mut samples = Vec::new();
    let host = if telemetry.config.disable_hostname {
        String::new()
    } else {
        state.info.name.clone()
    };
    if let Some(client) = &state.client {
        let node = client.node();
        let node_labels = [
            ("host", host.as_str()),
            ("node_id", node.id.as_str()),
            ("datacenter", node.datacenter.as_str()),
            (
                "node_class",
                if node.node_class.is_empty() {
                    "none"
                } else {
                    node.node_class.as_str()
                },
            ),
            ("node_pool", node.node_pool.as_str()),
        ];
        let allocs = client.allocations_by_prefix("");
        let live: Vec<_> = allocs.iter().filter(|a| !a.terminal()).collect();
        if telemetry.config.publish_node_metrics {
            if let Some(stats) = lock(&telemetry.host).clone() {
                for (name, value) in [
                    ("nomad.client.host.memory.total", stats.memory_total),
                    ("nomad.client.host.memory.available", stats.memory_available),
                    ("nomad.client.host.memory.used", stats.memory_used),
                    ("nomad.client.host.memory.free", stats.memory_free),
                    ("nomad.client.uptime", stats.uptime),
                ] {
                    samples.push(sample(name, value as f64, &node_labels));
                }
                for cpu in &stats.cpus {
                    let mut labels = node_labels.to_vec();
                    labels.push(("cpu", cpu.cpu.as_str()));
                    for (name, value) in [
                        ("nomad.client.host.cpu.total", cpu.total),
                        ("nomad.client.host.cpu.user", cpu.user),
                        ("nomad.client.host.cpu.system", cpu.system),
                        ("nomad.client.host.cpu.idle", cpu.idle),
                    ] {
                        samples.push(sample(name, value, &labels));
                    }
                }
                let mut labels = node_labels.to_vec();
                labels.push(("disk", stats.disk.device.as_str()));
                for (name, value) in [
                    ("nomad.client.host.disk.size", stats.disk.size as f64),
                    ("nomad.client.host.disk.used", stats.disk.used as f64),
                    (
                        "nomad.client.host.disk.available",
                        stats.disk.available as f64,
                    ),
                    (
                        "nomad.client.host.disk.used_percent",
                        stats.disk.used_percent,
                    ),
                ] {
                    samples.push(sample(name, value, &labels));
                }
            }
            let (cpu_total, mem_total) = node.allocatable();
            let disk_total = node.node_resources.disk.disk_mb;
            let cpu: i64 = live.iter().map(|a| a.allocated_resources.cpu()).sum();
            let memory: i64 = live.iter().map(|a| a.allocated_resources.memory_mb()).sum();
            let disk: i64 = live
                .iter()
                .map(|a| a.allocated_resources.shared.disk_mb)
                .sum();
            for (name, value) in [
                ("nomad.client.allocated.cpu", cpu),
                ("nomad.client.allocated.memory", memory),
                ("nomad.client.allocated.disk", disk),
                ("nomad.client.unallocated.cpu", cpu_total - cpu),
                ("nomad.client.unallocated.memory", mem_total - memory),
                ("nomad.client.unallocated.disk", disk_total - disk),
            ] {
                samples.push(sample(name, value as f64, &node_labels));
            }
            let count = |status: AllocClientStatus| {
                allocs.iter().filter(|a| a.client_status == status).count() as f64
            };
            let terminal = allocs.iter().filter(|a| a.client_terminal()).count() as f64;
            samples.push(sample(
                "nomad.client.allocations.running",
                count(AllocClientStatus::Running),
                &node_labels,
            ));
            samples.push(sample(
                "nomad.client.allocations.pending",
                count(AllocClientStatus::Pending),
                &node_labels,
            ));
            samples.push(sample(
                "nomad.client.allocations.terminal",
                terminal,
                &node_labels,
            ));
        }
        if telemetry.config.publish_allocation_metrics {
            let db = StateDb::new(std::path::Path::new(&state.info.data_dir));
            let tasks = lock(&telemetry.tasks).clone();
            for alloc in &live {
                for (task, task_state) in &alloc.task_states {
                    if task_state.state != caravan_structs::TaskStateKind::Running {
                        continue;
                    }
                    let Some(pid) = db
                        .task(&alloc.id, task)
                        .ok()
                        .and_then(|store| task_stats::recorded_task_pid(&store.executor_dir()))
                    else {
                        continue;
                    };
                    let usage = task_stats::process_group_usage(pid);
                    let job = alloc.job_id.as_str();
                    let labels = [
                        ("host", host.as_str()),
                        ("alloc_id", alloc.id.as_str()),
                        ("job", job),
                        ("task_group", alloc.task_group.as_str()),
                        ("task", task.as_str()),
                        ("namespace", alloc.namespace.as_str()),
                    ];
                    let allocated = alloc.allocated_resources.tasks.get(task);
                    let ticks = usage.user_ticks + usage.system_ticks;
                    let percent = tasks
                        .get(&format!("{}/{task}", alloc.id))
                        .map(|(_, p)| *p)
                        .unwrap_or(0.0);
                    let to_ms = 1000.0 / task_stats::clock_ticks() as f64;
                    for (name, value) in [
                        ("nomad.client.allocs.memory.rss", usage.rss as f64),
                        ("nomad.client.allocs.memory.usage", usage.rss as f64),
                        (
                            "nomad.client.allocs.memory.allocated",
                            allocated
                                .map(|r| r.memory.memory_mb * 1024 * 1024)
                                .unwrap_or(0) as f64,
                        ),
                        ("nomad.client.allocs.cpu.total_percent", percent),
                        (
                            "nomad.client.allocs.cpu.user",
                            usage.user_ticks as f64 * to_ms,
                        ),
                        (
                            "nomad.client.allocs.cpu.system",
                            usage.system_ticks as f64 * to_ms,
                        ),
                        ("nomad.client.allocs.cpu.total_ticks", ticks as f64),
                        (
                            "nomad.client.allocs.cpu.allocated",
                            allocated.map(|r| r.cpu.cpu_shares).unwrap_or(0) as f64,
                        ),
                    ] {
                        samples.push(sample(name, value, &labels));
                    }
                }
            }
        }
    }
    if let Some(server) = &state.server {
        let snapshot = server.snapshot();
        for job in snapshot.all_jobs() {
            let Some(summary) = snapshot.job_summary(&job.namespace, &job.id) else {
                continue;
            };
            for (group, counts) in &summary.summary {
                let labels = [
                    ("host", host.as_str()),
                    ("job", job.id.as_str()),
                    ("task_group", group.as_str()),
                    ("namespace", job.namespace.as_str()),
                ];
                for (name, value) in [
                    ("nomad.nomad.job_summary.queued", counts.queued),
                    ("nomad.nomad.job_summary.complete", counts.complete),
                    ("nomad.nomad.job_summary.failed", counts.failed),
                    ("nomad.nomad.job_summary.running", counts.running),
                    ("nomad.nomad.job_summary.starting", counts.starting),
                    ("nomad.nomad.job_summary.lost", counts.lost),
                    ("nomad.nomad.job_summary.unknown", counts.unknown),
                ] {
                    samples.push(sample(name, value as f64, &labels));
                }
            }
        }
        let blocked = snapshot
            .evals_by_prefix("")
            .iter()
            .filter(|e| e.status == EvalStatus::Blocked)
            .count();
        samples.push(sample(
            "nomad.nomad.blocked_evals.total_blocked",
            blocked as f64,
            &[("host", host.as_str())],
        ));
        // The leader's broker as it stands (all zero on a follower, as in Nomad).
        let broker = server.leader_stats().broker;
        for (name, value) in [
            ("nomad.nomad.broker.total_ready", broker.ready),
            ("nomad.nomad.broker.total_pending", broker.pending),
            ("nomad.nomad.broker.total_waiting", broker.delayed),
            ("nomad.nomad.broker.total_blocked", blocked),
            ("nomad.nomad.broker.total_unacked", broker.unacked),
        ] {
            samples.push(sample(name, value as f64, &[("host", host.as_str())]));
        }
        for (name, value) in server.timings.values() {
            samples.push(sample(&name, value, &[("host", host.as_str())]));
        }
        // go-metrics timers as Prometheus summaries' `_count` and `_sum` (milliseconds).
        for (name, (count, total_ms)) in server.timings.snapshot() {
            samples.push(sample(
                &format!("{name}_count"),
                count as f64,
                &[("host", host.as_str())],
            ));
            samples.push(sample(
                &format!("{name}_sum"),
                total_ms,
                &[("host", host.as_str())],
            ));
        }
        let ready = snapshot
            .all_nodes()
            .filter(|n| n.status == caravan_structs::NodeStatus::Ready)
            .count();
        samples.push(sample(
            "nomad.nomad.heartbeat.active",
            ready as f64,
            &[("host", host.as_str())],
        ));
    }
    if let Some(raft) = &state.raft {
        // Nomad's Raft gauges (hashicorp/raft's names under `nomad.`).
        let metrics = raft.metrics();
        let mut raft_samples = vec![
            (
                "nomad.raft.appliedIndex",
                metrics.last_applied.map_or(0, |l| l.index) as f64,
            ),
            (
                "nomad.raft.lastIndex",
                metrics.last_log_index.unwrap_or(0) as f64,
            ),
            ("nomad.raft.peers", raft.voters().len() as f64),
        ];
        if let Some(contact) = raft.last_contact() {
            raft_samples.push((
                "nomad.raft.leader.lastContact",
                contact.as_secs_f64() * 1000.0,
            ));
        }
        for (name, value) in raft_samples {
            samples.push(sample(name, value, &[("host", host.as_str())]));
        }
    }
    for sample in &mut samples {
        sample.labels.retain(|_, v| !v.is_empty());
    }
    samples
}

/// Prometheus text exposition: `nomad_client_allocated_cpu{host="x",...} 500`.
fn prometheus_text(samples: &[Sample]) -> String {
    let mut by_name: BTreeMap<String, Vec<&Sample>> = BTreeMap::new();
    for sample in samples {
        by_name
            .entry(sample.name.replace(['.', '-'], "_"))
            .or_default()
            .push(sample);
    }
    let mut out = String::new();
    for (name, samples) in by_name {
        out.push_str(&format!("# HELP {name} {name}\n# TYPE {name} gauge\n"));
        for sample in samples {
            let labels: Vec<String> = sample
                .labels
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{k}=\"{}\"",
                        v.replace('\\', "\\\\")
                            .replace('"', "\\\"")
                            .replace('\n', "\\n")
                    )
                })
                .collect();
            let labels = if labels.is_empty() {
                String::new()
            } else {
                format!("{{{}}}", labels.join(","))
            };
            out.push_str(&format!("{name}{labels} {}\n", sample.value));
        }
    }
    out
}

/// `GET /v1/metrics[?format=prometheus]`.
pub async fn metrics(
    State(state): State<Arc<AgentState>>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let telemetry = state
        .telemetry
        .clone()
        .unwrap_or_else(|| Telemetry::new(TelemetryConfig::default()));
    let samples = collect(&state, &telemetry);
    if context.param("format") == Some("prometheus") {
        if !telemetry.config.prometheus_metrics {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Prometheus is not enabled",
            ));
        }
        return Ok((
            [("content-type", "text/plain; version=0.0.4; charset=utf-8")],
            prometheus_text(&samples),
        )
            .into_response());
    }
    // go-metrics' in-memory sink shape.
    let gauges: Vec<serde_json::Value> = samples
        .iter()
        .map(|s| serde_json::json!({ "Name": s.name, "Value": s.value, "Labels": s.labels }))
        .collect();
    let now = caravan_structs::time::rfc3339(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0),
    );
    Ok(Json(serde_json::json!({
        "Timestamp": now,
        "Gauges": gauges,
        "Counters": [],
        "Samples": [],
        "Points": [],
    }))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_names_and_labels() {
        let samples = vec![
            sample(
                "nomad.client.allocated.cpu",
                500.0,
                &[("host", "vm"), ("node_id", "n1")],
            ),
            sample(
                "nomad.client.allocated.cpu",
                100.0,
                &[("host", "vm2"), ("node_id", "n\"2")],
            ),
        ];
        assert_eq!(
            prometheus_text(&samples),
            "# HELP nomad_client_allocated_cpu nomad_client_allocated_cpu\n# TYPE nomad_client_allocated_cpu gauge\n\
             nomad_client_allocated_cpu{host=\"vm\",node_id=\"n1\"} 500\n\
             nomad_client_allocated_cpu{host=\"vm2\",node_id=\"n\\\"2\"} 100\n"
        );
    }
}
