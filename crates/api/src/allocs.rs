//! Allocations: `/v1/allocations` and `/v1/allocation/{id}`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use caravan_api_types::AllocationListStub;

use crate::blocking::{indexed, read_list, read_one};
use crate::{AgentState, ApiError, RequestContext};

/// `GET /v1/allocations[?prefix=]`.
pub async fn list(
    State(state): State<Arc<AgentState>>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let (stubs, index) = read_list(
        &state,
        &context,
        |snap| {
            snap.allocs_by_prefix(&context.prefix)
                .iter()
                .map(|a| AllocationListStub::new(a))
                .collect()
        },
        |snap| snap.table_index().allocs,
    )
    .await?;
    Ok(indexed(stubs, index))
}

/// `GET /v1/allocation/:id`.
pub async fn get(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let (alloc, index) = read_one(
        &state,
        &context,
        "alloc",
        |snap| snap.alloc(&id),
        |a| a.modify_index,
    )
    .await?;
    Ok(indexed(&*alloc, index))
}
