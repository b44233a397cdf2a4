//! Allocations: `/v1/allocations` and `/v1/allocation/{id}`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use caravan_api_types::{AllocStopResponse, AllocationListStub};

use crate::blocking::{indexed, prefix_list, read_one};
use crate::{AgentState, ApiError, RequestContext};

prefix_list! {
    /// `GET /v1/allocations[?prefix=]`.
    list: allocs_by_prefix, |c: &RequestContext, a: &&Arc<caravan_structs::Allocation>| c.lists(&a.namespace, "read-job"), |a| AllocationListStub::new(a), allocs
}

/// `GET /v1/allocation/:id`.
pub async fn get(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let (alloc, index) = read_one(&state, &context, "alloc", |snap| snap.alloc(&id)).await?;
    Ok(indexed(&*alloc, index))
}

/// `POST|PUT /v1/allocation/:id/stop`: stops the allocation and places a replacement
/// (Nomad's migrate transition, carried out by the evaluation it answers).
pub async fn stop(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (eval_id, index) = state.server()?.stop_allocation(&id).await?;
    Ok(axum::Json(AllocStopResponse { eval_id, index }).into_response())
}
