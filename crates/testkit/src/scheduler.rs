//! An in-memory scheduler state and one evaluation run against it, for the scheduler's
//! benches and integration tests.

pub use caravan_scheduler::testing::MemState;
use caravan_scheduler::{SchedulerAlgorithm, SchedulerContext, schedule};
use caravan_structs::{Evaluation, Plan};

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
