//! An allocation's health within its deployment, as the client judges it (Nomad's
//! allocation health tracker): healthy once every task has run, and every check counted
//! has passed, for `min_healthy_time` without interruption; unhealthy when a task dies
//! or fails, or when `healthy_deadline` passes first. The verdict is given once per
//! deployment. `health_check = "manual"` leaves it to an operator.
//!
//! [`HealthTracker`] is a pure state machine over instants; the allocation runner feeds
//! it task states and check results, sleeps until [`HealthTracker::next_wake`], and sends
//! the verdict to the servers.

use std::collections::BTreeMap;
use std::time::Duration;

use caravan_structs::{Allocation, DeploymentId, TaskState, TaskStateKind};
use tokio::time::Instant;

/// What the tracker has concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Healthy,
    /// With why, for the log.
    Unhealthy(String),
}

/// Tracks one allocation in one deployment until it has a verdict.
#[derive(Debug, Clone)]
pub struct HealthTracker {
    pub deployment_id: DeploymentId,
    min_healthy_time: Duration,
    deadline: Instant,
    /// Whether check results count (`health_check = "checks"` with checks to run).
    use_checks: bool,
    /// Since when every task has run (and every check passed) without interruption.
    healthy_since: Option<Instant>,
    /// The tasks' latest `StartedAt`: a change (a restart) starts the wait over.
    latest_start: String,
    verdict: Option<Verdict>,
}

impl HealthTracker {
    /// A tracker for `alloc`, if it belongs to a deployment that wants its client to
    /// judge it and has not been judged in this deployment yet.
    pub fn for_allocation(alloc: &Allocation, now: Instant) -> Option<HealthTracker> {
        if alloc.deployment_id.is_empty()
            || alloc
                .deployment_status
                .as_ref()
                .is_some_and(|s| s.healthy.is_some())
        {
            return None;
        }
        let job = alloc.job.as_ref()?;
        let group = job.group(&alloc.task_group)?;
        let update = group.update.as_ref()?;
        let mode = update.health_check.as_deref().unwrap_or("checks");
        if mode == "manual" {
            return None;
        }
        let nanos = |n: Option<i64>| Duration::from_nanos(n.unwrap_or(0).max(0) as u64);
        Some(HealthTracker {
            deployment_id: alloc.deployment_id.clone(),
            min_healthy_time: nanos(update.min_healthy_time),
            deadline: now + nanos(update.healthy_deadline),
            use_checks: mode == "checks",
            healthy_since: None,
            latest_start: String::new(),
            verdict: None,
        })
    }

    /// The verdict, once there is one.
    pub fn verdict(&self) -> Option<&Verdict> {
        self.verdict.as_ref()
    }

    /// When the tracker must look again even if nothing changes: the end of the
    /// healthy wait, or the deadline.
    pub fn next_wake(&self) -> Option<Instant> {
        if self.verdict.is_some() {
            return None;
        }
        let healthy_at = self
            .healthy_since
            .map(|since| since + self.min_healthy_time);
        Some(healthy_at.map_or(self.deadline, |at| at.min(self.deadline)))
    }

    /// Looks at the tasks (and, when they count, whether every check passes: `None`
    /// when the allocation has no checks) at `now`; returns a verdict the first time
    /// there is one.
    pub fn observe(
        &mut self,
        states: &BTreeMap<String, TaskState>,
        checks_passing: Option<bool>,
        now: Instant,
    ) -> Option<Verdict> {
        if self.verdict.is_some() {
            return None;
        }
        if let Some((name, state)) = states.iter().find(|(_, s)| s.state == TaskStateKind::Dead) {
            let why = if state.failed {
                format!("task {name:?} failed")
            } else {
                format!("task {name:?} exited")
            };
            return self.conclude(Verdict::Unhealthy(why));
        }
        let all_running =
            !states.is_empty() && states.values().all(|s| s.state == TaskStateKind::Running);
        let checks_ok = !self.use_checks || checks_passing.unwrap_or(true);
        let latest_start = states
            .values()
            .map(|s| s.started_at.as_str())
            .max()
            .unwrap_or("")
            .to_string();
        if !all_running || !checks_ok || latest_start != self.latest_start {
            self.healthy_since = None;
        }
        self.latest_start = latest_start;
        if all_running && checks_ok && self.healthy_since.is_none() {
            self.healthy_since = Some(now);
        }
        if let Some(since) = self.healthy_since
            && now >= since + self.min_healthy_time
        {
            return self.conclude(Verdict::Healthy);
        }
        if now >= self.deadline {
            let why = if all_running {
                "checks did not pass by the healthy deadline"
            } else {
                "tasks were not running by the healthy deadline"
            };
            return self.conclude(Verdict::Unhealthy(why.to_string()));
        }
        None
    }

