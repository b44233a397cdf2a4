//! Evaluations: the scheduler's unit of work, and the metrics that explain a placement.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{DeploymentId, EvalId, EvalStatus, EvalTrigger, FlatMap, JobId, JobType, NodeId};

/// An evaluation (`GET /v1/evaluation/:id`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Evaluation {
    #[serde(rename = "ID")]
    pub id: EvalId,
    pub namespace: String,
    pub priority: i64,
    pub r#type: JobType,
    pub triggered_by: EvalTrigger,
    #[serde(rename = "JobID")]
    pub job_id: JobId,
    pub job_modify_index: u64,
    #[serde(rename = "NodeID")]
    pub node_id: NodeId,
    #[serde(rename = "DeploymentID")]
    pub deployment_id: DeploymentId,
    pub status: EvalStatus,
    pub status_description: String,
    pub wait: i64,
    /// RFC 3339; when a delayed evaluation (a reschedule) may run. Go's zero time when not
    /// delayed, so Go clients can always parse it.
    #[serde(
        serialize_with = "zero_time_if_empty",
        deserialize_with = "empty_if_zero_time"
    )]
    pub wait_until: String,
    pub next_eval: EvalId,
    pub previous_eval: EvalId,
    pub blocked_eval: EvalId,
    #[serde(rename = "FailedTGAllocs")]
    pub failed_tg_allocs: BTreeMap<String, AllocMetric>,
    pub queued_allocations: BTreeMap<String, i64>,
    pub snapshot_index: u64,
    pub create_index: u64,
    pub modify_index: u64,
    pub create_time: i64,
    pub modify_time: i64,
}

impl Evaluation {
    /// `wait_until` as Unix nanoseconds, 0 when the evaluation is not delayed. Derived
    /// from the one field, so that nothing about the delay is lost when an evaluation
    /// travels as JSON (an API answer, a replicated command).
    pub fn wait_until_nanos(&self) -> i64 {
        crate::time::parse_rfc3339(&self.wait_until).unwrap_or(0)
    }

    /// Whether the evaluation will not be processed again.
    pub fn terminal(&self) -> bool {
        self.status.is_terminal()
    }
}

/// Why a placement went where it went, or why it failed (`AllocMetric`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocMetric {
    pub nodes_evaluated: i64,
    pub nodes_filtered: i64,
    pub nodes_in_pool: i64,
    pub nodes_available: FlatMap<i64>,
    pub class_filtered: FlatMap<i64>,
    pub constraint_filtered: FlatMap<i64>,
    pub nodes_exhausted: i64,
    pub class_exhausted: FlatMap<i64>,
    pub dimension_exhausted: FlatMap<i64>,
    pub quota_exhausted: Vec<String>,
    pub score_meta_data: Vec<NodeScoreMeta>,
    /// Nanoseconds spent placing.
    pub allocation_time: i64,
    pub coalesced_failures: i64,
}

impl AllocMetric {
    /// Gives back the room its lists grew past their entries: a placement's metrics
    /// are kept with it for as long as it is, a million times over.
    pub fn shrink_to_fit(&mut self) {
        for map in [
            &mut self.nodes_available,
            &mut self.class_filtered,
            &mut self.constraint_filtered,
            &mut self.class_exhausted,
            &mut self.dimension_exhausted,
        ] {
            map.shrink_to_fit();
        }
        self.quota_exhausted.shrink_to_fit();
        for meta in &mut self.score_meta_data {
            meta.scores.shrink_to_fit();
        }
        self.score_meta_data.shrink_to_fit();
    }

    /// Records that `constraint` (its display form) rejected one node.
    pub fn filter_node(&mut self, node_class: &str, constraint: &str) {
        self.nodes_filtered += 1;
        if !node_class.is_empty() {
            *self.class_filtered.entry_or_default(node_class) += 1;
        }
        if !constraint.is_empty() {
            *self.constraint_filtered.entry_or_default(constraint) += 1;
        }
    }

    /// Records that a node lacked room in `dimension` (`cpu`, `memory`).
    pub fn exhaust_node(&mut self, node_class: &str, dimension: &str) {
        self.nodes_exhausted += 1;
        if !node_class.is_empty() {
            *self.class_exhausted.entry_or_default(node_class) += 1;
        }
        if !dimension.is_empty() {
            *self.dimension_exhausted.entry_or_default(dimension) += 1;
        }
    }
}

/// The scores one candidate node got (`AllocMetric.ScoreMetaData`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeScoreMeta {
    #[serde(rename = "NodeID")]
    pub node_id: NodeId,
    pub scores: FlatMap<f64>,
    pub norm_score: f64,
}

/// The way back: Go's zero time is "not delayed", as the model keeps it.
fn empty_if_zero_time<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<String, D::Error> {
    let text = Option::<String>::deserialize(deserializer)?.unwrap_or_default();
    Ok(if text == crate::ZERO_TIME {
        String::new()
    } else {
        text
    })
}

fn zero_time_if_empty<S: serde::Serializer>(value: &str, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(if value.is_empty() {
        crate::ZERO_TIME
    } else {
        value
    })
}
