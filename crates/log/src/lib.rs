//! The agent's log as Nomad writes it (hclog): one line per event,
//! `2024-05-01T12:00:00.123Z [INFO]  client: node registration complete`, or hclog's
//! JSON object with `log_json`. Events come from `tracing`; [`AgentLog`] is the one
//! subscriber layer that renders them to the agent's output (stdout, optionally
//! coloured), to its log file ([`RotatingFile`], Nomad's rotation and names) and to
//! every live `/v1/agent/monitor` request ([`Monitors`]), each at its own level.
//!
//! Which events exist is decided once per call site ([`level::may_ever_log`]): the
//! agent's own crates at any level, other crates only when they warn (openraft only on
//! errors, its warnings are every election's normal business).

mod file;
mod hclog;
mod layer;
pub mod level;
mod monitor;
mod subsystem;

pub use file::{RotatingFile, RotationPolicy};
pub use hclog::{FieldValue, LogRecord};
pub use layer::{AgentLog, OutputFormat, OutputGate};
pub use level::{LogLevel, parse_log_level};
pub use monitor::{MonitorStream, Monitors};
pub use subsystem::subsystem;
