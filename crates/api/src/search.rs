//! `POST /v1/search` (IDs by prefix) and `POST /v1/search/fuzzy` (names containing a
//! text), answered from the server's snapshot by `caravan_server::search`, each context
//! kept to what the caller's token may read.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use caravan_acl::Acl;
use caravan_server::search::{SearchContext, SearchError, fuzzy_search, prefix_search};
use serde::{Deserialize, Serialize};

use crate::blocking::indexed;
use crate::context::decode_body;
use crate::{AgentState, ApiError, RequestContext};

/// A search's body: `Prefix` or `Text`, the `Context`, and a `Namespace` the query's
/// `?namespace=` overrides.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct SearchRequest {
    prefix: String,
    text: String,
    context: String,
    namespace: String,
}

/// The answer, with the index of the snapshot it was read from.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct SearchAnswer<T: Serialize> {
    #[serde(flatten)]
    results: T,
    index: u64,
}

/// The request's context and namespace.
fn parse(
    body: &Bytes,
    context: &RequestContext,
) -> Result<(SearchRequest, SearchContext, String), ApiError> {
    let request: SearchRequest = decode_body(body)?;
    if request.context.is_empty() {
        return Err(ApiError::bad_request(
            "Context must be specified: all, jobs, allocs, nodes, evals, deployment, namespaces, vars, plugins, volumes or scaling_policy",
        ));
    }
    let search_context = SearchContext::parse(&request.context).map_err(refused)?;
    let namespace = match context.param("namespace").filter(|n| !n.is_empty()) {
        Some(namespace) => namespace.to_string(),
        None if !request.namespace.is_empty() => request.namespace.clone(),
        None => context.namespace.clone(),
    };
    Ok((request, search_context, namespace))
}

fn refused(error: SearchError) -> ApiError {
    match error {
        SearchError::BadRequest(message) => ApiError::bad_request(message),
        SearchError::PermissionDenied => crate::acl::permission_denied(),
    }
}

/// The caller's ACL: everything when ACLs are off.
fn acl_of(context: &RequestContext) -> Arc<Acl> {
    context
        .caller
        .as_ref()
        .map_or_else(|| Arc::new(Acl::management()), |c| c.acl.clone())
}

/// `POST /v1/search`: `{"Prefix","Context"}` to `{"Matches":{ctx:[ID]},"Truncations"}`.
pub async fn prefix(
    State(state): State<Arc<AgentState>>,
    context: RequestContext,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (request, search_context, namespace) = parse(&body, &context)?;
    let snapshot = state.server()?.snapshot();
    let results = prefix_search(
        &snapshot,
        &acl_of(&context),
        &namespace,
        &request.prefix,
        search_context,
    )
    .map_err(refused)?;
    let index = snapshot.index.max(1);
    Ok(indexed(SearchAnswer { results, index }, index))
}

/// `POST /v1/search/fuzzy`: `{"Text","Context"}` to
/// `{"Matches":{ctx:[{"ID","Scope"}]},"Truncations"}`.
pub async fn fuzzy(
    State(state): State<Arc<AgentState>>,
    context: RequestContext,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (request, search_context, namespace) = parse(&body, &context)?;
    let server = state.server()?;
    let snapshot = server.snapshot();
    let results = fuzzy_search(
        &snapshot,
        &acl_of(&context),
        &server.search_config(),
        &namespace,
        &request.text,
        &context.prefix,
        search_context,
    )
    .map_err(refused)?;
    let index = snapshot.index.max(1);
    Ok(indexed(SearchAnswer { results, index }, index))
}
