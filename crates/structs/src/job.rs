//! Jobs, task groups and tasks: what the user asks to run.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{
    DisconnectStrategy, DispatchPayloadConfig, JobId, JobStatus, JobType, MigrateStrategy,
    NetworkResource, ParameterizedJobConfig, PeriodicConfig, ReschedulePolicy, Resources,
    SECOND_NS, ScalingPolicy, Service, TaskAction, TaskArtifact, TaskLifecycle, Template,
    UpdateStrategy, VolumeMount, VolumeRequest, WorkloadIdentity,
};

/// A job, as `GET /v1/job/:id` returns it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Job {
    pub region: String,
    pub namespace: String,
    #[serde(rename = "ID")]
    pub id: JobId,
    /// The periodic or parameterized job that launched this one; empty for others.
    #[serde(rename = "ParentID")]
    pub parent_id: JobId,
    pub name: String,
    /// Empty (`None`) until canonicalized, which makes it `service`.
    #[serde(with = "crate::status::empty_as_none")]
    pub r#type: Option<JobType>,
    pub priority: i64,
    pub all_at_once: bool,
    pub datacenters: Vec<String>,
    pub node_pool: String,
    pub constraints: Vec<Constraint>,
    pub affinities: Vec<Affinity>,
    pub spreads: Vec<Spread>,
    pub task_groups: Vec<TaskGroup>,
    pub meta: BTreeMap<String, String>,
    pub stop: bool,
    /// Empty (`None`) until the servers register the job.
    #[serde(with = "crate::status::empty_as_none")]
    pub status: Option<JobStatus>,
    pub status_description: String,
    pub stable: bool,
    pub version: u64,
    pub submit_time: i64,
    pub create_index: u64,
    pub modify_index: u64,
    pub job_modify_index: u64,
    /// `update { }`; service jobs get Nomad's default strategy when canonicalized.
    pub update: Option<UpdateStrategy>,
    /// `migrate { }`, inherited by the groups.
    pub migrate: Option<MigrateStrategy>,
    /// `reschedule { }`, inherited by the groups.
    pub reschedule: Option<ReschedulePolicy>,
    /// `periodic { }`: the job is a template launched on a cron schedule.
    pub periodic: Option<PeriodicConfig>,
    /// `parameterized { }`: the job is a template launched by `job dispatch`.
    pub parameterized_job: Option<ParameterizedJobConfig>,
    /// Whether this job was launched by `job dispatch` from a parameterized parent.
    pub dispatched: bool,
    /// The input a `job dispatch` gave a dispatched job, base64 encoded as Go encodes
    /// `[]byte` (Caravan stores it uncompressed; Nomad snappy-compresses it). Left out of
    /// the JSON when the job has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// `ui { description link { } }` (Nomad 1.6).
    #[serde(rename = "UI")]
    pub ui: Option<JobUiConfig>,
}

/// `ui { description link { label url } }`: what the web UI shows about a job.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobUiConfig {
    pub description: String,
    pub links: Vec<JobUiLink>,
}

/// One `link { label url }` of a job's `ui` block.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobUiLink {
    pub label: String,
    #[serde(rename = "URL")]
    pub url: String,
}

impl Job {
    /// Fills in what Nomad's API canonicalization fills in when a field is left empty:
    /// type `service`, priority 50, region `global`, namespace `default`, name = ID,
    /// datacenters `["*"]`, node pool `default`, and per-type restart policies.
    pub fn canonicalize(&mut self) {
        let job_type = *self.r#type.get_or_insert_default();
        if self.priority == 0 {
            self.priority = 50;
        }
        if self.region.is_empty() {
            self.region = "global".to_string();
        }
        if self.namespace.is_empty() {
            self.namespace = crate::DEFAULT_NAMESPACE.to_string();
        }
        if self.name.is_empty() {
            self.name = self.id.to_string();
        }
        if self.datacenters.is_empty() {
            self.datacenters = vec!["*".to_string()];
        }
        if self.node_pool.is_empty() {
            self.node_pool = "default".to_string();
        }
        default_weights(&mut self.affinities, &mut self.spreads);
        default_operators(&mut self.constraints);
        if let Some(periodic) = &mut self.periodic {
            periodic.canonicalize();
        }
        if let Some(parameterized) = &mut self.parameterized_job {
            parameterized.canonicalize();
        }
        // Nomad: service jobs without `update` get the default strategy.
        match &mut self.update {
            Some(update) => update.canonicalize(),
            None if job_type == JobType::Service => {
                self.update = Some(UpdateStrategy::nomad_default());
            }
            None => {}
        }
        let job_name = self.name.clone();
        for group in &mut self.task_groups {
            group.canonicalize(
                &job_name,
                job_type,
                self.update.as_ref(),
                self.reschedule.as_ref(),
                self.migrate.as_ref(),
            );
        }
    }

