//! What every `/v1` request carries besides its path and body: the namespace, the
//! caller's token and the query options of a read (Nomad's `QueryOptions` and
//! `WriteRequest`, parsed in `command/agent/http.go`). Handlers take a
//! [`RequestContext`] instead of reading the query string themselves, so that an ACL
//! layer can later read the same token and namespace the handler acts on.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::{FromRequestParts, Query};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use caravan_structs::DEFAULT_NAMESPACE;

use crate::ApiError;

/// Nomad's default and maximum blocking wait (`MaxBlockingRPCQueryTime`).
pub const MAX_WAIT: Duration = Duration::from_secs(300);

/// The caller's secret, from `X-Nomad-Token` or `Authorization: Bearer`. Carried for
/// the ACL layer to come; nothing checks it yet. It never prints: its `Debug` is
/// redacted and it has no `Display`, so a span or a log line cannot leak it.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthToken(String);

impl AuthToken {
    /// A secret that came another way (`alloc exec`'s websocket handshake).
    pub(crate) fn new(secret: &str) -> AuthToken {
        AuthToken(secret.trim().to_string())
    }

    /// The secret itself, for the one place that must compare or forward it.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthToken(<redacted>)")
    }
}

/// A read's options: `?index=N&wait=D` (a blocking query) and `?stale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryOptions {
    /// Answer once the data's index is past this one (`0`: at once).
    pub min_index: u64,
    /// How long to wait for that, at most [`MAX_WAIT`].
    pub max_wait: Duration,
    /// Whether a follower may answer from its own state. One server answers every read
    /// today; carried for replication.
    pub allow_stale: bool,
}

impl Default for QueryOptions {
    fn default() -> QueryOptions {
        QueryOptions {
            min_index: 0,
            max_wait: MAX_WAIT,
            allow_stale: false,
        }
    }
}

/// A query option that cannot be read; answered 400 with this text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("Invalid index: \"{0}\" is not a number")]
    Index(String),
    #[error("Invalid wait time: {0}")]
    Wait(String),
    #[error("Expect `true` or `false` for `stale` query string parameter, got {0}")]
    Stale(String),
}

/// The common part of a `/v1` request, an extractor every `/v1` handler takes.
///
/// The query options of reads are checked only when a read asks for them
/// ([`RequestContext::query_options`]): Nomad parses them for reads alone, so a write
/// with a stray `?index=x` is not refused.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// `?namespace=`; `default` when absent or empty.
    pub namespace: String,
    /// `?prefix=`; empty when absent.
    pub prefix: String,
    /// The caller's token, if it sent one.
    pub token: Option<AuthToken>,
    /// Who the caller is, once the ACL layer resolved its token (`None`: ACLs are off,
    /// or the route needs nothing).
    pub caller: Option<caravan_server::Caller>,
    query: Result<QueryOptions, QueryError>,
    params: HashMap<String, String>,
    /// Every `name=value` in order, for parameters that repeat (`topic`).
    repeated: Vec<(String, String)>,
}

impl RequestContext {
    /// Reads the context of a request's query string and headers.
    pub fn from_parts(parts: &Parts) -> Result<RequestContext, ApiError> {
        let Query(params) = Query::<HashMap<String, String>>::try_from_uri(&parts.uri)
            .map_err(|rejection| ApiError::bad_request(rejection.body_text()))?;
        let mut context = RequestContext::new(params, &parts.headers);
        context.repeated = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map(|Query(pairs)| pairs)
            .unwrap_or_default();
        context.caller = parts.extensions.get::<caravan_server::Caller>().cloned();
        Ok(context)
    }

