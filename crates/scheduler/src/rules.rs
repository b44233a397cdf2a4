//! A job's placement rules, compiled once per evaluation: its constraints, and for each
//! group the drivers, constraints and network it needs and the affinities it prefers.
//! Reconciliation (is a node still fit for an in-place update?) and the placer share
//! them, so each regular expression and version constraint is compiled once.

use caravan_structs::{Job, Node, TaskGroup};

use crate::feasible::{self, ConstraintChecker, GroupChecks};
use crate::rank::AffinityRule;

/// One group's compiled rules.
pub struct GroupRules<'a> {
    /// Its drivers, its and its tasks' constraints, its network.
    pub checks: GroupChecks<'a>,
    /// Its and its tasks' affinities (the job's are [`JobRules::affinities`]).
    pub affinities: Vec<AffinityRule>,
}

/// Every placement rule of a job, compiled.
pub struct JobRules<'a> {
    job: &'a Job,
    constraints: ConstraintChecker<'a>,
    affinities: Vec<AffinityRule>,
    /// Index-aligned with `job.task_groups`.
    groups: Vec<GroupRules<'a>>,
}

impl<'a> JobRules<'a> {
    /// Compiles every rule of `job`.
    pub fn new(job: &'a Job) -> JobRules<'a> {
        JobRules {
            job,
            constraints: ConstraintChecker::new(&job.constraints),
            affinities: job.affinities.iter().map(AffinityRule::new).collect(),
            groups: job
                .task_groups
                .iter()
                .map(|group| GroupRules {
                    checks: GroupChecks::new(group),
                    affinities: group
                        .affinities
                        .iter()
                        .chain(group.tasks.iter().flat_map(|t| t.affinities.iter()))
                        .map(AffinityRule::new)
                        .collect(),
                })
                .collect(),
        }
    }

    /// The job.
    pub fn job(&self) -> &'a Job {
        self.job
    }

    /// The job's constraints.
    pub fn constraints(&self) -> &ConstraintChecker<'a> {
        &self.constraints
    }

    /// The job-level affinities.
    pub fn affinities(&self) -> &[AffinityRule] {
        &self.affinities
    }

    /// The rules of the job's `g`th group.
    pub fn group(&self, g: usize) -> &GroupRules<'a> {
        &self.groups[g]
    }

    /// The index of `group` among the job's groups (the same group, else the one of the
    /// same name).
    pub fn group_index(&self, group: &TaskGroup) -> Option<usize> {
        let groups = &self.job.task_groups;
        groups
            .iter()
            .position(|tg| std::ptr::eq(tg, group))
            .or_else(|| groups.iter().position(|tg| tg.name == group.name))
    }

    /// [`feasible::check`]: whether `node` meets the `g`th group's rules, or the reason
    /// Nomad records.
    pub fn check(&self, g: usize, node: &Node) -> Result<(), String> {
        feasible::check(&self.constraints, &self.groups[g].checks, node)
    }

    /// Nomad re-checks the node before an in-place update: if the new version's
    /// datacenters, pool, drivers or constraints rule it out, the allocation is replaced
    /// instead.
    pub fn still_feasible(&self, group: &TaskGroup, node: &Node) -> bool {
        let Some(g) = self.group_index(group) else {
            return false;
        };
        feasible::in_datacenters(self.job, node)
            && feasible::in_node_pool(self.job, node)
            && self.check(g, node).is_ok()
    }
}
