//! Allocations: `/v1/allocations` and `/v1/allocation/{id}`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use caravan_api_types::AllocationListStub;

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
