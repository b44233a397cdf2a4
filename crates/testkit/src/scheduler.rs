//! An in-memory scheduler state and one evaluation run against it, for the scheduler's
//! benches and integration tests.

use std::sync::Arc;

use caravan_scheduler::{SchedulerAlgorithm, SchedulerContext, SchedulerState, schedule};
use caravan_structs::{Allocation, Evaluation, Job, Node, Plan};

/// A job, its allocations and the nodes, as plain vectors.
#[derive(Debug, Clone, Default)]
pub struct MemState {
    pub job: Option<Arc<Job>>,
    pub allocs: Vec<Arc<Allocation>>,
    pub nodes: Vec<Arc<Node>>,
}

impl SchedulerState for MemState {
    fn job(&self, _: &str, _: &str) -> Option<Arc<Job>> {
        self.job.clone()
    }
    fn allocs_by_job(&self, _: &str, id: &str) -> Vec<Arc<Allocation>> {
        self.allocs
            .iter()
            .filter(|a| a.job_id == id)
            .cloned()
            .collect()
    }
    fn nodes(&self) -> Vec<Arc<Node>> {
        self.nodes.clone()
    }
    fn allocs_by_node(&self, node_id: &str) -> Vec<Arc<Allocation>> {
        self.allocs
            .iter()
            .filter(|a| a.node_id == node_id)
            .cloned()
            .collect()
    }
}

/// Runs evaluation `eval_id` of `state`'s job (priority 50, namespace `default`) at time
/// 1 with `algorithm`; new allocation IDs count up from `00000001-0000-4000-8000-...`.
pub fn evaluate(state: &MemState, eval_id: &str, algorithm: SchedulerAlgorithm) -> Plan {
    let eval = Evaluation {
        id: eval_id.into(),
        namespace: "default".into(),
        job_id: state.job.as_ref().map(|j| j.id.clone()).unwrap_or_default(),
        priority: 50,
        ..Evaluation::default()
    };
    let mut next = 0u64;
    let mut new_id = || {
        next += 1;
        format!("{next:08x}-0000-4000-8000-000000000000")
    };
    let mut ctx = SchedulerContext::new(1, &mut new_id).with_algorithm(algorithm);
    schedule(state, &eval, &mut ctx)
}
