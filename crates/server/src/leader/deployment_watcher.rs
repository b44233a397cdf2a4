//! The deployment watcher: moves running deployments along as their allocations' health
//! comes in (Nomad's `deploymentwatcher`). It keeps no state that matters: what it
//! decides follows from the deployment and its allocations in the state, so a new
//! leader picks up where the last one stood.
//!
//! For each running deployment, on every state change and at least every second:
//! - an allocation judged unhealthy fails the deployment (reverting the job when its
//!   group has `auto_revert`);
//! - a group that has not had an allocation become healthy by its progress deadline
//!   fails it too;
//! - canaries that are all healthy are promoted when every group waiting for promotion
//!   has `auto_promote`;
//! - any allocation newly healthy brings an evaluation, so the scheduler replaces the
//!   next `max_parallel` (and marks the deployment successful once all are healthy).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use caravan_state::{DeploymentCommand, Snapshot};
use caravan_structs::{Deployment, DeploymentId, deployment};

use crate::Server;

/// How often running deployments are looked at when nothing changes (deadlines).
const TICK: Duration = Duration::from_secs(1);

/// What a running deployment needs now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// Fail it, with this reason, reverting the job or not.
    Fail { reason: &'static str, revert: bool },
    /// Promote every group's canaries.
    Promote,
}

/// What `found` needs at `now` (Unix nanoseconds), judged from the state alone.
pub(crate) fn next_step(snapshot: &Snapshot, found: &Deployment, now: i64) -> Option<Step> {
    if found.status != deployment::status::RUNNING {
        return None;
    }
    let unhealthy: Vec<bool> = found
        .task_groups
        .values()
        .filter(|g| g.unhealthy_allocs > 0)
        .map(|g| g.auto_revert)
        .collect();
    if !unhealthy.is_empty() {
        return Some(Step::Fail {
            reason: deployment::description::FAILED_ALLOCATIONS,
            revert: unhealthy.iter().any(|r| *r),
        });
    }
    for state in found.task_groups.values() {
        let waiting_on_promotion =
            state.awaits_promotion() && state.canaries_ready(snapshot.healthy_canaries(state));
        let done = state.healthy_allocs >= state.desired_total && !state.awaits_promotion();
        let deadline = caravan_structs::time::parse_rfc3339(&state.require_progress_by);
        if state.progress_deadline > 0
            && !done
            && !waiting_on_promotion
            && deadline.is_some_and(|by| now > by)
        {
            return Some(Step::Fail {
                reason: deployment::description::PROGRESS_DEADLINE,
                revert: state.auto_revert,
            });
        }
    }
    let promotable = found.requires_promotion()
        && found.auto_promotes()
        && found
            .task_groups
            .values()
            .filter(|g| g.awaits_promotion())
            .all(|g| g.canaries_ready(snapshot.healthy_canaries(g)));
    promotable.then_some(Step::Promote)
}

/// Watches the running deployments for as long as this server leads.
pub(crate) async fn watch(server: Arc<Server>) {
    // Each running deployment's healthy count as last seen: a rise brings an evaluation.
    let mut healthy_seen: HashMap<DeploymentId, i64> = HashMap::new();
    let mut seen_index = 0;
    loop {
        let snapshot = server.state().wait_past(seen_index, TICK).await;
        seen_index = snapshot.index;
        let now = server.now();
        let running: Vec<Arc<Deployment>> = snapshot
            .all_deployments()
            .filter(|d| d.status == deployment::status::RUNNING)
            .cloned()
            .collect();
        healthy_seen.retain(|id, _| running.iter().any(|d| &d.id == id));
        for found in running {
            if let Some(step) = next_step(&snapshot, &found, now) {
                act(&server, &found, step, now).await;
                continue;
            }
            let healthy: i64 = found.task_groups.values().map(|g| g.healthy_allocs).sum();
            let progressed = match healthy_seen.insert(found.id.clone(), healthy) {
                Some(seen) => seen != healthy,
                // First seen by this leader: a rise the last leader had no time to act on
                // still brings an evaluation, unless one is open already.
                None => {
                    healthy > 0
                        && snapshot
                            .evals_by_job(&found.namespace, &found.job_id)
                            .iter()
                            .all(|e| e.terminal())
                }
            };
            if progressed && let Some(eval) = server.deployment_eval(&found, now) {
                let command = caravan_state::Command::EvalsUpsert { evals: vec![eval] };
                if let Err(error) = server.apply(command).await {
                    tracing::warn!(deployment_id = %found.id, %error, "could not evaluate the job");
                }
            }
        }
    }
}

