//! A hand-written HCL1 parser (the syntax of Nomad 1.x `-hcl1` job files and of agent
//! configuration files).
//!
//! It produces a generic [`Body`] that keeps every key and value with its position, in
//! source order; typed reading (`body.int("bootstrap_expect")`) lives on [`Body`]. It does
//! not evaluate anything: `"${meta.Name}"` stays exactly that text.
//!
//! Supported: `key = value`, blocks `key { }`, labelled blocks `job "x" { }` (any number of
//! labels), `key = { }` objects, quoted keys, `#` `//` `/* */` comments, heredocs `<<EOF`
//! and `<<-EOF`, escapes `\" \\ \n \t \r \uXXXX`, numbers (integers, floats, hex), bools,
//! lists with trailing commas, optional commas between items.

mod lexer;
mod parser;

pub use crate::ast::{Body, Item, Value, ValueKind};
pub use crate::error::{ParseError, Pos};
pub use parser::parse;

#[cfg(test)]
mod tests;
