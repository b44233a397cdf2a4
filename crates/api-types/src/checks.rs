//! `GET /v1/client/allocation/:id/checks`: the latest result of each check of an
//! allocation's `provider = "nomad"` services (Nomad 1.4+'s `CheckQueryResult`).

use serde::{Deserialize, Serialize};

/// The latest result of one check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CheckQueryResult {
    #[serde(rename = "ID")]
    pub id: String,
    /// The check's name.
    pub check: String,
    /// The allocation's name, `<job>.<group>[<index>]`.
    pub group: String,
    /// The task of a task's service; empty for a group's.
    pub task: String,
    pub service: String,
    /// `success`, `failure` or `pending`.
    pub status: String,
    /// The HTTP status code of an `http` check (0 for others).
    pub status_code: i64,
    pub output: String,
    /// `healthiness` (counts for deployments) or `readiness` (`on_update = "ignore"`).
    pub mode: String,
    /// Unix seconds of the result.
    pub timestamp: i64,
}
