//! The seam every write goes through: the server builds one [`Command`] and a
//! [`Replicator`] makes it durable and applies it to the state store, answering its
//! index. Today that is [`LocalReplicator`], which applies at once; a Raft log goes
//! behind the same trait, where an apply is a quorum write and so asynchronous.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use caravan_state::{Command, Refused, StateStore};

use crate::{Server, ServerError};

/// What a [`Replicator::apply`] answers, once the command is applied.
pub type Applied = Pin<Box<dyn Future<Output = Result<u64, ReplicationError>> + Send + 'static>>;

/// Why a command was not applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplicationError {
    /// The state refused it (a conflict check inside apply); nothing was written.
    #[error(transparent)]
    Refused(#[from] Refused),
    /// It could not be applied at all (the apply failed, no quorum): whether it was
    /// written is not known, so the caller may retry.
    #[error("the write could not be applied: {0}")]
    Unavailable(String),
}

/// Makes commands durable and applies them, in one order, to the state store the server
/// reads. The one way the server changes state.
pub trait Replicator: Send + Sync {
    /// Applies `command` and answers the index it was written at, or why not.
    fn apply(&self, command: Command) -> Applied;

    /// Whether this server leads, as a term: non-zero once it may run the leader's
    /// services (it leads and has applied everything committed before), a new value
    /// each time it becomes leader again, 0 when it does not lead.
    fn leadership(&self) -> tokio::sync::watch::Receiver<u64>;
}

/// One server, no log: a command is applied to the store as soon as it is handed over.
pub struct LocalReplicator {
    store: Arc<StateStore>,
    /// Always leading: there is no one else.
    leading: tokio::sync::watch::Sender<u64>,
}

impl LocalReplicator {
    /// Applies to `store`.
    pub fn new(store: Arc<StateStore>) -> LocalReplicator {
        LocalReplicator {
            store,
            leading: tokio::sync::watch::Sender::new(1),
        }
    }
}

impl Replicator for LocalReplicator {
    fn apply(&self, command: Command) -> Applied {
        let store = self.store.clone();
        Box::pin(async move {
            // The store's writer lock may be held by another write, and a large command
            // (a plan of thousands of allocations) takes a while: both off the runtime.
            tokio::task::spawn_blocking(move || store.try_apply(command))
                .await
                .map_err(|e| ReplicationError::Unavailable(e.to_string()))?
                .map_err(ReplicationError::Refused)
        })
    }

    fn leadership(&self) -> tokio::sync::watch::Receiver<u64> {
        self.leading.subscribe()
    }
}

impl From<ReplicationError> for ServerError {
    fn from(error: ReplicationError) -> ServerError {
        match error {
            ReplicationError::Refused(refused) => ServerError::Invalid(vec![refused.0]),
            ReplicationError::Unavailable(why) => ServerError::Unavailable(why),
        }
    }
}

impl Server {
    /// The server's one write path: hands `command` to the replicator and, once it is
    /// applied, gives the pending evaluations it wrote to the eval broker (Nomad's FSM
    /// does the same on the leader), the delayed ones to its delay heap.
    pub(crate) async fn apply(&self, command: Command) -> Result<u64, ServerError> {
        let pending: Vec<caravan_structs::Evaluation> = command
            .evals()
            .into_iter()
            .filter(|e| e.status == caravan_structs::EvalStatus::Pending)
            .cloned()
            .collect();
        let index = self.replicator.apply(command).await?;
        let leader = self.leader();
        for eval in &pending {
            leader.broker.enqueue(eval);
        }
        Ok(index)
    }
}