    /// The task group named `name`.
    pub fn group(&self, name: &str) -> Option<&TaskGroup> {
        self.task_groups.iter().find(|g| g.name == name)
    }

    /// Nomad's `IsPeriodic`: a template launched on a cron schedule (never scheduled itself).
    pub fn is_periodic(&self) -> bool {
        self.periodic.is_some()
    }

    /// Nomad's `IsParameterized`: a template launched by `job dispatch` (never scheduled
    /// itself); a dispatched child is not.
    pub fn is_parameterized(&self) -> bool {
        self.parameterized_job.is_some() && !self.dispatched
    }

    /// The job's type; `service` when not set, as canonicalization makes it.
    pub fn job_type(&self) -> JobType {
        self.r#type.unwrap_or_default()
    }

    /// Whether this is a batch-like job (its allocations may complete for good).
    pub fn is_batch(&self) -> bool {
        self.job_type().is_batch()
    }

    /// Whether the job runs on every eligible node (`system` or `sysbatch`).
    pub fn is_system(&self) -> bool {
        self.job_type().is_system()
    }

    /// Whether the user's part of two versions of the job is the same, so a re-submission
    /// does not create a new version (Nomad compares with `Job.SpecChanged`).
    pub fn spec_equal(&self, other: &Job) -> bool {
        let strip = |j: &Job| {
            let mut j = j.clone();
            j.status = None;
            j.status_description = String::new();
            j.stable = false;
            j.version = 0;
            j.submit_time = 0;
            j.create_index = 0;
            j.modify_index = 0;
            j.job_modify_index = 0;
            j
        };
        strip(self) == strip(other)
    }
}

/// Nomad's API canonicalization: an affinity or spread without a weight weighs 50.
fn default_weights(affinities: &mut [Affinity], spreads: &mut [Spread]) {
    for affinity in affinities.iter_mut().filter(|a| a.weight == 0) {
        affinity.weight = 50;
    }
    for spread in spreads.iter_mut().filter(|s| s.weight == 0) {
        spread.weight = 50;
    }
}

/// Nomad's `Constraint.Canonicalize` equivalent: a constraint without an operator tests
/// equality (the HCL readers already fill it; JSON jobs may leave it empty).
fn default_operators(constraints: &mut [Constraint]) {
    for constraint in constraints.iter_mut().filter(|c| c.operand.is_empty()) {
        constraint.operand = "=".to_string();
    }
}

/// A task group: the unit of placement. All its tasks run in one allocation on one node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TaskGroup {
    pub name: String,
    pub count: i64,
    pub constraints: Vec<Constraint>,
    pub affinities: Vec<Affinity>,
    pub spreads: Vec<Spread>,
    pub tasks: Vec<Task>,
    pub restart_policy: Option<RestartPolicy>,
    pub ephemeral_disk: EphemeralDisk,
    pub meta: BTreeMap<String, String>,
    /// `network { }` blocks (Nomad allows one per group).
    pub networks: Vec<NetworkResource>,
    /// Group-level `service { }` blocks.
    pub services: Vec<Service>,
    /// `volume "name" { }` blocks, by name.
    pub volumes: BTreeMap<String, VolumeRequest>,
    /// `scaling { }`.
    pub scaling: Option<ScalingPolicy>,
    /// Nanoseconds between deregistering services and stopping tasks.
    pub shutdown_delay: Option<i64>,
    /// Nanoseconds (deprecated by `disconnect.stop_on_client_after`).
    pub stop_after_client_disconnect: Option<i64>,
    /// Nanoseconds (deprecated by `disconnect.lost_after`).
    pub max_client_disconnect: Option<i64>,
    pub prevent_reschedule_on_lost: Option<bool>,
    /// `disconnect { }` (Nomad 1.8).
    pub disconnect: Option<DisconnectStrategy>,
    /// The job's `update` merged with the group's.
    pub update: Option<UpdateStrategy>,
    /// The job's `migrate` merged with the group's (service jobs only).
    pub migrate: Option<MigrateStrategy>,
    /// The job's `reschedule` merged with the group's, or the job type's default.
    pub reschedule_policy: Option<ReschedulePolicy>,
}

