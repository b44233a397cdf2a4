//! Forwarding a request to another agent: a server forwards `fs` calls to the client that
//! runs the allocation, and a client-only agent forwards everything it does not answer
//! itself to a server.

use axum::body::Body;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;

use crate::ApiError;

/// Sends the request to `http://<addr><path and query>` and streams the answer back.
pub async fn forward(
    http: &reqwest::Client,
    addr: &str,
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: bytes::Bytes,
) -> Result<Response, ApiError> {
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let url = format!("http://{addr}{path}");
    let mut request = http.request(method, &url).body(body);
    for name in [
        "content-type",
        "x-nomad-token",
        crate::rpc::NODE_ID_HEADER,
        crate::rpc::NODE_SECRET_HEADER,
    ] {
        if let Some(value) = headers.get(name) {
            request = request.header(name, value);
        }
    }
    let response = request.send().await.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            format!("failed to reach agent at {addr}: {e}"),
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
