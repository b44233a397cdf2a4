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
    let healthy_canaries = |state: &caravan_structs::DeploymentState| {
        state
            .placed_canaries
            .iter()
            .filter_map(|id| snapshot.alloc(id))
            .filter(|a| a.deployment_healthy())
            .count()
    };
    for state in found.task_groups.values() {
        let waiting_on_promotion =
            state.awaits_promotion() && state.canaries_ready(healthy_canaries(state));
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
            .all(|g| g.canaries_ready(healthy_canaries(g)));
    promotable.then_some(Step::Promote)
}

/// Watches the running deployments for as long as this server leads.
pub(crate) async fn watch(server: Arc<Server>) {
    // Each running deployment's healthy count as last seen: a rise brings an evaluation.
    // Empty when the leader starts, so every running deployment is evaluated once then.
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
            if healthy_seen.insert(found.id.clone(), healthy) != Some(healthy)
                && let Some(eval) = server.deployment_eval(&found, now)
            {
                let command = caravan_state::Command::EvalsUpsert { evals: vec![eval] };
                if let Err(error) = server.apply(command).await {
                    tracing::warn!(deployment_id = %found.id, %error, "deployment watcher: could not evaluate the job");
                }
            }
        }
    }
}

async fn act(server: &Server, found: &Deployment, step: Step, now: i64) {
    let command = match step {
        Step::Fail { reason, revert } => {
            let failure = server.failure(found, reason, revert);
            tracing::info!(deployment_id = %found.id, description = %failure.update.status_description, "deployment watcher: deployment failed");
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
        tracing::debug!(deployment_id = %found.id, %error, "deployment watcher: step not taken");
    }
}
