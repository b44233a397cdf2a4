//! The tower stack around the routers: what every request goes through before and after
//! its handler, so that handlers only parse, call and render.
//!
//! From the outside in: a debug-level trace of each request (method, path, status and
//! latency; never the query or the headers, which can carry a token), panics caught
//! into a 500 (a handler bug must not drop the caller's connection), one request body
//! limit, and the query-meta headers Nomad sets on every read.
//!
//! ACLs slot in here later, as one more layer: a `route_layer` that reads the matched
//! route ([`axum::extract::MatchedPath`]), the method and the
//! [`RequestContext`](crate::RequestContext) (token and namespace), asks an `Authorizer`
//! for the capability the route needs, and answers 403 before any handler runs.

use std::any::Any;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;

use crate::ApiError;
use crate::job_path::escape_job_id;

/// The largest request body an agent reads (axum's default, which applied before the
/// limit was a layer of its own): a job of a few thousand groups fits.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// The headers that tell a reader how fresh its answer is (Nomad's `setMeta`).
const INDEX_HEADER: &str = "x-nomad-index";
const KNOWN_LEADER_HEADER: &str = "x-nomad-knownleader";
const LAST_CONTACT_HEADER: &str = "x-nomad-lastcontact";

/// The routes as one `Router` that first escapes job IDs with slashes
/// ([`crate::job_path`]): the rewrite must run before routing, so it wraps the routes
/// as a service, and a router without routes of its own hands every request to it.
pub fn escaping_job_ids(routes: Router) -> Router {
    let escaped = ServiceBuilder::new()
        .map_request(escape_job_id)
        .service(routes);
    Router::new().fallback_service(escaped)
}

/// The stack every listener's router runs behind.
pub fn around(router: Router) -> Router {
    router.layer(
        ServiceBuilder::new()
            .layer(axum::middleware::from_fn(log_request))
            .layer(CatchPanicLayer::custom(panicked))
            // One limit for every body, however a handler reads it.
            .layer(DefaultBodyLimit::disable())
            .layer(axum::middleware::from_fn(limit_body))
            .layer(axum::middleware::map_response(query_meta)),
    )
}

/// One limit for every request body (a `413` past it), but for what carries a whole
/// state or a batch of the log: `PUT /v1/operator/snapshot` and Raft's messages.
async fn limit_body(request: Request<Body>, next: axum::middleware::Next) -> Response {
    let path = request.uri().path();
    // Raft's messages carry whole batches of entries (a plan of thousands of
    // allocations is one) and snapshot chunks of 3 MiB: held to an API body's limit,
    // replication to a follower would stall on the first that is larger.
    let large = path == "/v1/operator/snapshot" || path.starts_with("/v1/internal/raft/");
    let limit = if large {
        crate::cluster::MAX_SNAPSHOT_BYTES
    } else {
        MAX_BODY_BYTES
    };
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return body_too_large(limit);
    }
    let (parts, body) = request.into_parts();
    if large {
        let body = Body::new(http_body_util::Limited::new(body, limit));
        return next.run(Request::from_parts(parts, body)).await;
    }
    // Every API handler reads its whole body anyway; reading it here gives a chunked
    // body without a Content-Length the same answer as one that declares its size.
    let read = http_body_util::BodyExt::collect(http_body_util::Limited::new(body, limit)).await;
    let bytes = match read {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => {
            return body_too_large(limit);
        }
        Err(error) => {
            return ApiError::bad_request(format!("Failed to read request body: {error}"))
                .into_response();
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// The `413` of a body past `limit` bytes, saying what the limit is.
fn body_too_large(limit: usize) -> Response {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "Request body too large: the agent reads at most {} MiB ({limit} bytes) per request; send a smaller body",
            limit >> 20
        ),
    )
    .into_response()
}

/// Nomad's `http: request complete` line at debug: the method, the path and how long
/// the answer took; never the query or headers, which can carry a token.
async fn log_request(request: Request<Body>, next: axum::middleware::Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    tracing::debug!(
        %method,
        path,
        status = response.status().as_u16(),
        duration = ?started.elapsed(),
        "request complete"
    );
    response
}

/// A handler that panicked: a 500 for the caller, the panic's message in the log.
fn panicked(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string());
    tracing::error!(panic = %message, "an API handler panicked");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error: the agent failed while answering; see its log",
    )
    .into_response()
}

/// A read's answer (it has an `X-Nomad-Index`) also says the leader is known and how
/// long ago it was heard from: one server is its own leader, heard from just now. With
/// replication these come from the replicator; an answer that already has them (one
/// forwarded from a server) keeps its own.
async fn query_meta(mut response: Response) -> Response {
    let headers = response.headers_mut();
    if headers.contains_key(INDEX_HEADER) {
        for (name, value) in [(KNOWN_LEADER_HEADER, "true"), (LAST_CONTACT_HEADER, "0")] {
            if !headers.contains_key(name) {
                headers.insert(name, HeaderValue::from_static(value));
            }
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tower::ServiceExt;

    async fn call(router: Router, uri: &str) -> Response {
        router
            .oneshot(Request::builder().uri(uri).body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_500() {
        let router = around(Router::new().route(
            "/boom",
            get(|| async {
                if true {
                    panic!("boom");
                }
            }),
        ));
        let response = call(router, "/boom").await;
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[tokio::test]
    async fn reads_get_the_query_meta_headers() {
        let router = around(
            Router::new()
                .route(
                    "/read",
                    get(|| async { crate::blocking::indexed(Vec::<u8>::new(), 7) }),
                )
                .route("/write", get(|| async { "ok" })),
        );
        let read = call(router.clone(), "/read").await;
        assert_eq!(read.headers()["x-nomad-index"], "7");
        assert_eq!(read.headers()["x-nomad-knownleader"], "true");
        assert_eq!(read.headers()["x-nomad-lastcontact"], "0");
        let write = call(router, "/write").await;
        assert!(!write.headers().contains_key("x-nomad-knownleader"));
    }

    #[tokio::test]
    async fn bodies_over_the_limit_are_refused() {
        let router = around(Router::new().route(
            "/",
            axum::routing::post(|body: axum::body::Bytes| async move { body.len().to_string() }),
        ));
        let big = vec![b'x'; MAX_BODY_BYTES + 1];
        let response = router
            .oneshot(
                Request::builder()
                    .method("POST")
                    .uri("/")
                    .body(Body::from(big))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[tokio::test]
    async fn streamed_bodies_over_the_limit_are_refused_with_the_limit_named() {
        let router = around(Router::new().route(
            "/",
            axum::routing::post(|body: axum::body::Bytes| async move { body.len().to_string() }),
        ));
        // Chunks without a Content-Length, as a chunked request sends them.
        let chunks = (0..3).map(|_| Ok::<_, std::io::Error>(vec![b'x'; MAX_BODY_BYTES / 2]));
        let response = router
            .oneshot(
                Request::builder()
                    .method("POST")
                    .uri("/")
                    .body(Body::from_stream(futures::stream::iter(chunks)))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("at most 2 MiB (2097152 bytes)"), "{text}");
    }
}
