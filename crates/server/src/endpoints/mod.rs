//! The server's operations, one file per kind of thing they act on. Each validates,
//! builds one `Command` and applies it through the replicator (`Server::apply`).

pub(crate) mod acl;
mod alloc;
pub(crate) mod alloc_batch;
pub(crate) mod deployment;
mod eval;
mod eval_delete;
mod evaluate;
mod job;
mod node;
mod operator;
pub(crate) mod scaling;
mod service;
pub(crate) mod variable;
mod variable_workload;
