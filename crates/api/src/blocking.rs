//! Blocking queries against the server's state, and the index header of every read.
//! (The headers that go with it, `X-Nomad-KnownLeader` and `X-Nomad-LastContact`, are
//! added by a layer: [`crate::layers`].)

use axum::Json;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use caravan_state::Snapshot;
use caravan_structs::{Allocation, Evaluation, Job, JobSummary, Node};
use serde::Serialize;

use crate::{AgentState, ApiError, RequestContext};

/// Blocking queries that may wait at once. Each waiting query is woken by every write
/// and runs again, so their number bounds what one write costs; past it a query
/// answers at once, as one whose wait is up does (Nomad's clients then ask again).
pub const MAX_WAITING_QUERIES: usize = 4096;

static WAITING: AtomicUsize = AtomicUsize::new(0);

/// One of the [`MAX_WAITING_QUERIES`] places, given back when dropped.
struct WaitingPlace;

impl WaitingPlace {
    fn take() -> Option<WaitingPlace> {
        WAITING
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_WAITING_QUERIES).then_some(n + 1)
            })
            .ok()
            .map(|_| WaitingPlace)
    }
}

impl Drop for WaitingPlace {
    fn drop(&mut self) {
        WAITING.fetch_sub(1, Ordering::AcqRel);
    }
}

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
    let place = (options.min_index > 0).then(WaitingPlace::take).flatten();
    let min_index = if place.is_some() {
        options.min_index
    } else {
        0
    };
    let answer = server
        .state()
        .blocking_query(min_index, options.max_wait, query)
        .await;
    drop(place);
    Ok(answer)
}

/// An object a read of one answers, with the index the read waits on.
pub trait ModifyIndex {
    /// The index of the object's last change.
    fn modify_index(&self) -> u64;
}

macro_rules! modify_index {
    ($($ty:ty),*) => {
        $(impl ModifyIndex for $ty {
            fn modify_index(&self) -> u64 {
                self.modify_index
            }
        })*
    };
}

modify_index!(Allocation, Evaluation, Job, JobSummary, Node);

/// Reads one object as a blocking query on its own modify index: `find` looks it up in
/// a snapshot, and none is a `404 <what> not found`.
pub async fn read_one<T: ModifyIndex>(
    state: &AgentState,
    context: &RequestContext,
    what: &str,
    find: impl Fn(&Snapshot) -> Option<Arc<T>>,
) -> Result<(Arc<T>, u64), ApiError> {
    let (found, index) = read(state, context, |snap| {
        let found = find(snap);
        let index = found.as_ref().map_or(0, |f| f.modify_index());
        (found, index)
    })
    .await?;
    Ok((found.ok_or_else(|| ApiError::not_found(what))?, index))
}

/// A list endpoint (`GET /v1/<objects>[?prefix=]`): the objects whose ID starts with the
/// request's prefix (`$rows` of the snapshot) and that `$keep(context, object)` lets
/// the caller see, each rendered by `$row`, read as a blocking query on the index of
/// table `$table`.
macro_rules! prefix_list {
    ($(#[$doc:meta])* $name:ident: $rows:ident, $keep:expr, $row:expr, $table:ident) => {
        $(#[$doc])*
        pub async fn $name(
            axum::extract::State(state): axum::extract::State<std::sync::Arc<crate::AgentState>>,
            context: crate::RequestContext,
        ) -> Result<axum::response::Response, crate::ApiError> {
            let (rows, index) = crate::blocking::read(&state, &context, |snap| {
                let rows: Vec<_> = snap
                    .$rows(&context.prefix)
                    .iter()
                    .filter(|row| $keep(&context, row))
                    .map($row)
                    .collect();
                (rows, snap.table_index().$table)
            })
            .await?;
            Ok(crate::blocking::indexed(rows, index))
        }
    };
}
pub(crate) use prefix_list;

/// A JSON read answer with Nomad's index header.
pub fn indexed<T: Serialize>(body: T, index: u64) -> Response {
    let mut response = Json(body).into_response();
    if let Ok(value) = HeaderValue::from_str(&index.to_string()) {
        response.headers_mut().insert("X-Nomad-Index", value);
    }
    response
}
