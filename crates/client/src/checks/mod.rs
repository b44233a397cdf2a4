//! Health checks of `provider = "nomad"` services, run by the client (Nomad 1.4+'s
//! checks): each check probes on its `interval` ([`probe`]), its status follows the
//! thresholds ([`tracker`]), `check_restart` restarts its task, and the results are
//! what `GET /v1/client/allocation/:id/checks` answers ([`CheckResults`]).
//!
//! An allocation's checks together make its [`ChecksHealth`]: what deployments read.

mod probe;
mod tracker;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use caravan_api_types::CheckQueryResult;
use caravan_structs::{AllocId, ServiceCheck, TaskEvent};
use sha2::Digest;
use tokio::sync::{mpsc, watch};

pub use probe::{ProbeResult, ProbeTarget};
pub use tracker::{CheckStatus, CheckTracker, Outcome, Thresholds};

/// The health of an allocation's checks that count for deployments: those whose
/// `on_update` is not `ignore` (with `ignore_warnings`, a warning counts as passing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksHealth {
    /// The allocation has no such checks.
    NoChecks,
    /// Some have no passing result yet, none fails.
    Pending,
    /// Every one passes.
    Passing,
    /// At least one fails.
    Failing,
}

/// The latest result of every check of every allocation this client runs.
#[derive(Clone, Default)]
pub struct CheckResults(Arc<Mutex<HashMap<AllocId, BTreeMap<String, CheckQueryResult>>>>);

impl CheckResults {
    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<AllocId, BTreeMap<String, CheckQueryResult>>> {
        // Plain maps of results, each change one insert: consistent even after a panic.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An allocation's results by check ID (empty without checks).
    pub fn of(&self, alloc_id: &str) -> BTreeMap<String, CheckQueryResult> {
        self.lock().get(alloc_id).cloned().unwrap_or_default()
    }

    fn set(&self, alloc_id: &AllocId, result: CheckQueryResult) {
        self.lock()
            .entry(alloc_id.clone())
            .or_default()
            .insert(result.id.clone(), result);
    }

    /// Drops an allocation's results (it was collected).
    pub fn forget(&self, alloc_id: &str) {
        self.lock().remove(alloc_id);
    }
}

/// How each counted check stands, and the health they add up to.
struct HealthBoard {
    /// Check ID → (status, `on_update = "ignore_warnings"`).
    counted: BTreeMap<String, (CheckStatus, bool)>,
    health: watch::Sender<ChecksHealth>,
}

impl HealthBoard {
    fn publish(&self) {
        let health = if self.counted.is_empty() {
            ChecksHealth::NoChecks
        } else if self.counted.values().any(|(status, ignore_warnings)| {
            *status == CheckStatus::Critical
                || (*status == CheckStatus::Warning && !ignore_warnings)
        }) {
            ChecksHealth::Failing
        } else if self
            .counted
            .values()
            .all(|(status, _)| matches!(status, CheckStatus::Passing | CheckStatus::Warning))
        {
            ChecksHealth::Passing
        } else {
            ChecksHealth::Pending
        };
        self.health.send_if_modified(|current| {
            let changed = *current != health;
            *current = health;
            changed
        });
    }
}

/// An allocation's health board: every counted check registered up front (so the
/// health is pending until each has passed), updated as results come.
#[derive(Clone)]
pub struct AllocHealth(Arc<Mutex<HealthBoard>>);

impl AllocHealth {
    /// A board for these checks: `(check ID, on_update)`.
    pub fn new<'a>(
        checks: impl IntoIterator<Item = (String, &'a str)>,
    ) -> (AllocHealth, watch::Receiver<ChecksHealth>) {
        let (health, receiver) = watch::channel(ChecksHealth::NoChecks);
        let counted = checks
            .into_iter()
            .filter(|(_, on_update)| *on_update != "ignore")
            .map(|(id, on_update)| (id, (CheckStatus::Pending, on_update == "ignore_warnings")))
            .collect();
        let board = HealthBoard { counted, health };
        board.publish();
        (AllocHealth(Arc::new(Mutex::new(board))), receiver)
    }

