//! Placement rules compiled once: a `constraint` or `affinity` becomes a
//! [`CompiledConstraint`] (the operator an enum, both sides parsed as [`Target`]s, a
//! `regexp` compiled, a `version`/`semver` constraint parsed, a `set_contains*` list
//! split), which submit-time validation checks and the scheduler evaluates on each node.
//!
//! The right-hand side of `regexp`, `version` and `semver` is read as written: an
//! interpolation is not a valid pattern or version, so such a rule is refused at submit.

mod operator;
mod target;

use std::cmp::Ordering;

use regex::Regex;

pub use operator::{CONSTRAINT_OPERATORS, Operator};
pub use target::Target;

use crate::version::VersionConstraint;
use crate::{Affinity, Constraint, Node};

/// Why a rule cannot be compiled. Displays as Nomad's `Constraint.Validate` words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConstraintError {
    /// The operator is not one Nomad knows.
    UnknownOperator(String),
    /// A `regexp` value that does not compile (the regex crate's message).
    Regex(String),
    /// A `version` or `semver` value that does not parse.
    Version {
        /// Whether the operator is `semver`.
        semver: bool,
        /// The version parser's message (`Malformed constraint: >> 3.19`).
        message: String,
    },
}

impl std::fmt::Display for ConstraintError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConstraintError::UnknownOperator(operand) => write!(
                f,
                "constraint operator \"{operand}\" is unknown; use one of {}",
                CONSTRAINT_OPERATORS.join(", ")
            ),
            ConstraintError::Regex(error) => {
                write!(f, "Regular expression failed to compile: {error}")
            }
            ConstraintError::Version { semver, message } => {
                let kind = if *semver { "Semver" } else { "Version" };
                write!(f, "{kind} constraint is invalid: {message}")
            }
        }
    }
}

impl std::error::Error for ConstraintError {}

/// The right-hand side, compiled for the operator.
#[derive(Debug, Clone)]
enum RightSide {
    /// Resolved on each node and compared as text (or numbers).
    Text,
    Regex(Regex),
    Version(VersionConstraint),
    /// A literal `set_contains*` list, split and trimmed.
    Set(Vec<String>),
    /// `distinct_hosts`: whether it is on (Go's `ParseBool`; unparsable enforces).
    DistinctHosts(bool),
    /// `distinct_property`: allocations allowed per value (1 unless a count is given).
    PerValue(u32),
}

/// A constraint or affinity rule, compiled once for every node it is checked on.
#[derive(Debug, Clone)]
pub struct CompiledConstraint {
    operator: Operator,
    l_target: Target,
    r_target: Target,
    value: RightSide,
}

impl CompiledConstraint {
    /// Whether either side reads what a node's class leaves out
    /// ([`Target::escapes_class`]).
    pub fn escapes_class(&self) -> bool {
        self.l_target.escapes_class() || self.r_target.escapes_class()
    }

    /// Compiles `l_target operand r_target`.
    ///
    /// ```
    /// use caravan_structs::Node;
    /// use caravan_structs::constraint::CompiledConstraint;
    /// let rule = CompiledConstraint::compile("${attr.kernel.version}", "version", ">= 5.0").unwrap();
    /// let mut node = Node::default();
    /// node.attributes.insert("kernel.version".into(), "6.1.0".into());
    /// assert!(rule.holds(&node));
    /// let bad = CompiledConstraint::compile("${attr.x}", "regexp", "(").unwrap_err();
    /// assert!(bad.to_string().starts_with("Regular expression failed to compile"));
    /// ```
    pub fn compile(
        l_target: &str,
        operand: &str,
        r_target: &str,
    ) -> Result<CompiledConstraint, ConstraintError> {
        let operator = Operator::parse(operand)
            .ok_or_else(|| ConstraintError::UnknownOperator(operand.to_string()))?;
        let r_parsed = Target::parse(r_target);
        let value = match operator {
            Operator::Regexp => RightSide::Regex(
                Regex::new(r_target).map_err(|e| ConstraintError::Regex(e.to_string()))?,
            ),
            Operator::Version | Operator::Semver => {
                let semver = operator == Operator::Semver;
                let parsed = VersionConstraint::parse(r_target, semver)
                    .map_err(|message| ConstraintError::Version { semver, message })?;
                RightSide::Version(parsed)
            }
            Operator::SetContains | Operator::SetContainsAll | Operator::SetContainsAny
                if r_parsed.is_literal() =>
            {
                RightSide::Set(split_set(r_target).map(str::to_string).collect())
            }
            Operator::DistinctHosts => RightSide::DistinctHosts(!matches!(
                r_target,
                "false" | "0" | "f" | "F" | "FALSE" | "False"
            )),
            Operator::DistinctProperty => {
                RightSide::PerValue(r_target.parse::<u32>().unwrap_or(1).max(1))
            }
            _ => RightSide::Text,
        };
        Ok(CompiledConstraint {
            operator,
            l_target: Target::parse(l_target),
            r_target: r_parsed,
            value,
        })
    }

