//! The deployments table, and the writes that move a deployment along: allocations
//! placed into it (counted as they are written), their health as clients judge it
//! (counted too, extending the progress deadline), promotions, pauses, failures (with
//! the job version an auto-revert registers) and job-version stability.
//!
//! The counts live in the deployment and change in the same write as the allocations
//! they count, as Nomad's state store does, so a deployment never disagrees with its
//! allocations at any index.

use std::collections::BTreeSet;
use std::sync::Arc;

use caravan_structs::{
    AllocDeploymentStatus, AllocId, Allocation, Deployment, DeploymentId, DeploymentState,
    DeploymentStatusUpdate, Evaluation, Job, JobId, deployment,
};
use imbl::{OrdMap, OrdSet};
use serde::{Deserialize, Serialize};

use crate::Refused;
use crate::snapshot::{JobKey, Snapshot};

/// A write to the deployments table (and what it causes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DeploymentCommand {
    /// Change a deployment's status (pause, resume, fail, cancel). A failure that
    /// reverts registers `revert_to` (an earlier version's job) as the job's next
    /// version. Refused, with Nomad's words, for a deployment that is no longer active.
    StatusUpdate {
        update: DeploymentStatusUpdate,
        revert_to: Option<Job>,
        eval: Option<Evaluation>,
        now: i64,
    },
    /// Promote the canaries of the named groups (all when empty). Refused when the
    /// deployment is terminal, has no canaries there, or they are not all healthy.
    Promote {
        deployment_id: DeploymentId,
        groups: Vec<String>,
        eval: Option<Evaluation>,
        now: i64,
    },
    /// Set the health of allocations of a deployment by hand (`health_check =
    /// "manual"`), with the status change it causes (a failure, maybe a revert).
    AllocHealth {
        deployment_id: DeploymentId,
        healthy: Vec<AllocId>,
        unhealthy: Vec<AllocId>,
        update: Option<DeploymentStatusUpdate>,
        revert_to: Option<Job>,
        eval: Option<Evaluation>,
        now: i64,
    },
    /// Mark a job version stable or not (`POST /v1/job/:id/stable`).
    JobStability {
        namespace: String,
        job_id: JobId,
        version: u64,
        stable: bool,
    },
}

impl DeploymentCommand {
    /// The evaluation the write creates.
    pub fn eval(&self) -> Option<&Evaluation> {
        match self {
            DeploymentCommand::StatusUpdate { eval, .. }
            | DeploymentCommand::Promote { eval, .. }
            | DeploymentCommand::AllocHealth { eval, .. } => eval.as_ref(),
            DeploymentCommand::JobStability { .. } => None,
        }
    }
}

/// The table, with each job's deployments by ID.
#[derive(Clone, Default, PartialEq, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct DeploymentTables {
    pub(crate) by_id: OrdMap<DeploymentId, Arc<Deployment>>,
    pub(crate) by_job: OrdMap<JobKey, OrdSet<DeploymentId>>,
    pub(crate) index: u64,
}

/// Whether a promotion of `groups` (all when empty) promotes group `name`: one of them,
/// with canaries.
fn promotes(groups: &[String], name: &str, state: &DeploymentState) -> bool {
    (groups.is_empty() || groups.iter().any(|g| g == name)) && state.desired_canaries > 0
}

/// Nomad's refusal of a status change of a deployment that is over, per the change.
fn terminal_refusal(status: &str) -> &'static str {
    match status {
        deployment::status::PAUSED => "can't pause terminal deployment",
        deployment::status::RUNNING => "can't resume terminal deployment",
        deployment::status::FAILED => "can't fail terminal deployment",
        deployment::status::CANCELLED => "can't cancel terminal deployment",
        _ => "can't run terminal deployment",
    }
}

impl Snapshot {
    /// The index of the last write to the deployments table.
    pub fn deployments_index(&self) -> u64 {
        self.deployments.index
    }

