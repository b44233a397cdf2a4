//! The scaling tables: the scaling policies of every job's groups (by ID, kept in step
//! with the job on every write of it), and each job's scaling events by group.

use std::sync::Arc;

use caravan_structs::{
    JOB_TRACKED_SCALING_EVENTS, Job, JobId, JobScalingEvents, ScalingEvent, ScalingPolicy,
};
use imbl::{OrdMap, OrdSet};
use serde::{Deserialize, Serialize};

use crate::snapshot::{JobKey, Snapshot};

/// The tables.
#[derive(Clone, Default, PartialEq, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct ScalingTables {
    pub(crate) policies: OrdMap<String, Arc<ScalingPolicy>>,
    pub(crate) policies_by_job: OrdMap<JobKey, OrdSet<String>>,
    pub(crate) events: OrdMap<JobKey, Arc<JobScalingEvents>>,
    pub(crate) index: ScalingIndexes,
}

/// The index of the last write to each scaling table.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScalingIndexes {
    pub policies: u64,
    pub events: u64,
}

impl ScalingIndexes {
    pub(crate) fn all_at(index: u64) -> ScalingIndexes {
        ScalingIndexes {
            policies: index,
            events: index,
        }
    }
}

impl Snapshot {
    /// Per-table write indexes of the scaling tables.
    pub fn scaling_index(&self) -> ScalingIndexes {
        self.scaling.index
    }

    /// The policy with this exact ID.
    pub fn scaling_policy(&self, id: &str) -> Option<Arc<ScalingPolicy>> {
        self.scaling.policies.get(id).cloned()
    }

    /// Every policy whose ID starts with `prefix`, in ID order.
    pub fn scaling_policies_by_prefix(&self, prefix: &str) -> Vec<Arc<ScalingPolicy>> {
        self.scaling
            .policies
            .range(prefix.to_string()..)
            .take_while(|(id, _)| id.starts_with(prefix))
            .map(|(_, policy)| policy.clone())
            .collect()
    }

    /// The policies of a job's groups, in ID order.
    pub fn scaling_policies_by_job(
        &self,
        namespace: &str,
        job_id: &str,
    ) -> Vec<Arc<ScalingPolicy>> {
        self.scaling
            .policies_by_job
            .get(&(namespace.to_string(), JobId::from(job_id)))
            .into_iter()
            .flatten()
            .filter_map(|id| self.scaling.policies.get(id).cloned())
            .collect()
    }

    /// A job's scaling events, newest first per group.
    pub fn scaling_events(&self, namespace: &str, job_id: &str) -> Option<Arc<JobScalingEvents>> {
        self.scaling
            .events
            .get(&(namespace.to_string(), JobId::from(job_id)))
            .cloned()
    }

    /// Makes the stored policies of `job` what its groups' `scaling` blocks say (Nomad's
    /// `updateJobScalingPolicies`): a policy whose content is unchanged keeps its
    /// indexes, a changed one gets this index, and a group that lost its block loses
    /// its policy.
    pub(crate) fn sync_scaling_policies(&mut self, job: &Job, index: u64) {
        let key = (job.namespace.clone(), job.id.clone());
        let wanted: Vec<ScalingPolicy> = job
            .task_groups
            .iter()
            .filter_map(|group| group.scaling.clone())
            .filter(|policy| !policy.id.is_empty())
            .collect();
        let before = self
            .scaling
            .policies_by_job
            .get(&key)
            .cloned()
            .unwrap_or_default();
        let mut after = OrdSet::new();
        for mut policy in wanted {
            after.insert(policy.id.clone());
            match self.scaling.policies.get(&policy.id) {
                Some(stored) if stored.same_content(&policy) => continue,
                Some(stored) => policy.create_index = stored.create_index,
                None => policy.create_index = index,
            }
            policy.modify_index = index;
            self.scaling
                .policies
                .insert(policy.id.clone(), Arc::new(policy));
            self.scaling.index.policies = index;
        }
        for gone in before.iter().filter(|id| !after.contains(*id)) {
            self.scaling.policies.remove(gone);
            self.scaling.index.policies = index;
        }
        if after.is_empty() {
            self.scaling.policies_by_job.remove(&key);
        } else {
            self.scaling.policies_by_job.insert(key, after);
        }
    }

    /// Removes a purged or collected job's policies and events.
    pub(crate) fn remove_job_scaling(&mut self, key: &JobKey, index: u64) {
        if let Some(ids) = self.scaling.policies_by_job.remove(key) {
            for id in ids {
                self.scaling.policies.remove(&id);
            }
            self.scaling.index.policies = index;
        }
        if self.scaling.events.remove(key).is_some() {
            self.scaling.index.events = index;
        }
    }

    /// Records a scaling event of a group, newest first, keeping the latest
    /// [`JOB_TRACKED_SCALING_EVENTS`].
    pub(crate) fn add_scaling_event(
        &mut self,
        key: JobKey,
        group: String,
        mut event: ScalingEvent,
        index: u64,
    ) {
        event.create_index = index;
        let mut events = self
            .scaling
            .events
            .get(&key)
            .map(|e| JobScalingEvents::clone(e))
            .unwrap_or_else(|| JobScalingEvents {
                namespace: key.0.clone(),
                job_id: key.1.to_string(),
                ..JobScalingEvents::default()
            });
        let list = events.scaling_events.entry(group).or_default();
        list.insert(0, event);
        list.truncate(JOB_TRACKED_SCALING_EVENTS);
        events.modify_index = index;
        self.scaling.events.insert(key, Arc::new(events));
        self.scaling.index.events = index;
    }
}
