//! The feasibility checkers of the stack, in Nomad's order: the node's constraints,
//! drivers and network (one verdict per node and group, cached for the evaluation, as
//! Nomad's `FeasibilityWrapper` caches per computed class), then `distinct_hosts` and
//! `distinct_property`, which depend on what the plan already placed. Each says why it
//! rejects a node, in the words the metrics record.

use std::borrow::Cow;
use std::collections::HashMap;

use caravan_structs::constraint::Target;
use caravan_structs::{AllocMetric, Node};

#[cfg(doc)]
use super::candidates::NO_CLASS;
use crate::feasible::Rule;

/// Why a visited node is not an option.
pub(super) enum Rejection {
    /// It fails a rule (`AllocMetric.ConstraintFiltered`).
    Filtered(Reason),
    /// It lacks room in a dimension (`AllocMetric.DimensionExhausted`).
    Exhausted(Cow<'static, str>),
}

/// A filter reason, cached per group or made for this node.
pub(super) enum Reason {
    /// An index into the group's [`FeasibilityCache`] reasons.
    Cached(u32),
    Static(&'static str),
    Owned(String),
}

impl Rejection {
    /// Records the rejection of a node of class `node_class` in `metric`, as Nomad's
    /// `FilterNode` and `ExhaustedNode` do.
    pub(super) fn record(
        &self,
        metric: &mut AllocMetric,
        node_class: &str,
        cache: &FeasibilityCache,
    ) {
        match self {
            Rejection::Filtered(reason) => {
                let text: Cow<str> = match reason {
                    Reason::Cached(at) => cache.reasons[*at as usize].as_str().into(),
                    Reason::Static(text) => (*text).into(),
                    Reason::Owned(text) => text.as_str().into(),
                };
                metric.filter_node(node_class, &text);
            }
            Rejection::Exhausted(dimension) => metric.exhaust_node(node_class, dimension),
        }
    }
}

/// Feasibility cache entries: not checked yet, feasible, or `FILTERED + reason index`.
const UNCHECKED: u32 = 0;
const FEASIBLE: u32 = 1;
const FILTERED: u32 = 2;

/// One group's verdicts on the candidates' constraints, drivers and network: a node's
/// attributes do not change within an evaluation, so each is checked once, and once per
/// computed class when the group's rules read nothing a class leaves out (Nomad's
/// `FeasibilityWrapper` and `EvalEligibility`).
pub(super) struct FeasibilityCache {
    /// Per candidate: [`UNCHECKED`], [`FEASIBLE`] or [`FILTERED`] + index into `reasons`.
    verdicts: Vec<u32>,
    /// The distinct reasons nodes were filtered for.
    reasons: Vec<String>,
    /// Per computed class (numbered by [`super::Candidates`]), its nodes' verdict;
    /// `None` when the rules escape the class.
    by_class: Option<Vec<u32>>,
}

impl FeasibilityCache {
    /// The verdict of a check's `result`, its reason kept once among `reasons`.
    fn verdict(reasons: &mut Vec<String>, result: Result<(), String>) -> u32 {
        let Err(reason) = result else {
            return FEASIBLE;
        };
        let at = match reasons.iter().position(|r| *r == reason) {
            Some(at) => at,
            None => {
                reasons.push(reason);
                reasons.len() - 1
            }
        };
        FILTERED + at as u32
    }

    /// `per_class`: whether a verdict holds for every node of the class; `classes`: how
    /// many computed classes the candidates have.
    pub(super) fn new(candidates: usize, classes: usize, per_class: bool) -> FeasibilityCache {
        FeasibilityCache {
            verdicts: vec![UNCHECKED; candidates],
            reasons: Vec::new(),
            by_class: per_class.then(|| vec![UNCHECKED; classes]),
        }
    }

    /// Candidate `i`'s verdict, from its class's or from `check` on its first visit.
    /// `class` is the number of the node's computed class ([`NO_CLASS`]: a node
    /// registered before classes, checked alone).
    pub(super) fn check(
        &mut self,
        i: usize,
        class: u32,
        check: impl FnOnce() -> Result<(), String>,
    ) -> Result<(), Rejection> {
        let mut verdict = self.verdicts[i];
        if verdict == UNCHECKED {
            let known = self
                .by_class
                .as_mut()
                .and_then(|by_class| by_class.get_mut(class as usize));
            verdict = match known {
                Some(known) if *known != UNCHECKED => *known,
                Some(known) => {
                    *known = Self::verdict(&mut self.reasons, check());
                    *known
                }
                None => Self::verdict(&mut self.reasons, check()),
            };
            self.verdicts[i] = verdict;
        }
        if verdict == FEASIBLE {
            Ok(())
        } else {
            Err(Rejection::Filtered(Reason::Cached(verdict - FILTERED)))
        }
    }
}

/// Nomad's `DistinctHostsIterator`: a node that already holds an allocation the rule
/// counts (`held`: of the job for a job-level rule, of the group for a group-level one).
pub(super) fn check_distinct_hosts(held: bool) -> Result<(), Rejection> {
    if held {
        return Err(Rejection::Filtered(Reason::Static("distinct_hosts")));
    }
    Ok(())
}

/// Nomad's `DistinctPropertyIterator`: every `distinct_property` set, job-level first.
pub(super) fn check_distinct_properties<'s>(
    sets: impl IntoIterator<Item = &'s PropertySet>,
    node: &Node,
) -> Result<(), Rejection> {
    for set in sets {
        set.check(node)
            .map_err(|r| Rejection::Filtered(Reason::Owned(r)))?;
    }
    Ok(())
}

/// `distinct_property`: allocations per value of a node property (job- or group-wide).
pub(super) struct PropertySet {
    /// The attribute as written, for messages.
    attribute: String,
    target: Target,
    allowed: u32,
    counts: HashMap<String, u32>,
}

impl PropertySet {
    /// The sets of the `distinct_property` rules among `rules`.
    pub(super) fn from_rules(rules: &[Rule]) -> Vec<PropertySet> {
        rules
            .iter()
            .filter_map(|rule| {
                let compiled = rule.compiled()?;
                Some(PropertySet {
                    attribute: rule.constraint().l_target.clone(),
                    target: compiled.l_target().clone(),
                    allowed: compiled.allowed_per_value()?,
                    counts: HashMap::new(),
                })
            })
            .collect()
    }

    /// Counts an allocation on `node`.
    pub(super) fn add(&mut self, node: &Node) {
        if let Some(value) = self.target.resolve(node) {
            *self.counts.entry(value.to_string()).or_default() += 1;
        }
    }

    fn check(&self, node: &Node) -> Result<(), String> {
        let attribute = &self.attribute;
        let Some(value) = self.target.resolve(node) else {
            return Err(format!("missing property \"{attribute}\""));
        };
        let used = self.counts.get(value).copied().unwrap_or(0);
        if used >= self.allowed {
            return Err(format!(
                "distinct_property: {attribute}={value} used by {used} allocs"
            ));
        }
        Ok(())
    }
}

/// Whether one of `rules` is a `distinct_hosts` that is on.
pub(super) fn distinct_hosts(rules: &[Rule]) -> bool {
    rules
        .iter()
        .any(|rule| rule.compiled().is_some_and(|c| c.is_distinct_hosts()))
}
