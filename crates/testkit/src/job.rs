//! Jobs: one group `g` with one `raw_exec` task `t`, and what tests change on them.

use caravan_structs::{
    Job, JobType, ParameterizedJobConfig, PeriodicConfig, Resources, ScalingPolicy, Spread,
    SpreadTarget, Task, TaskGroup,
};

/// A job `id` with one group `g` (count 1) of one `raw_exec` task `t` without config:
/// the shape every server, state and API test starts from.
pub fn job(id: &str) -> JobBuilder {
    JobBuilder {
        job: Job {
            id: id.into(),
            task_groups: vec![TaskGroup {
                name: "g".into(),
                tasks: vec![Task {
                    name: "t".into(),
                    driver: "raw_exec".into(),
                    ..Task::default()
                }],
                ..TaskGroup::default()
            }],
            ..Job::default()
        },
    }
}

/// A job of a realistic size for memory and write-cost benchmarks: `job(id)` with
/// `count`, twenty meta entries and twenty environment variables (about 3.4 KB).
pub fn sized_job(id: &str, count: i64) -> Job {
    let mut builder = job(id).count(count);
    for i in 0..20 {
        builder = builder.meta(&format!("team-label-{i}"), &format!("value-{i}-{id}"));
    }
    builder
        .task(|task| {
            for i in 0..20 {
                task.env.insert(
                    format!("APP_SETTING_{i}"),
                    format!("https://service-{i}.internal.example:8443/path"),
                );
            }
        })
        .canonical()
}

/// A `spread { attribute weight target "value" { percent } }` block.
pub fn spread(attribute: &str, weight: i64, targets: &[(&str, i64)]) -> Spread {
    Spread {
        attribute: attribute.into(),
        weight,
        spread_target: targets
            .iter()
            .map(|(value, percent)| SpreadTarget {
                value: value.to_string(),
                percent: *percent,
            })
            .collect(),
    }
}

/// A job being built; [`JobBuilder::build`] hands it out as written, and
/// [`JobBuilder::canonical`] as the server stores it.
#[derive(Debug, Clone)]
#[must_use]
pub struct JobBuilder {
    job: Job,
}

impl JobBuilder {
    setters! { job;
        /// The job's type.
        kind: JobType => r#type;
    }

    /// The first group's count.
    pub fn count(self, count: i64) -> Self {
        self.group(|group| group.count = count)
    }

    /// The first task's `config { command = ... }`.
    pub fn command(self, command: &str) -> Self {
        self.task(|task| {
            task.config = serde_json::Map::from_iter([("command".to_string(), command.into())]);
        })
    }

    /// The first task's `resources { cpu memory }`.
    pub fn resources(self, cpu: i64, memory_mb: i64) -> Self {
        self.task(|task| {
            task.resources = Resources {
                cpu,
                memory_mb,
                ..Resources::default()
            };
        })
    }

    /// One `meta` entry of the job.
    pub fn meta(mut self, key: &str, value: &str) -> Self {
        self.job.meta.insert(key.into(), value.into());
        self
    }

    /// The job's datacenters.
    pub fn datacenters(mut self, datacenters: &[&str]) -> Self {
        self.job.datacenters = datacenters.iter().map(|dc| dc.to_string()).collect();
        self
    }

    /// The first group's name.
    pub fn group_name(self, name: &str) -> Self {
        self.group(|group| group.name = name.into())
    }

    /// The first task's name.
    pub fn task_name(self, name: &str) -> Self {
        self.task(|task| task.name = name.into())
    }

    /// `periodic { cron = spec prohibit_overlap = ... }`.
    pub fn periodic(mut self, spec: &str, prohibit_overlap: bool) -> Self {
        self.job.periodic = Some(PeriodicConfig {
            spec: Some(spec.into()),
            prohibit_overlap: Some(prohibit_overlap),
            ..PeriodicConfig::default()
        });
        self
    }

    /// `parameterized { payload meta_required meta_optional }`.
    pub fn parameterized(mut self, payload: &str, required: &[&str], optional: &[&str]) -> Self {
        self.job.parameterized_job = Some(ParameterizedJobConfig {
            payload: payload.into(),
            meta_required: required.iter().map(|s| s.to_string()).collect(),
            meta_optional: optional.iter().map(|s| s.to_string()).collect(),
        });
        self
    }

    /// The first group's `scaling { min max }`.
    pub fn scaling(self, min: i64, max: i64) -> Self {
        self.group(|group| {
            group.scaling = Some(ScalingPolicy {
                min: Some(min),
                max: Some(max),
                ..ScalingPolicy::default()
            });
        })
    }

    /// Any other change to the first group.
    pub fn group(mut self, edit: impl FnOnce(&mut TaskGroup)) -> Self {
        if let Some(group) = self.job.task_groups.first_mut() {
            edit(group);
        }
        self
    }

    /// Any other change to the first group's first task.
    pub fn task(self, edit: impl FnOnce(&mut Task)) -> Self {
        self.group(|group| {
            if let Some(task) = group.tasks.first_mut() {
                edit(task);
            }
        })
    }

    /// The job with the defaults the server fills in (`Job::canonicalize`).
    pub fn canonical(self) -> Job {
        let mut job = self.job;
        job.canonicalize();
        job
    }
}

builder_end!(JobBuilder, job: Job);
