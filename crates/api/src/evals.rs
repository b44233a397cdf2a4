//! Evaluations: `/v1/evaluations`, `/v1/evaluation/{id}` and its allocations.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use caravan_api_types::AllocationListStub;

use crate::blocking::{indexed, prefix_list, read, read_one};
use crate::{AgentState, ApiError, RequestContext};

prefix_list! {
    /// `GET /v1/evaluations[?prefix=]`.
    list: evals_by_prefix, |c: &RequestContext, e: &&Arc<caravan_structs::Evaluation>| c.lists(&e.namespace, "read-job"), |e| (**e).clone(), evals
}

/// `GET /v1/evaluation/:id`.
pub async fn get(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let (eval, index) = read_one(&state, &context, "eval", |snap| snap.eval(&id)).await?;
    Ok(indexed(&*eval, index))
}

/// `GET /v1/evaluation/:id/allocations`.
pub async fn allocations(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let (stubs, index) = read(&state, &context, |snap| {
        let Some(eval) = snap.eval(&id) else {
            return (Vec::new(), 0);
        };
        let stubs: Vec<AllocationListStub> = snap
            .allocs_by_job(&eval.namespace, &eval.job_id)
            .iter()
            .filter(|a| a.eval_id == id)
            .map(|a| AllocationListStub::new(a))
            .collect();
        let index = stubs.iter().map(|a| a.modify_index).max().unwrap_or(0);
        (stubs, index)
    })
    .await?;
    Ok(indexed(stubs, index))
}
