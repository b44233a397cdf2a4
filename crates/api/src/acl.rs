//! Authorization: one layer in front of every `/v1` route resolves the caller's token
//! and checks the capability its route needs ([`need`], one table for the whole API)
//! before any handler runs. A route whose namespace is the object's (an allocation or
//! evaluation by ID, a client's files) is checked against the object's namespace;
//! a few routes decide for themselves ([`Need::Handler`]): the ACL and namespace routes,
//! and job registration, whose namespace is the job's.
//!
//! A server resolves tokens from its state. A client-only agent asks a server
//! (`/v1/internal/acl/resolve`, forwarded on the RPC port) and keeps the answer for
//! `acl.token_ttl`, as Nomad's clients cache tokens and policies.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use caravan_acl::{Acl, parse_rules};
use caravan_server::{Caller, PERMISSION_DENIED};
use caravan_structs::acl::{AclPolicy, AclToken};
use serde::{Deserialize, Serialize};

use crate::context::AuthToken;
use crate::{AgentState, ApiError};

/// The `acl {}` settings every agent needs, servers and clients alike.
#[derive(Debug, Clone)]
pub struct AclSettings {
    pub enabled: bool,
    /// How long a client-only agent trusts a resolved token.
    pub token_ttl: Duration,
    /// `<data_dir>/server/acl-bootstrap-reset`: an operator writes the reset index
    /// there to bootstrap again.
    pub bootstrap_reset_file: Option<std::path::PathBuf>,
}

impl AclSettings {
    /// The index in the reset file, if the operator wrote one.
    pub fn bootstrap_reset_index(&self) -> Result<Option<u64>, ApiError> {
        let Some(path) = &self.bootstrap_reset_file else {
            return Ok(None);
        };
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("failed to read {}: {e}", path.display()),
                ));
            }
        };
        text.trim().parse().map(Some).map_err(|_| {
            ApiError::bad_request(format!(
                "invalid reset index in {}: it must hold only the index from the error of the failed bootstrap, got {:?}",
                path.display(),
                text.trim()
            ))
        })
    }
}

impl Default for AclSettings {
    fn default() -> AclSettings {
        AclSettings {
            enabled: false,
            token_ttl: Duration::from_secs(30),
            bootstrap_reset_file: None,
        }
    }
}

