//! The end-to-end harness (`caravan-testkit`'s `harness`): a real `caravan agent` on free
//! loopback ports, clusters of them, the CLI pointed at them, and process checks.

#![allow(dead_code, unused_imports)]

pub use caravan_testkit::harness::*;

/// The binary cargo built for these tests; the harness finds the same file beside the
/// test binary (checked once, in `architecture.rs`).
pub const CARAVAN: &str = env!("CARGO_BIN_EXE_caravan");
