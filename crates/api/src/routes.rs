//! The route tables: one router per listener, each behind the same tower stack
//! ([`crate::layers`]).

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post, put};

use crate::cluster::{self, Listener};
use crate::layers::{around, escaping_job_ids};
use crate::tls::{PeerRole, require_peer};
use crate::{
    AgentState, ApiError, acl, acl_endpoints, agent, alloc_actions, alloc_exec, alloc_signal,
    allocs, client_node, deployments, evals, events, fs, jobs, metrics, monitor, nodes, proxy, rpc,
    scaling, search, services, stats, system, ui, variables,
};

/// What every agent answers itself: its files, its own status and the web UI.
fn agent_routes() -> Router<Arc<AgentState>> {
    Router::new()
        .route("/v1/client/fs/ls/{alloc}", get(fs::ls))
        .route("/v1/client/fs/stat/{alloc}", get(fs::stat))
        .route("/v1/client/fs/cat/{alloc}", get(fs::cat))
        .route("/v1/client/fs/readat/{alloc}", get(fs::readat))
        .route("/v1/client/fs/logs/{alloc}", get(fs::logs))
        .route("/v1/client/fs/stream/{alloc}", get(fs::stream))
        .route(
            "/v1/client/allocation/{alloc}/stats",
            get(stats::alloc_stats),
        )
        .route(
            "/v1/client/allocation/{alloc}/restart",
            post(alloc_actions::restart).put(alloc_actions::restart),
        )
        .route("/v1/client/allocation/{alloc}/exec", get(alloc_exec::exec))
        .route(
            "/v1/client/allocation/{alloc}/checks",
            get(services::alloc_checks),
        )
        .route(
            "/v1/client/allocation/{alloc}/signal",
            post(alloc_signal::signal).put(alloc_signal::signal),
        )
        .route(
            "/v1/client/allocation/{alloc}/gc",
            get(client_node::gc_allocation)
                .put(client_node::gc_allocation)
                .post(client_node::gc_allocation),
        )
        .route(
            "/v1/client/gc",
            get(client_node::gc_all)
                .put(client_node::gc_all)
                .post(client_node::gc_all),
        )
        .route("/v1/client/stats", get(client_node::host_stats))
        .route("/v1/agent/self", get(agent::agent_self))
        .route("/v1/agent/health", get(agent::health))
        .route("/v1/agent/monitor", get(monitor::monitor))
        .route("/v1/agent/servers", get(cluster::agent_servers))
        .route("/v1/metrics", get(metrics::metrics))
        .route("/", get(ui::root))
        .route("/ui", get(ui::index))
        .route("/ui/", get(ui::index))
        .route("/ui/{*path}", get(ui::file))
}

