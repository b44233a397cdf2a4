//! Nodes.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use caravan_api_types::{
    NodeListStub, NodeStubFields, NodeUpdateDrainRequest as DrainRequest,
    NodeUpdateEligibilityRequest as EligibilityRequest, NodeUpdateResponse,
};
use caravan_structs::{Allocation, EvalId, NodeEligibility};

use crate::blocking::{indexed, read, read_one};
use crate::context::decode_body;
use crate::{AgentState, ApiError, RequestContext};

/// `GET /v1/nodes[?prefix=][&resources=true][&os=true]`.
pub async fn list(
    State(state): State<Arc<AgentState>>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let fields = NodeStubFields {
        resources: context.flag("resources")?,
        os: context.flag("os")?,
    };
    let (rows, index) = read(&state, &context, |snap| {
        let rows: Vec<NodeListStub> = snap
            .nodes_by_prefix(&context.prefix)
            .iter()
            .map(|n| NodeListStub::with_fields(n, fields))
            .collect();
        (rows, snap.table_index().nodes)
    })
    .await?;
    Ok(indexed(rows, index))
}

/// `GET /v1/node/:id`.
pub async fn get(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let (node, index) = read_one(&state, &context, "node", |snap| snap.node(&id)).await?;
    Ok(indexed(node.redacted(), index))
}

/// `GET /v1/node/:id/allocations`.
pub async fn allocations(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let (allocs, index) = read(&state, &context, |snap| {
        let allocs: Vec<Allocation> = snap
            .allocs_by_node(&id)
            .iter()
            .map(|a| (**a).clone())
            .collect();
        let index = allocs.iter().map(|a| a.modify_index).max().unwrap_or(0);
        (allocs, index)
    })
    .await?;
    Ok(indexed(allocs, index))
}

fn node_update_response(index: u64, evals: Vec<EvalId>) -> Response {
    axum::Json(NodeUpdateResponse {
        eval_create_index: if evals.is_empty() { 0 } else { index },
        eval_ids: evals,
        node_modify_index: index,
        index,
    })
    .into_response()
}

/// `POST /v1/node/:id/evaluate`: an evaluation of each of the node's jobs (and the
/// system jobs); the body, if any, is not read, as Nomad's is not.
pub async fn evaluate(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (index, evals) = state.server()?.evaluate_node(&id).await?;
    Ok(node_update_response(index, evals))
}

/// `POST /v1/node/:id/eligibility`.
pub async fn eligibility(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let request: EligibilityRequest = decode_body(&body)?;
    // Any other word is refused by the body's decoder, naming the field and the words.
    let eligible = match request.eligibility {
        Some(NodeEligibility::Eligible) => true,
        Some(NodeEligibility::Ineligible) => false,
        None => {
            return Err(ApiError::bad_request(
                "invalid scheduling eligibility \"\": use \"eligible\" or \"ineligible\"",
            ));
        }
    };
    let index = state.server()?.set_eligibility(&id, eligible).await?;
    Ok(node_update_response(index, Vec::new()))
}

/// `POST /v1/node/:id/drain`: a `DrainSpec` starts a drain, `null` ends it.
pub async fn drain(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let request: DrainRequest = decode_body(&body)?;
    let (index, evals) = state
        .server()?
        .set_drain(&id, request.drain_spec, request.mark_eligible)
        .await?;
    Ok(node_update_response(index, evals))
}