    /// The context of these query parameters and headers.
    fn new(params: HashMap<String, String>, headers: &HeaderMap) -> RequestContext {
        let namespace = params
            .get("namespace")
            .filter(|n| !n.is_empty())
            .cloned()
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string());
        RequestContext {
            namespace,
            prefix: params.get("prefix").cloned().unwrap_or_default(),
            token: token(headers),
            caller: None,
            query: query_options(&params),
            params,
            repeated: Vec::new(),
        }
    }

    /// The options of a read; a bad `index`, `wait` or `stale` is a 400.
    pub fn query_options(&self) -> Result<QueryOptions, ApiError> {
        self.query
            .clone()
            .map_err(|e| ApiError::bad_request(e.to_string()))
    }

    /// A query parameter an endpoint reads for itself (`purge`, `path`, `follow`...).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// Every value of a query parameter that may repeat (`?topic=Job&topic=Node`), in
    /// order.
    pub fn params_all(&self, name: &str) -> Vec<&str> {
        self.repeated
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .collect()
    }

    /// A boolean query parameter read as Nomad reads it (Go's `strconv.ParseBool`:
    /// `1`, `t`, `T`, `TRUE`, `true`, `True` and their false forms); absent or empty is
    /// false, anything else a 400 in Nomad's words.
    pub fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.param(name) {
            None | Some("") => Ok(false),
            Some(text) => go_bool(text).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "Failed to parse value of {name:?} ({text}) as a bool: strconv.ParseBool: parsing {text:?}: invalid syntax"
                ))
            }),
        }
    }

    /// Whether the caller may do `capability` in `namespace` (always, with ACLs off).
    pub fn may(&self, namespace: &str, capability: &str) -> bool {
        self.caller
            .as_ref()
            .is_none_or(|c| c.acl.allow_namespace_operation(namespace, capability))
    }

    /// [`RequestContext::may`], or the 403 that says it may not.
    pub fn require(&self, namespace: &str, capability: &str) -> Result<(), ApiError> {
        if self.may(namespace, capability) {
            Ok(())
        } else {
            Err(crate::acl::permission_denied())
        }
    }

    /// Whether a list answers an object of `namespace`: it is the request's namespace
    /// (or the request asked for all, `*`) and the caller may `capability` there.
    pub fn lists(&self, namespace: &str, capability: &str) -> bool {
        (self.namespace == "*" || self.namespace == namespace) && self.may(namespace, capability)
    }
}

/// Go's `strconv.ParseBool`: `None` for what it refuses.
pub(crate) fn go_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestContext {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        RequestContext::from_parts(parts)
    }
}

/// A JSON request body (Go's `null`s read as absent), or Nomad's 400.
pub(crate) fn decode_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    caravan_structs::json::from_slice_lenient(body)
        .map_err(|e| ApiError::bad_request(format!("Failed to decode request body: {e}")))
}

/// Nomad's `parseToken`: `X-Nomad-Token`, else the first word after `Bearer` in
/// `Authorization`.
fn token(headers: &HeaderMap) -> Option<AuthToken> {
    let header = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    if let Some(token) = header("x-nomad-token") {
        return Some(AuthToken(token.to_string()));
    }
    let (scheme, value) = header("authorization")?.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    value
        .split_whitespace()
        .next()
        .map(|token| AuthToken(token.to_string()))
}

