//! The bodies of Caravan's `/v1` HTTP API and of the client-server RPC, each declared
//! once, in Nomad's JSON shape (`ID`, `EvalID`, `JobModifyIndex`...).
//!
//! The model itself (`Job`, `Allocation`, `Node`, `Evaluation`...) lives in
//! `caravan-structs`; this crate holds what travels around it: requests, answers, list
//! entries and the RPC's bodies and headers. The server and the API build these, the
//! CLI, the client agent and `caravan-api-client` read them.
//!
//! Code map: [`job`] (registration, plan, validate, revert, dispatch, periodic force,
//! versions, parse), [`alloc`] (list entry, restart), [`node`] (list entry, eligibility,
//! drain), [`fs`] (file info, stream frames), [`stats`] (live resource usage),
//! [`operator`] (scheduler configuration), [`raft`] (the Raft peer set), [`members`]
//! (server membership, joins), [`scaling`] (`job scale`, scale status, policy list entries), [`snapshot_archive`] (the file `operator snapshot save`
//! writes), [`rpc`] (node registration, heartbeat, allocation updates, the RPC's
//! headers).

pub mod alloc;
pub mod checks;
pub mod deployment;
pub mod eval;
pub mod fs;
pub mod host_stats;
pub mod job;
pub mod members;
pub mod node;
pub mod operator;
pub mod raft;
pub mod rpc;
pub mod scaling;
pub mod snapshot_archive;
pub mod stats;

pub use alloc::*;
pub use checks::*;
pub use deployment::*;
pub use eval::*;
pub use fs::*;
pub use host_stats::*;
pub use job::*;
pub use members::*;
pub use node::*;
pub use operator::*;
pub use raft::*;
pub use rpc::{AllocUpdateRequest, AllocUpdateResponse, HeartbeatRequest, HeartbeatResponse};
pub use scaling::*;
pub use stats::*;