/// What only a server answers: jobs, evaluations, allocations, nodes, cluster status.
fn server_routes() -> Router<Arc<AgentState>> {
    Router::new()
        .route(
            "/v1/jobs",
            get(jobs::list).post(jobs::register).put(jobs::register),
        )
        .route("/v1/jobs/parse", post(jobs::parse).put(jobs::parse))
        .route(
            "/v1/job/{id}",
            get(jobs::get)
                .post(jobs::register_one)
                .put(jobs::register_one)
                .delete(jobs::deregister),
        )
        .route("/v1/job/{id}/allocations", get(jobs::allocations))
        .route("/v1/job/{id}/evaluations", get(jobs::evaluations))
        .route("/v1/job/{id}/summary", get(jobs::summary))
        .route("/v1/job/{id}/versions", get(jobs::versions))
        .route("/v1/job/{id}/services", get(services::job_services))
        .route("/v1/job/{id}/plan", post(jobs::plan).put(jobs::plan))
        .route("/v1/job/{id}/revert", post(jobs::revert).put(jobs::revert))
        .route(
            "/v1/job/{id}/evaluate",
            post(jobs::evaluate).put(jobs::evaluate),
        )
        .route(
            "/v1/job/{id}/dispatch",
            post(jobs::dispatch).put(jobs::dispatch),
        )
        .route(
            "/v1/job/{id}/periodic/force",
            post(jobs::periodic_force).put(jobs::periodic_force),
        )
        .route(
            "/v1/job/{id}/deployments",
            get(deployments::job_deployments),
        )
        .route(
            "/v1/job/{id}/deployment",
            get(deployments::job_latest_deployment),
        )
        .route(
            "/v1/job/{id}/stable",
            post(deployments::job_stable).put(deployments::job_stable),
        )
        .route("/v1/deployments", get(deployments::list))
        .route("/v1/deployment/{id}", get(deployments::get))
        .route(
            "/v1/deployment/allocations/{id}",
            get(deployments::allocations),
        )
        .route(
            "/v1/deployment/promote/{id}",
            post(deployments::promote).put(deployments::promote),
        )
        .route(
            "/v1/deployment/pause/{id}",
            post(deployments::pause).put(deployments::pause),
        )
        .route(
            "/v1/deployment/fail/{id}",
            post(deployments::fail).put(deployments::fail),
        )
        .route(
            "/v1/deployment/unblock/{id}",
            post(deployments::unblock).put(deployments::unblock),
        )
        .route(
            "/v1/deployment/allocation-health/{id}",
            post(deployments::allocation_health).put(deployments::allocation_health),
        )
        .route(
            "/v1/job/{id}/scale",
            get(scaling::status)
                .post(scaling::scale)
                .put(scaling::scale),
        )
        .route("/v1/scaling/policies", get(scaling::list_policies))
        .route("/v1/scaling/policy/{id}", get(scaling::get_policy))
        .route("/v1/validate/job", post(jobs::validate).put(jobs::validate))
        .route("/v1/event/stream", get(events::stream))
        .route("/v1/search", post(search::prefix).put(search::prefix))
        .route("/v1/search/fuzzy", post(search::fuzzy).put(search::fuzzy))
        .route("/v1/evaluations", get(evals::list).delete(evals::delete))
        .route("/v1/evaluation/{id}", get(evals::get))
        .route("/v1/evaluation/{id}/allocations", get(evals::allocations))
        .route("/v1/allocations", get(allocs::list))
        .route("/v1/allocation/{id}", get(allocs::get))
        .route(
            "/v1/allocation/{id}/stop",
            post(allocs::stop).put(allocs::stop),
        )
        .route("/v1/services", get(services::list))
        .route("/v1/service/{name}", get(services::get))
        .route(
            "/v1/service/{name}/{id}",
            axum::routing::delete(services::delete),
        )
        .route("/v1/vars", get(variables::list))
        .route(
            "/v1/var/{*path}",
            get(variables::get)
                .put(variables::put)
                .post(variables::put)
                .delete(variables::delete),
        )
        .route("/v1/operator/keyring/keys", get(variables::keyring_list))
        .route(
            "/v1/operator/keyring/rotate",
            put(variables::keyring_rotate).post(variables::keyring_rotate),
        )
        .route(
            "/v1/operator/keyring/key/{id}",
            axum::routing::delete(variables::keyring_delete),
        )
        .route("/v1/nodes", get(nodes::list))
        .route("/v1/node/{id}", get(nodes::get))
        .route("/v1/node/{id}/allocations", get(nodes::allocations))
        .route(
            "/v1/node/{id}/eligibility",
            post(nodes::eligibility).put(nodes::eligibility),
        )
        .route("/v1/node/{id}/drain", post(nodes::drain).put(nodes::drain))
        .route(
            "/v1/node/{id}/evaluate",
            post(nodes::evaluate).put(nodes::evaluate),
        )
        .route("/v1/system/gc", put(system::gc).post(system::gc))
        .route(
            "/v1/system/reconcile/summaries",
            put(system::reconcile_summaries).post(system::reconcile_summaries),
        )
        .route("/v1/agent/members", get(cluster::agent_members))
        .route(
            "/v1/agent/join",
            put(cluster::agent_join).post(cluster::agent_join),
        )
        .route(
            "/v1/agent/force-leave",
            put(cluster::agent_force_leave).post(cluster::agent_force_leave),
        )
        .route("/v1/status/leader", get(cluster::status_leader))
        .route("/v1/status/peers", get(cluster::status_peers))
        .route(
            "/v1/operator/raft/configuration",
            get(cluster::raft_configuration),
        )
        .route(
            "/v1/operator/snapshot",
            get(cluster::snapshot_save)
                .put(cluster::snapshot_restore)
                .post(cluster::snapshot_restore),
        )
        .route(
            "/v1/operator/raft/peer",
            axum::routing::delete(cluster::raft_remove_peer),
        )
        .route("/v1/regions", get(agent::regions))
        .route(
            "/v1/operator/scheduler/configuration",
            get(agent::scheduler_configuration)
                .put(agent::set_scheduler_configuration)
                .post(agent::set_scheduler_configuration),
        )
        .merge(security_routes())
}

