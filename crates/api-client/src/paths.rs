//! The path of every route, with IDs escaped as Go's client escapes them (a child job's
//! `/` travels as `%2F`). [`crate::Client`]'s methods use these; tests that check the
//! wire itself send to them with [`crate::Client::send_raw`].

use crate::escape::path_escape;

/// `GET` lists jobs, `POST` registers one.
pub const JOBS: &str = "/v1/jobs";
/// `POST`: HCL to JSON.
pub const JOBS_PARSE: &str = "/v1/jobs/parse";
/// `PUT`: registration's checks, nothing stored.
pub const VALIDATE_JOB: &str = "/v1/validate/job";
/// `GET` lists allocations.
pub const ALLOCATIONS: &str = "/v1/allocations";
/// `GET` lists evaluations.
pub const EVALUATIONS: &str = "/v1/evaluations";
/// `GET` lists nodes.
pub const NODES: &str = "/v1/nodes";
/// `GET` (`?node_id=`): a client host's resource usage.
pub const CLIENT_STATS: &str = "/v1/client/stats";
/// `GET`: the service catalogue.
pub const SERVICES: &str = "/v1/services";
/// `GET`: the agent's configuration and stats.
pub const AGENT_SELF: &str = "/v1/agent/self";
/// `GET`: whether the agent's server and client are up.
pub const AGENT_HEALTH: &str = "/v1/agent/health";
pub const AGENT_MONITOR: &str = "/v1/agent/monitor";
/// `GET`: the leader's RPC address.
pub const STATUS_LEADER: &str = "/v1/status/leader";
/// `GET`: the RPC addresses of the region's Raft peers.
pub const STATUS_PEERS: &str = "/v1/status/peers";
/// `GET`: the servers gossip knows, in every region.
pub const AGENT_MEMBERS: &str = "/v1/agent/members";
/// `GET`: the servers a client agent talks to.
pub const AGENT_SERVERS: &str = "/v1/agent/servers";
/// `PUT` with `?address=` (repeated): join the local server to others.
pub const AGENT_JOIN: &str = "/v1/agent/join";
/// `PUT` with `?node=` (and `&prune=true`): force a server into the `left` state.
pub const AGENT_FORCE_LEAVE: &str = "/v1/agent/force-leave";
/// `GET`: the Raft peer set.
pub const RAFT_CONFIGURATION: &str = "/v1/operator/raft/configuration";
/// `DELETE` with `?address=` or `?id=`: remove a peer from the Raft peer set.
pub const RAFT_PEER: &str = "/v1/operator/raft/peer";
/// `GET` takes a snapshot archive of the servers' state, `PUT` restores one.
pub const SNAPSHOT: &str = "/v1/operator/snapshot";
/// `PUT`: garbage-collect now.
pub const SYSTEM_GC: &str = "/v1/system/gc";
/// `PUT`: derive every job's summary again.
pub const SYSTEM_RECONCILE_SUMMARIES: &str = "/v1/system/reconcile/summaries";
/// `GET`: the agent's metrics (JSON, or Prometheus text with `?format=prometheus`).
pub const METRICS: &str = "/v1/metrics";
/// `GET` lists deployments.
pub const DEPLOYMENTS: &str = "/v1/deployments";
/// `GET`/`PUT`: the scheduler's configuration.
pub const SCHEDULER_CONFIGURATION: &str = "/v1/operator/scheduler/configuration";

/// `GET` reads a job, `DELETE` stops it.
pub fn job(id: &str) -> String {
    format!("/v1/job/{}", path_escape(id))
}

/// A route under a job: `/v1/job/<id>/<rest>`.
fn job_route(id: &str, rest: &str) -> String {
    format!("{}/{rest}", job(id))
}

/// `GET`: every tracked version, with diffs on request.
pub fn job_versions(id: &str) -> String {
    job_route(id, "versions")
}

/// `GET`: allocation counts by group (and children).
pub fn job_summary(id: &str) -> String {
    job_route(id, "summary")
}

/// `GET`: the job's allocations.
pub fn job_allocations(id: &str) -> String {
    job_route(id, "allocations")
}

/// `GET`: the job's evaluations.
pub fn job_evaluations(id: &str) -> String {
    job_route(id, "evaluations")
}

/// `PUT`: a dry run of a registration.
pub fn job_plan(id: &str) -> String {
    job_route(id, "plan")
}

/// `POST`: register a stored version again.
pub fn job_revert(id: &str) -> String {
    job_route(id, "revert")
}

/// `POST`: launch a child of a parameterized job.
pub fn job_dispatch(id: &str) -> String {
    job_route(id, "dispatch")
}

/// `POST`: launch a periodic job's child now.
pub fn job_periodic_force(id: &str) -> String {
    job_route(id, "periodic/force")
}

/// `GET`: the job's deployments.
pub fn job_deployments(id: &str) -> String {
    job_route(id, "deployments")
}

/// `GET`: the job's newest deployment.
pub fn job_latest_deployment(id: &str) -> String {
    job_route(id, "deployment")
}

/// `GET`: one deployment.
pub fn deployment(id: &str) -> String {
    format!("/v1/deployment/{}", path_escape(id))
}

/// A route acting on a deployment: `/v1/deployment/<action>/<id>` (`allocations`,
/// `promote`, `pause`, `fail`, `unblock`).
pub fn deployment_action(action: &str, id: &str) -> String {
    format!("/v1/deployment/{action}/{}", path_escape(id))
}

/// `GET`: the job's scale status; `POST`: `job scale`.
pub fn job_scale(id: &str) -> String {
    job_route(id, "scale")
}

