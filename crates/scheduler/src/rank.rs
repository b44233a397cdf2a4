//! Ranking and picking: fit, bin-packing, job anti-affinity, affinity and spread.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use caravan_structs::{
    ALLOC_CLIENT_PENDING, ALLOC_DESIRED_RUN, AllocMetric, AllocatedResources,
    AllocatedSharedResources, AllocatedTaskResources, Allocation, CpuResources, Evaluation, Job,
    MemoryResources, Node, NodeScoreMeta, Plan, Spread, TaskGroup,
};

use crate::feasible::{self, RegexCache};
use crate::reconcile::Placement;
use crate::{SchedulerContext, SchedulerState};

/// Nomad keeps the five best nodes' scores in `ScoreMetaData`.
const MAX_RETAINED_SCORES: usize = 5;
/// Nomad's best-fit score ceiling (`binPackingMaxFitScore`).
const BIN_PACK_MAX_FIT: f64 = 18.0;

#[derive(Debug, Clone, Copy, Default)]
struct Usage {
    cpu: i64,
    memory_mb: i64,
    disk_mb: i64,
}

/// An allocation of this job that will exist once the plan is applied.
#[derive(Debug, Clone)]
struct JobAlloc {
    node_id: String,
    group: String,
}

/// Places a job's allocations one at a time, keeping track of what the plan already uses.
pub struct Placer<'a> {
    job: &'a Job,
    nodes: &'a BTreeMap<String, Arc<Node>>,
    usage: BTreeMap<String, Usage>,
    job_allocs: Vec<JobAlloc>,
    regexes: RegexCache,
}

