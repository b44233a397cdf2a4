//! `scaling { }` of a group: the bounds the autoscaler works within, stored as Nomad's
//! `ScalingPolicy` objects; and the scaling events `job scale` records.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::TaskGroup;

/// The only policy type a task group's `scaling` block has (Nomad's
/// `ScalingPolicyTypeHorizontal`).
pub const SCALING_POLICY_TYPE_HORIZONTAL: &str = "horizontal";

/// Target keys of a group's policy (Nomad's `ScalingTargetNamespace`, `...Job`, `...Group`).
pub const SCALING_TARGET_NAMESPACE: &str = "Namespace";
pub const SCALING_TARGET_JOB: &str = "Job";
pub const SCALING_TARGET_GROUP: &str = "Group";

/// How many scaling events are kept per group (Nomad: `JobTrackedScalingEvents`).
pub const JOB_TRACKED_SCALING_EVENTS: usize = 20;

/// `scaling { min max enabled policy { } }` of a group (`api.ScalingPolicy`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ScalingPolicy {
    #[serde(rename = "ID")]
    pub id: String,
    pub namespace: String,
    /// `horizontal` for groups.
    pub r#type: String,
    pub target: BTreeMap<String, String>,
    pub min: Option<i64>,
    pub max: Option<i64>,
    /// The autoscaler's policy, kept as written.
    #[serde(default, deserialize_with = "crate::json::without_nulls")]
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
            self.r#type = SCALING_POLICY_TYPE_HORIZONTAL.to_string();
        }
    }

    /// Points the policy at its group (Nomad's `TargetTaskGroup`).
    pub fn target_group(&mut self, namespace: &str, job_id: &str, group: &str) {
        self.namespace = namespace.to_string();
        self.target = BTreeMap::from([
            (SCALING_TARGET_NAMESPACE.to_string(), namespace.to_string()),
            (SCALING_TARGET_JOB.to_string(), job_id.to_string()),
            (SCALING_TARGET_GROUP.to_string(), group.to_string()),
        ]);
    }

    /// The job the policy targets.
    pub fn target_job(&self) -> &str {
        self.target
            .get(SCALING_TARGET_JOB)
            .map_or("", String::as_str)
    }

    /// The group the policy targets.
    pub fn target_group_name(&self) -> &str {
        self.target
            .get(SCALING_TARGET_GROUP)
            .map_or("", String::as_str)
    }

    /// Whether two policies say the same, whatever their indexes.
    pub fn same_content(&self, other: &ScalingPolicy) -> bool {
        let strip = |p: &ScalingPolicy| ScalingPolicy {
            create_index: 0,
            modify_index: 0,
            ..p.clone()
        };
        strip(self) == strip(other)
    }
}

/// Nomad's `TaskGroup.validateScalingPolicy` (with `ScalingPolicy.Validate`), each error
/// prefixed with `at` (the group) and Nomad's `Scaling policy invalid: `.
pub fn scaling_rules(errors: &mut Vec<String>, at: &str, group: &TaskGroup) {
    let Some(scaling) = &group.scaling else {
        return;
    };
    let mut invalid = |text: &str| errors.push(format!("{at}: Scaling policy invalid: {text}"));
    let min = scaling.min.unwrap_or(group.count);
    match scaling.max {
        None => invalid("maximum count must be specified and non-negative"),
        Some(max) if max < 0 => invalid("maximum count must be specified and non-negative"),
        Some(max) if max < min => invalid("maximum count must not be less than minimum count"),
        Some(_) => {}
    }
    if min < 0 {
        invalid("minimum count must be specified and non-negative");
    }
    if scaling.max.is_some_and(|max| max < group.count) {
        invalid("task group count must not be greater than maximum count in scaling policy");
    }
    if group.count < min {
        invalid("task group count must not be less than minimum count in scaling policy");
    }
    if !scaling.r#type.is_empty() && scaling.r#type != SCALING_POLICY_TYPE_HORIZONTAL {
        invalid(&format!(
            "task group scaling policy had invalid type: {:?}; a group's policy is \"horizontal\"",
            scaling.r#type
        ));
    }
}

/// One scaling action or autoscaler report on a group (Nomad's `ScalingEvent`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ScalingEvent {
    /// Unix nanoseconds.
    pub time: i64,
    /// The new count; none for an event that changed nothing (an autoscaler's error).
    pub count: Option<i64>,
    pub previous_count: i64,
    pub message: String,
    pub error: bool,
    #[serde(default, deserialize_with = "crate::json::without_nulls")]
    pub meta: Option<serde_json::Map<String, serde_json::Value>>,
    /// The evaluation the new count caused.
    #[serde(rename = "EvalID")]
    pub eval_id: Option<String>,
    pub create_index: u64,
}

/// A job's scaling events by group, newest first (Nomad's `JobScalingEvents`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobScalingEvents {
    pub namespace: String,
    #[serde(rename = "JobID")]
    pub job_id: String,
    pub scaling_events: BTreeMap<String, Vec<ScalingEvent>>,
    pub modify_index: u64,
}
