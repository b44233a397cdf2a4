//! Nodes.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use caravan_api_types::{
    NodeListStub, NodeUpdateDrainRequest as DrainRequest,
    NodeUpdateEligibilityRequest as EligibilityRequest,
};
use caravan_structs::Allocation;

use crate::blocking::{indexed, query_wait};
use crate::{AgentState, ApiError};

type Params = Query<HashMap<String, String>>;

/// `GET /v1/nodes[?prefix=]`.
pub async fn list(
    State(state): State<Arc<AgentState>>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let wait = query_wait(&params)?;
    let prefix = params.get("prefix").cloned().unwrap_or_default();
    let (stubs, index) = state
        .server()?
        .state()
        .blocking_query(wait.index, wait.wait, |snap| {
            let stubs: Vec<NodeListStub> = snap
                .nodes_by_prefix(&prefix)
                .iter()
                .map(|n| NodeListStub::new(n))
                .collect();
            (stubs, snap.table_index().nodes)
        })
        .await;
    Ok(indexed(stubs, index))
}

/// `GET /v1/node/:id`.
pub async fn get(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let wait = query_wait(&params)?;
    let (node, index) = state
        .server()?
        .state()
        .blocking_query(wait.index, wait.wait, |snap| {
            let node = snap.node(&id);
            let index = node.as_ref().map(|n| n.modify_index).unwrap_or(0);
            (node, index)
        })
        .await;
    let node = node.ok_or_else(|| ApiError::not_found("node"))?;
    Ok(indexed(node.redacted(), index))
}

/// `GET /v1/node/:id/allocations`.
pub async fn allocations(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let wait = query_wait(&params)?;
    let (allocs, index) = state
        .server()?
        .state()
        .blocking_query(wait.index, wait.wait, |snap| {
            let allocs: Vec<Allocation> = snap
                .allocs_by_node(&id)
                .iter()
                .map(|a| (**a).clone())
                .collect();
            let index = allocs.iter().map(|a| a.modify_index).max().unwrap_or(0);
            (allocs, index)
        })
        .await;
    Ok(indexed(allocs, index))
}

fn node_update_response(index: u64, evals: Vec<String>) -> Response {
    let body = serde_json::json!({
        "EvalIDs": evals,
        "EvalCreateIndex": if evals.is_empty() { 0 } else { index },
        "NodeModifyIndex": index,
        "Index": index,
    });
    axum::Json(body).into_response()
}

/// `POST /v1/node/:id/eligibility`.
pub async fn eligibility(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let request: EligibilityRequest = caravan_structs::json::from_slice_lenient(&body)
        .map_err(|e| ApiError::bad_request(format!("Failed to decode request body: {e}")))?;
    let eligible = match request.eligibility.as_str() {
        "eligible" => true,
        "ineligible" => false,
        other => {
            return Err(ApiError::bad_request(format!(
                "invalid scheduling eligibility \"{other}\": use \"eligible\" or \"ineligible\""
            )));
        }
    };
    let index = state.server()?.set_eligibility(&id, eligible)?;
    Ok(node_update_response(index, Vec::new()))
}

/// `POST /v1/node/:id/drain`: a `DrainSpec` starts a drain, `null` ends it.
pub async fn drain(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let request: DrainRequest = caravan_structs::json::from_slice_lenient(&body)
        .map_err(|e| ApiError::bad_request(format!("Failed to decode request body: {e}")))?;
    let (index, evals) =
        state
            .server()?
            .set_drain(&id, request.drain_spec.is_some(), request.mark_eligible)?;
    Ok(node_update_response(index, evals))
}