    fn update(&self, id: &str, status: CheckStatus) {
        let mut board = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = board.counted.get_mut(id) {
            entry.0 = status;
            board.publish();
        }
    }
}

/// A task restart a check asks for (`check_restart`), or a template change asks for.
#[derive(Debug)]
pub struct TaskAction {
    pub task: String,
    pub kind: TaskActionKind,
}

/// What to do to the task.
#[derive(Debug)]
pub enum TaskActionKind {
    /// Restart it in place with this `Restart Signaled` event.
    Restart(TaskEvent),
    /// Send it this signal, recording the event.
    Signal(nix::sys::signal::Signal, TaskEvent),
}

/// One check to run for an allocation.
#[derive(Clone)]
pub struct CheckSpec {
    pub id: String,
    pub check: ServiceCheck,
    pub service: String,
    /// The task of a task's service; empty for a group's.
    pub task: String,
    /// The task `check_restart` restarts (the service's task, or the check's `task`).
    pub restart_task: Option<String>,
    /// The allocation's name (`job.group[0]`).
    pub alloc_name: String,
    pub alloc_id: AllocId,
    pub target: ProbeTarget,
}

/// Nomad's check ID: a hash of where the check comes from, stable across restarts.
pub fn check_id(alloc_id: &str, owner: &str, service: &str, check: &ServiceCheck) -> String {
    let mut hasher = sha2::Sha256::new();
    for part in [
        alloc_id,
        owner,
        service,
        &check.name,
        &check.r#type,
        &check.path,
        &check.port_label,
    ] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    let digest = hasher.finalize();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs one check until aborted: a probe now and every `interval`, its result recorded
/// and published, the task restarted when `check_restart` says so.
pub async fn run_check(
    spec: CheckSpec,
    results: CheckResults,
    health: AllocHealth,
    actions: mpsc::UnboundedSender<TaskAction>,
    http: reqwest::Client,
) {
    let check = &spec.check;
    let restart = check.check_restart.clone().unwrap_or_default();
    let thresholds = Thresholds {
        success_before_passing: check.success_before_passing.max(0) as u32,
        failures_before_critical: check.failures_before_critical.max(0) as u32,
        restart_limit: restart.limit.max(0) as u32,
        restart_grace: Duration::from_nanos(restart.grace.unwrap_or(0).max(0) as u64),
        ignore_warnings: restart.ignore_warnings,
    };
    let mut tracker = CheckTracker::new(thresholds, CheckStatus::initial(&check.initial_status));
    let mode = if check.on_update == "ignore" {
        "readiness"
    } else {
        "healthiness"
    };
    let record = |status: CheckStatus, code: i64, output: String| {
        results.set(
            &spec.alloc_id,
            CheckQueryResult {
                id: spec.id.clone(),
                check: check.name.clone(),
                group: spec.alloc_name.clone(),
                task: spec.task.clone(),
                service: spec.service.clone(),
                status: status.word().to_string(),
                status_code: code,
                output,
                mode: mode.to_string(),
                timestamp: crate::now_nanos() / 1_000_000_000,
            },
        );
        health.update(&spec.id, status);
    };
    record(tracker.status(), 0, String::new());
    let interval = Duration::from_nanos(check.interval.max(1_000_000_000) as u64);
    let started = Instant::now();
    loop {
        let result = probe::probe(check, &spec.target, &http).await;
        let restart_now = tracker.record(result.outcome, started.elapsed());
        record(tracker.status(), result.status_code, result.output);
        if restart_now && let Some(task) = &spec.restart_task {
            let reason = format!("healthcheck: check {:?} unhealthy", check.name);
            let mut event = crate::task_runner::event("Restart Signaled", reason.clone());
            event.restart_reason = reason;
            let _ = actions.send(TaskAction {
                task: task.clone(),
                kind: TaskActionKind::Restart(event),
            });
        }
        tokio::time::sleep(interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_counts_only_checks_that_deployments_read() {
        let (board, health) = AllocHealth::new([
            ("a".to_string(), "require_healthy"),
            ("b".to_string(), "ignore_warnings"),
            ("c".to_string(), "ignore"),
        ]);
        assert_eq!(*health.borrow(), ChecksHealth::Pending);
        board.update("a", CheckStatus::Passing);
        board.update("b", CheckStatus::Warning);
        board.update("c", CheckStatus::Critical);
        assert_eq!(
            *health.borrow(),
            ChecksHealth::Passing,
            "c is ignored, b's warning passes"
        );
        board.update("a", CheckStatus::Warning);
        assert_eq!(*health.borrow(), ChecksHealth::Failing);
        let (_, none) = AllocHealth::new([("c".to_string(), "ignore")]);
        assert_eq!(*none.borrow(), ChecksHealth::NoChecks);
    }
}
