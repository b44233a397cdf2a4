//! The server's operations, one file per kind of thing they act on. Each validates,
//! builds one `Command` and applies it.

mod alloc;
mod job;
mod node;
mod operator;