impl Default for TaskGroup {
    fn default() -> Self {
        TaskGroup {
            name: String::new(),
            // Nomad: a group without `count` runs one allocation.
            count: 1,
            constraints: Vec::new(),
            affinities: Vec::new(),
            spreads: Vec::new(),
            tasks: Vec::new(),
            restart_policy: None,
            ephemeral_disk: EphemeralDisk::default(),
            meta: BTreeMap::new(),
            networks: Vec::new(),
            services: Vec::new(),
            volumes: BTreeMap::new(),
            scaling: None,
            shutdown_delay: None,
            stop_after_client_disconnect: None,
            max_client_disconnect: None,
            prevent_reschedule_on_lost: None,
            disconnect: None,
            update: None,
            migrate: None,
            reschedule_policy: None,
        }
    }
}

impl TaskGroup {
    /// Nomad's `TaskGroup.Canonicalize` (api): merges the job's update, reschedule and
    /// migrate blocks into the group's, fills defaults per job type, and canonicalizes the
    /// tasks and services.
    fn canonicalize(
        &mut self,
        job_name: &str,
        job_type: JobType,
        job_update: Option<&UpdateStrategy>,
        job_reschedule: Option<&ReschedulePolicy>,
        job_migrate: Option<&MigrateStrategy>,
    ) {
        default_weights(&mut self.affinities, &mut self.spreads);
        default_operators(&mut self.constraints);
        if let Some(scaling) = &mut self.scaling {
            scaling.canonicalize(self.count);
        }
        if let Some(disconnect) = &mut self.disconnect {
            disconnect.canonicalize();
        }
        // Update: the group's fields win over the job's; an empty job block is not inherited.
        self.update = match (job_update, self.update.take()) {
            (Some(job), Some(group)) => {
                let mut merged = job.clone();
                merged.merge(&group);
                Some(merged)
            }
            (Some(job), None) if !job.is_empty() => Some(job.clone()),
            (_, group) => group,
        };
        if let Some(update) = &mut self.update {
            update.canonicalize();
        }
        // Reschedule: the job's, overridden by the group's; then the type's defaults
        // (Nomad gives system jobs none).
        self.reschedule_policy = match (job_reschedule, self.reschedule_policy.take()) {
            (Some(job), Some(group)) => {
                let mut merged = job.clone();
                merged.merge(&group);
                Some(merged)
            }
            (Some(job), None) => Some(job.clone()),
            (None, group) => group,
        };
        if self.reschedule_policy.is_none() && job_type != JobType::System {
            self.reschedule_policy = Some(ReschedulePolicy::default_for(job_type));
        }
        if let Some(policy) = &mut self.reschedule_policy {
            policy.canonicalize(job_type);
        }
        // Migrate: the job's, overridden by the group's; service jobs get the defaults.
        let mut migrate = match (job_migrate, self.migrate.take()) {
            (Some(job), Some(group)) => {
                let mut merged = job.clone();
                merged.merge(&group);
                Some(merged)
            }
            (Some(job), None) => Some(job.clone()),
            (None, group) => group,
        };
        if migrate.is_none() && job_type == JobType::Service {
            migrate = Some(MigrateStrategy::default());
        }
        if let Some(group) = &mut migrate {
            let mut full = MigrateStrategy::nomad_default();
            full.merge(group);
            *group = full;
        }
        self.migrate = migrate;
        if self.restart_policy.is_none() {
            self.restart_policy = Some(RestartPolicy::default_for(job_type));
        }
        let group_policy = self.restart_policy.clone();
        for task in &mut self.tasks {
            task.canonicalize(job_name, &self.name, group_policy.as_ref());
        }
        for service in &mut self.services {
            service.canonicalize(job_name, &self.name, None);
        }
        self.prevent_reschedule_on_lost.get_or_insert(false);
    }

