//! The calls a client agent makes to its servers, over HTTP on the server's RPC port.
//! Every call but registration carries the node's secret. Both halves live here: the
//! server's routes, and the client's two ways to call them ([`LocalRpc`] in the same
//! process, [`RemoteRpc`] over the network).

mod local;
mod remote;

pub use local::{LONG_POLL, LocalRpc};
pub use remote::RemoteRpc;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use caravan_api_types::rpc::{
    AllocUpdateRequest, AllocUpdateResponse, AllocsGetRequest, AllocsGetResponse, HeartbeatRequest,
    HeartbeatResponse, ServiceDeleteRequest, ServiceUpsertRequest, ServiceWriteResponse,
};
pub(crate) use caravan_api_types::rpc::{
    ERROR_NODE_NOT_FOUND, ERROR_PERMISSION_DENIED, ERROR_REFUSED, FORWARD_PREFIX, NODE_ID_HEADER,
    NODE_SECRET_HEADER,
};
use caravan_structs::Node;

use crate::blocking::indexed;
use crate::context::decode_body as decode;
use crate::{AgentState, ApiError, RequestContext};

/// What kind of refusal a server error is, as the `X-Caravan-Error` header carries it;
/// `None` for an error the caller may retry (the write could not be made). The one
/// classification both halves use: the API's answers and [`LocalRpc`] in-process.
pub(crate) fn error_kind(error: &caravan_server::ServerError) -> Option<&'static str> {
    use caravan_server::ServerError;
    match error {
        ServerError::NotFound("node") => Some(ERROR_NODE_NOT_FOUND),
        ServerError::PermissionDenied | ServerError::Forbidden(_) => Some(ERROR_PERMISSION_DENIED),
        ServerError::Invalid(_)
        | ServerError::BadRequest(_)
        | ServerError::NotFound(_)
        | ServerError::Rejected(_)
        | ServerError::Missing(_) => Some(ERROR_REFUSED),
        ServerError::Unavailable(_) => None,
    }
}

/// A refusal of `kind` as the client acts on it ([`error_kind`]'s inverse): by the
/// kind, never by the message's words. No kind is a server that may answer later.
pub(crate) fn rpc_error(kind: Option<&str>, message: String) -> caravan_client::RpcError {
    use caravan_client::RpcError;
    match kind {
        Some(ERROR_NODE_NOT_FOUND) => RpcError::NodeNotFound,
        Some(ERROR_PERMISSION_DENIED) => RpcError::PermissionDenied(message),
        Some(_) => RpcError::Refused(message),
        None => RpcError::Unavailable(message),
    }
}

/// The RPC port's routes: what clients call (register, heartbeat, long-poll, status
/// updates), and the API calls client agents forward, behind their node's secret. The
/// rest of the `/v1` API is not served here.
pub(crate) fn routes(api: Router) -> Router<Arc<AgentState>> {
    Router::new()
        .route("/v1/internal/node/register", post(register))
        .route("/v1/status/peers", get(crate::cluster::status_peers))
        .route("/v1/internal/node/heartbeat", post(heartbeat))
        .route("/v1/internal/node/{id}/client-allocs", get(client_allocs))
        .route("/v1/internal/allocations/get", post(get_allocs))
        .route("/v1/internal/allocations/update", post(update))
        .route("/v1/internal/services/upsert", post(upsert_services))
        .route("/v1/internal/services/delete", post(delete_services))
        .route("/v1/internal/node/{id}/service/{name}", get(node_service))
        .route("/v1/internal/node/{id}/services", get(node_services))
        .route("/v1/internal/node/{id}/variable", get(node_variable))
        .route("/v1/internal/node/{id}/variables", get(node_variables))
        .route(&format!("{FORWARD_PREFIX}/{{*path}}"), any(forwarded))
        .layer(axum::Extension(ForwardedApi(api)))
}

/// The server's `/v1` API, answering forwarded calls.
#[derive(Clone)]
struct ForwardedApi(Router);