    /// The deployment with this exact ID.
    pub fn deployment(&self, id: &str) -> Option<Arc<Deployment>> {
        self.deployments.by_id.get(id).cloned()
    }

    /// Every deployment, in ID order.
    pub fn all_deployments(&self) -> impl Iterator<Item = &Arc<Deployment>> {
        self.deployments.by_id.values()
    }

    /// Deployments whose ID starts with `prefix`, in ID order.
    pub fn deployments_by_prefix(&self, prefix: &str) -> Vec<Arc<Deployment>> {
        crate::snapshot::by_prefix(&self.deployments.by_id, prefix)
    }

    /// How many of a group's placed canaries were judged healthy: what a promotion
    /// waits for.
    pub fn healthy_canaries(&self, state: &DeploymentState) -> usize {
        state
            .placed_canaries
            .iter()
            .filter_map(|id| self.alloc(id))
            .filter(|a| a.deployment_healthy())
            .count()
    }

    /// A job's deployments, newest first.
    pub fn deployments_by_job(&self, namespace: &str, job_id: &str) -> Vec<Arc<Deployment>> {
        let key = (namespace.to_string(), JobId::from(job_id));
        let mut found: Vec<Arc<Deployment>> = self
            .deployments
            .by_job
            .get(&key)
            .into_iter()
            .flatten()
            .filter_map(|id| self.deployments.by_id.get(id).cloned())
            .collect();
        found.sort_by_key(|d| std::cmp::Reverse(d.create_index));
        found
    }

    /// A job's newest deployment.
    pub fn latest_deployment(&self, namespace: &str, job_id: &str) -> Option<Arc<Deployment>> {
        self.deployments_by_job(namespace, job_id)
            .into_iter()
            .next()
    }

    /// The deployment a command acts on: refused when it is unknown, or with
    /// `terminal` when it has ended.
    fn active_deployment(&self, id: &str, terminal: &str) -> Result<Arc<Deployment>, Refused> {
        let found = self
            .deployment(id)
            .ok_or_else(|| Refused("deployment not found".to_string()))?;
        if !found.active() {
            return Err(Refused(terminal.to_string()));
        }
        Ok(found)
    }

    /// What a deployment command must not do to this state.
    pub(crate) fn check_deployment(&self, command: &DeploymentCommand) -> Result<(), Refused> {
        let refuse = |message: &str| Err(Refused(message.to_string()));
        match command {
            DeploymentCommand::StatusUpdate { update, .. } => {
                self.active_deployment(&update.deployment_id, terminal_refusal(&update.status))?;
                Ok(())
            }
            DeploymentCommand::Promote {
                deployment_id,
                groups,
                ..
            } => {
                let found =
                    self.active_deployment(deployment_id, "can't promote terminal deployment")?;
                let mut unhealthy = Vec::new();
                let mut have_canaries = false;
                for (name, state) in &found.task_groups {
                    if !promotes(groups, name, state) {
                        continue;
                    }
                    have_canaries = true;
                    let healthy = self.healthy_canaries(state);
                    if !state.canaries_ready(healthy) {
                        unhealthy.push(format!(
                            "Task group {name:?} has {healthy}/{} healthy allocations",
                            state.desired_canaries
                        ));
                    }
                }
                if !have_canaries {
                    return refuse("no canaries to promote");
                }
                match unhealthy.len() {
                    0 => Ok(()),
                    1 => Err(Refused(format!(
                        "1 error occurred:\n\t* {}\n\n",
                        unhealthy[0]
                    ))),
                    n => Err(Refused(format!(
                        "{n} errors occurred:\n\t* {}\n\n",
                        unhealthy.join("\n\t* ")
                    ))),
                }
            }
            DeploymentCommand::AllocHealth {
                deployment_id,
                healthy,
                unhealthy,
                ..
            } => {
                self.active_deployment(
                    deployment_id,
                    "can't set health of allocations for a terminal deployment",
                )?;
                for id in healthy.iter().chain(unhealthy) {
                    match self.alloc(id) {
                        Some(alloc) if alloc.deployment_id == *deployment_id => {}
                        _ => {
                            return Err(Refused(format!(
                                "Allocation {id:?} is not part of deployment {:?}",
                                deployment_id.as_str()
                            )));
                        }
                    }
                }
                Ok(())
            }
            DeploymentCommand::JobStability {
                namespace,
                job_id,
                version,
                ..
            } => match self.job_version(namespace, job_id, *version) {
                Some(_) => Ok(()),
                None => Err(Refused(format!(
                    "job {:?} has no version {version}",
                    job_id.as_str()
                ))),
            },
        }
    }

