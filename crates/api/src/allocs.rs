//! Allocations: `/v1/allocations` and `/v1/allocation/{id}`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use caravan_api_types::AllocationListStub;

use crate::blocking::{indexed, read};
use crate::{AgentState, ApiError, RequestContext};

/// `GET /v1/allocations[?prefix=]`.
pub async fn list(
    State(state): State<Arc<AgentState>>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let (stubs, index) = read(&state, &context, |snap| {
        let stubs: Vec<AllocationListStub> = snap
            .allocs_by_prefix(&context.prefix)
            .iter()
            .map(|a| AllocationListStub::new(a))
            .collect();
        (stubs, snap.table_index().allocs)
    })
    .await?;
    Ok(indexed(stubs, index))
}

/// `GET /v1/allocation/:id`.
pub async fn get(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let (alloc, index) = read(&state, &context, |snap| {
        let alloc = snap.alloc(&id);
        let index = alloc.as_ref().map(|a| a.modify_index).unwrap_or(0);
        (alloc, index)
    })
    .await?;
    let alloc = alloc.ok_or_else(|| ApiError::not_found("alloc"))?;
    Ok(indexed(&*alloc, index))
}
