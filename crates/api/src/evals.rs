//! Evaluations: `/v1/evaluations`, `/v1/evaluation/{id}` and its allocations.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use caravan_api_types::AllocationListStub;
use caravan_structs::Evaluation;

use crate::blocking::{indexed, read, read_one};
use crate::filter::Filter;
use crate::paginate::{by_create_index, with_next_token};
use crate::{AgentState, ApiError, RequestContext};

/// `GET /v1/evaluations`: `?prefix=`, `?job=` and `?status=` (exact), `?filter=`
/// (go-bexpr over the evaluation), paged by create index (`?per_page=&next_token=`,
/// `?reverse=`) as Nomad's.
pub async fn list(
    State(state): State<Arc<AgentState>>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let filter = context
        .param("filter")
        .filter(|f| !f.is_empty())
        .map(Filter::parse)
        .transpose()
        .map_err(ApiError::bad_request)?;
    let job = context.param("job").unwrap_or("").to_string();
    let status = context.param("status").unwrap_or("").to_string();
    let (evals, index) = read(&state, &context, |snap| {
        let evals: Vec<Evaluation> = snap
            .evals_by_prefix(&context.prefix)
            .iter()
            .filter(|e| context.lists(&e.namespace, "read-job"))
            .filter(|e| job.is_empty() || e.job_id == job.as_str())
            .filter(|e| status.is_empty() || e.status.as_str() == status)
            .map(|e| (**e).clone())
            .collect();
        (evals, snap.table_index().evals)
    })
    .await?;
    let evals = match &filter {
        None => evals,
        Some(filter) => {
            let mut kept = Vec::with_capacity(evals.len());
            for eval in evals {
                let value = serde_json::to_value(&eval)
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
                if filter.matches(&value).map_err(ApiError::bad_request)? {
                    kept.push(eval);
                }
            }
            kept
        }
    };
    let page = by_create_index(evals, |e| (e.create_index, e.id.to_string()), &context)?;
    Ok(with_next_token(indexed(page.items, index), page.next_token))
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
