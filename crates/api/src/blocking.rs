//! Blocking-query parameters and the response headers that go with every read.

use std::time::Duration;

use axum::Json;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::ApiError;

/// Nomad's default and maximum blocking wait (`MaxBlockingRPCQueryTime`).
pub const MAX_WAIT: Duration = Duration::from_secs(300);

/// `?index=N&wait=D`.
#[derive(Debug, Clone, Copy, Default)]
pub struct QueryWait {
    pub index: u64,
    pub wait: Duration,
}

/// Reads `index` and `wait` (Go durations such as `5s`, `1m`, or plain seconds).
pub fn query_wait(
    params: &std::collections::HashMap<String, String>,
) -> Result<QueryWait, ApiError> {
    let index = match params.get("index") {
        Some(text) => text.parse::<u64>().map_err(|_| {
            ApiError::bad_request(format!("Invalid index: \"{text}\" is not a number"))
        })?,
        None => 0,
    };
    let wait = match params.get("wait") {
        Some(text) => {
            let nanos = caravan_jobspec::parse_duration(text)
                .or_else(|e| {
                    text.parse::<u64>()
                        .map(|s| s as i64 * 1_000_000_000)
                        .map_err(|_| e)
                })
                .map_err(|e| ApiError::bad_request(format!("Invalid wait time: {e}")))?;
            Duration::from_nanos(nanos.max(0) as u64).min(MAX_WAIT)
        }
        None => MAX_WAIT,
    };
    Ok(QueryWait { index, wait })
}

/// A JSON read answer with Nomad's index headers.
pub fn indexed<T: Serialize>(body: T, index: u64) -> Response {
    let mut response = Json(body).into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&index.to_string()) {
        headers.insert("X-Nomad-Index", value);
    }
    headers.insert("X-Nomad-KnownLeader", HeaderValue::from_static("true"));
    headers.insert("X-Nomad-LastContact", HeaderValue::from_static("0"));
    response
}