/// ACLs and namespaces.
fn security_routes() -> Router<Arc<AgentState>> {
    use acl_endpoints as e;
    Router::new()
        .route("/v1/acl/bootstrap", post(e::bootstrap).put(e::bootstrap))
        .route("/v1/acl/policies", get(e::list_policies))
        .route(
            "/v1/acl/policy/{name}",
            get(e::get_policy)
                .post(e::put_policy)
                .put(e::put_policy)
                .delete(e::delete_policy),
        )
        .route("/v1/acl/tokens", get(e::list_tokens))
        .route("/v1/acl/token", post(e::create_token).put(e::create_token))
        .route("/v1/acl/token/self", get(e::token_self))
        .route(
            "/v1/acl/token/{accessor}",
            get(e::get_token)
                .post(e::update_token)
                .put(e::update_token)
                .delete(e::delete_token),
        )
        .route("/v1/internal/acl/resolve", get(acl::resolve_route))
        .route("/v1/namespaces", get(e::list_namespaces))
        .route(
            "/v1/namespace/{name}",
            get(e::get_namespace)
                .post(e::put_namespace)
                .put(e::put_namespace)
                .delete(e::delete_namespace),
        )
}

/// A path no route knows: Nomad's answer.
async fn invalid_url() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "Invalid URL")
}

/// A known path asked with a method it does not take: Nomad's `ErrInvalidMethod`.
async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Invalid method")
}

/// The server's `/v1` API: what its HTTP port answers beside the agent's own routes,
/// and what its RPC port answers for the calls client agents forward.
fn server_api() -> Router<Arc<AgentState>> {
    server_routes().fallback(invalid_url)
}

/// Every route behind the ACL check ([`acl::authorize`]); a `route_layer`, so that it
/// sees the matched route and an unknown path stays a 404.
fn authorized(routes: Router<Arc<AgentState>>, state: &Arc<AgentState>) -> Router<Arc<AgentState>> {
    routes.route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        acl::authorize,
    ))
}

/// The `/v1` HTTP API. A client-only agent answers its own routes and forwards the rest
/// to a server, as Nomad's clients do.
///
/// A server that does not lead passes the server routes to the leader (see
/// [`cluster::to_leader`]).
pub fn router(state: Arc<AgentState>) -> Router {
    let routes = if state.server.is_some() {
        let forwarding = axum::middleware::from_fn_with_state(
            (state.clone(), Listener::Http),
            cluster::to_leader,
        );
        authorized(agent_routes(), &state).merge(authorized(server_api(), &state).layer(forwarding))
    } else {
        authorized(agent_routes(), &state).fallback(proxy::forward_to_server)
    };
    let routes = routes
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            cluster::leader_meta,
        ))
        .with_state(state);
    around(escaping_job_ids(routes))
}

/// The RPC listener of a server: the calls clients make (register, heartbeat, long-poll,
/// status updates), and the API calls client-only agents forward with their node's
/// secret. Nothing else: the RPC port is reachable by every client, the API need not be.
pub fn rpc_router(state: Arc<AgentState>) -> Router {
    let api = authorized(server_api(), &state)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state.clone());
    // The stack around the RPC router limits forwarded bodies too; the forwarded call
    // starts with fresh extensions, so the default limit is lifted here again.
    let api = escaping_job_ids(api).layer(DefaultBodyLimit::disable());
    // A follower passes clients' calls to the leader's RPC port; Raft's own messages
    // are answered here.
    let forwarding =
        axum::middleware::from_fn_with_state((state.clone(), Listener::Rpc), cluster::to_leader);
    // Only nodes (client or server certificates) call the node RPCs, only servers send
    // Raft's messages, once `tls` says so (see `tls::require_peer`).
    let routes = rpc::routes(api)
        .layer(forwarding)
        .layer(axum::middleware::from_fn_with_state(
            (state.clone(), PeerRole::Node),
            require_peer,
        ))
        .merge(
            cluster::raft_routes().layer(axum::middleware::from_fn_with_state(
                (state.clone(), PeerRole::Server),
                require_peer,
            )),
        )
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            cluster::leader_meta,
        ));
    around(routes.with_state(state))
}
