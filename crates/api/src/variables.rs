//! Nomad Variables: `GET /v1/vars`, `GET|PUT|DELETE /v1/var/:path` (with `?cas=` and
//! the lock operations `?lock-acquire`, `?lock-renew`, `?lock-release`), and the
//! servers' keyring: `GET /v1/operator/keyring/keys`, `PUT /v1/operator/keyring/rotate`,
//! `DELETE /v1/operator/keyring/key/:id`.
//!
//! Variables are checked here, by path, against the caller's `variables` rules (the ACL
//! table says `Handler` for them): `list` filters the list, `read`, `write` and
//! `destroy` guard the rest.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use caravan_server::{LockOperation, VariableWrite};
use caravan_structs::{Variable, VariableMetadata};
use serde::Serialize;

use crate::blocking::{indexed, read};
use crate::{AgentState, ApiError, RequestContext};

/// Whether the caller may do `capability` on the variable at `path`.
fn may(context: &RequestContext, namespace: &str, path: &str, capability: &str) -> bool {
    context
        .caller
        .as_ref()
        .is_none_or(|c| c.acl.allow_variable_operation(namespace, path, capability))
}

fn require(
    context: &RequestContext,
    namespace: &str,
    path: &str,
    capability: &str,
) -> Result<(), ApiError> {
    if may(context, namespace, path, capability) {
        Ok(())
    } else {
        Err(crate::acl::permission_denied())
    }
}

/// `?cas=<index>`: absent, or a modify index (0: the variable must not exist).
fn cas(context: &RequestContext) -> Result<Option<u64>, ApiError> {
    context
        .param("cas")
        .map(|text| {
            text.parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!(
                    "failed to parse cas value {text:?}: use the variable's ModifyIndex, or 0 for one that must not exist yet"
                ))
            })
        })
        .transpose()
}

/// `GET /v1/vars`: the metadata of the variables whose path starts with `?prefix=`, in
/// the request's namespace or every one (`*`), that the caller may list.
pub async fn list(
    State(state): State<Arc<AgentState>>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let namespace = context.namespace.clone();
    if namespace != "*"
        && let Some(caller) = &context.caller
        && !caller.acl.allow_variable_search(&namespace)
    {
        return Err(crate::acl::permission_denied());
    }
    let now = state.server()?.variables_now();
    let (variables, index) = read(&state, &context, |snapshot| {
        let variables: Vec<VariableMetadata> = snapshot
            .variables_by_prefix(&namespace, &context.prefix)
            .iter()
            .filter(|v| may(&context, &v.namespace, &v.path, "list"))
            .map(|v| v.metadata(now))
            .collect();
        (variables, snapshot.variables_index())
    })
    .await?;
    Ok(indexed(variables, index))
}

/// `GET /v1/var/:path`: the variable with its items, a blocking query on its modify
/// index; `404 variable not found` when there is none.
pub async fn get(
    State(state): State<Arc<AgentState>>,
    Path(path): Path<String>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let namespace = context.namespace.clone();
    require(&context, &namespace, &path, "read")?;
    let (sealed, index) = read(&state, &context, |snapshot| {
        let sealed = snapshot.variable(&namespace, &path);
        let index = sealed
            .as_ref()
            .map_or(snapshot.variables_index(), |v| v.modify_index);
        (sealed, index)
    })
    .await?;
    if sealed.is_none() {
        return Err(ApiError::not_found("variable"));
    }
    let server = state.server()?;
    let variable = server
        .read_variable(&server.snapshot(), &namespace, &path)?
        .ok_or_else(|| ApiError::not_found("variable"))?;
    Ok(indexed(variable, index))
}

/// The namespace of a write: `?namespace=`, else the body's, else `default`.
fn write_namespace(context: &RequestContext, body: &Variable) -> String {
    match context.param("namespace").filter(|n| !n.is_empty()) {
        Some(namespace) => namespace.to_string(),
        None if !body.namespace.is_empty() => body.namespace.clone(),
        None => context.namespace.clone(),
    }
}

/// Which lock operation the query asks for, if any (Nomad takes the first it finds).
fn lock_operation(context: &RequestContext) -> Option<LockOperation> {
    [
        ("lock-acquire", LockOperation::Acquire),
        ("lock-renew", LockOperation::Renew),
        ("lock-release", LockOperation::Release),
    ]
    .into_iter()
    .find(|(name, _)| context.param(name).is_some())
    .map(|(_, operation)| operation)
}