    /// The sum of the group's task resources, as the scheduler fits it onto a node.
    pub fn combined_resources(&self) -> Resources {
        let mut total = Resources {
            cpu: 0,
            cores: 0,
            memory_mb: 0,
            memory_max_mb: 0,
            disk_mb: 0,
            networks: Vec::new(),
            devices: Vec::new(),
        };
        for task in &self.tasks {
            total.cpu += task.resources.cpu;
            total.cores += task.resources.cores;
            total.memory_mb += task.resources.memory_mb;
            total.memory_max_mb += task.resources.memory_max_mb;
        }
        total.disk_mb = self.ephemeral_disk.size_mb;
        total
    }
}

/// `ephemeral_disk { size }`: scratch space of an allocation, default 300 MB.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EphemeralDisk {
    pub sticky: bool,
    pub migrate: bool,
    #[serde(rename = "SizeMB")]
    pub size_mb: i64,
}

impl Default for EphemeralDisk {
    fn default() -> Self {
        EphemeralDisk {
            sticky: false,
            migrate: false,
            size_mb: 300,
        }
    }
}

/// A task: one process started by a driver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Task {
    pub name: String,
    pub driver: String,
    pub user: String,
    #[serde(default, deserialize_with = "crate::json::without_nulls")]
    pub config: serde_json::Map<String, serde_json::Value>,
    pub env: BTreeMap<String, String>,
    pub constraints: Vec<Constraint>,
    pub affinities: Vec<Affinity>,
    pub resources: Resources,
    pub restart_policy: Option<RestartPolicy>,
    pub meta: BTreeMap<String, String>,
    /// Nanoseconds between `kill_signal` and SIGKILL; Nomad's default is 5 s.
    pub kill_timeout: i64,
    pub kill_signal: String,
    pub log_config: LogConfig,
    pub leader: bool,
    /// `artifact { }` blocks.
    pub artifacts: Vec<TaskArtifact>,
    /// `template { }` blocks.
    pub templates: Vec<Template>,
    /// `lifecycle { }`: a prestart, poststart or poststop task.
    pub lifecycle: Option<TaskLifecycle>,
    /// `dispatch_payload { }`.
    pub dispatch_payload: Option<DispatchPayloadConfig>,
    /// The unnamed (default) `identity { }`.
    pub identity: Option<WorkloadIdentity>,
    /// Named `identity { name = ... }` blocks.
    pub identities: Vec<WorkloadIdentity>,
    /// `volume_mount { }` blocks.
    pub volume_mounts: Vec<VolumeMount>,
    /// Task-level `service { }` blocks.
    pub services: Vec<Service>,
    /// Nanoseconds between deregistering services and killing the task.
    pub shutdown_delay: i64,
    /// Connect sidecar kinds (`connect-proxy:<svc>`); kept as written.
    pub kind: String,
    /// `action "name" { }` blocks (Nomad 1.7).
    pub actions: Vec<TaskAction>,
}

impl Default for Task {
    fn default() -> Self {
        Task {
            name: String::new(),
            driver: String::new(),
            user: String::new(),
            config: serde_json::Map::new(),
            env: BTreeMap::new(),
            constraints: Vec::new(),
            affinities: Vec::new(),
            resources: Resources::default(),
            restart_policy: None,
            meta: BTreeMap::new(),
            kill_timeout: 5 * SECOND_NS,
            kill_signal: String::new(),
            log_config: LogConfig::default(),
            leader: false,
            artifacts: Vec::new(),
            templates: Vec::new(),
            lifecycle: None,
            dispatch_payload: None,
            identity: None,
            identities: Vec::new(),
            volume_mounts: Vec::new(),
            services: Vec::new(),
            shutdown_delay: 0,
            kind: String::new(),
            actions: Vec::new(),
        }
    }
}

