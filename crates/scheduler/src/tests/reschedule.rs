//! Rescheduling failed allocations: the policy's attempts, interval and delays.

use super::*;

const SECOND: i64 = 1_000_000_000;
/// When the failed task finished, in every case below.
const FAILED_AT: i64 = 1_000 * SECOND;

fn run_at(state: &TestState, now: i64) -> Plan {
    let eval = Evaluation {
        id: "eval-1".into(),
        namespace: "default".into(),
        job_id: state.job.as_ref().map(|j| j.id.clone()).unwrap_or_default(),
        priority: 50,
        ..Evaluation::default()
    };
    let mut next = 0;
    let mut new_id = || {
        next += 1;
        format!("id-{next:02}")
    };
    schedule(state, &eval, &mut SchedulerContext::new(now, &mut new_id))
}

fn service_job(policy: ReschedulePolicy) -> Job {
    let mut job = batch_job(1);
    job.r#type = Some(JobType::Service);
    job.task_groups[0].reschedule_policy = Some(policy);
    job
}

fn failed(job: &Job, tracker: Option<RescheduleTracker>, followup: &str) -> Arc<Allocation> {
    let mut alloc = Allocation::clone(&existing(job, "failed", "n1", 0, AllocClientStatus::Failed));
    alloc.task_states.insert(
        "echo".into(),
        TaskState {
            state: TaskStateKind::Dead,
            failed: true,
            finished_at: time::rfc3339(FAILED_AT),
            ..TaskState::default()
        },
    );
    alloc.reschedule_tracker = tracker;
    alloc.followup_eval_id = followup.into();
    Arc::new(alloc)
}

fn policy(attempts: i64, unlimited: bool, function: &str) -> ReschedulePolicy {
    ReschedulePolicy {
        attempts: Some(attempts),
        interval: Some(3600 * SECOND),
        delay: Some(30 * SECOND),
        delay_function: Some(function.into()),
        max_delay: Some(120 * SECOND),
        unlimited: Some(unlimited),
    }
}

fn state(job: Job, alloc: Arc<Allocation>) -> TestState {
    on_cluster(job, vec![alloc])
}

#[test]
fn a_failure_before_its_delay_gets_a_delayed_followup() {
    let job = service_job(policy(0, true, "exponential"));
    let plan = run_at(
        &state(job.clone(), failed(&job, None, "")),
        FAILED_AT + SECOND,
    );
    assert_eq!(plan.created_evals.len(), 1);
    let followup = &plan.created_evals[0];
    assert_eq!(followup.wait_until_nanos(), FAILED_AT + 30 * SECOND);
    assert_eq!(followup.triggered_by, EvalTrigger::AllocFailure);
    let marked = &plan.node_allocation["n1"][0];
    assert_eq!(
        (marked.id.as_str(), marked.followup_eval_id.as_str()),
        ("failed", followup.id.as_str())
    );
    assert_eq!(
        plan.node_allocation.values().flatten().count(),
        1,
        "nothing is placed yet"
    );
}

#[test]
fn a_failure_past_its_delay_is_replaced_with_its_history() {
    let job = service_job(policy(0, true, "exponential"));
    let plan = run_at(
        &state(job.clone(), failed(&job, None, "id-07")),
        FAILED_AT + 31 * SECOND,
    );
    assert!(plan.created_evals.is_empty());
    let replacement = first_placed(&plan);
    assert_eq!(replacement.previous_allocation, "failed");
    assert_ne!(
        replacement.node_id, "n1",
        "the node it failed on is penalized"
    );
    let events = &replacement.reschedule_tracker.as_ref().unwrap().events;
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].prev_alloc_id.as_str(), events[0].delay),
        ("failed", 30 * SECOND)
    );
}

#[test]
fn exponential_delays_double_up_to_the_maximum() {
    let job = service_job(policy(0, true, "exponential"));
    for (last_delay, want) in [(30, 60), (60, 120), (120, 120)] {
        let tracker = RescheduleTracker {
            events: vec![RescheduleEvent {
                reschedule_time: FAILED_AT - SECOND,
                delay: last_delay * SECOND,
                ..RescheduleEvent::default()
            }],
        };
        let plan = run_at(
            &state(job.clone(), failed(&job, Some(tracker), "")),
            FAILED_AT + SECOND,
        );
        assert_eq!(
            plan.created_evals[0].wait_until_nanos(),
            FAILED_AT + want * SECOND,
            "after {last_delay}s"
        );
    }
}

#[test]
fn attempts_used_up_within_the_interval_stop_rescheduling() {
    let job = service_job(policy(1, false, "constant"));
    let used = RescheduleTracker {
        events: vec![RescheduleEvent {
            reschedule_time: FAILED_AT - 60 * SECOND,
            delay: 30 * SECOND,
            ..RescheduleEvent::default()
        }],
    };
    let plan = run_at(
        &state(job.clone(), failed(&job, Some(used), "")),
        FAILED_AT + 3600 * SECOND - 120 * SECOND,
    );
    assert!(
        plan.created_evals.is_empty() && plan.node_allocation.is_empty(),
        "no more attempts: {plan:?}"
    );
    // An attempt older than the interval no longer counts.
    let old = RescheduleTracker {
        events: vec![RescheduleEvent {
            reschedule_time: FAILED_AT - 7200 * SECOND,
            delay: 30 * SECOND,
            ..RescheduleEvent::default()
        }],
    };
    let plan = run_at(
        &state(job.clone(), failed(&job, Some(old), "")),
        FAILED_AT + 31 * SECOND,
    );
    assert_eq!(
        plan.node_allocation
            .values()
            .flatten()
            .filter(|a| a.id != "failed")
            .count(),
        1
    );
}

#[test]
fn an_already_replaced_failure_is_left_alone() {
    let job = service_job(policy(0, true, "exponential"));
    let mut alloc = Allocation::clone(&failed(&job, None, "id-07"));
    alloc.next_allocation = "replacement".into();
    let replacement = existing(&job, "replacement", "n2", 0, AllocClientStatus::Running);
    let state = on_cluster(job, vec![Arc::new(alloc), replacement]);
    let plan = run_at(&state, FAILED_AT + 3600 * SECOND);
    assert!(plan.is_no_op() && plan.created_evals.is_empty(), "{plan:?}");
}
