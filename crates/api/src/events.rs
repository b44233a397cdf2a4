//! `GET /v1/event/stream`: the state store's events as newline-delimited JSON, one
//! `{"Index":N,"Events":[...]}` line per write, `{}` when there is nothing to say (at
//! once, then after every [`HEARTBEAT`] of silence). Every server answers from its own
//! buffer (its writes come from the same log), so a follower streams too.
//!
//! ACLs, as Nomad checks them: the token must be able to read every topic it asks for
//! in the namespace (each namespace, for `*`): `read-job` for jobs, evaluations,
//! allocations, deployments and services, `node:read` for nodes, a management token
//! for everything else (`*`, the ACL topics); else a 403. While the stream runs the
//! token is resolved again on every write and heartbeat, and the stream ends once the
//! token is deleted, expires or loses a capability it needs. Each event is checked too.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use caravan_acl::Acl;
use caravan_server::{Caller, Server};
use caravan_state::Snapshot;
use caravan_state::events::{EventFilter, EventRef, Topic};
use tokio::time::Instant;

use crate::{AgentState, ApiError, RequestContext};

/// How long a stream stays silent before it sends a `{}` heartbeat (Nomad's
/// `NewJsonStream(ctx, 30*time.Second)`).
pub(crate) const HEARTBEAT: Duration = Duration::from_secs(30);

/// Nomad's answer when `server { enable_event_broker = false }`.
const BROKER_DISABLED: &str = "event broker disabled";

/// `GET /v1/event/stream?topic=Topic:key&index=N&namespace=`.
pub async fn stream(
    State(state): State<Arc<AgentState>>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let server = state.server()?.clone();
    if !server.state().events_enabled() {
        return Err(ApiError::bad_request(BROKER_DISABLED));
    }
    let filter = EventFilter::parse(context.params_all("topic"), &context.namespace)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let from = match context.param("index").filter(|i| !i.is_empty()) {
        None => 0,
        Some(text) => text.parse::<u64>().map_err(|_| {
            ApiError::bad_request(format!(
                "failed to parse index {text:?}: it must be a non-negative integer"
            ))
        })?,
    };
    if let Some(caller) = &context.caller
        && !may_subscribe(&caller.acl, &filter, &server.snapshot())
    {
        return Err(crate::acl::permission_denied());
    }
    let subscription = Subscription {
        server,
        secret: context.token.as_ref().map(|t| t.secret().to_string()),
        filter,
        caller: context.caller.clone(),
        from,
        // Due at once: a stream with nothing buffered for it says so straight away.
        heartbeat_due: Instant::now(),
    };
    let body = Body::from_stream(futures::stream::unfold(subscription, Subscription::next));
    Ok((StatusCode::OK, [("content-type", "application/json")], body).into_response())
}

/// Nomad's `validateACL`: every topic asked for, in every namespace asked for.
fn may_subscribe(acl: &Acl, filter: &EventFilter, snapshot: &Snapshot) -> bool {
    let namespaces: Vec<String> = match filter.namespace() {
        "*" => snapshot
            .namespaces()
            .iter()
            .map(|n| n.name.clone())
            .collect(),
        one => vec![one.to_string()],
    };
    filter.topics().all(|topic| match topic {
        "Deployment" | "Evaluation" | "Allocation" | "Job" | "Service" => namespaces
            .iter()
            .all(|ns| acl.allow_namespace_operation(ns, "read-job")),
        "Node" => acl.allow_node_read(),
        _ => acl.is_management(),
    })
}

/// One subscriber's place in the stream.
struct Subscription {
    server: Arc<Server>,
    /// The token it subscribed with, resolved again as the stream goes on.
    secret: Option<String>,
    filter: EventFilter,
    /// `None`: ACLs are off.
    caller: Option<Caller>,
    /// The next index it has not seen.
    from: u64,
    heartbeat_due: Instant,
}

impl Subscription {
    /// The next line: the events it may see of the writes since the last, or a
    /// heartbeat once it has been silent for [`HEARTBEAT`]; `None` ends the stream.
    async fn next(mut self) -> Option<(Result<Bytes, Infallible>, Subscription)> {
        loop {
            if !self.still_authorized() {
                return None;
            }
            let store = self.server.state().clone();
            let (batches, latest) = store.events_since(self.from);
            let mut lines = Vec::new();
            for batch in &batches {
                self.from = batch.index + 1;
                let events: Vec<EventRef<'_>> = batch
                    .events()
                    .filter(|e| self.filter.matches(e) && may_read(self.caller.as_ref(), e))
                    .collect();
                if !events.is_empty() {
                    batch.write_line(events, &mut lines);
                }
            }
            let now = Instant::now();
            if !lines.is_empty() {
                self.heartbeat_due = now + HEARTBEAT;
                return Some((Ok(Bytes::from(lines)), self));
            }
            if now >= self.heartbeat_due {
                self.heartbeat_due = now + HEARTBEAT;
                return Some((Ok(Bytes::from_static(b"{}\n")), self));
            }
            store.wait_past(latest, self.heartbeat_due - now).await;
        }
    }

    /// Resolves the token again (Nomad re-authenticates subscriptions): false once it
    /// is gone, expired, or no longer allows the topics asked for.
    fn still_authorized(&mut self) -> bool {
        if self.caller.is_none() {
            return true;
        }
        match self.server.resolve_secret(self.secret.as_deref()) {
            Ok(caller) if may_subscribe(&caller.acl, &self.filter, &self.server.snapshot()) => {
                self.caller = Some(caller);
                true
            }
            _ => false,
        }
    }
}

/// Nomad's per-event ACL check: read-job in the event's namespace for namespaced
/// topics, node:read for nodes, a management token for ACL objects.
pub(crate) fn may_read(caller: Option<&Caller>, event: &EventRef<'_>) -> bool {
    let Some(caller) = caller else {
        return true;
    };
    match event.topic() {
        Topic::Node => caller.acl.allow_node_read(),
        Topic::AclToken | Topic::AclPolicy => caller.acl.is_management(),
        _ => caller
            .acl
            .allow_namespace_operation(event.namespace(), "read-job"),
    }
}
