//! `/v1/acl/*` (bootstrap, policies, tokens) and `/v1/namespace*`.
//!
//! The routes that need a management token are checked by the ACL layer
//! ([`crate::acl::need`]); the ones here whose answer depends on who asks (a token
//! reads its own policies and itself, a list shows what the caller may see) check
//! for themselves.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use caravan_server::{ACL_TOKEN_NOT_FOUND, Caller};
use caravan_structs::acl::{AclPolicy, AclToken, Namespace};
use serde::Deserialize;

use crate::acl::permission_denied;
use crate::blocking::indexed;
use crate::context::decode_body;
use crate::{AgentState, ApiError, RequestContext};

/// A write's answer: an empty body and the index of the write.
fn written(index: u64) -> Response {
    let mut response = ().into_response();
    if let Ok(value) = index.to_string().parse() {
        response.headers_mut().insert("X-Nomad-Index", value);
    }
    response
}

fn is_management(context: &RequestContext) -> bool {
    context
        .caller
        .as_ref()
        .is_none_or(|c| c.acl.is_management())
}

fn caller_token(context: &RequestContext) -> Option<&AclToken> {
    context
        .caller
        .as_ref()
        .and_then(|c: &Caller| c.token.as_deref())
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct BootstrapRequest {
    #[serde(rename = "BootstrapSecret")]
    bootstrap_secret: Option<String>,
}

/// `POST /v1/acl/bootstrap`.
pub async fn bootstrap(
    State(state): State<Arc<AgentState>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let text = body.trim_ascii();
    let request: BootstrapRequest = if text.is_empty() || text == b"null" {
        BootstrapRequest::default()
    } else {
        decode_body(&body)?
    };
    let reset_index = state.acl.bootstrap_reset_index()?;
    let token = state
        .server()?
        .acl_bootstrap(
            reset_index,
            request.bootstrap_secret.filter(|s| !s.is_empty()),
        )
        .await?;
    let index = token.modify_index;
    Ok(indexed(token, index))
}

/// `GET /v1/acl/policies`: all of them for a management token, else the caller's own.
pub async fn list_policies(
    State(state): State<Arc<AgentState>>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let server = state.server()?;
    let snapshot = server.snapshot();
    let own: Option<Vec<String>> = (!is_management(&context)).then(|| {
        caller_token(&context).map_or_else(
            || vec![caravan_structs::acl::ANONYMOUS_POLICY.to_string()],
            |t| t.policies.clone(),
        )
    });
    let stubs: Vec<_> = snapshot
        .acl_policies(&context.prefix)
        .iter()
        .filter(|p| own.as_ref().is_none_or(|names| names.contains(&p.name)))
        .map(|p| p.stub())
        .collect();
    Ok(indexed(stubs, snapshot.security_index().policies))
}

/// `GET /v1/acl/policy/:name`: a management token, or one that holds the policy.
pub async fn get_policy(
    State(state): State<Arc<AgentState>>,
    Path(name): Path<String>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let holds = caller_token(&context)
        .map_or(name == caravan_structs::acl::ANONYMOUS_POLICY, |t| {
            t.policies.contains(&name)
        });
    if !is_management(&context) && !holds {
        return Err(permission_denied());
    }
    let policy = state
        .server()?
        .snapshot()
        .acl_policy(&name)
        .ok_or_else(|| ApiError::not_found("ACL policy"))?;
    let index = policy.modify_index;
    Ok(indexed(&*policy, index))
}

/// `POST /v1/acl/policy/:name` (management): create or replace.
pub async fn put_policy(
    State(state): State<Arc<AgentState>>,
    Path(name): Path<String>,
    context: RequestContext,
    body: Bytes,
) -> Result<Response, ApiError> {
    if !is_management(&context) {
        return Err(permission_denied());
    }
    let mut policy: AclPolicy = decode_body(&body)?;
    if policy.name.is_empty() {
        policy.name = name.clone();
    }
    if policy.name != name {
        return Err(ApiError::bad_request(
            "Policy name does not match request path",
        ));
    }
    let index = state.server()?.upsert_acl_policies(vec![policy]).await?;
    Ok(written(index))
}

/// `DELETE /v1/acl/policy/:name` (management).
pub async fn delete_policy(
    State(state): State<Arc<AgentState>>,
    Path(name): Path<String>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    if !is_management(&context) {
        return Err(permission_denied());
    }
    let index = state.server()?.delete_acl_policies(vec![name]).await?;
    Ok(written(index))
}

/// `GET /v1/acl/tokens` (management): stubs, `?prefix=` on the accessor and `?filter=`.
pub async fn list_tokens(
    State(state): State<Arc<AgentState>>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let snapshot = state.server()?.snapshot();
    let filter = context
        .param("filter")
        .filter(|f| !f.is_empty())
        .map(crate::filter::Filter::parse)
        .transpose()
        .map_err(ApiError::bad_request)?;
    let mut stubs = Vec::new();
    for token in snapshot.acl_tokens(&context.prefix) {
        let stub = token.stub();
        if let Some(filter) = &filter {
            let value =
                serde_json::to_value(&stub).map_err(|e| ApiError::bad_request(e.to_string()))?;
            if !filter.matches(&value).map_err(ApiError::bad_request)? {
                continue;
            }
        }
        stubs.push(stub);
    }
    Ok(indexed(stubs, snapshot.security_index().tokens))
}

/// `POST /v1/acl/token` (management): create.
pub async fn create_token(
    State(state): State<Arc<AgentState>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mut token: AclToken = decode_body(&body)?;
    token.accessor_id.clear();
    let token = state.server()?.upsert_acl_token(token).await?;
    let index = token.modify_index;
    Ok(indexed(token, index))
}

/// `POST /v1/acl/token/:accessor` (management): update.
pub async fn update_token(
    State(state): State<Arc<AgentState>>,
    Path(accessor): Path<String>,
    context: RequestContext,
    body: Bytes,
) -> Result<Response, ApiError> {
    if !is_management(&context) {
        return Err(permission_denied());
    }
    let mut token: AclToken = decode_body(&body)?;
    if token.accessor_id.is_empty() {
        token.accessor_id = accessor.clone();
    }
    if token.accessor_id != accessor {
        return Err(ApiError::bad_request(
            "Accessor ID does not match request path",
        ));
    }
    let token = state.server()?.upsert_acl_token(token).await?;
    let index = token.modify_index;
    Ok(indexed(token, index))
}

/// `GET /v1/acl/token/:accessor`: a management token, or the token itself.
pub async fn get_token(
    State(state): State<Arc<AgentState>>,
    Path(accessor): Path<String>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let own = caller_token(&context).is_some_and(|t| t.accessor_id == accessor);
    if !is_management(&context) && !own {
        return Err(permission_denied());
    }
    let token = state
        .server()?
        .snapshot()
        .acl_token(&accessor)
        .ok_or_else(|| ApiError::not_found("ACL token"))?;
    let index = token.modify_index;
    Ok(indexed(&*token, index))
}

/// `GET /v1/acl/token/self`: the caller's own token; without one, Nomad's 403.
pub async fn token_self(
    State(state): State<Arc<AgentState>>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let server = state.server()?;
    if !server.acl_enabled() {
        return Err(ApiError::bad_request(caravan_server::ACL_DISABLED));
    }
    let token = caller_token(&context)
        .cloned()
        .ok_or_else(|| ApiError::new(axum::http::StatusCode::FORBIDDEN, ACL_TOKEN_NOT_FOUND))?;
    let index = token.modify_index;
    Ok(indexed(token, index))
}

/// `DELETE /v1/acl/token/:accessor` (management).
pub async fn delete_token(
    State(state): State<Arc<AgentState>>,
    Path(accessor): Path<String>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    if !is_management(&context) {
        return Err(permission_denied());
    }
    let server = state.server()?;
    if server.snapshot().acl_token(&accessor).is_none() {
        return Err(ApiError::not_found("ACL token"));
    }
    let index = server.delete_acl_tokens(vec![accessor]).await?;
    Ok(written(index))
}

/// `GET /v1/namespaces`: the namespaces the caller may use at all.
pub async fn list_namespaces(
    State(state): State<Arc<AgentState>>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let snapshot = state.server()?.snapshot();
    let visible: Vec<Namespace> = snapshot
        .namespaces()
        .iter()
        .filter(|n| n.name.starts_with(&context.prefix))
        .filter(|n| {
            context
                .caller
                .as_ref()
                .is_none_or(|c| c.acl.allow_namespace(&n.name))
        })
        .map(|n| Namespace::clone(n))
        .collect();
    let index = snapshot.security_index().namespaces.max(1);
    Ok(indexed(visible, index))
}

/// `GET /v1/namespace/:name`.
pub async fn get_namespace(
    State(state): State<Arc<AgentState>>,
    Path(name): Path<String>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    if let Some(caller) = &context.caller
        && !caller.acl.allow_namespace(&name)
    {
        return Err(permission_denied());
    }
    let namespace = state
        .server()?
        .snapshot()
        .namespace(&name)
        .ok_or_else(|| ApiError::not_found("namespace"))?;
    let index = namespace.modify_index.max(1);
    Ok(indexed(&*namespace, index))
}

/// `POST /v1/namespace/:name` (management): create or update.
pub async fn put_namespace(
    State(state): State<Arc<AgentState>>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mut namespace: Namespace = decode_body(&body)?;
    if namespace.name.is_empty() {
        namespace.name = name.clone();
    }
    if namespace.name != name {
        return Err(ApiError::bad_request(
            "Namespace name does not match request path",
        ));
    }
    let index = state.server()?.upsert_namespaces(vec![namespace]).await?;
    Ok(written(index))
}

/// `DELETE /v1/namespace/:name` (management).
pub async fn delete_namespace(
    State(state): State<Arc<AgentState>>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let index = state.server()?.delete_namespaces(vec![name]).await?;
    Ok(written(index))
}