async fn act(server: &Server, found: &Deployment, step: Step, now: i64) {
    let command = match step {
        Step::Fail { reason, revert } => {
            let failure = server.failure(found, reason, revert);
            tracing::info!(deployment_id = %found.id, description = %failure.update.status_description, "deployment failed");
            DeploymentCommand::StatusUpdate {
                update: failure.update,
                revert_to: failure.revert_to,
                eval: server.deployment_eval(found, now),
                now,
            }
        }
        Step::Promote => DeploymentCommand::Promote {
            deployment_id: found.id.clone(),
            groups: Vec::new(),
            eval: server.deployment_eval(found, now),
            now,
        },
    };
    // A refusal means the deployment moved on meanwhile (an operator, another step).
    if let Err(error) = server
        .apply(caravan_state::Command::Deployment(command))
        .await
    {
        tracing::debug!(deployment_id = %found.id, %error, "step not taken");
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use caravan_state::{Command, StateStore};
    use caravan_structs::{AllocDeploymentStatus, DeploymentState};

    use super::*;

    const NOW: i64 = 1_000_000_000_000;
    const MINUTE: i64 = 60_000_000_000;

    /// A running deployment `d1` of one group, with a canary `c1` judged `healthy`.
    fn situation(
        state: DeploymentState,
        canary_healthy: Option<bool>,
    ) -> (Arc<Snapshot>, Deployment) {
        let store = StateStore::new();
        let job = caravan_testkit::job("web").count(2).canonical();
        let mut canary = caravan_testkit::alloc("c1", &job, "n1").build();
        canary.deployment_id = "d1".into();
        canary.deployment_status = Some(AllocDeploymentStatus {
            healthy: canary_healthy,
            canary: true,
            ..AllocDeploymentStatus::default()
        });
        store.apply(Command::PlanApply {
            job: None,
            stopped: Vec::new(),
            allocs: vec![canary],
            evals: vec![],
            now: NOW,
            deployment: None,
            deployment_updates: vec![],
        });
        let found = Deployment {
            id: "d1".into(),
            status: deployment::status::RUNNING.into(),
            task_groups: BTreeMap::from([("g".to_string(), state)]),
            ..Deployment::default()
        };
        (store.snapshot(), found)
    }

    fn group(healthy: i64, unhealthy: i64, canaries: i64, promoted: bool) -> DeploymentState {
        DeploymentState {
            desired_total: 2,
            healthy_allocs: healthy,
            unhealthy_allocs: unhealthy,
            desired_canaries: canaries,
            placed_canaries: if canaries > 0 {
                vec!["c1".into()]
            } else {
                vec![]
            },
            promoted,
            progress_deadline: 10 * MINUTE,
            require_progress_by: caravan_structs::time::rfc3339(NOW + 10 * MINUTE),
            ..DeploymentState::default()
        }
    }

    #[test]
    fn what_a_running_deployment_needs() {
        let late = NOW + 11 * MINUTE;
        let reverting = DeploymentState {
            auto_revert: true,
            ..group(0, 1, 0, false)
        };
        let auto = DeploymentState {
            auto_promote: true,
            ..group(1, 0, 1, false)
        };
        let fail = |reason, revert| Some(Step::Fail { reason, revert });
        // (case, the group, the canary's health, when, what it needs)
        type Case = (
            &'static str,
            DeploymentState,
            Option<bool>,
            i64,
            Option<Step>,
        );
        let cases: Vec<Case> = vec![
            ("progressing", group(1, 0, 0, false), None, NOW, None),
            (
                "an unhealthy allocation fails it",
                group(1, 1, 0, false),
                None,
                NOW,
                fail(deployment::description::FAILED_ALLOCATIONS, false),
            ),
            (
                "reverting with auto_revert",
                reverting,
                None,
                NOW,
                fail(deployment::description::FAILED_ALLOCATIONS, true),
            ),
            (
                "no progress by the deadline fails it",
                group(1, 0, 0, false),
                None,
                late,
                fail(deployment::description::PROGRESS_DEADLINE, false),
            ),
            (
                "done before the deadline",
                group(2, 0, 0, false),
                None,
                late,
                None,
            ),
            (
                "healthy canaries wait for an operator past the deadline",
                group(1, 0, 1, false),
                Some(true),
                late,
                None,
            ),
            (
                "or promote themselves with auto_promote",
                auto.clone(),
                Some(true),
                NOW,
                Some(Step::Promote),
            ),
            ("not before they are healthy", auto, None, NOW, None),
        ];
        for (name, state, canary, now, want) in cases {
            let (snapshot, found) = situation(state, canary);
            assert_eq!(next_step(&snapshot, &found, now), want, "{name}");
        }
    }
}
