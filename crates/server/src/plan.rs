//! `job plan`: what registering a job would do, computed by the scheduler on the current
//! state without committing anything.

use std::collections::BTreeMap;
use std::sync::Arc;

use caravan_api_types::{DesiredUpdates, JobPlanResponse, NodeExplanation, PlanAnnotations};
use caravan_scheduler::reconcile::{ALLOC_MIGRATING, ALLOC_UPDATING};
use caravan_scheduler::{SchedulerAlgorithm, SchedulerContext, schedule};
use caravan_state::Snapshot;
use caravan_structs::diff::job_diff;
use caravan_structs::{EvalTrigger, Evaluation, Job, NodeId, ZERO_TIME};

use crate::worker::SnapshotView;
use crate::{IdGen, Server, ServerError};

impl Server {
    /// Plans `job` as if it were registered now. With `explain`, every node's fate for
    /// every task group is included (Caravan's `job plan -explain`). The scheduling is
    /// CPU work, done on a blocking thread.
    pub async fn plan_job(
        &self,
        mut job: Job,
        explain: bool,
    ) -> Result<JobPlanResponse, ServerError> {
        job.canonicalize();
        job.stop = false;
        crate::validate_submitted(&job, &self.config.driver_schemas)?;
        let now = self.now();
        let eval = self.new_eval(&job, EvalTrigger::JobRegister, now);
        let planning = Planning {
            snapshot: self.snapshot(),
            ids: self.ids.clone(),
            algorithm: self.scheduler_algorithm(),
            now,
        };
        tokio::task::spawn_blocking(move || planning.plan(job, eval, explain))
            .await
            .map_err(|e| ServerError::Unavailable(e.to_string()))
    }
}

/// What `job plan` computes with, moved to a blocking thread.
struct Planning {
    snapshot: Arc<Snapshot>,
    ids: Arc<dyn IdGen>,
    algorithm: SchedulerAlgorithm,
    now: i64,
}

impl Planning {
    fn plan(self, mut job: Job, eval: Evaluation, explain: bool) -> JobPlanResponse {
        let Planning {
            snapshot,
            ids,
            algorithm,
            now,
        } = self;
        let existing = snapshot.job(&job.namespace, &job.id);
        crate::endpoints::scaling::adopt_scaling_policies(existing.as_deref(), &mut job, &*ids);
        // The version and indexes registration would give the job.
        match &existing {
            Some(old) => {
                job.create_index = old.create_index;
                job.version = if old.spec_equal(&job) {
                    old.version
                } else {
                    old.version + 1
                };
                job.job_modify_index = old.job_modify_index;
            }
            None => job.version = 0,
        }
        let job = Arc::new(job);
        let view = SnapshotView::new(&snapshot).with_job(job.clone());
        let mut ids = || ids.new_id();
        let plan = schedule(
            &view,
            &eval,
            &mut SchedulerContext::new(now, &mut ids)
                .with_snapshot_index(snapshot.index)
                .with_algorithm(algorithm),
        );

        let existing_allocs = snapshot.allocs_by_job(&job.namespace, &job.id);
        // Nomad's Place counts what the reconciler wants placed, whether or not it fits.
        let failed_places: BTreeMap<&str, i64> = plan
            .failed_tg_allocs
            .keys()
            .map(|group| {
                (
                    group.as_str(),
                    plan.queued_allocations.get(group).copied().unwrap_or(0),
                )
            })
            .collect();
        let mut updates: BTreeMap<String, DesiredUpdates> = job
            .task_groups
            .iter()
            .map(|g| (g.name.clone(), DesiredUpdates::default()))
            .collect();
        let mut touched = std::collections::BTreeSet::new();
        for stop in plan.node_update.values().flatten() {
            touched.insert(stop.id.clone());
            let entry = updates.entry(stop.task_group.clone()).or_default();
            match stop.desired_description.as_str() {
                ALLOC_UPDATING => entry.destructive_update += 1,
                ALLOC_MIGRATING => entry.migrate += 1,
                _ if stop.client_status == caravan_structs::AllocClientStatus::Lost => {}
                _ => entry.stop += 1,
            }
        }
        let replaced: std::collections::BTreeSet<&str> = plan
            .node_update
            .values()
            .flatten()
            .filter(|a| {
                matches!(
                    a.desired_description.as_str(),
                    ALLOC_UPDATING | ALLOC_MIGRATING
                )
            })
            .map(|a| a.id.as_str())
            .collect();
        let mut placed_on: BTreeMap<(String, NodeId), u64> = BTreeMap::new();
        for alloc in plan.node_allocation.values().flatten() {
            let entry = updates.entry(alloc.task_group.clone()).or_default();
            if existing_allocs.iter().any(|a| a.id == alloc.id) {
                touched.insert(alloc.id.clone());
                entry.in_place_update += 1;
            } else {
                *placed_on
                    .entry((alloc.task_group.clone(), alloc.node_id.clone()))
                    .or_default() += 1;
                if !replaced.contains(alloc.previous_allocation.as_str()) {
                    entry.place += 1;
                }
            }
        }
        for (group, count) in &failed_places {
            updates.entry(group.to_string()).or_default().place += (*count).max(0) as u64;
        }
        for alloc in existing_allocs
            .iter()
            .filter(|a| !a.terminal() && !touched.contains(&a.id))
        {
            if job.group(&alloc.task_group).is_some() {
                updates.entry(alloc.task_group.clone()).or_default().ignore += 1;
            }
        }

        let mut diff = job_diff(existing.as_deref(), &job);
        for group in &mut diff.task_groups {
            let Some(counts) = updates.get(&group.name) else {
                continue;
            };
            for (name, count) in [
                ("create", counts.place),
                ("destroy", counts.stop),
                ("create/destroy update", counts.destructive_update),
                ("in-place update", counts.in_place_update),
                ("migrate", counts.migrate),
                ("ignore", counts.ignore),
            ] {
                if count > 0 {
                    group.updates.insert(name.to_string(), count);
                }
            }
            let annotation = if group.r#type == "Added" {
                Some("forces create")
            } else if counts.destructive_update > 0 {
                Some("forces create/destroy update")
            } else if counts.in_place_update > 0 {
                Some("forces in-place update")
            } else {
                None
            };
            for task in group.tasks.iter_mut().filter(|t| t.r#type != "None") {
                if let Some(annotation) = annotation {
                    task.annotations = vec![annotation.to_string()];
                }
            }
        }

