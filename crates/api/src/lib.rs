//! The HTTP API: Nomad's `/v1` routes, JSON shapes, error bodies and blocking queries.
//!
//! Errors are plain-text bodies with a status code, as Nomad sends them (`job not found`).
//! Reads answer with `X-Nomad-Index` and honour `?index=N&wait=D` blocking queries.

mod agent;
mod alloc_actions;
mod blocking;
mod fs;
mod jobs;
pub mod metrics;
mod nodes;
pub mod parse;
mod proxy;
mod rpc;
mod stats;
mod system;
mod ui;

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use caravan_client::Client;
use caravan_server::Server;

pub use agent::AgentInfo;
pub use rpc::{LONG_POLL, LocalRpc, RemoteRpc};

/// What the HTTP handlers reach: the server and/or client halves of this agent.
pub struct AgentState {
    pub server: Option<Arc<Server>>,
    pub client: Option<Arc<Client>>,
    pub info: AgentInfo,
    /// For forwarding: to clients (`fs`), or from a client-only agent to its servers.
    pub http: reqwest::Client,
    /// The servers' RPC addresses a client-only agent forwards API calls to.
    pub servers: Vec<String>,
    /// The `telemetry` block and its latest samples.
    pub telemetry: Option<Arc<metrics::Telemetry>>,
    /// Runs `/v1/jobs/parse` in a process of its own; `None` parses on a blocking thread.
    pub job_parser: Option<parse::JobParser>,
}

impl AgentState {
    fn server(&self) -> Result<&Arc<Server>, ApiError> {
        self.server
            .as_ref()
            .ok_or_else(|| ApiError::new(StatusCode::NOT_IMPLEMENTED, "this agent runs no server"))
    }
}

/// An error answer: status code and plain-text message.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    /// What kind of server error it is, for the RPC's client (`X-Caravan-Error`): the
    /// client acts on the kind, never on the message's words.
    kind: Option<&'static str>,
}

pub use caravan_api_types::rpc::ERROR_KIND_HEADER;

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            kind: None,
        }
    }

    fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    fn not_found(what: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, format!("{what} not found"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            [("content-type", "text/plain; charset=utf-8")],
            self.message,
        )
            .into_response();
        if let Some(kind) = self.kind {
            response.headers_mut().insert(
                ERROR_KIND_HEADER,
                axum::http::HeaderValue::from_static(kind),
            );
        }
        response
    }
}

impl From<caravan_server::ServerError> for ApiError {
    fn from(error: caravan_server::ServerError) -> ApiError {
        use caravan_server::ServerError;
        let (status, kind) = match error {
            ServerError::Invalid(_) => (StatusCode::BAD_REQUEST, rpc::ERROR_REFUSED),
            ServerError::NotFound("node") => (StatusCode::NOT_FOUND, rpc::ERROR_NODE_NOT_FOUND),
            ServerError::NotFound(_) | ServerError::Missing(_) => {
                (StatusCode::NOT_FOUND, rpc::ERROR_REFUSED)
            }
            ServerError::PermissionDenied => (StatusCode::FORBIDDEN, rpc::ERROR_PERMISSION_DENIED),
        };
        ApiError {
            kind: Some(kind),
            ..ApiError::new(status, error.to_string())
        }
    }
}

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
        .route(
            "/v1/client/gc",
            put(system::client_gc).post(system::client_gc),
        )
        .route("/v1/agent/self", get(agent::agent_self))
        .route("/v1/agent/health", get(agent::health))
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
        .route("/v1/job/{id}/plan", post(jobs::plan).put(jobs::plan))
        .route("/v1/job/{id}/revert", post(jobs::revert).put(jobs::revert))
        .route(
            "/v1/job/{id}/dispatch",
            post(jobs::dispatch).put(jobs::dispatch),
        )
        .route(
            "/v1/job/{id}/periodic/force",
            post(jobs::periodic_force).put(jobs::periodic_force),
        )
        .route("/v1/validate/job", post(jobs::validate).put(jobs::validate))
        .route("/v1/evaluations", get(jobs::eval_list))
        .route("/v1/evaluation/{id}", get(jobs::eval_get))
        .route(
            "/v1/evaluation/{id}/allocations",
            get(jobs::eval_allocations),
        )
        .route("/v1/allocations", get(jobs::alloc_list))
        .route("/v1/allocation/{id}", get(jobs::alloc_get))
        .route("/v1/nodes", get(nodes::list))
        .route("/v1/node/{id}", get(nodes::get))
        .route("/v1/node/{id}/allocations", get(nodes::allocations))
        .route(
            "/v1/node/{id}/eligibility",
            post(nodes::eligibility).put(nodes::eligibility),
        )
        .route("/v1/node/{id}/drain", post(nodes::drain).put(nodes::drain))
        .route("/v1/system/gc", put(system::gc).post(system::gc))
        .route("/v1/agent/members", get(agent::members))
        .route("/v1/status/leader", get(agent::leader))
        .route("/v1/status/peers", get(agent::peers))
        .route("/v1/regions", get(agent::regions))
        .route(
            "/v1/operator/scheduler/configuration",
            get(agent::scheduler_configuration)
                .put(agent::set_scheduler_configuration)
                .post(agent::set_scheduler_configuration),
        )
}

/// The `/v1` HTTP API. A client-only agent answers its own routes and forwards the rest
/// to a server, as Nomad's clients do.
pub fn router(state: Arc<AgentState>) -> Router {
    let routes = agent_routes();
    let routes = if state.server.is_some() {
        routes.merge(server_routes()).fallback(jobs::by_path)
    } else {
        routes.fallback(forward_to_server)
    };
    routes.with_state(state)
}

/// The RPC listener of a server: the calls clients make (register, heartbeat, long-poll,
/// status updates), and the API calls client-only agents forward with their node's
/// secret. Nothing else: the RPC port is reachable by every client, the API need not be.
pub fn rpc_router(state: Arc<AgentState>) -> Router {
    let api = server_routes()
        .fallback(jobs::by_path)
        .with_state(state.clone());
    rpc::routes(api).with_state(state)
}

/// A client-only agent's answer to a server route: the first server that answers.
async fn forward_to_server(
    axum::extract::State(state): axum::extract::State<Arc<AgentState>>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<axum::response::Response, ApiError> {
    let mut last_error = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "No known servers");
    // The servers answer forwarded calls on their RPC port for registered nodes only.
    let mut headers = headers;
    if let Some(client) = &state.client {
        let node = client.node();
        for (name, value) in [
            (rpc::NODE_ID_HEADER, &node.id),
            (rpc::NODE_SECRET_HEADER, &node.secret_id),
        ] {
            if let Ok(value) = value.parse() {
                headers.insert(name, value);
            }
        }
    }
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let uri: axum::http::Uri = format!("{}{path}", rpc::FORWARD_PREFIX)
        .parse()
        .map_err(|_| ApiError::bad_request("invalid path"))?;
    for server in &state.servers {
        match proxy::forward(
            &state.http,
            server,
            method.clone(),
            &uri,
            &headers,
            body.clone(),
        )
        .await
        {
            Ok(response) => return Ok(response),
            Err(error) => last_error = error,
        }
    }
    Err(last_error)
}