    /// Applies a deployment command; the jobs it touches are returned for their
    /// status and summary to be derived again.
    pub(crate) fn apply_deployment(
        &mut self,
        command: DeploymentCommand,
        index: u64,
    ) -> BTreeSet<JobKey> {
        let mut touched = BTreeSet::new();
        match command {
            DeploymentCommand::StatusUpdate {
                update,
                revert_to,
                eval,
                now,
            } => {
                self.update_deployment_status(&update, now, index);
                self.finish_command(revert_to, eval, now, index, &mut touched);
            }
            DeploymentCommand::Promote {
                deployment_id,
                groups,
                eval,
                now,
            } => {
                self.modify_deployment(&deployment_id, now, index, |found| {
                    for (name, state) in &mut found.task_groups {
                        if !promotes(&groups, name, state) {
                            continue;
                        }
                        state.promoted = true;
                        if state.progress_deadline > 0 {
                            state.require_progress_by = caravan_structs::time::rfc3339(
                                now.saturating_add(state.progress_deadline),
                            );
                        }
                    }
                    if found.status == deployment::status::RUNNING {
                        found.status_description = found.running_description().to_string();
                    }
                });
                self.finish_command(None, eval, now, index, &mut touched);
            }
            DeploymentCommand::AllocHealth {
                deployment_id: _,
                healthy,
                unhealthy,
                update,
                revert_to,
                eval,
                now,
            } => {
                let judged = healthy
                    .into_iter()
                    .map(|id| (id, true))
                    .chain(unhealthy.into_iter().map(|id| (id, false)));
                for (id, health) in judged {
                    let Some(existing) = self.alloc(&id) else {
                        continue;
                    };
                    let mut alloc = Allocation::clone(&existing);
                    let status = AllocDeploymentStatus {
                        healthy: Some(health),
                        timestamp: caravan_structs::time::rfc3339(now),
                        canary: existing.is_canary(),
                        modify_index: index,
                    };
                    self.record_alloc_health(&mut alloc, status, now, index);
                    alloc.modify_index = index;
                    alloc.modify_time = now;
                    touched.insert((alloc.namespace.clone(), alloc.job_id.clone()));
                    self.store_alloc(Arc::new(alloc));
                    self.table_index.allocs = index;
                }
                if let Some(update) = update {
                    self.update_deployment_status(&update, now, index);
                }
                self.finish_command(revert_to, eval, now, index, &mut touched);
            }
            DeploymentCommand::JobStability {
                namespace,
                job_id,
                version,
                stable,
            } => {
                self.set_job_stability(&(namespace, job_id), version, stable, index);
            }
        }
        touched
    }

    /// Registers the reverted job and writes the evaluation a deployment command brings.
    fn finish_command(
        &mut self,
        revert_to: Option<Job>,
        eval: Option<Evaluation>,
        now: i64,
        index: u64,
        touched: &mut BTreeSet<JobKey>,
    ) {
        if let Some(job) = revert_to {
            touched.insert((job.namespace.clone(), job.id.clone()));
            self.upsert_job(job, now, index);
        }
        if let Some(eval) = eval {
            touched.insert((eval.namespace.clone(), eval.job_id.clone()));
            self.upsert_eval(eval, now, index);
        }
    }

