//! How a group's allocations are replaced: `update` (deployments), `migrate` (drains),
//! `reschedule` (failures) and `disconnect` (clients that go away).
//!
//! Fields are `Option`s, as Nomad's `api` pointers are: a group's block overrides only the
//! fields it sets on the job's block (`Merge`), and canonicalization fills the rest with
//! Nomad's defaults. After [`crate::Job::canonicalize`] every field of a present block is
//! `Some`.

use serde::{Deserialize, Serialize};

use crate::{JobType, SECOND_NS};

const MINUTE_NS: i64 = 60 * SECOND_NS;
const HOUR_NS: i64 = 60 * MINUTE_NS;

/// Overwrites each field of `$dst` that `$src` sets.
macro_rules! merge_fields {
    ($dst:expr, $src:expr, $($field:ident),+) => {
        $(if $src.$field.is_some() { $dst.$field = $src.$field.clone(); })+
    };
}

/// `update { ... }`: rolling updates and canaries (`api.UpdateStrategy`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct UpdateStrategy {
    /// Nanoseconds between updates (deprecated in Nomad but still defaulted).
    pub stagger: Option<i64>,
    pub max_parallel: Option<i64>,
    /// `checks`, `task_states` or `manual`.
    pub health_check: Option<String>,
    /// Nanoseconds.
    pub min_healthy_time: Option<i64>,
    /// Nanoseconds.
    pub healthy_deadline: Option<i64>,
    /// Nanoseconds; 0 disables the deadline.
    pub progress_deadline: Option<i64>,
    pub canary: Option<i64>,
    pub auto_revert: Option<bool>,
    pub auto_promote: Option<bool>,
}

impl UpdateStrategy {
    /// Nomad's `api.DefaultUpdateStrategy`.
    pub fn nomad_default() -> UpdateStrategy {
        UpdateStrategy {
            stagger: Some(30 * SECOND_NS),
            max_parallel: Some(1),
            health_check: Some("checks".to_string()),
            min_healthy_time: Some(10 * SECOND_NS),
            healthy_deadline: Some(5 * MINUTE_NS),
            progress_deadline: Some(10 * MINUTE_NS),
            canary: Some(0),
            auto_revert: Some(false),
            auto_promote: Some(false),
        }
    }

    /// Overwrites what `other` sets (`UpdateStrategy.Merge`).
    pub fn merge(&mut self, other: &UpdateStrategy) {
        merge_fields!(
            self,
            other,
            stagger,
            max_parallel,
            health_check,
            min_healthy_time,
            healthy_deadline,
            progress_deadline,
            canary,
            auto_revert,
            auto_promote
        );
    }

    /// Fills unset fields with [`UpdateStrategy::nomad_default`].
    pub fn canonicalize(&mut self) {
        let mut full = UpdateStrategy::nomad_default();
        full.merge(self);
        *self = full;
    }

    /// Nomad's `UpdateStrategy.Empty`: nothing set to a non-zero value.
    pub fn is_empty(&self) -> bool {
        self.stagger.unwrap_or(0) == 0
            && self.max_parallel.unwrap_or(0) == 0
            && self.health_check.as_deref().unwrap_or("").is_empty()
            && self.min_healthy_time.unwrap_or(0) == 0
            && self.healthy_deadline.unwrap_or(0) == 0
            && self.progress_deadline.unwrap_or(0) == 0
            && self.canary.unwrap_or(0) == 0
            && !self.auto_revert.unwrap_or(false)
            && !self.auto_promote.unwrap_or(false)
    }
}

/// `migrate { ... }`: how allocations leave a draining node (`api.MigrateStrategy`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct MigrateStrategy {
    pub max_parallel: Option<i64>,
    /// `checks` or `task_states`.
    pub health_check: Option<String>,
    /// Nanoseconds.
    pub min_healthy_time: Option<i64>,
    /// Nanoseconds.
    pub healthy_deadline: Option<i64>,
}

