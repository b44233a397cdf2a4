//! Feasibility: which nodes may run a task group at all, and why the others may not.

use caravan_structs::constraint::CompiledConstraint;
use caravan_structs::{Constraint, Job, Node, TaskGroup, VOLUME_TYPE_HOST, VolumeRequest};

/// The reason Nomad records when a node lacks a driver the group needs.
pub const MISSING_DRIVERS: &str = "missing drivers";

/// The reason Nomad's `NetworkChecker` records when a node lacks the group's network mode.
/// Caravan's nodes offer the `host` network only: `bridge` and `cni/*` need CNI plugins
/// Caravan does not drive.
pub const MISSING_NETWORK: &str = "missing network";

/// The reason Nomad's `HostVolumeChecker` records when a node lacks a host volume the
/// group asks for, or has it read-only for a group that would write to it.
pub const MISSING_HOST_VOLUMES: &str = "missing compatible host volumes";

/// One constraint, compiled once, and the text Nomad records when a node fails it.
pub struct Rule<'a> {
    constraint: &'a Constraint,
    /// `None` for a rule that can never hold (an unknown operator, a pattern or version
    /// that does not compile): submit-time validation refuses those.
    compiled: Option<CompiledConstraint>,
}

impl<'a> Rule<'a> {
    /// Compiles `constraint`.
    pub fn new(constraint: &'a Constraint) -> Rule<'a> {
        Rule {
            constraint,
            compiled: constraint.compile().ok(),
        }
    }

    /// Whether the rule holds on `node`.
    pub fn holds(&self, node: &Node) -> bool {
        self.compiled.as_ref().is_some_and(|c| c.holds(node))
    }

    /// The constraint as written.
    pub fn constraint(&self) -> &'a Constraint {
        self.constraint
    }

    /// The constraint as compiled (`None` when it never holds).
    pub fn compiled(&self) -> Option<&CompiledConstraint> {
        self.compiled.as_ref()
    }
}

/// Nomad's `ConstraintChecker`: constraints a node must meet, checked in order.
pub struct ConstraintChecker<'a> {
    rules: Vec<Rule<'a>>,
}

impl<'a> ConstraintChecker<'a> {
    /// Compiles `constraints`.
    pub fn new(constraints: impl IntoIterator<Item = &'a Constraint>) -> ConstraintChecker<'a> {
        ConstraintChecker {
            rules: constraints.into_iter().map(Rule::new).collect(),
        }
    }

    /// The compiled rules, in order.
    pub fn rules(&self) -> &[Rule<'a>] {
        &self.rules
    }

    /// Whether a rule reads what a node's class leaves out: its verdicts then hold for
    /// one node, not for its class. (A rule that did not compile holds nowhere.)
    pub fn escapes_class(&self) -> bool {
        self.rules
            .iter()
            .any(|rule| rule.compiled().is_some_and(|c| c.escapes_class()))
    }

    /// `Err` with the first constraint `node` fails, as Nomad records it
    /// (`${attr.os.name} = windows`).
    pub fn check(&self, node: &Node) -> Result<(), String> {
        match self.rules.iter().find(|rule| !rule.holds(node)) {
            Some(rule) => Err(rule.constraint.to_string()),
            None => Ok(()),
        }
    }
}

/// Nomad's `DriverChecker`: the drivers a group's tasks use.
pub struct DriverChecker<'a> {
    drivers: Vec<&'a str>,
}

impl<'a> DriverChecker<'a> {
    /// The drivers of `group`'s tasks.
    pub fn new(group: &'a TaskGroup) -> DriverChecker<'a> {
        DriverChecker {
            drivers: group.tasks.iter().map(|t| t.driver.as_str()).collect(),
        }
    }

    /// `Err(`[`MISSING_DRIVERS`]`)` unless the node has every driver, detected and
    /// healthy.
    pub fn check(&self, node: &Node) -> Result<(), String> {
        let has = |driver: &str| match node.drivers.get(driver) {
            Some(info) => info.detected && info.healthy,
            None => node
                .attributes
                .get(&format!("driver.{driver}"))
                .is_some_and(|v| matches!(v.as_str(), "1" | "true" | "t" | "T" | "TRUE" | "True")),
        };
        if self.drivers.iter().all(|d| has(d)) {
            Ok(())
        } else {
            Err(MISSING_DRIVERS.to_string())
        }
    }
}

/// Nomad's `HostVolumeChecker`: the group's `volume` blocks of type `host`.
pub struct HostVolumeChecker<'a> {
    requests: Vec<&'a VolumeRequest>,
}

impl<'a> HostVolumeChecker<'a> {
    /// The host volumes `group` asks for.
    pub fn new(group: &'a TaskGroup) -> HostVolumeChecker<'a> {
        HostVolumeChecker {
            requests: group
                .volumes
                .values()
                .filter(|v| v.r#type == VOLUME_TYPE_HOST)
                .collect(),
        }
    }

    /// `Err(`[`MISSING_HOST_VOLUMES`]`)` unless the node has a host volume named by each
    /// request's `source`, writable where the request is not read-only.
    pub fn check(&self, node: &Node) -> Result<(), String> {
        let compatible = |request: &VolumeRequest| {
            node.host_volumes
                .get(&request.source)
                .is_some_and(|offered| request.read_only || !offered.read_only)
        };
        if self.requests.iter().all(|r| compatible(r)) {
            Ok(())
        } else {
            Err(MISSING_HOST_VOLUMES.to_string())
        }
    }
}

/// What a node must offer one group: its drivers, its (and its tasks') constraints, its
/// host volumes and its network, compiled once per evaluation.
pub struct GroupChecks<'a> {
    drivers: DriverChecker<'a>,
    /// The group's constraints, then its tasks'.
    constraints: ConstraintChecker<'a>,
    host_volumes: HostVolumeChecker<'a>,
    /// How many of `constraints` are the group's own.
    group_rules: usize,
    /// The network verdict depends on the group alone (Caravan's nodes all offer the
    /// `host` network).
    network: Result<(), String>,
}

impl<'a> GroupChecks<'a> {
    /// Compiles `group`'s checks.
    pub fn new(group: &'a TaskGroup) -> GroupChecks<'a> {
        GroupChecks {
            drivers: DriverChecker::new(group),
            group_rules: group.constraints.len(),
            constraints: ConstraintChecker::new(
                group
                    .constraints
                    .iter()
                    .chain(group.tasks.iter().flat_map(|t| t.constraints.iter())),
            ),
            host_volumes: HostVolumeChecker::new(group),
            network: check_network(group),
        }
    }

    /// Whether [`check`]'s verdict for one node may differ from another's of the same
    /// computed class: drivers, host volumes and the network are part of the class,
    /// only a constraint on a unique attribute is not.
    pub fn escapes_class(&self) -> bool {
        self.constraints.escapes_class()
    }

    /// The group's own constraints (not its tasks'): where `distinct_*` rules count.
    pub fn group_rules(&self) -> &[Rule<'a>] {
        &self.constraints.rules()[..self.group_rules]
    }
}

/// Checks a node for a group in Nomad's order: the job's constraints, the drivers, the
/// group's and tasks' constraints, the host volumes, the network. `Err` carries the
/// reason Nomad records.
pub fn check(job: &ConstraintChecker, group: &GroupChecks, node: &Node) -> Result<(), String> {
    job.check(node)?;
    group.drivers.check(node)?;
    group.constraints.check(node)?;
    group.host_volumes.check(node)?;
    group.network.clone()
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
