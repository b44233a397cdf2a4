//! Clients' allocation reports, batched into one write (Nomad's `Node.UpdateAlloc`
//! with its `batchUpdateInterval`): the first report of a batch starts a timer, every
//! report that arrives before it fires joins the batch, and the batch is written as one
//! command whose outcome answers every caller. With thousands of clients reporting,
//! one replicated write per window replaces one per call.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use caravan_structs::AllocClientUpdate;
use tokio::sync::watch;

use crate::{Server, ServerError};

/// How long a batch collects reports before it is written (Nomad's 50 ms). A latency
/// window, not a timer of the cluster's behaviour: it runs on tokio's clock, not the
/// server's injected one, so a test on a manual clock is not held up by it.
pub(crate) const BATCH_WINDOW: Duration = Duration::from_millis(50);

/// The outcome of a batch's write, as every caller in it receives it.
type Outcome = Option<Result<u64, ServerError>>;

/// The batch that collects reports now, if one does.
#[derive(Default)]
pub(crate) struct PendingUpdates(Mutex<Option<Batch>>);

struct Batch {
    updates: Vec<AllocClientUpdate>,
    applied: watch::Sender<Outcome>,
}

impl PendingUpdates {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Batch>> {
        // A batch is a list and a sender; a panicked holder leaves nothing half-done.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Adds `updates` to the batch being collected (starting one if none is) and waits
/// for the batch's write.
pub(crate) async fn join(
    server: &Arc<Server>,
    updates: Vec<AllocClientUpdate>,
) -> Result<u64, ServerError> {
    let mut applied = {
        let mut pending = server.pending_alloc_updates.lock();
        match pending.as_mut() {
            Some(batch) => {
                batch.updates.extend(updates);
                batch.applied.subscribe()
            }
            None => {
                let (applied, receiver) = watch::channel(None);
                *pending = Some(Batch { updates, applied });
                tokio::spawn(write_after_window(server.clone()));
                receiver
            }
        }
    };
    match applied.wait_for(Option::is_some).await {
        Ok(outcome) => outcome
            .clone()
            .unwrap_or_else(|| Err(unwritten("no outcome"))),
        Err(_) => Err(unwritten("the batch was dropped")),
    }
}

/// Waits out the window, then writes whatever the batch collected. Reports arriving
/// during the write start the next batch.
async fn write_after_window(server: Arc<Server>) {
    tokio::time::sleep(BATCH_WINDOW).await;
    let Some(batch) = server.pending_alloc_updates.lock().take() else {
        return;
    };
    let outcome = server.apply_alloc_updates(batch.updates).await;
    batch.applied.send_replace(Some(outcome));
}

fn unwritten(why: &str) -> ServerError {
    ServerError::Unavailable(format!(
        "allocation updates were not written ({why}); send them again"
    ))
}
