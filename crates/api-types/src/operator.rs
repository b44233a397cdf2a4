//! `/v1/operator/scheduler/configuration`: the scheduler configuration read and written.

use caravan_structs::SchedulerConfiguration;
use serde::{Deserialize, Serialize};

/// `GET /v1/operator/scheduler/configuration` answer (Nomad's
/// `SchedulerConfigurationResponse`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SchedulerConfigurationResponse {
    /// The configuration in force.
    pub scheduler_config: SchedulerConfiguration,
    /// Its modify index.
    pub index: u64,
    /// Whether the answering server knows the leader (always, with one server).
    pub known_leader: bool,
}

/// `PUT /v1/operator/scheduler/configuration` answer (Nomad's
/// `SchedulerSetConfigurationResponse`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SchedulerSetConfigurationResponse {
    /// Whether the configuration was written.
    pub updated: bool,
    /// The write's index.
    pub index: u64,
}
