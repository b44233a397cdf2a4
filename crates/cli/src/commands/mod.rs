//! One module per command. Each has a `run(args) -> exit code` that does the HTTP calls
//! and pure `render_*` functions that turn API structs into the exact text Nomad prints.

pub mod acl;
pub mod alloc_checks;
pub mod alloc_exec;
pub mod alloc_fs;
pub mod alloc_logs;
pub mod alloc_restart;
pub mod alloc_signal;
pub mod alloc_status;
pub mod eval_status;
pub mod job_dispatch;
pub mod job_history;
pub mod job_init;
pub mod job_inspect;
pub mod job_periodic;
pub mod job_plan;
pub mod job_revert;
pub mod job_run;
pub mod job_status;
pub mod job_stop;
pub mod job_validate;
pub mod lookup;
pub mod namespace;
pub mod node_drain;
pub mod node_eligibility;
pub mod node_status;
pub mod operator_raft;
pub mod operator_snapshot;
pub mod server_force_leave;
pub mod server_join;
pub mod server_members;
pub mod service;
pub mod system_gc;
pub mod tls_create;