        let node_explanations = if explain {
            explain_nodes(&snapshot, &job, &plan, &placed_on)
        } else {
            BTreeMap::new()
        };
        JobPlanResponse {
            annotations: PlanAnnotations {
                desired_tg_updates: updates,
            },
            failed_tg_allocs: plan.failed_tg_allocs,
            job_modify_index: existing.map(|j| j.job_modify_index).unwrap_or(0),
            created_evals: Vec::new(),
            diff: Some(diff),
            next_periodic_launch: ZERO_TIME.to_string(),
            warnings: crate::unsupported::warnings(&job),
            index: snapshot.index,
            node_explanations,
        }
    }
}

/// Every node's fate for every task group: placed, scored but not chosen, or rejected
/// with the reason, re-checked node by node against the plan's own metrics.
fn explain_nodes(
    snapshot: &caravan_state::Snapshot,
    job: &Job,
    plan: &caravan_structs::Plan,
    placed_on: &BTreeMap<(String, NodeId), u64>,
) -> BTreeMap<String, Vec<NodeExplanation>> {
    // Compiled once: every node of every group is checked against the same rules.
    let rules = caravan_scheduler::rules::JobRules::new(job);
    let mut out = BTreeMap::new();
    for (g, group) in job.task_groups.iter().enumerate() {
        let first_metric = plan
            .node_allocation
            .values()
            .flatten()
            .find(|a| a.task_group == group.name)
            .map(|a| caravan_structs::AllocMetric::clone(&a.metrics))
            .or_else(|| plan.failed_tg_allocs.get(&group.name).cloned())
            .unwrap_or_default();
        let mut nodes = Vec::new();
        for node in snapshot.all_nodes() {
            let placed = placed_on
                .get(&(group.name.clone(), node.id.clone()))
                .copied()
                .unwrap_or(0);
            let scores = first_metric
                .score_meta_data
                .iter()
                .find(|s| s.node_id == node.id)
                .map(|s| s.scores.clone().into_iter().collect())
                .unwrap_or_default();
            let (outcome, reason) = if placed > 0 {
                ("placed".to_string(), String::new())
            } else {
                explain_node(&rules, g, node, snapshot_usage(snapshot, &node.id))
            };
            nodes.push(NodeExplanation {
                node_id: node.id.clone(),
                node_name: node.name.clone(),
                outcome,
                reason,
                placed,
                scores,
            });
        }
        out.insert(group.name.clone(), nodes);
    }
    out
}

/// Why a node that got nothing got nothing: the first check it fails, in the scheduler's
/// order, or `ranked` when it was feasible and another node scored higher.
fn explain_node(
    rules: &caravan_scheduler::rules::JobRules,
    g: usize,
    node: &caravan_structs::Node,
    used: (i64, i64),
) -> (String, String) {
    let job = rules.job();
    let group = &job.task_groups[g];
    use caravan_scheduler::feasible;
    let verdict = |outcome: &str, reason: String| (outcome.to_string(), reason);
    if !node.is_schedulable() {
        let why = if node.drain {
            "draining".to_string()
        } else if node.status != caravan_structs::NodeStatus::Ready {
            format!("node is {}", node.status)
        } else {
            "node is ineligible".to_string()
        };
        return verdict("not-ready", why);
    }
    if !feasible::in_node_pool(job, node) {
        return verdict(
            "filtered",
            format!("node pool \"{}\" is not the job's", node.node_pool),
        );
    }
    if !feasible::in_datacenters(job, node) {
        return verdict(
            "filtered",
            format!("datacenter \"{}\" is not one of the job's", node.datacenter),
        );
    }
    if let Err(reason) = rules.check(g, node) {
        return verdict("filtered", reason);
    }
    let want = group.combined_resources();
    let (cpu_total, mem_total) = node.allocatable();
    if used.0 + want.cpu > cpu_total {
        return verdict("exhausted", "cpu".to_string());
    }
    if used.1 + want.memory_mb > mem_total {
        return verdict("exhausted", "memory".to_string());
    }
    verdict("ranked", String::new())
}

/// CPU (MHz) and memory (MB) the node's live allocations hold.
fn snapshot_usage(snapshot: &caravan_state::Snapshot, node_id: &NodeId) -> (i64, i64) {
    snapshot
        .allocs_by_node(node_id)
        .iter()
        .filter(|a| !a.terminal())
        .fold((0, 0), |(cpu, mem), a| {
            (
                cpu + a.allocated_resources.cpu(),
                mem + a.allocated_resources.memory_mb(),
            )
        })
}