/// What a route needs of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Nothing: status, health, metrics, the UI.
    Nothing,
    /// A capability in the request's namespace (`?namespace=`); on a list route,
    /// `namespace=*` is let through and the handler keeps what the caller may see.
    Namespace(&'static str),
    /// Any one of these sets of capabilities, each whole, in the request's namespace
    /// (Nomad's scaling routes: `scale-job` or `submit-job`); on a list route,
    /// `namespace=*` is let through and the handler keeps what the caller may see.
    NamespaceAny(&'static [&'static [&'static str]]),
    /// A capability in the namespace of the allocation named in the path.
    AllocNamespace(&'static str),
    /// A capability in the namespace of the evaluation named in the path.
    EvalNamespace(&'static str),
    NodeRead,
    NodeWrite,
    AgentRead,
    AgentWrite,
    OperatorRead,
    OperatorWrite,
    Management,
    /// The handler checks (its namespace or its rule is its own).
    Handler,
}

/// `job scale`: Nomad's `scale-job`, or `submit-job`.
pub(crate) const SCALE_JOB: &[&[&str]] = &[&["scale-job"], &["submit-job"]];
/// A job's scale status: `read-job-scaling`, or `read-job`.
pub(crate) const READ_JOB_SCALING: &[&[&str]] = &[&["read-job-scaling"], &["read-job"]];
/// The scaling policy list: `list-scaling-policies`, or both `list-jobs` and `read-job`.
pub(crate) const LIST_SCALING_POLICIES: &[&[&str]] =
    &[&["list-scaling-policies"], &["list-jobs", "read-job"]];
/// One scaling policy: `read-scaling-policy`, or `read-job`.
pub(crate) const READ_SCALING_POLICY: &[&[&str]] = &[&["read-scaling-policy"], &["read-job"]];

/// The capability each route needs, by method and route template: Nomad's checks.
pub fn need(method: &Method, route: &str) -> Need {
    use Need::*;
    let write = !matches!(*method, Method::GET | Method::HEAD);
    match route {
        "/v1/status/leader" | "/v1/status/peers" | "/v1/agent/health" | "/v1/metrics"
        | "/v1/regions" | "/v1/acl/bootstrap" => Nothing,
        "/" | "/ui" | "/ui/" | "/ui/{*path}" => Nothing,
        "/v1/jobs" if write => Handler,
        "/v1/jobs" => Namespace("list-jobs"),
        "/v1/jobs/parse" => Namespace("parse-job"),
        "/v1/job/{id}" if *method == Method::DELETE => Namespace("submit-job"),
        "/v1/job/{id}" if write => Handler,
        "/v1/job/{id}"
        | "/v1/job/{id}/allocations"
        | "/v1/job/{id}/evaluations"
        | "/v1/job/{id}/summary"
        | "/v1/job/{id}/versions"
        | "/v1/job/{id}/services" => Namespace("read-job"),
        "/v1/job/{id}/plan" => Handler,
        "/v1/job/{id}/revert" | "/v1/job/{id}/stable" => Namespace("submit-job"),
        "/v1/job/{id}/evaluate" => Namespace("read-job"),
        "/v1/job/{id}/deployments" | "/v1/job/{id}/deployment" => Namespace("read-job"),
        "/v1/deployments" | "/v1/deployment/{id}" | "/v1/deployment/allocations/{id}" => {
            Namespace("read-job")
        }
        "/v1/deployment/promote/{id}"
        | "/v1/deployment/pause/{id}"
        | "/v1/deployment/fail/{id}"
        | "/v1/deployment/unblock/{id}"
        | "/v1/deployment/allocation-health/{id}" => Namespace("submit-job"),
        "/v1/job/{id}/scale" if write => NamespaceAny(SCALE_JOB),
        "/v1/job/{id}/scale" => NamespaceAny(READ_JOB_SCALING),
        "/v1/scaling/policies" => NamespaceAny(LIST_SCALING_POLICIES),
        "/v1/scaling/policy/{id}" => NamespaceAny(READ_SCALING_POLICY),
        "/v1/job/{id}/dispatch" | "/v1/job/{id}/periodic/force" => Namespace("dispatch-job"),
        "/v1/validate/job" => Namespace("read-job"),
        // Nomad: deleting evaluations needs a management token.
        "/v1/evaluations" if *method == Method::DELETE => Management,
        "/v1/evaluations" | "/v1/allocations" => Namespace("read-job"),
        "/v1/evaluation/{id}" | "/v1/evaluation/{id}/allocations" => EvalNamespace("read-job"),
        "/v1/allocation/{id}" => AllocNamespace("read-job"),
        "/v1/allocation/{id}/stop" => AllocNamespace("alloc-lifecycle"),
        "/v1/client/fs/logs/{alloc}" => AllocNamespace("read-logs"),
        "/v1/client/fs/ls/{alloc}"
        | "/v1/client/fs/stat/{alloc}"
        | "/v1/client/fs/cat/{alloc}"
        | "/v1/client/fs/readat/{alloc}"
        | "/v1/client/fs/stream/{alloc}" => AllocNamespace("read-fs"),
        "/v1/client/allocation/{alloc}/stats" | "/v1/client/allocation/{alloc}/checks" => {
            AllocNamespace("read-job")
        }
        // Nomad: reading the catalogue needs read-job, deleting from it submit-job.
        "/v1/services" | "/v1/service/{name}" if !write => Namespace("read-job"),
        "/v1/service/{name}/{id}" => Namespace("submit-job"),
        // Nomad checks variables by path, in the handler.
        "/v1/vars" | "/v1/var/{*path}" => Handler,
        // Nomad: the keyring is the management token's alone.
        "/v1/operator/keyring/keys"
        | "/v1/operator/keyring/rotate"
        | "/v1/operator/keyring/key/{id}" => Management,
        "/v1/client/allocation/{alloc}/restart" | "/v1/client/allocation/{alloc}/signal" => {
            AllocNamespace("alloc-lifecycle")
        }
        "/v1/client/allocation/{alloc}/exec" => AllocNamespace("alloc-exec"),
        // Nomad: collecting an allocation needs submit-job in its namespace.
        "/v1/client/allocation/{alloc}/gc" => AllocNamespace("submit-job"),
        "/v1/client/gc" => NodeWrite,
        "/v1/client/stats" => NodeRead,
        "/v1/nodes" | "/v1/node/{id}" | "/v1/node/{id}/allocations" | "/v1/agent/members" => {
            NodeRead
        }
        "/v1/node/{id}/eligibility" | "/v1/node/{id}/drain" | "/v1/node/{id}/evaluate" => NodeWrite,
        "/v1/agent/self" | "/v1/agent/servers" | "/v1/agent/monitor" => AgentRead,
        "/v1/agent/join" | "/v1/agent/force-leave" => AgentWrite,
        "/v1/operator/raft/configuration" => OperatorRead,
        "/v1/operator/raft/peer" => OperatorWrite,
        "/v1/operator/scheduler/configuration" if write => OperatorWrite,
        "/v1/operator/scheduler/configuration" => OperatorRead,
        "/v1/operator/snapshot" | "/v1/system/gc" | "/v1/system/reconcile/summaries" => Management,
        "/v1/acl/policies" | "/v1/acl/policy/{name}" | "/v1/acl/token/{accessor}" => Handler,
        "/v1/acl/tokens" | "/v1/acl/token" => Management,
        "/v1/acl/token/self" | "/v1/internal/acl/resolve" => Handler,
        "/v1/namespaces" => Handler,
        // Nomad filters the stream event by event: read-job in the event's namespace,
        // node:read for nodes, management for ACL objects.
        "/v1/event/stream" => Handler,
        // Each context is checked, and each object in namespace `*` (Nomad's
        // sufficientSearchPerms and its per-object filters).
        "/v1/search" | "/v1/search/fuzzy" => Handler,
        "/v1/namespace/{name}" if write => Management,
        "/v1/namespace/{name}" => Handler,
        // A route this table does not know is refused rather than left open.
        _ => Management,
    }
}

/// The 403 of a caller that lacks a capability.
pub fn permission_denied() -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, PERMISSION_DENIED)
}

/// The layer: resolves the caller, checks the route's need, and leaves the [`Caller`]
/// in the request's extensions for handlers that check for themselves.
pub async fn authorize(
    State(state): State<Arc<AgentState>>,
    matched: Option<MatchedPath>,
    request: Request<Body>,
    next: Next,
) -> Response {
    if !state.acl.enabled {
        return next.run(request).await;
    }
    let route = matched.as_ref().map_or("", |m| m.as_str());
    let need = need(request.method(), route);
    if need == Need::Nothing {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let context = crate::RequestContext::from_parts(&parts);
    let mut request = Request::from_parts(parts, body);
    let context = match context {
        Ok(context) => context,
        Err(error) => return error.into_response(),
    };
    if context.token.is_none() && exec_handshake(route, &request) {
        // `alloc exec` from a browser: the token comes in the websocket's first message,
        // and the handler checks it (`alloc_exec::authorize_handshake`).
        return next.run(request).await;
    }
    let caller = match state.resolve(context.token.as_ref()).await {
        Ok(caller) => caller,
        Err(error) => return error.into_response(),
    };
    let namespace = context.namespace.as_str();
    let allowed = match need {
        Need::Nothing | Need::Handler => true,
        Need::Namespace(capability) => {
            namespace == "*" || caller.acl.allow_namespace_operation(namespace, capability)
        }
        Need::NamespaceAny(sets) => namespace == "*" || allows_any(&caller.acl, namespace, sets),
        Need::AllocNamespace(capability) => match state.alloc_namespace(path_id(&request)) {
            Some(ns) => caller.acl.allow_namespace_operation(&ns, capability),
            // Unknown: the handler answers 404 (or forwards, and the agent that runs
            // it checks).
            None => true,
        },
        Need::EvalNamespace(capability) => match state.eval_namespace(path_id(&request)) {
            Some(ns) => caller.acl.allow_namespace_operation(&ns, capability),
            None => true,
        },
        Need::NodeRead => caller.acl.allow_node_read(),
        Need::NodeWrite => caller.acl.allow_node_write(),
        Need::AgentRead => caller.acl.allow_agent_read(),
        Need::AgentWrite => caller.acl.allow_agent_write(),
        Need::OperatorRead => caller.acl.allow_operator_read(),
        Need::OperatorWrite => caller.acl.allow_operator_write(),
        Need::Management => caller.acl.is_management(),
    };
    if !allowed {
        return permission_denied().into_response();
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// Whether `acl` holds, in `namespace`, every capability of at least one of `sets`.
fn allows_any(acl: &Acl, namespace: &str, sets: &[&[&str]]) -> bool {
    sets.iter().any(|capabilities| {
        capabilities
            .iter()
            .all(|c| acl.allow_namespace_operation(namespace, c))
    })
}

/// An `alloc exec` that sends its token in the websocket handshake (`ws_handshake=true`).
fn exec_handshake(route: &str, request: &Request<Body>) -> bool {
    route == "/v1/client/allocation/{alloc}/exec"
        && request
            .uri()
            .query()
            .is_some_and(|q| q.split('&').any(|pair| pair == "ws_handshake=true"))
}

/// The ID segment after the route's fixed part: `/v1/allocation/<id>`,
/// `/v1/client/fs/logs/<id>`, `/v1/evaluation/<id>/allocations`.
fn path_id(request: &Request<Body>) -> &str {
    let path = request.uri().path();
    let mut segments = path.trim_start_matches('/').split('/');
    match (segments.next(), segments.next(), segments.next()) {
        (Some("v1"), Some("client"), Some("fs")) => segments.nth(1).unwrap_or(""),
        (Some("v1"), Some("client"), Some("allocation")) => segments.next().unwrap_or(""),
        (Some("v1"), Some(_), Some(id)) => id,
        _ => "",
    }
}

/// What a server tells a client-only agent about a secret: the token (its secret
/// blanked) and the rules of its policies.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResolvedToken {
    pub token: Option<AclToken>,
    pub management: bool,
    pub policies: Vec<AclPolicy>,
}

/// Tokens a client-only agent resolved, by secret, until `token_ttl` passes.
#[derive(Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<String, (Instant, Caller)>>,
}

/// How many resolved secrets a client keeps; past it the cache starts over.
const TOKEN_CACHE_SIZE: usize = 4096;

impl AgentState {
    /// Who the holder of `token` is, by this agent's server, or by asking one.
    pub(crate) async fn resolve(&self, token: Option<&AuthToken>) -> Result<Caller, ApiError> {
        let secret = token.map(AuthToken::secret);
        if let Some(server) = &self.server {
            return server.resolve_secret(secret).map_err(ApiError::from);
        }
        let key = secret.unwrap_or("").to_string();
        {
            let cache = self
                .tokens
                .entries
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if let Some((at, caller)) = cache.get(&key)
                && at.elapsed() < self.acl.token_ttl
            {
                return Ok(caller.clone());
            }
        }
        let caller = self.resolve_remotely(secret).await?;
        let mut cache = self
            .tokens
            .entries
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if cache.len() >= TOKEN_CACHE_SIZE {
            cache.clear();
        }
        cache.insert(key, (Instant::now(), caller.clone()));
        Ok(caller)
    }

    async fn resolve_remotely(&self, secret: Option<&str>) -> Result<Caller, ApiError> {
        let mut headers = axum::http::HeaderMap::new();
        if let Some(value) = secret.and_then(|s| s.parse().ok()) {
            headers.insert("x-nomad-token", value);
        }
        let uri: axum::http::Uri = "/v1/internal/acl/resolve"
            .parse()
            .map_err(|_| ApiError::bad_request("invalid path"))?;
        let response =
            crate::proxy::call_server(self, Method::GET, &uri, headers, Default::default()).await?;
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 4 * 1024 * 1024)
            .await
            .map_err(|e| ApiError::new(StatusCode::BAD_GATEWAY, e.to_string()))?;
        if !status.is_success() {
            return Err(ApiError::new(
                status,
                String::from_utf8_lossy(&body).into_owned(),
            ));
        }
        let resolved: ResolvedToken = serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                format!("bad answer resolving a token: {e}"),
            )
        })?;
        Ok(caller_of(resolved))
    }

    /// The namespace of the allocation `id` (or prefix), as this agent knows it.
    fn alloc_namespace(&self, id: &str) -> Option<String> {
        if id.is_empty() {
            return None;
        }
        if let Some(client) = &self.client {
            let local = client.allocation(id).or_else(|| {
                match client.allocations_by_prefix(id).as_slice() {
                    [one] => Some(one.clone()),
                    _ => None,
                }
            });
            if let Some(alloc) = local {
                return Some(alloc.namespace.clone());
            }
        }
        let snapshot = self.server.as_ref()?.snapshot();
        if let Some(alloc) = snapshot.alloc(id) {
            return Some(alloc.namespace.clone());
        }
        match snapshot.allocs_by_prefix(id).as_slice() {
            [one] => Some(one.namespace.clone()),
            _ => None,
        }
    }

    fn eval_namespace(&self, id: &str) -> Option<String> {
        let snapshot = self.server.as_ref()?.snapshot();
        if let Some(eval) = snapshot.eval(id) {
            return Some(eval.namespace.clone());
        }
        match snapshot.evals_by_prefix(id).as_slice() {
            [one] => Some(one.namespace.clone()),
            _ => None,
        }
    }
}