impl Task {
    /// Nomad's `Task.Canonicalize` (api) for what the struct defaults do not cover.
    fn canonicalize(
        &mut self,
        job_name: &str,
        group_name: &str,
        group_policy: Option<&RestartPolicy>,
    ) {
        default_weights(&mut self.affinities, &mut Vec::new());
        default_operators(&mut self.constraints);
        if self.restart_policy.is_none() {
            self.restart_policy = group_policy.cloned();
        }
        for artifact in &mut self.artifacts {
            artifact.canonicalize();
        }
        for template in &mut self.templates {
            template.canonicalize();
        }
        for mount in &mut self.volume_mounts {
            mount.canonicalize();
        }
        // Nomad: an empty lifecycle block (no hook, not a sidecar) is no lifecycle; a
        // sidecar without a hook is refused at validation.
        if self
            .lifecycle
            .as_ref()
            .is_some_and(|l| l.hook.is_empty() && !l.sidecar)
        {
            self.lifecycle = None;
        }
        for device in &mut self.resources.devices {
            device.count.get_or_insert(1);
        }
        let name = self.name.clone();
        for service in &mut self.services {
            service.canonicalize(job_name, group_name, Some(&name));
        }
    }
}

/// `logs { max_files max_file_size }`: defaults 10 files of 10 MB.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LogConfig {
    pub max_files: i64,
    #[serde(rename = "MaxFileSizeMB")]
    pub max_file_size_mb: i64,
    pub disabled: bool,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            max_files: 10,
            max_file_size_mb: 10,
            disabled: false,
        }
    }
}

/// `restart { attempts interval delay mode }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RestartPolicy {
    pub attempts: i64,
    /// Nanoseconds.
    pub interval: i64,
    /// Nanoseconds.
    pub delay: i64,
    pub mode: String,
    pub render_templates: bool,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy::default_for(JobType::Service)
    }
}

impl RestartPolicy {
    /// Nomad's defaults: service and system 2 attempts in 30m, batch and sysbatch 3 in 24h;
    /// always a 15 s delay and mode `fail`.
    pub fn default_for(job_type: JobType) -> RestartPolicy {
        let (attempts, interval) = if job_type.is_batch() {
            (3, 24 * 3600 * SECOND_NS)
        } else {
            (2, 30 * 60 * SECOND_NS)
        };
        RestartPolicy {
            attempts,
            interval,
            delay: 15 * SECOND_NS,
            mode: "fail".to_string(),
            render_templates: false,
        }
    }
}

/// A hard placement rule: `constraint { attribute operator value }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Constraint {
    pub l_target: String,
    pub r_target: String,
    pub operand: String,
}

impl std::fmt::Display for Constraint {
    /// Nomad's `Constraint.String()`: `${attr.os.name} = windows`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.l_target, self.operand, self.r_target)
    }
}

/// A soft placement preference: `affinity { attribute operator value weight }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Affinity {
    pub l_target: String,
    pub r_target: String,
    pub operand: String,
    pub weight: i64,
}

/// `spread { attribute weight target "v" { percent } }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Spread {
    pub attribute: String,
    pub weight: i64,
    pub spread_target: Vec<SpreadTarget>,
}

/// One `target "value" { percent = N }` of a spread.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SpreadTarget {
    pub value: String,
    pub percent: i64,
}

/// `GET /v1/job/:id/summary`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobSummary {
    #[serde(rename = "JobID")]
    pub job_id: JobId,
    pub namespace: String,
    pub summary: BTreeMap<String, TaskGroupSummary>,
    pub children: JobChildrenSummary,
    pub create_index: u64,
    pub modify_index: u64,
}

/// Allocation counts of one task group by client status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TaskGroupSummary {
    pub queued: i64,
    pub complete: i64,
    pub failed: i64,
    pub running: i64,
    pub starting: i64,
    pub lost: i64,
    pub unknown: i64,
}

/// Counts of a parameterized or periodic job's children.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobChildrenSummary {
    pub pending: i64,
    pub running: i64,
    pub dead: i64,
}
