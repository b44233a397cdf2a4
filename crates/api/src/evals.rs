//! Evaluations: `/v1/evaluations`, `/v1/evaluation/{id}` and its allocations.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use caravan_api_types::{AllocationListStub, EvalDeleteRequest, EvalDeleteResponse};
use caravan_structs::Evaluation;

use crate::blocking::{indexed, read, read_one};
use crate::context::decode_body;
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
    if filter.is_some() && !(job.is_empty() && status.is_empty()) {
        // Nomad's `ErrIncompatibleFiltering`.
        return Err(ApiError::bad_request(
            "filter expression cannot be used with other filter parameters",
        ));
    }
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

/// `DELETE /v1/evaluations` with `{"EvalIDs": [...]}` or `{"Filter": "..."}`
/// (management): Nomad's `Eval.Delete`, refused unless the eval broker is paused. By
/// filter, the evaluations that are safe to delete and match are deleted, the others
/// left.
pub async fn delete(
    State(state): State<Arc<AgentState>>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let request: EvalDeleteRequest = decode_body(&body)?;
    let server = state.server()?;
    let ids = match (request.eval_ids.is_empty(), request.filter.is_empty()) {
        (true, true) => {
            return Err(ApiError::bad_request(
                "evals must be deleted by either ID or filter",
            ));
        }
        (false, false) => {
            return Err(ApiError::bad_request(
                "evals cannot be deleted by both ID and filter",
            ));
        }
        (false, true) => request.eval_ids,
        (true, false) => {
            let filter = Filter::parse(&request.filter).map_err(ApiError::bad_request)?;
            let snapshot = server.snapshot();
            let mut ids = Vec::new();
            for eval in snapshot.evals_by_prefix("") {
                if !caravan_server::Server::eval_user_deletable(&snapshot, &eval) {
                    continue;
                }
                let value = serde_json::to_value(&*eval)
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
                // Nomad skips an evaluation the filter cannot be applied to.
                if filter.matches(&value).unwrap_or(false) {
                    ids.push(eval.id.to_string());
                }
            }
            ids
        }
    };
    let (count, index) = server.delete_evaluations(&ids).await?;
    Ok(indexed(EvalDeleteResponse { count, index }, index))
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
