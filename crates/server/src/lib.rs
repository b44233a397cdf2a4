//! The server: owns the state store, turns requests into evaluations and runs them through
//! the scheduler.
//!
//! A job registration writes the job and a `pending` evaluation in one command, then hands
//! the evaluation to the worker. The worker schedules it against a snapshot and commits the
//! plan together with the evaluation's outcome, again in one command. An evaluation that
//! could not place everything leaves a `blocked` evaluation behind, which goes back to the
//! worker whenever capacity may have appeared (a node registered, an allocation finished).

mod blocked;
mod worker;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use caravan_state::{Command, Snapshot, StateStore};
use caravan_structs::time::rfc3339;
use caravan_structs::validate::validate_job;
use caravan_structs::{
    AllocClientUpdate, Allocation, EVAL_STATUS_PENDING, Evaluation, Job, JobDeregisterResponse,
    JobRegisterResponse, NODE_ELIGIBLE, NODE_STATUS_READY, Node, NodeEvent, TRIGGER_JOB_DEREGISTER,
    TRIGGER_JOB_REGISTER,
};
use tokio::sync::mpsc;

pub use blocked::BlockedEvals;

/// What a request to the server can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The job (or other input) breaks one or more rules; each line says which.
    #[error("{}", multi_error(.0))]
    Invalid(Vec<String>),
    /// The named thing does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
}

/// Formats several errors the way Nomad's go-multierror does.
fn multi_error(errors: &[String]) -> String {
    let noun = if errors.len() == 1 { "error" } else { "errors" };
    let mut text = format!("{} {noun} occurred:\n", errors.len());
    for error in errors {
        text.push_str(&format!("\t* {error}\n"));
    }
    text.push('\n');
    text
}

/// Unix nanoseconds now.
pub fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// A fresh random ID in Nomad's UUID form.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The server half of an agent.
pub struct Server {
    state: Arc<StateStore>,
    evals: mpsc::UnboundedSender<String>,
    blocked: BlockedEvals,
    /// Index of the last write that may have freed or added capacity.
    capacity_index: AtomicU64,
}

impl Server {
    /// Starts a server with an empty state and its scheduler worker. Needs a tokio runtime.
    pub fn start() -> Arc<Server> {
        let (sender, receiver) = mpsc::unbounded_channel();
        let server = Arc::new(Server {
            state: Arc::new(StateStore::new()),
            evals: sender,
            blocked: BlockedEvals::default(),
            capacity_index: AtomicU64::new(0),
        });
        tokio::spawn(worker::run(server.clone(), receiver));
        server
    }

    /// The state store, for reads and blocking queries.
    pub fn state(&self) -> &Arc<StateStore> {
        &self.state
    }