/// A client's view of a server's answer.
fn caller_of(resolved: ResolvedToken) -> Caller {
    let acl = if resolved.management {
        Acl::management()
    } else {
        let rules: Vec<_> = resolved
            .policies
            .iter()
            .filter_map(|p| parse_rules(&p.name, &p.rules).ok())
            .collect();
        Acl::from_policies(&rules)
    };
    Caller {
        token: resolved.token.map(Arc::new),
        acl: Arc::new(acl),
    }
}

/// `GET /v1/internal/acl/resolve`: what the caller's own token may do, for a client-only
/// agent checking a request it answers itself.
pub async fn resolve_route(
    State(state): State<Arc<AgentState>>,
    context: crate::RequestContext,
) -> Result<Response, ApiError> {
    let server = state.server()?;
    let caller = server.resolve_secret(context.token.as_ref().map(AuthToken::secret))?;
    let snapshot = server.snapshot();
    let management = caller.acl.is_management();
    let policies = match &caller.token {
        Some(token) => token
            .policies
            .iter()
            .filter_map(|name| snapshot.acl_policy(name))
            .map(|p| AclPolicy::clone(&p))
            .collect(),
        None if !management => snapshot
            .acl_policy(caravan_structs::acl::ANONYMOUS_POLICY)
            .map(|p| vec![AclPolicy::clone(&p)])
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let token = caller.token.map(|t| AclToken {
        secret_id: String::new(),
        ..AclToken::clone(&t)
    });
    Ok(axum::Json(ResolvedToken {
        token,
        management,
        policies,
    })
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_read_from_each_route_shape() {
        for (path, id) in [
            ("/v1/allocation/abc", "abc"),
            ("/v1/evaluation/e1/allocations", "e1"),
            ("/v1/client/fs/logs/a1", "a1"),
            ("/v1/client/fs/cat/a2?path=x", "a2"),
            ("/v1/client/allocation/a3/stats", "a3"),
        ] {
            let request = Request::builder().uri(path).body(Body::empty()).unwrap();
            assert_eq!(path_id(&request), id, "{path}");
        }
    }

    #[test]
    fn the_scale_policy_and_the_job_capabilities_open_the_scaling_routes() {
        let acl = |rules: &str| Acl::from_policies(&[parse_rules("p", rules).unwrap()]);
        let scale = acl(r#"namespace "default" { policy = "scale" }"#);
        let submit = acl(r#"namespace "default" { capabilities = ["submit-job", "read-job"] }"#);
        let list_only = acl(r#"namespace "default" { capabilities = ["list-jobs"] }"#);
        for sets in [
            SCALE_JOB,
            READ_JOB_SCALING,
            LIST_SCALING_POLICIES,
            READ_SCALING_POLICY,
        ] {
            assert!(allows_any(&scale, "default", sets), "{sets:?}");
            assert!(!allows_any(&scale, "other", sets), "{sets:?}");
            assert!(!allows_any(&list_only, "default", sets), "{sets:?}");
        }
        assert!(allows_any(&submit, "default", SCALE_JOB));
        assert!(allows_any(&submit, "default", READ_JOB_SCALING));
        // Listing without the scaling capability needs list-jobs as well as read-job.
        assert!(!allows_any(&submit, "default", LIST_SCALING_POLICIES));
        assert_eq!(
            need(&Method::POST, "/v1/job/{id}/scale"),
            Need::NamespaceAny(SCALE_JOB)
        );
        assert_eq!(
            need(&Method::GET, "/v1/job/{id}/scale"),
            Need::NamespaceAny(READ_JOB_SCALING)
        );
    }

    #[test]
    fn unknown_routes_need_management() {
        assert_eq!(need(&Method::GET, "/v1/some/new/route"), Need::Management);
        assert_eq!(need(&Method::GET, "/v1/status/leader"), Need::Nothing);
        assert_eq!(need(&Method::PUT, "/v1/jobs"), Need::Handler);
    }
}
