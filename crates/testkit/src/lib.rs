//! Caravan's shared test code, used as a dev-dependency (never published).
//!
//! - [`job`], [`node`], [`alloc`], [`eval`]: builders for the model, starting from the
//!   shapes the tests share (a job of one group `g` with one `raw_exec` task `t`; a node
//!   in `dc1` with `raw_exec`) and changed by chained calls;
//! - [`wait`]: polling until a condition holds, for sync and async tests; [`table`]:
//!   text-in, text-out table tests; [`host`]: what this host lets the tests do; [`table`]:
//!   text-in, text-out table tests; [`host`]: what this host lets the tests do;
//! - `server` (feature `server`): in-process servers, and with feature `api` the agent
//!   state the API's router takes;
//! - `scheduler` (feature `scheduler`): an in-memory `SchedulerState`;
//! - `harness` (feature `harness`): real `caravan` agents (dev agents and clusters of
//!   separate processes), the CLI, and checks on the processes tasks leave.
//!
//! A crate's own unit tests cannot use this crate when it depends on that crate (they
//! would see two copies of its types): `caravan-structs`'s unit tests keep their own
//! fixtures, and so do the scheduler's for its `SchedulerState` (the builders, which only
//! make `caravan-structs` values, serve everyone else).

/// Builder methods that set one field of the value: `name: Type => path.to.field`,
/// each with its doc comment (strings are taken as `&str`).
macro_rules! setters {
    ($value:ident; $($(#[$doc:meta])* $name:ident: $ty:ty => $($field:ident).+;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, value: $ty) -> Self {
                self.$value.$($field).+ = value.into();
                self
            }
        )*
    };
}

/// What every builder ends with: `with` (any other change), `build`, and `From` for the
/// value, so that a builder goes where the value is taken with `.into()`.
macro_rules! builder_end {
    ($builder:ident, $value:ident: $ty:ty) => {
        impl $builder {
            /// Any other change to the value.
            pub fn with(mut self, edit: impl FnOnce(&mut $ty)) -> Self {
                edit(&mut self.$value);
                self
            }

            /// The value built.
            pub fn build(self) -> $ty {
                self.$value
            }
        }

        impl From<$builder> for $ty {
            fn from(builder: $builder) -> $ty {
                builder.build()
            }
        }
    };
}

mod alloc;
pub mod host;
mod job;
mod node;
pub mod table;
pub mod wait;

#[cfg(feature = "harness")]
pub mod harness;
#[cfg(feature = "scheduler")]
pub mod scheduler;
#[cfg(feature = "server")]
pub mod server;

pub use alloc::{AllocBuilder, EvalBuilder, alloc, allocated, eval};
pub use job::{JobBuilder, job, spread};
pub use node::{NodeBuilder, healthy_driver, node};