/// A `/v1` call a client agent forwards: the node must be registered and the secret its
/// own; the call is then answered by the server's API as if it came in on the HTTP port.
async fn forwarded(
    State(state): State<Arc<AgentState>>,
    axum::Extension(ForwardedApi(api)): axum::Extension<ForwardedApi>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let authenticated = {
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
        };
        state
            .server()?
            .authenticate_node(header(NODE_ID_HEADER), header(NODE_SECRET_HEADER))
    };
    authenticated?;
    let inner = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .and_then(|p| p.strip_prefix(FORWARD_PREFIX))
        .unwrap_or("/")
        .to_string();
    let inner: axum::http::Uri = inner
        .parse()
        .map_err(|_| ApiError::bad_request("invalid forwarded path"))?;
    // Answered as if it came in on the HTTP port: fresh extensions, so that this
    // route's own `{*path}` is not taken for one of the API route's path parameters.
    let (mut parts, body) = request.into_parts();
    let peer = parts.extensions.remove::<caravan_tls::PeerIdentity>();
    parts.extensions = axum::http::Extensions::new();
    // Who is calling stays known (its certificate's names).
    if let Some(peer) = peer {
        parts.extensions.insert(peer);
    }
    parts.uri = inner;
    use tower::ServiceExt;
    match api
        .oneshot(axum::extract::Request::from_parts(parts, body))
        .await
    {
        Ok(response) => Ok(response),
        Err(never) => match never {},
    }
}

