//! Feasibility: which nodes may run a task group at all, and why the others may not.

use std::collections::BTreeMap;

use caravan_structs::{Constraint, Job, Node, TaskGroup};
use regex::Regex;

use crate::version;

/// The reason Nomad records when a node lacks a driver the group needs.
pub const MISSING_DRIVERS: &str = "missing drivers";

/// The reason Nomad's `NetworkChecker` records when a node lacks the group's network mode.
/// Caravan's nodes offer the `host` network only: `bridge` and `cni/*` need CNI plugins
/// Caravan does not drive.
pub const MISSING_NETWORK: &str = "missing network";

/// Resolves `${node.unique.id}`, `${attr.x}`, `${meta.x}`... against a node. A value that
/// is not an interpolation is a literal. Returns `None` when the node has no such value.
pub fn resolve_target<'a>(target: &'a str, node: &'a Node) -> Option<&'a str> {
    let Some(inner) = target.strip_prefix("${").and_then(|t| t.strip_suffix('}')) else {
        return Some(target);
    };
    match inner {
        "node.unique.id" => Some(&node.id),
        "node.datacenter" => Some(&node.datacenter),
        "node.unique.name" => Some(&node.name),
        "node.class" => Some(&node.node_class),
        "node.pool" => Some(&node.node_pool),
        _ => {
            if let Some(key) = inner.strip_prefix("attr.") {
                node.attributes.get(key).map(String::as_str)
            } else if let Some(key) = inner.strip_prefix("meta.") {
                node.meta.get(key).map(String::as_str)
            } else {
                None
            }
        }
    }
}

/// Compiled regular expressions, kept for one evaluation.
#[derive(Default)]
pub struct RegexCache {
    compiled: BTreeMap<String, Option<Regex>>,
}

impl RegexCache {
    fn is_match(&mut self, pattern: &str, value: &str) -> bool {
        self.compiled
            .entry(pattern.to_string())
            .or_insert_with(|| Regex::new(pattern).ok())
            .as_ref()
            .is_some_and(|re| re.is_match(value))
    }
}

/// Nomad's `checkConstraint`: whether `l operand r` holds. `l` and `r` are resolved
/// targets, `None` when the node has no such attribute.
pub fn check_operator(
    operand: &str,
    l: Option<&str>,
    r: Option<&str>,
    regexes: &mut RegexCache,
) -> bool {
    match operand {
        "=" | "==" | "is" => matches!((l, r), (Some(l), Some(r)) if l == r),
        // Nomad: a missing attribute is not equal to anything.
        "!=" | "not" => l.unwrap_or("") != r.unwrap_or(""),
        "<" | "<=" | ">" | ">=" => match (l, r) {
            (Some(l), Some(r)) => check_order(operand, l, r),
            _ => false,
        },
        "version" | "semver" => match (l, r) {
            (Some(l), Some(r)) => version::matches(l, r, operand == "semver"),
            _ => false,
        },
        "regexp" => match (l, r) {
            (Some(l), Some(r)) => regexes.is_match(r, l),
            _ => false,
        },
        "set_contains" | "set_contains_all" | "set_contains_any" => match (l, r) {
            (Some(l), Some(r)) => {
                let have: Vec<&str> = l.split(',').map(str::trim).collect();
                let mut want = r.split(',').map(str::trim);
                if operand == "set_contains_any" {
                    want.any(|w| have.contains(&w))
                } else {
                    want.all(|w| have.contains(&w))
                }
            }
            _ => false,
        },
        "is_set" => l.is_some(),
        "is_not_set" => l.is_none(),
        // Enforced across nodes by the placer, not per node.
        "distinct_hosts" | "distinct_property" => true,
        _ => false,
    }
}

