//! The eval broker (Nomad's `EvalBroker`): the evaluations ready for a scheduler
//! worker, highest priority first, and the delayed ones (a reschedule's follow-up, a
//! failed evaluation's retry) in a heap keyed by their `WaitUntil`.
//!
//! Delivery is at least once: a dequeued evaluation is unacked until its worker acks it;
//! one not acked within the nack timeout, or nacked, is delivered again, and one
//! delivered `delivery_limit` times goes to the failed queue, which the leader's reaper
//! marks failed (with a follow-up evaluation). A job has one evaluation outstanding at a
//! time: the others wait in its pending queue, and when the outstanding one is acked
//! only the best pending one (highest priority, then newest) runs; the rest are
//! superseded by it and the reaper cancels them. Rebuilt from the state on start.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use caravan_state::Snapshot;
use caravan_structs::{EvalId, EvalStatus, Evaluation, JobId};
use tokio::sync::Notify;

use crate::Server;

/// Nomad's `initialNackReenqueueDelay` and `subsequentNackReenqueueDelay`: how long a
/// nacked evaluation waits before it is delivered again.
const FIRST_NACK_DELAY_NS: i64 = 1_000_000_000;
const LATER_NACK_DELAY_NS: i64 = 20_000_000_000;

/// The agent configuration's `eval_nack_timeout` and `eval_delivery_limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrokerConfig {
    /// Nanoseconds a worker has to ack an evaluation before it is delivered again.
    pub nack_timeout_ns: i64,
    /// Deliveries after which an evaluation fails.
    pub delivery_limit: u32,
}

impl Default for BrokerConfig {
    /// Nomad's: 60 seconds and 3 deliveries.
    fn default() -> Self {
        BrokerConfig {
            nack_timeout_ns: 60_000_000_000,
            delivery_limit: 3,
        }
    }
}

/// Ready, delayed, pending and unacked evaluations.
#[derive(Default)]
pub(crate) struct EvalBroker {
    config: BrokerConfig,
    queues: Mutex<Queues>,
    /// Wakes a worker waiting in [`EvalBroker::dequeue`].
    ready_added: Notify,
    /// Wakes the timer: the earliest delayed evaluation or nack deadline may have changed.
    timer_changed: Notify,
    /// Wakes the reaper: an evaluation failed or was superseded.
    reap_added: Notify,
}

/// `(namespace, job ID)`.
type JobKey = (String, JobId);

/// What the broker keeps of an evaluation.
#[derive(Debug, Clone)]
struct Entry {
    id: EvalId,
    /// None for an evaluation of no job (it is never held back).
    job: Option<JobKey>,
    priority: i64,
    /// Arrival order: older first among equal priorities when ready, newest wins among
    /// a job's pending evaluations.
    seq: u64,
}

#[derive(Debug, Clone, Copy)]
struct Unacked {
    token: u64,
    /// Unix nanoseconds after which the evaluation is nacked.
    deadline: i64,
}

#[derive(Default)]
struct Queues {
    /// `(priority, older first, ID)`, highest first.
    ready: BinaryHeap<(i64, Reverse<u64>, EvalId)>,
    /// `(WaitUntil in Unix nanoseconds, ID)`, earliest first.
    delayed: BinaryHeap<Reverse<(i64, EvalId)>>,
    /// Every evaluation in the broker: ready, delayed, pending, unacked or failed.
    entries: HashMap<EvalId, Entry>,
    unacked: HashMap<EvalId, Unacked>,
    /// How often each evaluation was delivered (Nomad's `evals`).
    deliveries: HashMap<EvalId, u32>,
    /// The one evaluation of each job that is ready, unacked, waiting after a nack, or
    /// failed and not yet reaped.
    outstanding: HashMap<JobKey, EvalId>,
    /// Each job's evaluations waiting for the outstanding one.
    pending: HashMap<JobKey, Vec<Entry>>,
    /// Unacked evaluations enqueued again meanwhile: ready again once acked.
    requeue: HashSet<EvalId>,
    /// Delivered too often; for the reaper to mark failed.
    failed: VecDeque<EvalId>,
    /// Pending evaluations a newer one superseded; for the reaper to cancel.
    cancelable: Vec<EvalId>,
    next_seq: u64,
    next_token: u64,
}

