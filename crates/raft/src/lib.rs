//! Replicated, durable state for Caravan's servers: openraft with the state store's
//! [`Command`](caravan_state::Command) as the log entry.
//!
//! - [`log_store`]: the log and Raft's metadata in redb (`<data_dir>/server/raft/raft.db`);
//!   every append is fsynced before openraft counts it.
//! - [`state_machine`]: entries applied in order into the one `StateStore` the server
//!   reads; snapshots as files beside the log, after which the log is compacted.
//! - [`transport`] and [`network`]: the one place servers call each other.
//! - [`RaftNode`]: opening, bootstrapping and joining (`join.rs`), the [`Replicator`]
//!   the server writes through (a write answers once a quorum has it on disk and it is
//!   applied here), leadership as a watch the server's leader services follow, and the
//!   handlers for what peers send.
//!
//! [`Replicator`]: caravan_server::Replicator

// openraft's traits fix the error type (`StorageError`, 224 bytes); the helpers that
// produce it return it as they must.
#![allow(clippy::result_large_err)]

mod entry_codec;
mod join;
pub mod log_store;
pub mod network;
mod node;
pub mod state_machine;
pub mod transport;
mod types;

pub use join::serf_address;
pub use node::{MemberInfo, RaftNode, RaftSettings, StartError};
pub use types::{EntryApplied, ServerNode, TypeConfig, raft_id};