fn secret(headers: &HeaderMap) -> String {
    headers
        .get(NODE_SECRET_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

async fn register(
    State(state): State<Arc<AgentState>>,
    context: RequestContext,
    body: Bytes,
) -> Result<Response, ApiError> {
    // With ACLs on, only a token with `node:write` may bring a node in: anyone who
    // reaches this port could otherwise register a node and receive allocations (and
    // their secrets).
    let server = state.server()?;
    if server.acl_enabled() {
        let caller = server.resolve_secret(context.token.as_ref().map(|t| t.secret()))?;
        if !caller.acl.allow_node_write() {
            return Err(ApiError {
                kind: Some(ERROR_PERMISSION_DENIED),
                ..crate::acl::permission_denied()
            });
        }
    }
    let node: Node = decode(&body)?;
    if node.id.is_empty() || node.secret_id.is_empty() {
        return Err(ApiError::bad_request("node ID and secret ID are required"));
    }
    let registration = state.server()?.register_node(node).await?;
    Ok(Json(HeartbeatResponse {
        heartbeat_ttl: registration.heartbeat_ttl.as_nanos() as i64,
        index: registration.index,
    })
    .into_response())
}

async fn heartbeat(
    State(state): State<Arc<AgentState>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: HeartbeatRequest = decode(&body)?;
    let ttl = state
        .server()?
        .heartbeat(&request.node_id, &request.secret_id)
        .await?;
    Ok(Json(HeartbeatResponse {
        heartbeat_ttl: ttl.as_nanos() as i64,
        index: 0,
    })
    .into_response())
}

/// The client's long-poll (Nomad's `Node.GetClientAllocs`): the node's allocations'
/// modify indexes once they pass `?index=`, with the allocations that changed.
async fn client_allocs(
    State(state): State<Arc<AgentState>>,
    Path(node_id): Path<String>,
    context: RequestContext,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let options = context.query_options()?;
    let (answer, index) = state
        .server()?
        .get_client_allocs(
            &node_id,
            &secret(&headers),
            options.min_index,
            options.max_wait,
        )
        .await?;
    Ok(indexed(answer, index))
}

/// The allocations a client fetches after its long-poll (Nomad's `Alloc.GetAllocs`).
async fn get_allocs(
    State(state): State<Arc<AgentState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: AllocsGetRequest = decode(&body)?;
    let (allocs, index) = state
        .server()?
        .get_allocs(
            &request.node_id,
            &secret(&headers),
            &request.alloc_ids,
            request.min_query_index,
            caravan_api_types::rpc::ALLOCS_GET_WAIT,
        )
        .await?;
    Ok(Json(AllocsGetResponse { allocs, index }).into_response())
}

async fn update(
    State(state): State<Arc<AgentState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: AllocUpdateRequest = decode(&body)?;
    let index = state
        .server()?
        .update_allocations(&request.node_id, &secret(&headers), request.allocs)
        .await?;
    Ok(Json(AllocUpdateResponse { index }).into_response())
}

async fn upsert_services(
    State(state): State<Arc<AgentState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: ServiceUpsertRequest = decode(&body)?;
    let index = state
        .server()?
        .upsert_services(&request.node_id, &secret(&headers), request.services)
        .await?;
    Ok(Json(ServiceWriteResponse { index }).into_response())
}

async fn delete_services(
    State(state): State<Arc<AgentState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: ServiceDeleteRequest = decode(&body)?;
    let index = state
        .server()?
        .delete_alloc_services(&request.node_id, &secret(&headers), request.alloc_ids)
        .await?;
    Ok(Json(ServiceWriteResponse { index }).into_response())
}

/// Every service of a namespace for a node's templates (`nomadServices`), a blocking
/// query behind the node's secret.
async fn node_services(
    State(state): State<Arc<AgentState>>,
    Path(node_id): Path<String>,
    context: RequestContext,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let options = context.query_options()?;
    let (services, index) = state
        .server()?
        .node_service_list(
            &node_id,
            &secret(&headers),
            &context.namespace,
            options.min_index,
            options.max_wait,
        )
        .await?;
    Ok(indexed(services, index))
}

/// A service's registrations for a node's templates: a blocking query on the services
/// table, behind the node's secret (Nomad's templates read them with the workload's
/// identity).
async fn node_service(
    State(state): State<Arc<AgentState>>,
    Path((node_id, name)): Path<(String, String)>,
    context: RequestContext,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let options = context.query_options()?;
    let (services, index) = state
        .server()?
        .node_service_registrations(
            &node_id,
            &secret(&headers),
            &context.namespace,
            &name,
            options.min_index,
            options.max_wait,
        )
        .await?;
    Ok(indexed(services, index))
}

/// The parameters of a task's variable read: `alloc`, `task`, and `path` or `prefix`.
fn workload_params<'a>(
    context: &'a RequestContext,
    what: &str,
) -> Result<(&'a str, &'a str, &'a str), ApiError> {
    let param = |name: &str| {
        context.param(name).ok_or_else(|| {
            ApiError::bad_request(format!(
                "missing ?{name}= (the task whose template reads variables)"
            ))
        })
    };
    Ok((
        param("alloc")?,
        param("task")?,
        context.param(what).unwrap_or_default(),
    ))
}

/// A variable for a task's templates (`nomadVar`): a blocking query on it, behind the
/// node's secret, limited to the paths the workload may read.
async fn node_variable(
    State(state): State<Arc<AgentState>>,
    Path(node_id): Path<String>,
    context: RequestContext,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let options = context.query_options()?;
    let (alloc, task, path) = workload_params(&context, "path")?;
    let (variable, index) = state
        .server()?
        .workload_variable(
            &node_id,
            &secret(&headers),
            alloc,
            task,
            path,
            options.min_index,
            options.max_wait,
        )
        .await?;
    Ok(indexed(variable, index))
}

/// The variables a task's templates list (`nomadVarList`).
async fn node_variables(
    State(state): State<Arc<AgentState>>,
    Path(node_id): Path<String>,
    context: RequestContext,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let options = context.query_options()?;
    let (alloc, task, prefix) = workload_params(&context, "prefix")?;
    let (variables, index) = state
        .server()?
        .workload_variable_list(
            &node_id,
            &secret(&headers),
            alloc,
            task,
            prefix,
            options.min_index,
            options.max_wait,
        )
        .await?;
    Ok(indexed(variables, index))
}
