//! The periodic launcher: every enabled, running periodic job launches a child job
//! (`<parent>/periodic-<unix seconds>`) at each time its cron spec names.
//!
//! One task owns the schedule: each periodic job's next launch. It reads the jobs from
//! the latest snapshot, sleeps on the server's clock until the earliest launch, and wakes
//! early when a periodic job is registered, changed or stopped. Rebuilt from the state on
//! start (Nomad's `restorePeriodicDispatcher`): a job that has launched before continues
//! from its newest child, and a launch missed while no server ran it is made up once,
//! now; a job that never launched starts from now.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use caravan_state::Snapshot;
use caravan_structs::{Job, JobId};
use tokio::sync::Notify;

use crate::Server;
use crate::periodic::{is_active, next_periodic_launch};

/// The longest the launcher sleeps without looking at the jobs again.
const MAX_SLEEP: Duration = Duration::from_secs(3600);

const SECOND_NS: i64 = 1_000_000_000;

/// Where the launcher stands with one job.
struct Tracked {
    /// The job version the next launch was computed for.
    job_modify_index: u64,
    /// Unix seconds; `None` when the spec never matches again.
    next: Option<i64>,
}

/// Each active periodic job's next launch, by `(namespace, job ID)`.
pub(crate) struct PeriodicDispatcher {
    tracked: Mutex<BTreeMap<(String, JobId), Tracked>>,
    /// Wakes the launcher when a periodic job is registered, changed or stopped.
    changed: Notify,
    /// The clock time (Unix nanoseconds) up to which every launch is made, as of the
    /// jobs the launcher last looked at: just before its next wake-up.
    checked_through: AtomicI64,
}

impl Default for PeriodicDispatcher {
    fn default() -> Self {
        PeriodicDispatcher {
            tracked: Mutex::default(),
            changed: Notify::new(),
            checked_through: AtomicI64::new(0),
        }
    }
}

/// The launch time (Unix seconds) of a job's newest periodic child, if it has one.
fn newest_launch(snapshot: &Snapshot, job: &Job) -> Option<i64> {
    let prefix = format!("{}/periodic-", job.id);
    snapshot
        .children(&job.namespace, &job.id)
        .iter()
        .filter_map(|child| child.id.strip_prefix(&prefix)?.parse::<i64>().ok())
        .max()
}

impl PeriodicDispatcher {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<(String, JobId), Tracked>> {
        // Plain launch times; a panicked holder cannot leave one half-written.
        self.tracked.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A periodic job was registered, changed or stopped: look at the jobs again.
    pub(crate) fn job_changed(&self) {
        self.changed.notify_one();
    }

    /// How many periodic jobs are tracked.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// The clock time of the launcher's last pass (see [`crate::LeaderStats`]).
    pub(crate) fn checked_through(&self) -> i64 {
        self.checked_through.load(Ordering::SeqCst)
    }

    /// The next launch of every active periodic job in `snapshot`, as of `now` (Unix
    /// nanoseconds): after its newest child's launch, or now if that one is past.
    pub(crate) fn restore(&self, snapshot: &Snapshot, now: i64) {
        let now = now.div_euclid(SECOND_NS);
        let mut tracked = self.lock();
        for job in snapshot.all_jobs().filter(|j| is_active(j)) {
            let next = match newest_launch(snapshot, job) {
                // Nomad: the launch that should have followed the last one is past, so
                // it is forced now.
                Some(last) => match next_periodic_launch(job, last) {
                    Some(missed) if missed <= now => Some(now),
                    Some(upcoming) => Some(upcoming),
                    None => None,
                },
                None => next_periodic_launch(job, now),
            };
            tracked.insert(
                (job.namespace.clone(), job.id.clone()),
                Tracked {
                    job_modify_index: job.job_modify_index,
                    next,
                },
            );
        }
    }

    /// Brings the tracked jobs in line with `snapshot` (new or changed jobs get their
    /// next launch from `now`, in seconds; stopped ones go) and takes the launches due.
    fn due(&self, snapshot: &Snapshot, now: i64) -> Vec<(Arc<Job>, i64)> {
        let mut tracked = self.lock();
        let mut active = BTreeMap::new();
        for job in snapshot.all_jobs().filter(|j| is_active(j)) {
            let key = (job.namespace.clone(), job.id.clone());
            let entry = match tracked.remove(&key) {
                Some(t) if t.job_modify_index == job.job_modify_index => t,
                // New or changed: Nomad computes the next launch from now.
                _ => Tracked {
                    job_modify_index: job.job_modify_index,
                    next: next_periodic_launch(job, now),
                },
            };
            active.insert(key, entry);
        }
        *tracked = active;
        let mut due = Vec::new();
        for ((namespace, id), entry) in tracked.iter_mut() {
            let Some(at) = entry.next.filter(|at| *at <= now) else {
                continue;
            };
            if let Some(job) = snapshot.job(namespace, id) {
                entry.next = next_periodic_launch(&job, now.max(at));
                due.push((job, at));
            }
        }
        due
    }

    /// The earliest next launch, in Unix seconds.
    fn earliest(&self) -> Option<i64> {
        self.lock().values().filter_map(|t| t.next).min()
    }
}

/// The launcher task.
pub(crate) async fn launch(server: Arc<Server>) {
    let leader = server.leader();
    let dispatcher = &leader.periodic;
    loop {
        let now_nanos = server.now();
        let now = now_nanos.div_euclid(SECOND_NS);
        let snapshot = server.snapshot();
        for (job, at) in dispatcher.due(&snapshot, now) {
            server.launch_scheduled(&job, at).await;
        }
        let wake = dispatcher
            .earliest()
            .map(|at| at.saturating_mul(SECOND_NS))
            .unwrap_or(i64::MAX)
            .min(now_nanos.saturating_add(MAX_SLEEP.as_nanos() as i64));
        // Nothing is due before the wake-up, unless a job changes (which wakes it).
        dispatcher
            .checked_through
            .store(wake.saturating_sub(1).max(now_nanos), Ordering::SeqCst);
        tokio::select! {
            _ = server.clock.sleep_until(wake) => {}
            _ = dispatcher.changed.notified() => {}
        }
    }
}