/// `index`, `wait` (Go durations such as `5s`, `1m`, or plain seconds; capped at
/// [`MAX_WAIT`]) and `stale` (Go's booleans; present and empty is `true`).
fn query_options(params: &HashMap<String, String>) -> Result<QueryOptions, QueryError> {
    let min_index = match params.get("index") {
        Some(text) => text
            .parse::<u64>()
            .map_err(|_| QueryError::Index(text.clone()))?,
        None => 0,
    };
    let max_wait = match params.get("wait") {
        Some(text) => {
            let nanos = caravan_jobspec::parse_duration(text)
                .or_else(|e| {
                    text.parse::<u64>()
                        .map(|s| s as i64 * 1_000_000_000)
                        .map_err(|_| e)
                })
                .map_err(QueryError::Wait)?;
            Duration::from_nanos(nanos.max(0) as u64).min(MAX_WAIT)
        }
        None => MAX_WAIT,
    };
    let allow_stale = match params.get("stale").map(String::as_str) {
        None => false,
        // Nomad: a bare `?stale` asks for a stale read.
        Some("") => true,
        Some(text) => go_bool(text).ok_or_else(|| QueryError::Stale(text.to_string()))?,
    };
    Ok(QueryOptions {
        min_index,
        max_wait,
        allow_stale,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(query: &str, headers: &[(&str, &str)]) -> Result<RequestContext, ApiError> {
        let mut request = axum::http::Request::builder().uri(format!("/v1/jobs{query}"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let (parts, ()) = request.body(()).unwrap().into_parts();
        RequestContext::from_parts(&parts)
    }

    fn options(query: &str) -> Result<QueryOptions, String> {
        context(query, &[])
            .unwrap()
            .query_options()
            .map_err(|e| e.message)
    }

    #[test]
    fn namespace_defaults_to_default() {
        for (query, namespace) in [
            ("", "default"),
            ("?namespace=", "default"),
            ("?namespace=prod", "prod"),
            ("?namespace=*", "*"),
        ] {
            assert_eq!(context(query, &[]).unwrap().namespace, namespace, "{query}");
        }
    }

    #[test]
    fn token_comes_from_either_header() {
        for (headers, token) in [
            (&[][..], None),
            (&[("X-Nomad-Token", " abc ")][..], Some("abc")),
            (&[("Authorization", "Bearer abc")][..], Some("abc")),
            (&[("Authorization", "bearer abc def")][..], Some("abc")),
            (&[("Authorization", "Basic abc")][..], None),
            (&[("Authorization", "abc")][..], None),
            (
                &[
                    ("X-Nomad-Token", "first"),
                    ("Authorization", "Bearer second"),
                ][..],
                Some("first"),
            ),
        ] {
            let context = context("", headers).unwrap();
            assert_eq!(
                context.token.as_ref().map(AuthToken::secret),
                token,
                "{headers:?}"
            );
        }
    }

    #[test]
    fn token_never_prints() {
        let context = context("", &[("X-Nomad-Token", "s3cr3t")]).unwrap();
        assert!(!format!("{context:?}").contains("s3cr3t"));
    }

    #[test]
    fn query_options_follow_nomads_rules() {
        let five = Duration::from_secs(5);
        for (query, expected) in [
            ("", Ok((0, MAX_WAIT, false))),
            ("?index=7&wait=5s", Ok((7, five, false))),
            ("?wait=5", Ok((0, five, false))),
            ("?wait=1h", Ok((0, MAX_WAIT, false))),
            ("?stale", Ok((0, MAX_WAIT, true))),
            ("?stale=false", Ok((0, MAX_WAIT, false))),
            (
                "?index=x",
                Err("Invalid index: \"x\" is not a number".to_string()),
            ),
            (
                "?stale=maybe",
                Err(
                    "Expect `true` or `false` for `stale` query string parameter, got maybe"
                        .to_string(),
                ),
            ),
        ] {
            let got = options(query).map(|o| (o.min_index, o.max_wait, o.allow_stale));
            assert_eq!(got, expected, "{query}");
        }
        assert!(
            options("?wait=soon")
                .unwrap_err()
                .starts_with("Invalid wait time: ")
        );
    }

    #[test]
    fn writes_do_not_read_query_options() {
        // The context of a bad read parameter still carries the rest.
        let context = context("?index=x&prefix=web&purge=true", &[]).unwrap();
        assert_eq!(context.prefix, "web");
        assert!(context.flag("purge").unwrap());
        assert!(context.query_options().is_err());
    }

    #[test]
    fn flags_read_as_gos_parse_bool() {
        for (query, want) in [
            ("", false),
            ("?purge=", false),
            ("?purge=True", true),
            ("?purge=TRUE", true),
            ("?purge=t", true),
            ("?purge=1", true),
            ("?purge=False", false),
            ("?purge=F", false),
            ("?purge=0", false),
        ] {
            assert_eq!(
                context(query, &[]).unwrap().flag("purge").unwrap(),
                want,
                "{query}"
            );
        }
        let refused = context("?purge=yes", &[])
            .unwrap()
            .flag("purge")
            .unwrap_err();
        assert_eq!(refused.status, axum::http::StatusCode::BAD_REQUEST);
        assert_eq!(
            refused.message,
            "Failed to parse value of \"purge\" (yes) as a bool: strconv.ParseBool: parsing \"yes\": invalid syntax"
        );
    }
}