impl MigrateStrategy {
    /// Nomad's `api.DefaultMigrateStrategy`.
    pub fn nomad_default() -> MigrateStrategy {
        MigrateStrategy {
            max_parallel: Some(1),
            health_check: Some("checks".to_string()),
            min_healthy_time: Some(10 * SECOND_NS),
            healthy_deadline: Some(5 * MINUTE_NS),
        }
    }

    /// Overwrites what `other` sets.
    pub fn merge(&mut self, other: &MigrateStrategy) {
        merge_fields!(
            self,
            other,
            max_parallel,
            health_check,
            min_healthy_time,
            healthy_deadline
        );
    }
}

/// `reschedule { ... }`: replacing failed allocations on other nodes (`api.ReschedulePolicy`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ReschedulePolicy {
    pub attempts: Option<i64>,
    /// Nanoseconds.
    pub interval: Option<i64>,
    /// Nanoseconds.
    pub delay: Option<i64>,
    /// `constant`, `exponential` or `fibonacci`.
    pub delay_function: Option<String>,
    /// Nanoseconds.
    pub max_delay: Option<i64>,
    pub unlimited: Option<bool>,
}

impl ReschedulePolicy {
    /// Nomad's `api.NewDefaultReschedulePolicy`: service jobs reschedule without limit
    /// (30 s exponential up to 1 h), batch jobs once a day (5 s constant), others never.
    pub fn default_for(job_type: JobType) -> ReschedulePolicy {
        match job_type {
            JobType::Service => ReschedulePolicy {
                attempts: Some(0),
                interval: Some(0),
                delay: Some(30 * SECOND_NS),
                delay_function: Some("exponential".to_string()),
                max_delay: Some(HOUR_NS),
                unlimited: Some(true),
            },
            JobType::Batch => ReschedulePolicy {
                attempts: Some(1),
                interval: Some(24 * HOUR_NS),
                delay: Some(5 * SECOND_NS),
                delay_function: Some("constant".to_string()),
                max_delay: Some(0),
                unlimited: Some(false),
            },
            _ => ReschedulePolicy {
                attempts: Some(0),
                interval: Some(0),
                delay: Some(0),
                delay_function: Some(String::new()),
                max_delay: Some(0),
                unlimited: Some(false),
            },
        }
    }

    /// Overwrites what `other` sets.
    pub fn merge(&mut self, other: &ReschedulePolicy) {
        merge_fields!(
            self,
            other,
            attempts,
            interval,
            delay,
            delay_function,
            max_delay,
            unlimited
        );
    }

    /// Fills unset fields with the job type's defaults.
    pub fn canonicalize(&mut self, job_type: JobType) {
        let mut full = ReschedulePolicy::default_for(job_type);
        full.merge(self);
        *self = full;
    }

    /// Nomad's `ReschedulePolicy.Enabled`: some attempts, or unlimited.
    pub fn enabled(&self) -> bool {
        self.attempts.unwrap_or(0) > 0 || self.unlimited.unwrap_or(false)
    }
}

/// `disconnect { ... }` (Nomad 1.8): what happens to allocations of a client that stops
/// heartbeating (`api.DisconnectStrategy`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DisconnectStrategy {
    /// Nanoseconds until the allocations are marked lost.
    pub lost_after: Option<i64>,
    /// Whether to place replacements; default true.
    pub replace: Option<bool>,
    /// `best_score`, `keep_original`, `keep_replacement` or `longest_running`.
    pub reconcile: Option<String>,
    /// Nanoseconds until the client stops the allocations itself.
    pub stop_on_client_after: Option<i64>,
}

impl DisconnectStrategy {
    /// Nomad's `DisconnectStrategy.Canonicalize`: replace, reconcile by best score.
    pub fn canonicalize(&mut self) {
        self.replace.get_or_insert(true);
        self.reconcile
            .get_or_insert_with(|| "best_score".to_string());
    }
}