    /// The attribute side.
    pub fn l_target(&self) -> &Target {
        &self.l_target
    }

    /// Whether this is a `distinct_hosts` rule that is on.
    pub fn is_distinct_hosts(&self) -> bool {
        matches!(self.value, RightSide::DistinctHosts(true))
    }

    /// For `distinct_property`: how many allocations each value of the attribute allows.
    pub fn allowed_per_value(&self) -> Option<u32> {
        match self.value {
            RightSide::PerValue(n) => Some(n),
            _ => None,
        }
    }

    /// Nomad's `checkConstraint` on one node. A missing attribute is not equal to
    /// anything (and `!=` everything); `distinct_*` rules hold on every node, as the
    /// placer enforces them across placements.
    pub fn holds(&self, node: &Node) -> bool {
        let l = self.l_target.resolve(node);
        let r = || self.r_target.resolve(node);
        match self.operator {
            Operator::Equal => matches!((l, r()), (Some(l), Some(r)) if l == r),
            Operator::NotEqual => l.unwrap_or("") != r().unwrap_or(""),
            Operator::Less
            | Operator::LessOrEqual
            | Operator::Greater
            | Operator::GreaterOrEqual => match (l, r()) {
                (Some(l), Some(r)) => order_holds(self.operator, l, r),
                _ => false,
            },
            Operator::Version | Operator::Semver => match (l, &self.value) {
                (Some(l), RightSide::Version(constraint)) => constraint.matches(l),
                _ => false,
            },
            Operator::Regexp => match (l, &self.value) {
                (Some(l), RightSide::Regex(regex)) => regex.is_match(l),
                _ => false,
            },
            Operator::SetContains | Operator::SetContainsAll | Operator::SetContainsAny => {
                let Some(l) = l else { return false };
                let have: Vec<&str> = split_set(l).collect();
                let any = self.operator == Operator::SetContainsAny;
                match &self.value {
                    RightSide::Set(want) => set_holds(&have, want.iter().map(String::as_str), any),
                    _ => r().is_some_and(|r| set_holds(&have, split_set(r), any)),
                }
            }
            Operator::IsSet => l.is_some(),
            Operator::IsNotSet => l.is_none(),
            Operator::DistinctHosts | Operator::DistinctProperty => true,
        }
    }
}

impl Constraint {
    /// This constraint, compiled.
    pub fn compile(&self) -> Result<CompiledConstraint, ConstraintError> {
        CompiledConstraint::compile(&self.l_target, &self.operand, &self.r_target)
    }
}

impl Affinity {
    /// This affinity's rule, compiled (its weight stays with the affinity).
    pub fn compile(&self) -> Result<CompiledConstraint, ConstraintError> {
        CompiledConstraint::compile(&self.l_target, &self.operand, &self.r_target)
    }
}

/// A comma-separated set's values, trimmed.
fn split_set(text: &str) -> impl Iterator<Item = &str> {
    text.split(',').map(str::trim)
}

/// `set_contains_any`: one of `want` is in `have`; the others: all of them are.
fn set_holds<'a>(have: &[&str], mut want: impl Iterator<Item = &'a str>, any: bool) -> bool {
    if any {
        want.any(|w| have.contains(&w))
    } else {
        want.all(|w| have.contains(&w))
    }
}

/// `<`, `<=`, `>`, `>=`: as integers if both parse, else as floats, else as strings.
fn order_holds(operator: Operator, l: &str, r: &str) -> bool {
    let ordering = if let (Ok(a), Ok(b)) = (l.parse::<i64>(), r.parse::<i64>()) {
        a.cmp(&b)
    } else if let (Ok(a), Ok(b)) = (l.parse::<f64>(), r.parse::<f64>()) {
        match a.partial_cmp(&b) {
            Some(o) => o,
            None => return false,
        }
    } else {
        l.cmp(r)
    };
    match operator {
        Operator::Less => ordering == Ordering::Less,
        Operator::LessOrEqual => ordering != Ordering::Greater,
        Operator::Greater => ordering == Ordering::Greater,
        _ => ordering != Ordering::Less,
    }
}