    /// Creates or replaces a deployment (a plan's), keeping its create index.
    pub(crate) fn upsert_deployment(&mut self, mut found: Deployment, now: i64, index: u64) {
        match self.deployments.by_id.get(&found.id) {
            Some(existing) => {
                found.create_index = existing.create_index;
                found.create_time = existing.create_time;
            }
            None => {
                found.create_index = index;
                if found.create_time == 0 {
                    found.create_time = now;
                }
            }
        }
        found.modify_index = index;
        found.modify_time = now;
        let key = (found.namespace.clone(), found.job_id.clone());
        self.deployments
            .by_job
            .entry(key)
            .or_default()
            .insert(found.id.clone());
        self.deployments
            .by_id
            .insert(found.id.clone(), Arc::new(found));
        self.deployments.index = index;
    }

    /// Changes one deployment in place, if it exists.
    fn modify_deployment(
        &mut self,
        id: &DeploymentId,
        now: i64,
        index: u64,
        change: impl FnOnce(&mut Deployment),
    ) {
        let Some(existing) = self.deployments.by_id.get(id).cloned() else {
            return;
        };
        let mut found = Deployment::clone(&existing);
        change(&mut found);
        found.modify_index = index;
        found.modify_time = now;
        self.deployments.by_id.insert(id.clone(), Arc::new(found));
        self.deployments.index = index;
    }

    /// A status change; a deployment that succeeds makes its job version stable.
    pub(crate) fn update_deployment_status(
        &mut self,
        update: &DeploymentStatusUpdate,
        now: i64,
        index: u64,
    ) {
        let mut succeeded = None;
        self.modify_deployment(&update.deployment_id, now, index, |found| {
            found.status = update.status.clone();
            found.status_description = update.status_description.clone();
            if update.status == deployment::status::SUCCESSFUL {
                succeeded = Some((
                    (found.namespace.clone(), found.job_id.clone()),
                    found.job_version,
                ));
            }
        });
        if let Some((key, version)) = succeeded {
            self.set_job_stability(&key, version, true, index);
        }
    }

    /// Marks one stored version of a job (and the job, if it is that version) stable.
    fn set_job_stability(&mut self, key: &JobKey, version: u64, stable: bool, index: u64) {
        if let Some(versions) = self.job_versions.get_mut(key) {
            for stored in versions.iter_mut() {
                if stored.version == version && stored.stable != stable {
                    let mut changed = Job::clone(stored);
                    changed.stable = stable;
                    *stored = Arc::new(changed);
                }
            }
        }
        if let Some(job) = self.jobs.get(key).filter(|j| j.version == version).cloned() {
            let mut changed = Job::clone(&job);
            changed.stable = stable;
            changed.modify_index = index;
            self.jobs.insert(key.clone(), Arc::new(changed));
        }
        self.table_index.jobs = index;
    }

    /// Counts an allocation placed into its deployment (a new one, or one updated in
    /// place into a new deployment).
    pub(crate) fn count_placement(&mut self, alloc: &Allocation, now: i64, index: u64) {
        if alloc.deployment_id.is_empty() {
            return;
        }
        let joined = self
            .allocs
            .get(&alloc.id)
            .is_none_or(|existing| existing.deployment_id != alloc.deployment_id);
        if !joined {
            return;
        }
        let (group, id, canary) = (
            alloc.task_group.clone(),
            alloc.id.clone(),
            alloc.is_canary(),
        );
        self.modify_deployment(&alloc.deployment_id, now, index, |found| {
            if let Some(state) = found.task_groups.get_mut(&group) {
                state.placed_allocs += 1;
                if canary && !state.placed_canaries.contains(&id) {
                    state.placed_canaries.push(id);
                }
            }
        });
    }