    fn conclude(&mut self, verdict: Verdict) -> Option<Verdict> {
        self.verdict = Some(verdict.clone());
        Some(verdict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use caravan_structs::{Job, JobType, TaskGroup, UpdateStrategy};

    const SECOND: i64 = 1_000_000_000;

    fn alloc(health_check: &str) -> Allocation {
        let update = UpdateStrategy {
            health_check: Some(health_check.to_string()),
            min_healthy_time: Some(2 * SECOND),
            healthy_deadline: Some(10 * SECOND),
            ..UpdateStrategy::nomad_default()
        };
        let job = Job {
            r#type: Some(JobType::Service),
            task_groups: vec![TaskGroup {
                name: "web".into(),
                update: Some(update),
                ..TaskGroup::default()
            }],
            ..Job::default()
        };
        Allocation {
            deployment_id: "d1".into(),
            task_group: "web".into(),
            job: Some(std::sync::Arc::new(job)),
            ..Allocation::default()
        }
    }

    fn tasks(kind: TaskStateKind, started_at: &str) -> BTreeMap<String, TaskState> {
        BTreeMap::from([(
            "server".to_string(),
            TaskState {
                state: kind,
                started_at: started_at.to_string(),
                ..TaskState::default()
            },
        )])
    }

    #[test]
    fn which_allocations_are_tracked() {
        let now = Instant::now();
        assert!(HealthTracker::for_allocation(&alloc("checks"), now).is_some());
        assert!(HealthTracker::for_allocation(&alloc("task_states"), now).is_some());
        assert!(
            HealthTracker::for_allocation(&alloc("manual"), now).is_none(),
            "manual health is an operator's"
        );
        let mut outside = alloc("checks");
        outside.deployment_id = "".into();
        assert!(HealthTracker::for_allocation(&outside, now).is_none());
        let mut judged = alloc("checks");
        judged.deployment_status = Some(caravan_structs::AllocDeploymentStatus {
            healthy: Some(true),
            ..Default::default()
        });
        assert!(HealthTracker::for_allocation(&judged, now).is_none());
    }

    #[test]
    fn verdicts_over_time() {
        let s = Duration::from_secs;
        let running = tasks(TaskStateKind::Running, "t1");
        let restarted = tasks(TaskStateKind::Running, "t2");
        let pending = tasks(TaskStateKind::Pending, "");
        let dead = tasks(TaskStateKind::Dead, "t1");
        // (what happens at which second, with the checks' state) → verdict at the end
        type Step<'a> = (u64, &'a BTreeMap<String, TaskState>, Option<bool>);
        let table: Vec<(&str, &str, Vec<Step>, Option<Verdict>)> = vec![
            (
                "running for min_healthy_time",
                "task_states",
                vec![(0, &running, None), (2, &running, None)],
                Some(Verdict::Healthy),
            ),
            (
                "not yet long enough",
                "task_states",
                vec![(0, &running, None), (1, &running, None)],
                None,
            ),
            (
                "a restart starts the wait over",
                "task_states",
                vec![
                    (0, &running, None),
                    (1, &restarted, None),
                    (2, &restarted, None),
                ],
                None,
            ),
            (
                "a dead task is unhealthy at once",
                "task_states",
                vec![(0, &running, None), (1, &dead, None)],
                Some(Verdict::Unhealthy("task \"server\" exited".into())),
            ),
            (
                "failing checks hold it back",
                "checks",
                vec![(0, &running, Some(false)), (3, &running, Some(false))],
                None,
            ),
            (
                "checks passing for min_healthy_time",
                "checks",
                vec![
                    (0, &running, Some(false)),
                    (1, &running, Some(true)),
                    (3, &running, Some(true)),
                ],
                Some(Verdict::Healthy),
            ),
            (
                "checks ignored with task_states",
                "task_states",
                vec![(0, &running, Some(false)), (2, &running, Some(false))],
                Some(Verdict::Healthy),
            ),
            (
                "the deadline passes while pending",
                "task_states",
                vec![(0, &pending, None), (10, &pending, None)],
                Some(Verdict::Unhealthy(
                    "tasks were not running by the healthy deadline".into(),
                )),
            ),
            (
                "the deadline passes with failing checks",
                "checks",
                vec![(0, &running, Some(false)), (10, &running, Some(false))],
                Some(Verdict::Unhealthy(
                    "checks did not pass by the healthy deadline".into(),
                )),
            ),
        ];
        for (name, mode, steps, expected) in table {
            let start = Instant::now();
            let mut tracker = HealthTracker::for_allocation(&alloc(mode), start).unwrap();
            let mut last = None;
            for (at, states, checks) in steps {
                if let Some(verdict) = tracker.observe(states, checks, start + s(at)) {
                    last = Some(verdict);
                }
            }
            assert_eq!(last, expected, "{name}");
            assert_eq!(tracker.verdict().cloned(), expected, "{name}");
        }
    }

    #[test]
    fn it_wakes_for_the_end_of_the_wait_or_the_deadline() {
        let start = Instant::now();
        let mut tracker = HealthTracker::for_allocation(&alloc("task_states"), start).unwrap();
        assert_eq!(tracker.next_wake(), Some(start + Duration::from_secs(10)));
        let running = tasks(TaskStateKind::Running, "t1");
        tracker.observe(&running, None, start + Duration::from_secs(1));
        assert_eq!(tracker.next_wake(), Some(start + Duration::from_secs(3)));
        tracker.observe(&running, None, start + Duration::from_secs(3));
        assert_eq!(
            tracker.next_wake(),
            None,
            "judged: nothing more to wait for"
        );
    }
}
