//! `GET /v1/agent/monitor`: the agent's log lines as they happen, at the level the
//! caller asks for, which may be finer than the agent's own (Nomad's `nomad monitor`).
//! `node_id` or `server_id` names another agent, which this one relays.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use caravan_log::MonitorStream;

use crate::{AgentState, ApiError, RequestContext};

/// How often an idle stream sends an empty frame, so a reader that went away is
/// noticed (Nomad's stream framer heartbeats once a second too).
const HEARTBEAT: Duration = Duration::from_secs(1);

/// How each line goes out.
#[derive(Debug, Clone, Copy)]
struct Rendering {
    json: bool,
    plain: bool,
    location: bool,
}

/// Where the caller's `node_id`/`server_id` points.
enum Target {
    Here,
    /// Another agent's HTTP base URL.
    Agent(String),
}

/// `GET /v1/agent/monitor?log_level=&log_json=&log_include_location=&plain=&node_id=&server_id=`.
pub async fn monitor(
    State(state): State<Arc<AgentState>>,
    context: RequestContext,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let level_name = context
        .param("log_level")
        .filter(|l| !l.is_empty())
        .unwrap_or("INFO");
    let level = caravan_log::parse_log_level(level_name)
        .map_err(|_| ApiError::bad_request(format!("Unknown log level: {level_name}")))?;
    let rendering = Rendering {
        json: context.flag("log_json")?,
        plain: context.flag("plain")?,
        location: context.flag("log_include_location")?,
    };
    let node_id = context.param("node_id").unwrap_or_default();
    let server_id = context.param("server_id").unwrap_or_default();
    if !node_id.is_empty() && !server_id.is_empty() {
        return Err(ApiError::bad_request(
            "Cannot target node and server simultaneously",
        ));
    }
    let target = if !node_id.is_empty() {
        node_target(&state, node_id)?
    } else if !server_id.is_empty() {
        server_target(&state, server_id).await?
    } else {
        Target::Here
    };
    match target {
        Target::Here => Ok(stream(state.monitors.subscribe(level), rendering)),
        Target::Agent(_) if headers.contains_key(crate::cluster::FORWARDED_HEADER) => {
            Err(ApiError::bad_request(
                "the agent this monitor was forwarded to is not the one named; check node_id or server_id",
            ))
        }
        Target::Agent(base) => {
            let mut headers = headers;
            headers.insert(
                crate::cluster::FORWARDED_HEADER,
                axum::http::HeaderValue::from_static("1"),
            );
            crate::proxy::forward(
                state.clients_http(),
                &base,
                method,
                &uri,
                &headers,
                Bytes::new(),
            )
            .await
        }
    }
}

/// This agent when it is the node, else the node's agent as the server knows it.
fn node_target(state: &AgentState, node_id: &str) -> Result<Target, ApiError> {
    if let Some(client) = &state.client
        && client.node().id.as_str() == node_id
    {
        return Ok(Target::Here);
    }
    let unknown = || ApiError::new(StatusCode::NOT_FOUND, format!("Unknown node {node_id:?}"));
    let Some(server) = &state.server else {
        return Err(ApiError::bad_request(format!(
            "node_id {node_id:?} is not this client agent's node; ask a server or that node's agent"
        )));
    };
    let snapshot = server.snapshot();
    let node = match snapshot.node(node_id) {
        Some(node) => node,
        None => match snapshot.nodes_by_prefix(node_id).as_slice() {
            [node] => node.clone(),
            _ => return Err(unknown()),
        },
    };
    if let Some(client) = &state.client
        && client.node().id == node.id
    {
        return Ok(Target::Here);
    }
    if node.http_addr.is_empty() {
        return Err(unknown());
    }
    Ok(Target::Agent(state.tls.http_url(&node.http_addr)))
}

/// This agent when it is the server named (`leader`: the leader), else that server.
async fn server_target(state: &AgentState, server_id: &str) -> Result<Target, ApiError> {
    let Some(raft) = &state.raft else {
        if state.server.is_some() {
            return Ok(Target::Here);
        }
        return Err(ApiError::bad_request(
            "server_id needs a server agent: point -address at a server",
        ));
    };
    let me = raft.me();
    let named = if server_id == "leader" {
        raft.leader()
            .ok_or_else(|| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "No cluster leader"))?
    } else if me.name == server_id || me.id == server_id {
        me.clone()
    } else {
        raft.members_alive()
            .await
            .into_iter()
            .map(|(member, _)| member)
            .find(|member| member.name == server_id || member.id == server_id)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    format!("Unknown server {server_id:?}: see `caravan server members` for names"),
                )
            })?
    };
    if named.id == me.id {
        return Ok(Target::Here);
    }
    Ok(Target::Agent(state.tls.http_url(&named.http_addr)))
}

/// One line as the caller reads it: the line itself with `plain`, else Nomad's
/// stream frame `{"Data":"<base64>"}`.
fn render(record: &caravan_log::LogRecord, rendering: Rendering) -> Bytes {
    let mut line = if rendering.json {
        record.to_json(rendering.location)
    } else {
        record.to_text(false, rendering.location)
    };
    line.push('\n');
    if rendering.plain {
        return Bytes::from(line);
    }
    let data = base64::engine::general_purpose::STANDARD.encode(line);
    Bytes::from(format!("{{\"Data\":\"{data}\"}}"))
}

fn stream(subscription: MonitorStream, rendering: Rendering) -> Response {
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let lines = futures::stream::unfold(
        (subscription, heartbeat),
        move |(mut subscription, mut heartbeat)| async move {
            let chunk = loop {
                tokio::select! {
                    record = subscription.next() => {
                        let record = record?;
                        break render(&record, rendering);
                    }
                    _ = heartbeat.tick() => {
                        // Plain text has no empty frame to send.
                        if !rendering.plain {
                            break Bytes::from_static(b"{}");
                        }
                    }
                }
            };
            heartbeat.reset();
            Some((Ok::<_, std::io::Error>(chunk), (subscription, heartbeat)))
        },
    );
    let content_type = if rendering.plain {
        "text/plain; charset=utf-8"
    } else {
        "application/json"
    };
    (
        [(header::CONTENT_TYPE, content_type)],
        Body::from_stream(lines),
    )
        .into_response()
}