    /// Records the health a client or an operator judged, once per allocation and
    /// deployment, and counts it in the deployment: a healthy allocation extends the
    /// group's progress deadline.
    pub(crate) fn record_alloc_health(
        &mut self,
        alloc: &mut Allocation,
        mut status: AllocDeploymentStatus,
        now: i64,
        index: u64,
    ) {
        if alloc.deployment_id.is_empty() {
            return;
        }
        let before = alloc.deployment_status.as_ref().and_then(|s| s.healthy);
        let Some(healthy) = status.healthy else {
            return;
        };
        if before == Some(healthy) {
            return;
        }
        status.canary = alloc.is_canary();
        status.modify_index = index;
        let judged_at = caravan_structs::time::parse_rfc3339(&status.timestamp).unwrap_or(now);
        alloc.deployment_status = Some(status);
        let group = alloc.task_group.clone();
        self.modify_deployment(&alloc.deployment_id, now, index, |found| {
            let Some(state) = found.task_groups.get_mut(&group) else {
                return;
            };
            match before {
                Some(true) => state.healthy_allocs -= 1,
                Some(false) => state.unhealthy_allocs -= 1,
                None => {}
            }
            if healthy {
                state.healthy_allocs += 1;
                if state.progress_deadline > 0 {
                    let by = judged_at.saturating_add(state.progress_deadline);
                    let current = caravan_structs::time::parse_rfc3339(&state.require_progress_by)
                        .unwrap_or(0);
                    if by > current {
                        state.require_progress_by = caravan_structs::time::rfc3339(by);
                    }
                }
            } else {
                state.unhealthy_allocs += 1;
            }
        });
    }

