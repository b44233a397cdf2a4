//! Blocking queries against the server's state, and the index header of every read.
//! (The headers that go with it, `X-Nomad-KnownLeader` and `X-Nomad-LastContact`, are
//! added by a layer: [`crate::layers`].)

use axum::Json;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use caravan_state::Snapshot;
use serde::Serialize;

use crate::{AgentState, ApiError, RequestContext};

/// Runs a read as a blocking query against the server's state: `query` answers from a
/// snapshot with the index of what it read, and runs again as the state moves until
/// that index passes the caller's `?index=` or the `?wait=` is up.
pub async fn read<T>(
    state: &AgentState,
    context: &RequestContext,
    query: impl Fn(&Snapshot) -> (T, u64),
) -> Result<(T, u64), ApiError> {
    let options = context.query_options()?;
    let server = state.server()?;
    Ok(server
        .state()
        .blocking_query(options.min_index, options.max_wait, query)
        .await)
}

/// Reads one object as a blocking query on its own modify index: `find` looks it up in
/// a snapshot, and none is a `404 <what> not found`.
pub async fn read_one<T>(
    state: &AgentState,
    context: &RequestContext,
    what: &str,
    find: impl Fn(&Snapshot) -> Option<T>,
    modify_index: impl Fn(&T) -> u64,
) -> Result<(T, u64), ApiError> {
    let (found, index) = read(state, context, |snap| {
        let found = find(snap);
        let index = found.as_ref().map(&modify_index).unwrap_or(0);
        (found, index)
    })
    .await?;
    Ok((found.ok_or_else(|| ApiError::not_found(what))?, index))
}

/// Reads a list as a blocking query on the index of the table it comes from: `items`
/// lists it from a snapshot, `table_index` reads that table's index.
pub async fn read_list<T>(
    state: &AgentState,
    context: &RequestContext,
    items: impl Fn(&Snapshot) -> Vec<T>,
    table_index: impl Fn(&Snapshot) -> u64,
) -> Result<(Vec<T>, u64), ApiError> {
    read(state, context, |snap| (items(snap), table_index(snap))).await
}

/// A JSON read answer with Nomad's index header.
pub fn indexed<T: Serialize>(body: T, index: u64) -> Response {
    let mut response = Json(body).into_response();
    if let Ok(value) = HeaderValue::from_str(&index.to_string()) {
        response.headers_mut().insert("X-Nomad-Index", value);
    }
    response
}
