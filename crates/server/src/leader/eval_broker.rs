//! The eval broker: the evaluations ready for a scheduler worker, in the order they
//! came, and the delayed ones (a reschedule's follow-up, a failed evaluation's retry) in
//! a heap keyed by their `WaitUntil`, which one timer moves to the ready queue when
//! their time comes. Rebuilt from the state on start: every pending evaluation is in it.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use caravan_state::Snapshot;
use caravan_structs::{EvalId, EvalStatus};
use tokio::sync::Notify;

use crate::Server;

/// Ready and delayed evaluations, by ID.
#[derive(Default)]
pub(crate) struct EvalBroker {
    queues: Mutex<Queues>,
    /// Wakes a worker waiting in [`EvalBroker::dequeue`].
    ready_added: Notify,
    /// Wakes the delay timer: the heap's earliest entry may have changed.
    delayed_added: Notify,
}

#[derive(Default)]
struct Queues {
    ready: VecDeque<EvalId>,
    /// `(WaitUntil in Unix nanoseconds, ID)`, earliest first.
    delayed: BinaryHeap<Reverse<(i64, EvalId)>>,
    /// Every ID in `ready` or `delayed`: an evaluation is queued once.
    queued: HashSet<EvalId>,
}

/// How many evaluations wait, for metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BrokerStats {
    /// Ready for a worker.
    pub ready: usize,
    /// Waiting for their `WaitUntil`.
    pub delayed: usize,
}

impl EvalBroker {
    fn lock(&self) -> MutexGuard<'_, Queues> {
        // Plain queues of IDs; a panicked holder cannot leave one half-written.
        self.queues.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues an evaluation for a worker now.
    pub(crate) fn enqueue(&self, eval_id: EvalId) {
        let mut queues = self.lock();
        if queues.queued.insert(eval_id.clone()) {
            queues.ready.push_back(eval_id);
            drop(queues);
            self.ready_added.notify_one();
        }
    }

    /// Queues an evaluation for a worker at `wait_until` (Unix nanoseconds; 0 for now).
    pub(crate) fn enqueue_at(&self, eval_id: EvalId, wait_until: i64) {
        if wait_until <= 0 {
            return self.enqueue(eval_id);
        }
        let mut queues = self.lock();
        if queues.queued.insert(eval_id.clone()) {
            queues.delayed.push(Reverse((wait_until, eval_id)));
            drop(queues);
            self.delayed_added.notify_one();
        }
    }

    /// The next ready evaluation, waiting for one if there is none.
    pub(crate) async fn dequeue(&self) -> EvalId {
        loop {
            if let Some(id) = self.try_dequeue() {
                return id;
            }
            // A notification sent since the check above is kept as a permit.
            self.ready_added.notified().await;
        }
    }

    fn try_dequeue(&self) -> Option<EvalId> {
        let mut queues = self.lock();
        let id = queues.ready.pop_front()?;
        queues.queued.remove(&id);
        Some(id)
    }

    /// Moves every delayed evaluation due at `now` to the ready queue; answers when the
    /// next one is due.
    fn promote_due(&self, now: i64) -> Option<i64> {
        let mut queues = self.lock();
        let mut promoted = false;
        while let Some(Reverse((at, _))) = queues.delayed.peek() {
            if *at > now {
                break;
            }
            if let Some(Reverse((_, id))) = queues.delayed.pop() {
                queues.ready.push_back(id);
                promoted = true;
            }
        }
        let next = queues.delayed.peek().map(|Reverse((at, _))| *at);
        drop(queues);
        if promoted {
            self.ready_added.notify_one();
        }
        next
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
            self.enqueue_at(eval.id.clone(), eval.wait_until_nanos());
        }
    }

    /// How many evaluations wait.
    pub(crate) fn stats(&self) -> BrokerStats {
        let queues = self.lock();
        BrokerStats {
            ready: queues.ready.len(),
            delayed: queues.delayed.len(),
        }
    }
}

/// The one timer of the delay heap: sleeps on the server's clock until the earliest
/// delayed evaluation is due, or until an earlier one is added.
pub(crate) async fn run_delay_timer(server: Arc<Server>) {
    let leader = server.leader();
    let broker = &leader.broker;
    loop {
        let next = broker.promote_due(server.now());
        match next {
            Some(at) => {
                tokio::select! {
                    _ = server.clock.sleep_until(at) => {}
                    _ = broker.delayed_added.notified() => {}
                }
            }
            None => broker.delayed_added.notified().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_in_order_once_each_and_delayed_until_due() {
        let broker = EvalBroker::default();
        broker.enqueue("a".into());
        broker.enqueue("b".into());
        broker.enqueue("a".into());
        broker.enqueue_at("late".into(), 300);
        broker.enqueue_at("soon".into(), 100);
        assert_eq!(
            broker.stats(),
            BrokerStats {
                ready: 2,
                delayed: 2
            }
        );
        assert_eq!(broker.try_dequeue().as_ref().map(EvalId::as_str), Some("a"));
        assert_eq!(broker.try_dequeue().as_ref().map(EvalId::as_str), Some("b"));
        assert_eq!(broker.try_dequeue(), None);
        assert_eq!(broker.promote_due(50), Some(100));
        assert_eq!(broker.try_dequeue(), None);
        assert_eq!(broker.promote_due(100), Some(300));
        assert_eq!(
            broker.try_dequeue().as_ref().map(EvalId::as_str),
            Some("soon")
        );
        assert_eq!(broker.promote_due(1_000), None);
        assert_eq!(
            broker.try_dequeue().as_ref().map(EvalId::as_str),
            Some("late")
        );
        // Dequeued, it may be queued again (a blocked evaluation unblocked twice).
        broker.enqueue("a".into());
        assert_eq!(broker.try_dequeue().as_ref().map(EvalId::as_str), Some("a"));
    }
}
