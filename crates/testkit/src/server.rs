//! In-process servers and the API in front of them, for the server and api crates' tests.

use std::sync::Arc;
use std::time::Duration;

use caravan_server::{Clock, IdGen, ManualClock, RandomIds, Server, ServerConfig};
use caravan_state::StateStore;
use caravan_structs::ids::AsId;
use caravan_structs::{Allocation, EvalStatus, JobId};

/// A server on a fresh store whose clock moves only when the test advances it.
pub fn start_at(clock: &Arc<ManualClock>) -> Arc<Server> {
    start_with(clock.clone(), Arc::new(RandomIds))
}

/// A server on a fresh store with the given clock and ID generator.
pub fn start_with(clock: Arc<dyn Clock>, ids: Arc<dyn IdGen>) -> Arc<Server> {
    Server::start_with(
        ServerConfig::default(),
        Arc::new(StateStore::new()),
        clock,
        ids,
    )
}

/// The allocations of `job` (namespace `default`) that still hold resources.
pub fn live_allocs(server: &Server, job: &(impl AsId<JobId> + ?Sized)) -> Vec<Arc<Allocation>> {
    server
        .snapshot()
        .allocs_by_job("default", job)
        .into_iter()
        .filter(|a| !a.terminal())
        .collect()
}

/// Waits (up to `timeout`) until no evaluation is pending except delayed ones (a
/// reschedule's, which wait for their time).
pub async fn settle(server: &Server, timeout: Duration) {
    crate::wait::until("the pending evaluations to be processed", timeout, || {
        !server
            .snapshot()
            .evals_by_prefix("")
            .iter()
            .any(|e| e.status == EvalStatus::Pending && e.wait_until_nanos() == 0)
    })
    .await;
}

/// The state of an agent that runs `server` and no client, as the API handlers see it.
#[cfg(feature = "api")]
pub fn agent_state(server: Arc<Server>) -> Arc<caravan_api::AgentState> {
    Arc::new(caravan_api::AgentState {
        server: Some(server),
        raft: None,
        client: None,
        info: caravan_api::AgentInfo::default(),
        http: reqwest::Client::new(),
        servers: Vec::new(),
        telemetry: None,
        job_parser: None,
        acl: Default::default(),
        tokens: Default::default(),
        tls: caravan_api::AgentTls::default(),
        monitors: Default::default(),
    })
}
