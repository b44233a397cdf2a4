//! `DELETE /v1/evaluations` (`eval delete`).

use serde::{Deserialize, Serialize};

/// Nomad's `EvalDeleteRequest`: evaluations by ID, or every one a go-bexpr filter
/// matches; never both.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EvalDeleteRequest {
    #[serde(rename = "EvalIDs", skip_serializing_if = "Vec::is_empty")]
    pub eval_ids: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub filter: String,
}

/// Nomad's `EvalDeleteResponse`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EvalDeleteResponse {
    /// How many evaluations were deleted.
    pub count: usize,
    /// The write's index.
    pub index: u64,
}