impl<'a> Placer<'a> {
    /// Starts from the state's allocations, minus those the plan stops.
    pub fn new(
        state: &dyn SchedulerState,
        job: &'a Job,
        nodes: &'a BTreeMap<String, Arc<Node>>,
        plan: &Plan,
    ) -> Placer<'a> {
        let stopping: BTreeSet<&str> = plan
            .node_update
            .values()
            .flatten()
            .map(|a| a.id.as_str())
            .collect();
        let mut usage = BTreeMap::new();
        for node in nodes.values() {
            let mut used = Usage::default();
            for alloc in state.allocs_by_node(&node.id) {
                if alloc.terminal() || stopping.contains(alloc.id.as_str()) {
                    continue;
                }
                used.cpu += alloc.allocated_resources.cpu();
                used.memory_mb += alloc.allocated_resources.memory_mb();
                used.disk_mb += alloc.allocated_resources.shared.disk_mb;
            }
            usage.insert(node.id.clone(), used);
        }
        let job_allocs = state
            .allocs_by_job(&job.namespace, &job.id)
            .iter()
            .filter(|a| !a.terminal() && !stopping.contains(a.id.as_str()))
            .map(|a| JobAlloc {
                node_id: a.node_id.clone(),
                group: a.task_group.clone(),
            })
            .collect();
        Placer {
            job,
            nodes,
            usage,
            job_allocs,
            regexes: RegexCache::default(),
        }
    }

    /// Counts a placement made by this plan.
    pub fn record(&mut self, alloc: &Allocation) {
        let used = self.usage.entry(alloc.node_id.clone()).or_default();
        used.cpu += alloc.allocated_resources.cpu();
        used.memory_mb += alloc.allocated_resources.memory_mb();
        used.disk_mb += alloc.allocated_resources.shared.disk_mb;
        self.job_allocs.push(JobAlloc {
            node_id: alloc.node_id.clone(),
            group: alloc.task_group.clone(),
        });
    }

    /// Picks the best node for one allocation of `group` (`None` if none fits), with the
    /// metrics that explain the choice or the failure.
    pub fn select(&mut self, group: &TaskGroup) -> (Option<Arc<Node>>, AllocMetric) {
        let mut metric = AllocMetric::default();
        let want = group.combined_resources();
        let spreads: Vec<&Spread> = group
            .spreads
            .iter()
            .chain(self.job.spreads.iter())
            .collect();
        let mut spread_scorer = SpreadScorer::new(self, group, &spreads);
        let mut ranked: Vec<(f64, BTreeMap<String, f64>, Arc<Node>)> = Vec::new();
        for node in self.nodes.values() {
            if !node.is_schedulable() || !feasible::in_node_pool(self.job, node) {
                continue;
            }
            metric.nodes_in_pool += 1;
            if !feasible::in_datacenters(self.job, node) {
                continue;
            }
            *metric
                .nodes_available
                .entry(node.datacenter.clone())
                .or_default() += 1;
            metric.nodes_evaluated += 1;
            if let Err(reason) = feasible::check_node(self.job, group, node, &mut self.regexes) {
                metric.filter_node(&node.node_class, &reason);
                continue;
            }
            if let Err(reason) = self.check_distinct(group, node) {
                metric.filter_node(&node.node_class, &reason);
                continue;
            }
            let used = self.usage.get(&node.id).copied().unwrap_or_default();
            let (cpu_total, mem_total) = node.allocatable();
            let disk_total =
                node.node_resources.disk.disk_mb - node.reserved_resources.disk.disk_mb;
            let cpu = used.cpu + want.cpu;
            let mem = used.memory_mb + want.memory_mb;
            let exhausted = if cpu > cpu_total {
                Some("cpu")
            } else if mem > mem_total {
                Some("memory")
            } else if disk_total > 0 && used.disk_mb + want.disk_mb > disk_total {
                Some("disk")
            } else {
                None
            };
            if let Some(dimension) = exhausted {
                metric.exhaust_node(&node.node_class, dimension);
                continue;
            }

            let mut scores = BTreeMap::new();
            let mut appended = Vec::new();
            let binpack = bin_pack_score(cpu, cpu_total, mem, mem_total);
            scores.insert("binpack".to_string(), binpack);
            appended.push(binpack);
            let collisions = self
                .job_allocs
                .iter()
                .filter(|a| a.node_id == node.id && a.group == group.name)
                .count() as f64;
            let anti = if collisions > 0.0 {
                -(collisions + 1.0) / group.count.max(1) as f64
            } else {
                0.0
            };
            scores.insert("job-anti-affinity".to_string(), anti);
            if collisions > 0.0 {
                appended.push(anti);
            }
            if let Some(affinity) = self.affinity_score(group, node) {
                scores.insert("node-affinity".to_string(), affinity);
                appended.push(affinity);
            }
            if !spreads.is_empty() {
                let spread = spread_scorer.score(node);
                scores.insert("allocation-spread".to_string(), spread);
                if spread != 0.0 {
                    appended.push(spread);
                }
            }
            let normalized = appended.iter().sum::<f64>() / appended.len() as f64;
            scores.insert("normalized-score".to_string(), normalized);
            ranked.push((normalized, scores, node.clone()));
        }
        // Best first; ties go to the node with the lower ID, so a plan is reproducible.
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.2.id.cmp(&b.2.id)));
        metric.score_meta_data = ranked
            .iter()
            .take(MAX_RETAINED_SCORES)
            .map(|(norm, scores, node)| NodeScoreMeta {
                node_id: node.id.clone(),
                scores: scores.clone(),
                norm_score: *norm,
            })
            .collect();
        (ranked.into_iter().next().map(|(_, _, node)| node), metric)
    }

    /// `distinct_hosts` and `distinct_property`, which depend on other placements.
    fn check_distinct(&mut self, group: &TaskGroup, node: &Node) -> Result<(), String> {
        let levels = [(&self.job.constraints, false), (&group.constraints, true)];
        for (constraints, group_level) in levels {
            for constraint in constraints.iter() {
                let same = |a: &&JobAlloc| !group_level || a.group == group.name;
                match constraint.operand.as_str() {
                    "distinct_hosts" => {
                        let enforced = !matches!(
                            constraint.r_target.as_str(),
                            "false" | "0" | "f" | "F" | "FALSE"
                        );
                        if enforced
                            && self
                                .job_allocs
                                .iter()
                                .filter(same)
                                .any(|a| a.node_id == node.id)
                        {
                            return Err("distinct_hosts".to_string());
                        }
                    }
                    "distinct_property" => {
                        let attribute = &constraint.l_target;
                        let Some(value) = feasible::resolve_target(attribute, node) else {
                            return Err(format!("missing property \"{attribute}\""));
                        };
                        let allowed = constraint.r_target.parse::<usize>().unwrap_or(1).max(1);
                        let used = self
                            .job_allocs
                            .iter()
                            .filter(same)
                            .filter(|a| {
                                self.nodes
                                    .get(&a.node_id)
                                    .and_then(|n| feasible::resolve_target(attribute, n))
                                    == Some(value)
                            })
                            .count();
                        if used >= allowed {
                            return Err(format!(
                                "distinct_property: {attribute}={value} used by {used} allocs"
                            ));
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// Σ matching weights / Σ |weights| over job, group and task affinities.
    fn affinity_score(&mut self, group: &TaskGroup, node: &Node) -> Option<f64> {
        let affinities: Vec<_> = self
            .job
            .affinities
            .iter()
            .chain(group.affinities.iter())
            .chain(group.tasks.iter().flat_map(|t| t.affinities.iter()))
            .collect();
        if affinities.is_empty() {
            return None;
        }
        let total: i64 = affinities.iter().map(|a| a.weight.abs()).sum();
        if total == 0 {
            return Some(0.0);
        }
        let mut matched = 0;
        for affinity in affinities {
            let l = feasible::resolve_target(&affinity.l_target, node);
            let r = feasible::resolve_target(&affinity.r_target, node);
            if feasible::check_operator(&affinity.operand, l, r, &mut self.regexes) {
                matched += affinity.weight;
            }
        }
        Some(matched as f64 / total as f64)
    }
}

/// Nomad's best-fit v3: `20 - (10^freeCpu + 10^freeMem)`, clamped to 0..18, over 18.
pub fn bin_pack_score(cpu_used: i64, cpu_total: i64, mem_used: i64, mem_total: i64) -> f64 {
    let free = |used: i64, total: i64| {
        if total <= 0 {
            0.0
        } else {
            1.0 - used as f64 / total as f64
        }
    };
    let total = 10f64.powf(free(cpu_used, cpu_total)) + 10f64.powf(free(mem_used, mem_total));
    (20.0 - total).clamp(0.0, BIN_PACK_MAX_FIT) / BIN_PACK_MAX_FIT
}

/// The spread score of candidate nodes for one placement (Nomad's `SpreadIterator`).
struct SpreadScorer<'s> {
    spreads: Vec<SpreadState<'s>>,
    weight_sum: f64,
    lowest_boost: f64,
}

struct SpreadState<'s> {
    spread: &'s Spread,
    /// Desired count per target value; `*` holds the remainder.
    desired: BTreeMap<String, f64>,
    /// Allocations of this job and group per attribute value.
    used: BTreeMap<String, f64>,
}

impl<'s> SpreadScorer<'s> {
    fn new(placer: &Placer<'_>, group: &TaskGroup, spreads: &[&'s Spread]) -> SpreadScorer<'s> {
        let count = group.count.max(0) as f64;
        let states = spreads
            .iter()
            .map(|spread| {
                let mut desired = BTreeMap::new();
                for target in &spread.spread_target {
                    desired.insert(target.value.clone(), target.percent as f64 / 100.0 * count);
                }
                let sum: f64 = desired.values().sum();
                if !desired.is_empty() && sum < count {
                    desired.insert("*".to_string(), count - sum);
                }
                let mut used: BTreeMap<String, f64> = BTreeMap::new();
                for alloc in placer.job_allocs.iter().filter(|a| a.group == group.name) {
                    let Some(node) = placer.nodes.get(&alloc.node_id) else {
                        continue;
                    };
                    if let Some(value) = feasible::resolve_target(&spread.attribute, node) {
                        *used.entry(value.to_string()).or_default() += 1.0;
                    }
                }
                SpreadState {
                    spread,
                    desired,
                    used,
                }
            })
            .collect();
        let weight_sum = spreads.iter().map(|s| s.weight as f64).sum();
        SpreadScorer {
            spreads: states,
            weight_sum,
            lowest_boost: -1.0,
        }
    }

    fn score(&mut self, node: &Node) -> f64 {
        let mut total = 0.0;
        for state in &self.spreads {
            let Some(value) = feasible::resolve_target(&state.spread.attribute, node) else {
                total -= 1.0;
                continue;
            };
            if state.desired.is_empty() {
                total += even_spread_boost(&state.used, value);
                continue;
            }
            let key = if state.desired.contains_key(value) {
                value.to_string()
            } else if state.desired.contains_key("*") {
                "*".to_string()
            } else {
                total -= 1.0;
                continue;
            };
            let used_now = if key == "*" {
                state
                    .used
                    .iter()
                    .filter(|(v, _)| !state.desired.contains_key(*v))
                    .map(|(_, n)| n)
                    .sum::<f64>()
            } else {
                state.used.get(&key).copied().unwrap_or(0.0)
            };
            let desired = state.desired.get(&key).copied().unwrap_or(0.0);
            if desired == 0.0 {
                total += self.lowest_boost;
                continue;
            }
            let weight = if self.weight_sum > 0.0 {
                state.spread.weight as f64 / self.weight_sum
            } else {
                1.0
            };
            let boost = (desired - (used_now + 1.0)) / desired * weight;
            total += boost;
            self.lowest_boost = self.lowest_boost.min(boost);
        }
        total
    }
}

/// Nomad's `evenSpreadScoreBoost`, for a spread without targets.
fn even_spread_boost(used: &BTreeMap<String, f64>, value: &str) -> f64 {
    if used.is_empty() {
        return 0.0;
    }
    let min = used.values().copied().fold(f64::INFINITY, f64::min);
    let max = used.values().copied().fold(f64::NEG_INFINITY, f64::max);
    let current = used.get(value).copied().unwrap_or(0.0);
    if current != min {
        if min == 0.0 {
            -1.0
        } else {
            (min - current) / min
        }
    } else if min == max {
        -1.0
    } else if min == 0.0 {
        1.0
    } else {
        (max - min) / min
    }
}

/// A new allocation of `group` on `node`.
pub fn new_allocation(
    job: &Job,
    group: &TaskGroup,
    node: &Node,
    placement: &Placement,
    eval: &Evaluation,
    metric: AllocMetric,
    ctx: &mut SchedulerContext<'_>,
) -> Allocation {
    let tasks = group
        .tasks
        .iter()
        .map(|task| {
            let resources = AllocatedTaskResources {
                cpu: CpuResources {
                    cpu_shares: task.resources.cpu,
                },
                memory: MemoryResources {
                    memory_mb: task.resources.memory_mb,
                    memory_max_mb: task.resources.memory_max_mb,
                },
            };
            (task.name.clone(), resources)
        })
        .collect();
    Allocation {
        id: (ctx.new_id)(),
        namespace: job.namespace.clone(),
        eval_id: eval.id.clone(),
        name: format!("{}.{}[{}]", job.id, group.name, placement.index),
        node_id: node.id.clone(),
        node_name: node.name.clone(),
        job_id: job.id.clone(),
        job: Some(job.clone()),
        task_group: group.name.clone(),
        allocated_resources: AllocatedResources {
            tasks,
            shared: AllocatedSharedResources {
                disk_mb: group.ephemeral_disk.size_mb,
            },
        },
        metrics: metric,
        desired_status: ALLOC_DESIRED_RUN.to_string(),
        client_status: ALLOC_CLIENT_PENDING.to_string(),
        previous_allocation: placement.previous.clone().unwrap_or_default(),
        create_time: ctx.now,
        modify_time: ctx.now,
        ..Allocation::default()
    }
}
