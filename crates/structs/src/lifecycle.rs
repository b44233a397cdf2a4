//! Task blocks about how a task relates to its allocation and job: `lifecycle`,
//! `dispatch_payload`, `identity`, `action`.

use serde::{Deserialize, Serialize};

/// `lifecycle.hook` values.
pub const LIFECYCLE_HOOKS: &[&str] = &["prestart", "poststart", "poststop"];

/// `lifecycle { hook sidecar }` (`api.TaskLifecycle`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TaskLifecycle {
    /// `prestart`, `poststart` or `poststop`.
    pub hook: String,
    pub sidecar: bool,
}

/// `dispatch_payload { file }`: where a dispatched job's payload is written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DispatchPayloadConfig {
    pub file: String,
}

/// `identity { name aud env file ttl ... }` (`api.WorkloadIdentity`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct WorkloadIdentity {
    pub name: String,
    pub audience: Vec<String>,
    pub change_mode: String,
    pub change_signal: String,
    pub env: bool,
    pub file: bool,
    pub filepath: String,
    pub service_name: String,
    /// Nanoseconds.
    #[serde(rename = "TTL")]
    pub ttl: i64,
}

/// `action "name" { command args }` (Nomad 1.7).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TaskAction {
    pub name: String,
    pub command: String,
    pub args: Vec<String>,
}