    /// The latest state.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.state.snapshot()
    }

    fn enqueue(&self, eval_id: String) {
        // The receiver lives as long as the worker, which lives as long as the runtime.
        let _ = self.evals.send(eval_id);
    }

    fn new_eval(&self, job: &Job, triggered_by: &str, now: i64) -> Evaluation {
        Evaluation {
            id: new_id(),
            namespace: job.namespace.clone(),
            priority: job.priority,
            r#type: job.r#type.clone(),
            triggered_by: triggered_by.to_string(),
            job_id: job.id.clone(),
            status: EVAL_STATUS_PENDING.to_string(),
            create_time: now,
            modify_time: now,
            ..Evaluation::default()
        }
    }

    /// Registers (or updates) a job and schedules it.
    pub fn register_job(&self, mut job: Job) -> Result<JobRegisterResponse, ServerError> {
        job.canonicalize();
        job.stop = false;
        validate_job(&job).map_err(ServerError::Invalid)?;
        let now = now_nanos();
        let eval = self.new_eval(&job, TRIGGER_JOB_REGISTER, now);
        let eval_id = eval.id.clone();
        let index = self.state.apply(Command::JobRegister {
            job: job.clone(),
            eval: Some(eval),
            now,
        });
        let snapshot = self.snapshot();
        let stored = snapshot.job(&job.namespace, &job.id);
        self.enqueue(eval_id.clone());
        Ok(JobRegisterResponse {
            eval_id,
            eval_create_index: index,
            job_modify_index: stored.map(|j| j.job_modify_index).unwrap_or(index),
            index,
            known_leader: true,
            ..JobRegisterResponse::default()
        })
    }

    /// Stops a job (`purge` also removes it) and schedules the stop.
    pub fn deregister_job(
        &self,
        namespace: &str,
        job_id: &str,
        purge: bool,
    ) -> Result<JobDeregisterResponse, ServerError> {
        let snapshot = self.snapshot();
        let job = snapshot
            .job(namespace, job_id)
            .ok_or(ServerError::NotFound("job"))?;
        let now = now_nanos();
        let eval = self.new_eval(&job, TRIGGER_JOB_DEREGISTER, now);
        let eval_id = eval.id.clone();
        let index = self.state.apply(Command::JobDeregister {
            namespace: namespace.to_string(),
            job_id: job_id.to_string(),
            purge,
            eval: Some(eval),
            now,
        });
        self.enqueue(eval_id.clone());
        Ok(JobDeregisterResponse {
            eval_id,
            eval_create_index: index,
            job_modify_index: index,
            index,
        })
    }

    /// Registers a client node (or refreshes one that registers again) as ready.
    pub fn register_node(&self, mut node: Node) -> u64 {
        let now = now_nanos();
        let known = self.snapshot().node(&node.id).is_some();
        node.status = NODE_STATUS_READY.to_string();
        if node.scheduling_eligibility.is_empty() {
            node.scheduling_eligibility = NODE_ELIGIBLE.to_string();
        }
        if !known {
            node.events.push(NodeEvent {
                message: "Node registered".to_string(),
                subsystem: "Cluster".to_string(),
                timestamp: rfc3339(now),
                ..NodeEvent::default()
            });
        }
        let index = self.state.apply(Command::NodeRegister { node, now });
        self.capacity_changed(index);
        index
    }

    /// A node's allocations, once their index passes `min_index` (or `wait` ends).
    pub async fn node_allocations(
        &self,
        node_id: &str,
        min_index: u64,
        wait: Duration,
    ) -> (Vec<Allocation>, u64) {
        let (allocs, index) = self
            .state
            .blocking_query(min_index, wait, |snapshot| {
                let allocs = snapshot.allocs_by_node(node_id);
                let index = allocs
                    .iter()
                    .map(|a| a.alloc_modify_index)
                    .max()
                    .unwrap_or(0);
                (allocs, index)
            })
            .await;
        (allocs.iter().map(|a| Allocation::clone(a)).collect(), index)
    }

    /// Records what a client reports about its allocations.
    pub fn update_allocations(&self, updates: Vec<AllocClientUpdate>) -> u64 {
        let snapshot = self.snapshot();
        let frees_capacity = updates.iter().any(|u| {
            let was_live = snapshot.alloc(&u.id).is_some_and(|a| !a.client_terminal());
            was_live && matches!(u.client_status.as_str(), "complete" | "failed" | "lost")
        });
        let index = self.state.apply(Command::AllocClientUpdate {
            updates,
            now: now_nanos(),
        });
        if frees_capacity {
            self.capacity_changed(index);
        }
        index
    }

    /// Something may have made room: re-run the blocked evaluations.
    fn capacity_changed(&self, index: u64) {
        self.capacity_index.fetch_max(index, Ordering::SeqCst);
        let evals = self.blocked.take_all();
        if evals.is_empty() {
            return;
        }
        let snapshot = self.snapshot();
        let mut pending = Vec::new();
        for id in evals {
            if let Some(eval) = snapshot.eval(&id) {
                let mut eval = Evaluation::clone(&eval);
                eval.status = EVAL_STATUS_PENDING.to_string();
                eval.modify_time = now_nanos();
                pending.push(eval);
            }
        }
        let ids: Vec<String> = pending.iter().map(|e| e.id.clone()).collect();
        self.state.apply(Command::EvalsUpsert { evals: pending });
        for id in ids {
            self.enqueue(id);
        }
    }
}
