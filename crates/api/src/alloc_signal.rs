//! `POST /v1/client/allocation/:id/signal`: a user's signal to an allocation's running
//! tasks, answered by the client that runs it (a server forwards the call there, as it
//! does a restart).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use caravan_client::SignalError;
use serde::Deserialize;
use serde_json::json;

use crate::alloc_actions::{forward_to_runner, optional_body};
use crate::{AgentState, ApiError};

/// Nomad's `AllocSignalRequest` body: both fields optional.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct SignalBody {
    /// The task to signal; empty for every running task.
    task: String,
    /// `SIGUSR1`, `usr1`...; empty for `SIGKILL`.
    signal: String,
}

impl From<SignalError> for ApiError {
    fn from(error: SignalError) -> ApiError {
        let status = match error {
            SignalError::UnknownAllocation(_) => StatusCode::NOT_FOUND,
            SignalError::UnknownTask(_) | SignalError::InvalidSignal(_) => StatusCode::BAD_REQUEST,
            // Nomad answers these with a plain (500) error.
            SignalError::TaskNotRunning => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, error.to_string())
    }
}

/// `POST|PUT /v1/client/allocation/:id/signal` with `{"Task": "", "Signal": "SIGUSR1"}`.
/// Answers `{}` once the signal is sent.
pub async fn signal(
    State(state): State<Arc<AgentState>>,
    Path(alloc_id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: SignalBody = optional_body(&body)?;
    if let Some(client) = &state.client
        && let Some(id) = state.local_alloc_id(&alloc_id)
    {
        client
            .signal_allocation(&id, &request.task, &request.signal)
            .await?;
        return Ok(Json(json!({})).into_response());
    }
    forward_to_runner(&state, &alloc_id, method, &uri, &headers, body).await
}