/// `PUT /v1/var/:path`: stores the body's items at the path (the URL's path wins over
/// the body's). Answers the stored variable, or `409` with the one standing in the way.
pub async fn put(
    State(state): State<Arc<AgentState>>,
    Path(path): Path<String>,
    context: RequestContext,
    body: Bytes,
) -> Result<Response, ApiError> {
    // Go's decoding: no body (a lock release) or `null` is an empty variable, `null`
    // fields are absent, unknown fields are ignored.
    let trimmed = body.trim_ascii();
    let mut variable: Variable = if trimmed.is_empty() || trimmed == b"null" {
        Variable::default()
    } else {
        crate::context::decode_body(trimmed)?
    };
    variable.namespace = write_namespace(&context, &variable);
    variable.path = path;
    require(&context, &variable.namespace, &variable.path, "write")?;
    let server = state.server()?;
    let written = match lock_operation(&context) {
        Some(operation) => server.lock_variable(operation, variable).await?,
        None => {
            // Nomad's HTTP layer refuses it before anything else.
            if variable.items.is_empty() {
                return Err(ApiError::bad_request(
                    "variable missing required Items object",
                ));
            }
            let cas = cas(&context)?;
            server.upsert_variable(variable, cas).await?
        }
    };
    Ok(answer(&context, written, StatusCode::OK))
}

/// `DELETE /v1/var/:path`: `204` once it is gone (or was never there), `409` with the
/// variable when `?cas=` does not match or a lock holds it (release it first).
pub async fn delete(
    State(state): State<Arc<AgentState>>,
    Path(path): Path<String>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let namespace = context.namespace.clone();
    require(&context, &namespace, &path, "destroy")?;
    let cas = cas(&context)?;
    let written = state
        .server()?
        .delete_variable(&namespace, &path, cas, None)
        .await?;
    Ok(answer(&context, written, StatusCode::NO_CONTENT))
}

/// The answer to a write: the variable (none for a delete's `204`) with its index, or a
/// `409` with the conflicting variable, its items only for a caller that may read them.
fn answer(context: &RequestContext, written: VariableWrite, success: StatusCode) -> Response {
    match written {
        VariableWrite::Written(variable, index) => {
            if success == StatusCode::NO_CONTENT {
                let mut response = StatusCode::NO_CONTENT.into_response();
                if let Ok(value) = index.to_string().parse() {
                    response.headers_mut().insert("X-Nomad-Index", value);
                }
                response
            } else {
                indexed(variable, index)
            }
        }
        VariableWrite::Conflict(mut variable) => {
            if !may(context, &variable.namespace, &variable.path, "read") {
                variable.items.clear();
            }
            let index = variable.modify_index;
            let mut response = indexed(variable, index);
            *response.status_mut() = StatusCode::CONFLICT;
            response
        }
    }
}

/// `GET /v1/operator/keyring/keys`: every root key's metadata, never the key.
pub async fn keyring_list(State(state): State<Arc<AgentState>>) -> Result<Response, ApiError> {
    let (keys, index) = state.server()?.root_key_list();
    Ok(indexed(keys, index))
}

/// Nomad's `KeyringRotateRootKeyResponse`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct RotateAnswer {
    key: caravan_structs::RootKeyMeta,
    index: u64,
}

/// `PUT /v1/operator/keyring/rotate`: a new active key; `?full=true` seals every
/// variable again with it.
pub async fn keyring_rotate(
    State(state): State<Arc<AgentState>>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let full = context.flag("full")?;
    let (key, index) = state.server()?.rotate_keyring(full).await?;
    Ok(indexed(RotateAnswer { key, index }, index))
}

/// Nomad's `KeyringDeleteRootKeyResponse`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DeleteAnswer {
    index: u64,
}

/// `DELETE /v1/operator/keyring/key/:id`: removes an inactive key no variable uses;
/// the active key is refused with Nomad's words.
pub async fn keyring_delete(
    State(state): State<Arc<AgentState>>,
    Path(key_id): Path<String>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let force = context.flag("force")?;
    let index = state.server()?.delete_root_key(&key_id, force).await?;
    Ok(indexed(DeleteAnswer { index }, index))
}