    /// Removes deployments (the garbage collector's choice).
    pub(crate) fn remove_deployments(&mut self, ids: &[DeploymentId], index: u64) {
        for id in ids {
            let Some(found) = self.deployments.by_id.remove(id) else {
                continue;
            };
            let key = (found.namespace.clone(), found.job_id.clone());
            if let Some(set) = self.deployments.by_job.get_mut(&key) {
                set.remove(id);
                if set.is_empty() {
                    self.deployments.by_job.remove(&key);
                }
            }
            self.deployments.index = index;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use caravan_structs::{AllocClientUpdate, DeploymentState};

    use super::*;
    use crate::{Command, StateStore};

    const NOW: i64 = 1_000_000_000_000;
    const MINUTE: i64 = 60_000_000_000;

    fn job() -> Job {
        caravan_testkit::job("web").count(2).canonical()
    }

    /// A store with job `web` and deployment `d1` of its version, with one canary wanted.
    fn store() -> StateStore {
        let store = StateStore::new();
        store
            .try_apply(Command::JobRegister {
                job: job(),
                eval: None,
                now: NOW,
                enforce_index: None,
            })
            .unwrap();
        let state = DeploymentState {
            desired_total: 2,
            desired_canaries: 1,
            progress_deadline: 10 * MINUTE,
            require_progress_by: caravan_structs::time::rfc3339(NOW + 10 * MINUTE),
            ..DeploymentState::default()
        };
        let deployment = Deployment {
            id: "d1".into(),
            namespace: "default".into(),
            job_id: "web".into(),
            status: deployment::status::RUNNING.into(),
            task_groups: BTreeMap::from([("g".to_string(), state)]),
            ..Deployment::default()
        };
        let mut canary = caravan_testkit::alloc("c1", &job(), "n1").build();
        canary.task_group = "g".into();
        canary.deployment_id = "d1".into();
        canary.deployment_status = Some(AllocDeploymentStatus {
            canary: true,
            ..AllocDeploymentStatus::default()
        });
        store
            .try_apply(Command::PlanApply {
                job: None,
                stopped: Vec::new(),
                allocs: vec![canary],
                evals: vec![],
                now: NOW,
                deployment: Some(deployment),
                deployment_updates: vec![],
            })
            .unwrap();
        store
    }

    fn health(store: &StateStore, healthy: bool, at: i64) {
        store
            .try_apply(Command::AllocClientUpdate {
                updates: vec![AllocClientUpdate {
                    id: "c1".into(),
                    deployment_status: Some(AllocDeploymentStatus {
                        healthy: Some(healthy),
                        timestamp: caravan_structs::time::rfc3339(at),
                        ..AllocDeploymentStatus::default()
                    }),
                    ..AllocClientUpdate::default()
                }],
                now: at,
                evals: vec![],
            })
            .unwrap();
    }

    fn promote(store: &StateStore) -> Result<u64, Refused> {
        store.try_apply(Command::Deployment(DeploymentCommand::Promote {
            deployment_id: "d1".into(),
            groups: vec![],
            eval: None,
            now: NOW,
        }))
    }

    #[test]
    fn placements_and_health_are_counted_with_the_writes_that_make_them() {
        let store = store();
        let group =
            |s: &StateStore| s.snapshot().deployment("d1").unwrap().task_groups["g"].clone();
        assert_eq!(group(&store).placed_allocs, 1);
        assert_eq!(group(&store).placed_canaries, vec![AllocId::from("c1")]);

        // Promotion waits for the canary to be healthy, in Nomad's words.
        assert_eq!(
            promote(&store).unwrap_err().0,
            "1 error occurred:\n\t* Task group \"g\" has 0/1 healthy allocations\n\n"
        );
        health(&store, true, NOW + MINUTE);
        let after = group(&store);
        assert_eq!((after.healthy_allocs, after.unhealthy_allocs), (1, 0));
        assert_eq!(
            after.require_progress_by,
            caravan_structs::time::rfc3339(NOW + 11 * MINUTE),
            "a healthy allocation extends the progress deadline"
        );
        let alloc = store.snapshot().alloc("c1").unwrap();
        assert!(alloc.deployment_healthy() && alloc.is_canary());
        // The same verdict again counts nothing.
        health(&store, true, NOW + 2 * MINUTE);
        assert_eq!(group(&store).healthy_allocs, 1);

        promote(&store).unwrap();
        let promoted = store.snapshot().deployment("d1").unwrap();
        assert!(promoted.task_groups["g"].promoted);
        assert_eq!(
            promoted.status_description,
            deployment::description::RUNNING
        );
    }

    #[test]
    fn finished_deployments_refuse_changes_and_success_makes_the_version_stable() {
        let store = store();
        let finish = |status: &str| {
            store.try_apply(Command::Deployment(DeploymentCommand::StatusUpdate {
                update: DeploymentStatusUpdate {
                    deployment_id: "d1".into(),
                    status: status.into(),
                    status_description: deployment::description::SUCCESSFUL.into(),
                },
                revert_to: None,
                eval: None,
                now: NOW,
            }))
        };
        finish(deployment::status::SUCCESSFUL).unwrap();
        let snapshot = store.snapshot();
        assert!(snapshot.job("default", "web").unwrap().stable);
        assert!(snapshot.job_versions("default", "web")[0].stable);
        for (status, refusal) in [
            (
                deployment::status::PAUSED,
                "can't pause terminal deployment",
            ),
            (
                deployment::status::RUNNING,
                "can't resume terminal deployment",
            ),
            (deployment::status::FAILED, "can't fail terminal deployment"),
        ] {
            assert_eq!(finish(status).unwrap_err().0, refusal);
        }
        assert_eq!(
            promote(&store).unwrap_err().0,
            "can't promote terminal deployment"
        );
        // An unchanged re-submission keeps the version and its stability.
        store
            .try_apply(Command::JobRegister {
                job: job(),
                eval: None,
                now: NOW,
                enforce_index: None,
            })
            .unwrap();
        assert!(store.snapshot().job("default", "web").unwrap().stable);
    }
}
