//! Blocked evaluations: at most one per job, waiting for capacity.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// The blocked evaluation of each job, by `(namespace, job ID)`.
#[derive(Default)]
pub struct BlockedEvals {
    by_job: Mutex<BTreeMap<(String, String), String>>,
}

impl BlockedEvals {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String), String>> {
        // The map holds plain IDs; a panic elsewhere cannot leave it half-written.
        self.by_job
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records `eval_id` as the job's blocked evaluation; returns the one it replaces.
    pub fn block(&self, namespace: &str, job_id: &str, eval_id: &str) -> Option<String> {
        let previous = self.lock().insert(
            (namespace.to_string(), job_id.to_string()),
            eval_id.to_string(),
        );
        previous.filter(|p| p != eval_id)
    }

    /// Forgets the job's blocked evaluation and returns it.
    pub fn remove(&self, namespace: &str, job_id: &str) -> Option<String> {
        self.lock()
            .remove(&(namespace.to_string(), job_id.to_string()))
    }

    /// Takes every blocked evaluation, to run them again.
    pub fn take_all(&self) -> Vec<String> {
        std::mem::take(&mut *self.lock()).into_values().collect()
    }
}