/// `<`, `<=`, `>`, `>=`: as integers if both parse, else as floats, else as strings.
fn check_order(operand: &str, l: &str, r: &str) -> bool {
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
    match operand {
        "<" => ordering.is_lt(),
        "<=" => ordering.is_le(),
        ">" => ordering.is_gt(),
        _ => ordering.is_ge(),
    }
}

/// Whether one constraint holds on a node.
pub fn constraint_holds(constraint: &Constraint, node: &Node, regexes: &mut RegexCache) -> bool {
    let l = resolve_target(&constraint.l_target, node);
    let r = resolve_target(&constraint.r_target, node);
    check_operator(&constraint.operand, l, r, regexes)
}

/// Whether the node has every driver the group's tasks use, detected and healthy.
pub fn has_drivers(group: &TaskGroup, node: &Node) -> bool {
    group
        .tasks
        .iter()
        .all(|task| match node.drivers.get(&task.driver) {
            Some(info) => info.detected && info.healthy,
            None => node
                .attributes
                .get(&format!("driver.{}", task.driver))
                .is_some_and(|v| matches!(v.as_str(), "1" | "true" | "t" | "T" | "TRUE" | "True")),
        })
}

/// Every constraint that applies to a group: job, group and task levels.
pub fn group_constraints<'a>(
    job: &'a Job,
    group: &'a TaskGroup,
) -> impl Iterator<Item = &'a Constraint> {
    job.constraints
        .iter()
        .chain(group.constraints.iter())
        .chain(group.tasks.iter().flat_map(|t| t.constraints.iter()))
}

/// Checks a node for a group. `Err` carries the reason Nomad would record.
pub fn check_node(
    job: &Job,
    group: &TaskGroup,
    node: &Node,
    regexes: &mut RegexCache,
) -> Result<(), String> {
    for constraint in &job.constraints {
        if !constraint_holds(constraint, node, regexes) {
            return Err(constraint.to_string());
        }
    }
    if !has_drivers(group, node) {
        return Err(MISSING_DRIVERS.to_string());
    }
    for constraint in group
        .constraints
        .iter()
        .chain(group.tasks.iter().flat_map(|t| t.constraints.iter()))
    {
        if !constraint_holds(constraint, node, regexes) {
            return Err(constraint.to_string());
        }
    }
    check_network(group)
}

/// Nomad's `NetworkChecker` against a node that has the `host` network and no named
/// `host_network`s: `host` and `none` fit, other modes are missing, and so is any
/// `host_network` but the default one.
pub fn check_network(group: &TaskGroup) -> Result<(), String> {
    let Some(network) = group.networks.first() else {
        return Ok(());
    };
    match network.mode() {
        // Nomad: `none` asks for no network at all.
        "none" => return Ok(()),
        "host" => {}
        _ => return Err(MISSING_NETWORK.to_string()),
    }
    for port in network.ports() {
        if !port.host_network.is_empty() && port.host_network != "default" {
            return Err(format!(
                "missing host network {:?} for port {:?}",
                port.host_network, port.label
            ));
        }
    }
    Ok(())
}

/// Go's `filepath.Match`-style glob used for `datacenters = ["dc*"]`: `*` and `?`.
pub fn glob_match(pattern: &str, value: &str) -> bool {
    fn go(p: &[u8], v: &[u8]) -> bool {
        match (p.first(), v.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], v) || (!v.is_empty() && go(p, &v[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &v[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &v[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), value.as_bytes())
}

/// Whether a node's datacenter is one the job asks for.
pub fn in_datacenters(job: &Job, node: &Node) -> bool {
    job.datacenters
        .iter()
        .any(|dc| glob_match(dc, &node.datacenter))
}

/// Whether a node belongs to the job's node pool (`all` matches every pool).
pub fn in_node_pool(job: &Job, node: &Node) -> bool {
    let node_pool = if node.node_pool.is_empty() {
        "default"
    } else {
        node.node_pool.as_str()
    };
    job.node_pool.is_empty() || job.node_pool == "all" || job.node_pool == node_pool
}
