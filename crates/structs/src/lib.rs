//! Caravan's data model.
//!
//! Every type here serializes to exactly the JSON Nomad's `/v1` API uses: PascalCase field
//! names (`ID`, `NodeID`, `TaskGroups`), durations as integer nanoseconds, create/modify
//! times as Unix nanoseconds. IDs are typed ([`JobId`], [`AllocId`], [`NodeId`],
//! [`EvalId`]) and closed sets of words are enums ([`status`]) written as Nomad's strings.
//! Nothing in this crate does I/O or reads a clock: times are passed in by the caller.

pub mod acl;
pub mod alloc;
pub mod constraint;
pub mod cron;
pub mod deployment;
pub mod diff;
pub mod driver_schema;
pub mod duration;
pub mod eval;
pub mod flat_map;
pub mod fnv;
pub mod ids;
pub mod job;
pub mod json;
pub mod lifecycle;
pub mod names;
pub mod network;
pub mod node;
pub mod periodic;
pub mod plan;
pub mod resources;
pub mod scaling;
pub mod service;
pub mod service_registration;
pub mod status;
pub mod template;
pub mod time;
pub mod update;
pub mod validate;
pub mod variable;
pub mod version;
pub mod volume;

pub use alloc::*;
pub use deployment::*;
pub use eval::*;
pub use flat_map::FlatMap;
pub use ids::{AllocId, DeploymentId, EvalId, JobId, NodeId};
pub use job::*;
pub use lifecycle::*;
pub use network::*;
pub use node::*;
pub use periodic::{ParameterizedJobConfig, PeriodicConfig};
pub use plan::*;
pub use resources::*;
pub use scaling::*;
pub use service::*;
pub use service_registration::*;
pub use status::{
    AllocClientStatus, AllocDesiredStatus, EvalStatus, EvalTrigger, JobStatus, JobType,
    NodeEligibility, NodeStatus, TaskStateKind, UnknownValue,
};
pub use template::*;
pub use update::*;
pub use variable::*;
pub use volume::*;

/// One second in the nanosecond unit Nomad's JSON uses for durations.
pub const SECOND_NS: i64 = 1_000_000_000;

/// Nomad's namespace for everything when namespaces are not in use.
pub const DEFAULT_NAMESPACE: &str = "default";

/// The version this binary reports as `nomad.version` and in `/v1/agent/self`.
pub const CARAVAN_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Short form of an ID, as Nomad prints it in tables (`shortId`: the first 8 characters).
pub fn short_id(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}
