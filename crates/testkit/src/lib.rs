//! Caravan's shared test code, used as a dev-dependency (never published).
//!
//! - [`job`], [`node`], [`alloc`], [`eval`]: builders for the model, starting from the
//!   shapes the tests share (a job of one group `g` with one `raw_exec` task `t`; a node
//!   in `dc1` with `raw_exec`) and changed by chained calls, and
//!   [`allocated`] and [`spread`] for the parts tests spell out;
//! - [`wait`]: polling until a condition holds, for sync and async tests; [`table`]:
//!   text-in, text-out table tests; [`host`]: what this host lets the tests do (run the
//!   `exec` driver, see a process alive);
//! - `server` (feature `server`): in-process servers, and with feature `api` the agent
//!   state the API's router takes;
//! - `scheduler` (feature `scheduler`): the scheduler's in-memory `MemState` and one
//!   evaluation run on it;
//! - `harness` (feature `harness`): real `caravan` agents (dev agents and clusters of
//!   separate processes), the CLI, and checks on the processes tasks leave.
//!
//! A crate's unit tests (`src/**`) see a second copy of their own crate through this one
//! when this one depends on it: the builders, which make `caravan-structs` values, serve
//! every crate's unit tests but `caravan-structs`' own (they keep their fixtures), and
//! types of the crate under test never cross (the scheduler's table tests take
//! `MemState` from their own `testing` module, not from here).

/// Builder methods that set one field of the value: `name: Type => path.to.field`,
/// each with its doc comment (strings are taken as `&str`; statuses and types as their
/// `caravan-structs` enums).
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
pub mod docker;
#[cfg(feature = "harness")]
pub mod harness;
#[cfg(feature = "scheduler")]
pub mod scheduler;
#[cfg(feature = "server")]
pub mod server;

pub use alloc::{AllocBuilder, EvalBuilder, alloc, allocated, eval};
pub use job::{JobBuilder, job, sized_job, spread};
pub use node::{NodeBuilder, healthy_driver, node};
