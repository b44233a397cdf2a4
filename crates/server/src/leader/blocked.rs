//! Blocked evaluations: at most one per job, waiting for capacity. Rebuilt from the
//! state on start: every evaluation stored as `blocked` waits here again.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use caravan_state::Snapshot;
use caravan_structs::{EvalId, EvalStatus, JobId};

/// The blocked evaluation of each job, by `(namespace, job ID)`.
#[derive(Default)]
pub struct BlockedEvals {
    by_job: Mutex<BTreeMap<(String, JobId), EvalId>>,
    /// Index of the last write that may have freed or added capacity: a worker whose
    /// snapshot is older than it missed an unblock.
    capacity_index: AtomicU64,
}

impl BlockedEvals {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, JobId), EvalId>> {
        // The map holds plain IDs; a panic elsewhere cannot leave it half-written.
        self.by_job
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records `eval_id` as the job's blocked evaluation; returns the one it replaces.
    pub fn block(&self, namespace: &str, job_id: &JobId, eval_id: &EvalId) -> Option<EvalId> {
        let previous = self
            .lock()
            .insert((namespace.to_string(), job_id.clone()), eval_id.clone());
        previous.filter(|p| p != eval_id)
    }

    /// The job's blocked evaluation, if it has one.
    pub fn get(&self, namespace: &str, job_id: &JobId) -> Option<EvalId> {
        self.lock()
            .get(&(namespace.to_string(), job_id.clone()))
            .cloned()
    }

    /// Forgets the job's blocked evaluation and returns it.
    pub fn remove(&self, namespace: &str, job_id: &JobId) -> Option<EvalId> {
        self.lock().remove(&(namespace.to_string(), job_id.clone()))
    }

    /// Takes every blocked evaluation, to run them again.
    pub fn take_all(&self) -> Vec<EvalId> {
        std::mem::take(&mut *self.lock()).into_values().collect()
    }

    /// How many evaluations are blocked.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no evaluation is blocked.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Notes that the write at `index` may have made room.
    pub(crate) fn capacity_changed(&self, index: u64) {
        self.capacity_index.fetch_max(index, Ordering::SeqCst);
    }

    /// Whether capacity may have appeared after the snapshot at `index` was taken.
    pub(crate) fn missed_unblock(&self, index: u64) -> bool {
        self.capacity_index.load(Ordering::SeqCst) > index
    }

    /// Every evaluation the state holds as blocked, the newest of each job (an older
    /// one a crash left behind is superseded when the newest is next processed).
    pub(crate) fn restore(&self, snapshot: &Snapshot) {
        let mut newest: BTreeMap<(String, JobId), (u64, EvalId)> = BTreeMap::new();
        for eval in snapshot
            .all_evals()
            .filter(|e| e.status == EvalStatus::Blocked)
        {
            let key = (eval.namespace.clone(), eval.job_id.clone());
            let entry = newest.entry(key).or_insert((0, EvalId::default()));
            if eval.modify_index >= entry.0 {
                *entry = (eval.modify_index, eval.id.clone());
            }
        }
        let mut by_job = self.lock();
        for (key, (_, id)) in newest {
            by_job.insert(key, id);
        }
    }
}