/// How many evaluations the broker holds, for metrics and tests (Nomad's
/// `nomad.broker.total_*`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BrokerStats {
    /// Ready for a worker.
    pub ready: usize,
    /// Waiting for their `WaitUntil` or their redelivery after a nack.
    pub delayed: usize,
    /// Handed to a worker and not acked yet.
    pub unacked: usize,
    /// Waiting for their job's outstanding evaluation.
    pub pending: usize,
    /// Delivered too often, waiting to be marked failed.
    pub failed: usize,
}

/// What the reaper writes: evaluations that failed, and evaluations superseded.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Reapable {
    pub failed: Vec<EvalId>,
    pub canceled: Vec<EvalId>,
}

/// An ack or nack that does not match the delivery.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("evaluation {0} is not outstanding with this token (it was redelivered or acked)")]
pub(crate) struct NotOutstanding(pub EvalId);

impl EvalBroker {
    pub(crate) fn new(config: BrokerConfig) -> EvalBroker {
        EvalBroker {
            config,
            ..EvalBroker::default()
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queues> {
        // Plain queues of IDs; a panicked holder cannot leave one half-written.
        self.queues.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues an evaluation for a worker now, or at its `WaitUntil`.
    pub(crate) fn enqueue(&self, eval: &Evaluation) {
        let job = (!eval.job_id.is_empty()).then(|| (eval.namespace.clone(), eval.job_id.clone()));
        self.enqueue_entry(eval.id.clone(), job, eval.priority, eval.wait_until_nanos());
    }

    fn enqueue_entry(&self, id: EvalId, job: Option<JobKey>, priority: i64, wait_until: i64) {
        let mut queues = self.lock();
        if queues.entries.contains_key(&id) {
            // Being scheduled: it runs again once acked (a missed unblock), else it is
            // already queued once.
            if queues.unacked.contains_key(&id) {
                queues.requeue.insert(id);
            }
            return;
        }
        queues.next_seq += 1;
        let entry = Entry {
            id: id.clone(),
            job,
            priority,
            seq: queues.next_seq,
        };
        queues.entries.insert(id.clone(), entry.clone());
        if wait_until > 0 {
            queues.delayed.push(Reverse((wait_until, id)));
            drop(queues);
            self.timer_changed.notify_one();
        } else if queues.make_ready(entry) {
            drop(queues);
            self.ready_added.notify_one();
        }
    }

    /// The next ready evaluation and its delivery token, waiting for one if there is
    /// none; `now` stamps its nack deadline.
    pub(crate) async fn dequeue(&self, now: impl Fn() -> i64) -> (EvalId, u64) {
        loop {
            if let Some(delivery) = self.try_dequeue(now()) {
                return delivery;
            }
            // A notification sent since the check above is kept as a permit.
            self.ready_added.notified().await;
        }
    }

    fn try_dequeue(&self, now: i64) -> Option<(EvalId, u64)> {
        let mut queues = self.lock();
        let (_, _, id) = queues.ready.pop()?;
        *queues.deliveries.entry(id.clone()).or_default() += 1;
        queues.next_token += 1;
        let token = queues.next_token;
        let deadline = now.saturating_add(self.config.nack_timeout_ns);
        queues
            .unacked
            .insert(id.clone(), Unacked { token, deadline });
        let more = !queues.ready.is_empty();
        drop(queues);
        // Another worker may be waiting for the rest; the timer for the new deadline.
        if more {
            self.ready_added.notify_one();
        }
        self.timer_changed.notify_one();
        Some((id, token))
    }

    /// The worker is done with the evaluation: it leaves the broker, and its job's best
    /// pending evaluation becomes ready.
    pub(crate) fn ack(&self, id: &EvalId, token: u64) -> Result<(), NotOutstanding> {
        let mut queues = self.lock();
        match queues.unacked.get(id) {
            Some(unacked) if unacked.token == token => {}
            _ => return Err(NotOutstanding(id.clone())),
        }
        queues.unacked.remove(id);
        let woke = queues.finish(id);
        queues.release_capacity_when_idle();
        let superseded = !queues.cancelable.is_empty();
        drop(queues);
        self.wake(woke, superseded);
        Ok(())
    }

    /// The worker could not finish the evaluation: it is delivered again after a delay,
    /// or fails once delivered `delivery_limit` times.
    pub(crate) fn nack(&self, id: &EvalId, token: u64, now: i64) -> Result<(), NotOutstanding> {
        let mut queues = self.lock();
        match queues.unacked.get(id) {
            Some(unacked) if unacked.token == token => {}
            _ => return Err(NotOutstanding(id.clone())),
        }
        queues.nack(id, now, self.config.delivery_limit);
        drop(queues);
        self.reap_added.notify_one();
        self.timer_changed.notify_one();
        Ok(())
    }

    /// The worker is still at it (Nomad's `OutstandingReset`): the nack deadline starts
    /// over.
    pub(crate) fn touch(&self, id: &EvalId, token: u64, now: i64) -> Result<(), NotOutstanding> {
        let mut queues = self.lock();
        match queues.unacked.get_mut(id) {
            Some(unacked) if unacked.token == token => {
                unacked.deadline = now.saturating_add(self.config.nack_timeout_ns);
                Ok(())
            }
            _ => Err(NotOutstanding(id.clone())),
        }
    }

    /// Moves every delayed evaluation due at `now` to the ready queue and nacks every
    /// unacked one past its deadline; answers when the next is due.
    fn tick(&self, now: i64) -> Option<i64> {
        let mut queues = self.lock();
        let expired: Vec<EvalId> = queues
            .unacked
            .iter()
            .filter(|(_, u)| u.deadline <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &expired {
            tracing::warn!(eval_id = %id, "evaluation not acked in time; delivering it again");
            queues.nack(id, now, self.config.delivery_limit);
        }
        let mut promoted = false;
        while let Some(Reverse((at, _))) = queues.delayed.peek() {
            if *at > now {
                break;
            }
            if let Some(Reverse((_, id))) = queues.delayed.pop()
                && let Some(entry) = queues.entries.get(&id).cloned()
            {
                promoted |= queues.make_ready(entry);
            }
        }
        let next_delayed = queues.delayed.peek().map(|Reverse((at, _))| *at);
        let next_deadline = queues.unacked.values().map(|u| u.deadline).min();
        drop(queues);
        if promoted {
            self.ready_added.notify_one();
        }
        if !expired.is_empty() {
            self.reap_added.notify_one();
        }
        match (next_delayed, next_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Takes what the reaper must write.
    pub(crate) fn take_reapable(&self) -> Reapable {
        let mut queues = self.lock();
        Reapable {
            failed: queues.failed.drain(..).collect(),
            canceled: std::mem::take(&mut queues.cancelable),
        }
    }

    /// A failed evaluation is written: it leaves the broker like an acked one.
    pub(crate) fn release_failed(&self, id: &EvalId) {
        let mut queues = self.lock();
        let woke = queues.finish(id);
        queues.release_capacity_when_idle();
        let superseded = !queues.cancelable.is_empty();
        drop(queues);
        self.wake(woke, superseded);
    }

    fn wake(&self, ready: bool, superseded: bool) {
        if ready {
            self.ready_added.notify_one();
        }
        if superseded {
            self.reap_added.notify_one();
        }
    }

    /// Nomad's `restoreEvals`: every pending evaluation in the state, ready or delayed,
    /// in the order they were created.
    pub(crate) fn restore(&self, snapshot: &Snapshot) {
        let mut pending: Vec<_> = snapshot
            .all_evals()
            .filter(|e| e.status == EvalStatus::Pending)
            .collect();
        pending.sort_by_key(|e| (e.create_index, e.id.clone()));
        for eval in pending {
            self.enqueue(eval);
        }
    }

    /// How many evaluations the broker holds.
    pub(crate) fn stats(&self) -> BrokerStats {
        let queues = self.lock();
        BrokerStats {
            ready: queues.ready.len(),
            delayed: queues.delayed.len(),
            unacked: queues.unacked.len(),
            pending: queues.pending.values().map(Vec::len).sum(),
            failed: queues.failed.len(),
        }
    }
}

impl Queues {
    /// Ready now unless another evaluation of the job is outstanding; answers whether it
    /// went to the ready queue.
    fn make_ready(&mut self, entry: Entry) -> bool {
        if let Some(job) = &entry.job {
            match self.outstanding.get(job) {
                Some(other) if *other != entry.id => {
                    self.pending.entry(job.clone()).or_default().push(entry);
                    return false;
                }
                _ => {
                    self.outstanding.insert(job.clone(), entry.id.clone());
                }
            }
        }
        self.ready
            .push((entry.priority, Reverse(entry.seq), entry.id));
        true
    }

    fn nack(&mut self, id: &EvalId, now: i64, delivery_limit: u32) {
        self.unacked.remove(id);
        let delivered = self.deliveries.get(id).copied().unwrap_or(0);
        if delivered >= delivery_limit {
            // It keeps its job's slot until the reaper has written it failed.
            self.failed.push_back(id.clone());
        } else {
            let delay = if delivered <= 1 {
                FIRST_NACK_DELAY_NS
            } else {
                LATER_NACK_DELAY_NS
            };
            self.delayed
                .push(Reverse((now.saturating_add(delay), id.clone())));
        }
    }

    /// Hands back the tables' capacity once the broker is idle: a burst of evaluations
    /// leaves maps sized for its peak (they never shrink), which would stay allocated
    /// for the agent's life.
    fn release_capacity_when_idle(&mut self) {
        if !self.entries.is_empty() || self.entries.capacity() <= 64 {
            return;
        }
        self.ready.shrink_to_fit();
        self.delayed.shrink_to_fit();
        self.entries.shrink_to_fit();
        self.unacked.shrink_to_fit();
        self.deliveries.shrink_to_fit();
        self.outstanding.shrink_to_fit();
        self.pending.shrink_to_fit();
        self.requeue.shrink_to_fit();
        self.failed.shrink_to_fit();
        self.cancelable.shrink_to_fit();
    }

    /// The evaluation leaves the broker; its job's best pending evaluation (or itself,
    /// if enqueued again meanwhile) takes the job's slot. Answers whether one went to
    /// the ready queue.
    fn finish(&mut self, id: &EvalId) -> bool {
        self.deliveries.remove(id);
        let Some(entry) = self.entries.remove(id) else {
            return false;
        };
        if let Some(job) = &entry.job
            && self.outstanding.get(job) == Some(id)
        {
            self.outstanding.remove(job);
        }
        if self.requeue.remove(id) {
            self.next_seq += 1;
            let again = Entry {
                seq: self.next_seq,
                ..entry
            };
            self.entries.insert(id.clone(), again.clone());
            return self.make_ready(again);
        }
        let Some(job) = entry.job else {
            return false;
        };
        let Some(mut waiting) = self.pending.remove(&job).filter(|w| !w.is_empty()) else {
            return false;
        };
        // Nomad's `PendingEvaluations`: highest priority, then the newest, runs; it
        // looks at the job as it is now, which is all the others would have done.
        waiting.sort_by_key(|e| (e.priority, e.seq));
        let Some(best) = waiting.pop() else {
            return false;
        };
        for superseded in waiting {
            self.entries.remove(&superseded.id);
            self.cancelable.push(superseded.id);
        }
        self.make_ready(best)
    }
}

/// The one timer of the broker: sleeps on the server's clock until the earliest delayed
/// evaluation or nack deadline is due, or until an earlier one is added.
pub(crate) async fn run_timer(server: Arc<Server>) {
    let leader = server.leader();
    let broker = &leader.broker;
    loop {
        let next = broker.tick(server.now());
        match next {
            Some(at) => {
                tokio::select! {
                    _ = server.clock.sleep_until(at) => {}
                    _ = broker.timer_changed.notified() => {}
                }
            }
            None => broker.timer_changed.notified().await,
        }
    }
}

/// Nomad's `reapFailedEvaluations` and `reapCancelableEvaluations`: writes evaluations
/// delivered too often as failed (with a follow-up), and superseded pending ones as
/// canceled.
pub(crate) async fn run_reaper(server: Arc<Server>) {
    let leader = server.leader();
    let broker = &leader.broker;
    loop {
        let reapable = broker.take_reapable();
        if reapable.failed.is_empty() && reapable.canceled.is_empty() {
            broker.reap_added.notified().await;
            continue;
        }
        for id in &reapable.failed {
            let reason = format!(
                "evaluation reached delivery limit ({})",
                broker.config.delivery_limit
            );
            crate::worker::fail(&server, id, &reason).await;
            broker.release_failed(id);
        }
        cancel_superseded(&server, &reapable.canceled).await;
    }
}

async fn cancel_superseded(server: &Server, ids: &[EvalId]) {
    let snapshot = server.snapshot();
    let now = server.now();
    let evals: Vec<Evaluation> = ids
        .iter()
        .filter_map(|id| snapshot.eval(id))
        .filter(|e| !e.terminal())
        .map(|e| {
            let mut canceled = Evaluation::clone(&e);
            canceled.status = EvalStatus::Canceled;
            canceled.status_description =
                "canceled after more recent eval was processed".to_string();
            canceled.modify_time = now;
            canceled
        })
        .collect();
    if evals.is_empty() {
        return;
    }
    let command = caravan_state::Command::EvalsUpsert { evals };
    if let Err(error) = server.apply(command).await {
        // Left pending in the state; the next leader's broker runs them, which is safe.
        tracing::warn!(%error, "could not cancel superseded evaluations");
    }
}

#[cfg(test)]
mod tests;
