//! `/v1/system/gc`: garbage collection on demand; and
//! `/v1/system/reconcile/summaries`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::{AgentState, ApiError};

/// `PUT /v1/system/gc`: Nomad's forced core GC. Dead jobs, terminal evaluations and
/// allocations, and down nodes go now, whatever their age; clients then remove the
/// directories of the allocations that are gone. Answers an empty 200, as Nomad does.
pub async fn gc(State(state): State<Arc<AgentState>>) -> Result<Response, ApiError> {
    state.server()?.collect_garbage(true).await?;
    Ok(StatusCode::OK.into_response())
}

/// `PUT /v1/system/reconcile/summaries`: every job's summary derived again from its
/// allocations and evaluations. Answers an empty 200, as Nomad does.
pub async fn reconcile_summaries(
    State(state): State<Arc<AgentState>>,
) -> Result<Response, ApiError> {
    state.server()?.reconcile_summaries().await?;
    Ok(StatusCode::OK.into_response())
}