/// `/v1/job/:id/evaluate`.
pub fn job_evaluate(id: &str) -> String {
    job_route(id, "evaluate")
}

/// `GET`: the scaling policies.
pub const SCALING_POLICIES: &str = "/v1/scaling/policies";

/// `GET`: one scaling policy.
pub fn scaling_policy(id: &str) -> String {
    format!("/v1/scaling/policy/{}", path_escape(id))
}

/// `GET`: one allocation.
pub fn allocation(id: &str) -> String {
    format!("/v1/allocation/{}", path_escape(id))
}

/// `/v1/allocation/:id/stop`.
pub fn allocation_stop(id: &str) -> String {
    format!("{}/stop", allocation(id))
}

/// `GET`: the latest results of an allocation's checks (answered by its client).
pub fn allocation_checks(id: &str) -> String {
    format!("/v1/client/allocation/{}/checks", path_escape(id))
}

/// `GET`: an allocation's live resource usage (answered by its client).
pub fn allocation_stats(id: &str) -> String {
    format!("/v1/client/allocation/{}/stats", path_escape(id))
}

/// `PUT`: restart an allocation's tasks in place.
pub fn allocation_restart(id: &str) -> String {
    format!("/v1/client/allocation/{}/restart", path_escape(id))
}

/// `GET`: a file's or directory's description (`?path=`).
pub fn fs_stat(alloc_id: &str) -> String {
    format!("/v1/client/fs/stat/{}", path_escape(alloc_id))
}

/// `GET`: a directory's entries (`?path=`).
pub fn fs_ls(alloc_id: &str) -> String {
    format!("/v1/client/fs/ls/{}", path_escape(alloc_id))
}

/// `GET`: a file's bytes (`?path=`).
pub fn fs_cat(alloc_id: &str) -> String {
    format!("/v1/client/fs/cat/{}", path_escape(alloc_id))
}

/// `GET`: a file as stream frames, optionally followed.
pub fn fs_stream(alloc_id: &str) -> String {
    format!("/v1/client/fs/stream/{}", path_escape(alloc_id))
}

/// `GET`: a task's log, optionally followed.
pub fn fs_logs(alloc_id: &str) -> String {
    format!("/v1/client/fs/logs/{}", path_escape(alloc_id))
}

/// `GET`: one evaluation.
pub fn evaluation(id: &str) -> String {
    format!("/v1/evaluation/{}", path_escape(id))
}

/// `GET`: the allocations an evaluation placed.
pub fn evaluation_allocations(id: &str) -> String {
    format!("{}/allocations", evaluation(id))
}

/// `GET`: a service's registrations.
pub fn service(name: &str) -> String {
    format!("/v1/service/{}", path_escape(name))
}

/// `DELETE`: one registration of a service.
pub fn service_registration(name: &str, id: &str) -> String {
    format!("/v1/service/{}/{}", path_escape(name), path_escape(id))
}

/// `GET`: one node.
pub fn node(id: &str) -> String {
    format!("/v1/node/{}", path_escape(id))
}

/// `GET`: a node's allocations.
pub fn node_allocations(id: &str) -> String {
    format!("{}/allocations", node(id))
}

/// `POST`: set a node's scheduling eligibility.
pub fn node_eligibility(id: &str) -> String {
    format!("{}/eligibility", node(id))
}

/// `POST`: start or end a node's drain.
pub fn node_drain(id: &str) -> String {
    format!("{}/drain", node(id))
}

/// `/v1/node/:id/evaluate`.
pub fn node_evaluate(id: &str) -> String {
    format!("{}/evaluate", node(id))
}

/// The RPC port's routes (a client agent's calls to its servers).
pub mod rpc {
    use crate::escape::path_escape;

    /// `POST` a `Node`: register it.
    pub const NODE_REGISTER: &str = "/v1/internal/node/register";
    /// `POST`: a heartbeat.
    pub const NODE_HEARTBEAT: &str = "/v1/internal/node/heartbeat";
    /// `POST`: a batch of allocation status updates.
    pub const ALLOCATIONS_UPDATE: &str = "/v1/internal/allocations/update";
    /// `POST`: some of the node's allocations, by ID (Nomad's `Alloc.GetAllocs`).
    pub const ALLOCATIONS_GET: &str = "/v1/internal/allocations/get";

    /// `POST`: the service registrations of the node's allocations.
    pub const SERVICES_UPSERT: &str = "/v1/internal/services/upsert";
    /// `POST`: remove the registrations of allocations the node stopped.
    pub const SERVICES_DELETE: &str = "/v1/internal/services/delete";

    /// `GET`: the node's allocations' modify indexes, the client's long-poll (Nomad's
    /// `Node.GetClientAllocs`).
    pub fn node_client_allocs(id: &str) -> String {
        format!("/v1/internal/node/{}/client-allocs", path_escape(id))
    }

    /// `GET`: every service of a namespace, read by the node's templates.
    pub fn node_services(id: &str) -> String {
        format!("/v1/internal/node/{}/services", path_escape(id))
    }

    /// `GET`: a variable a task's templates read (`?alloc=&task=&path=`).
    pub fn node_variable(id: &str) -> String {
        format!("/v1/internal/node/{}/variable", path_escape(id))
    }

    /// `GET`: the variables a task's templates list (`?alloc=&task=&prefix=`).
    pub fn node_variables(id: &str) -> String {
        format!("/v1/internal/node/{}/variables", path_escape(id))
    }

    /// `GET`: a service's registrations, read by the node's templates (`?namespace=`).
    pub fn node_service(id: &str, name: &str) -> String {
        format!(
            "/v1/internal/node/{}/service/{}",
            path_escape(id),
            path_escape(name)
        )
    }
}
