//! Forwarding a request to another agent: a server forwards `fs` calls to the client that
//! runs the allocation, and a client-only agent forwards everything it does not answer
//! itself to a server.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;

use crate::{AgentState, ApiError, rpc};

/// Sends the request to `<base><path and query>` (`base`: `scheme://host:port`, see
/// [`crate::AgentTls`]) and streams the answer back.
pub async fn forward(
    http: &reqwest::Client,
    base: &str,
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: bytes::Bytes,
) -> Result<Response, ApiError> {
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let url = format!("{base}{path}");
    let mut request = http.request(method, &url).body(body);
    for name in [
        "content-type",
        "x-nomad-token",
        "authorization",
        crate::rpc::NODE_ID_HEADER,
        crate::rpc::NODE_SECRET_HEADER,
        crate::cluster::FORWARDED_HEADER,
    ] {
        if let Some(value) = headers.get(name) {
            request = request.header(name, value);
        }
    }
    let response = request.send().await.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            format!("failed to reach agent at {base}: {e}"),
        )
    })?;
    let status = response.status();
    let mut builder = Response::builder().status(status.as_u16());
    for (name, value) in response.headers() {
        if name.as_str().starts_with("x-nomad-") || name == "content-type" {
            builder = builder.header(name.as_str(), value.as_bytes());
        }
    }
    let stream = response.bytes_stream().map_err(std::io::Error::other);
    builder
        .body(Body::from_stream(stream))
        .map(IntoResponse::into_response)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

/// A client-only agent's answer to a server route: the first server that answers.
pub async fn forward_to_server(
    State(state): State<Arc<AgentState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    call_server(&state, method, &uri, headers, body).await
}

/// Sends a `/v1` call to the first of the agent's servers that answers, on its RPC
/// port, as this agent's node.
pub(crate) async fn call_server(
    state: &AgentState,
    method: Method,
    uri: &Uri,
    mut headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mut last_error = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "No known servers");
    // The servers answer forwarded calls on their RPC port for registered nodes only.
    if let Some(client) = &state.client {
        let node = client.node();
        for (name, value) in [
            (rpc::NODE_ID_HEADER, node.id.as_str()),
            (rpc::NODE_SECRET_HEADER, node.secret_id.as_str()),
        ] {
            if let Ok(value) = value.parse() {
                headers.insert(name, value);
            }
        }
    }
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let uri: Uri = format!("{}{path}", rpc::FORWARD_PREFIX)
        .parse()
        .map_err(|_| ApiError::bad_request("invalid path"))?;
    for server in &state.servers {
        match forward(
            &state.http,
            &state.tls.rpc_url(server),
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
