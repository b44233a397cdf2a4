//! `scaling { }` of a group: the bounds the autoscaler works within.

use serde::{Deserialize, Serialize};

/// `scaling { min max enabled policy { } }` of a group (`api.ScalingPolicy`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ScalingPolicy {
    #[serde(rename = "ID")]
    pub id: String,
    pub namespace: String,
    /// `horizontal` for groups.
    pub r#type: String,
    pub target: std::collections::BTreeMap<String, String>,
    pub min: Option<i64>,
    pub max: Option<i64>,
    /// The autoscaler's policy, kept as written.
    pub policy: serde_json::Map<String, serde_json::Value>,
    pub enabled: Option<bool>,
    pub create_index: u64,
    pub modify_index: u64,
}

impl ScalingPolicy {
    /// Nomad's `ScalingPolicy.Canonicalize`: enabled, `min` = the group's count,
    /// type `horizontal`.
    pub fn canonicalize(&mut self, group_count: i64) {
        self.enabled.get_or_insert(true);
        self.min.get_or_insert(group_count);
        if self.r#type.is_empty() {
            self.r#type = "horizontal".to_string();
        }
    }
}
