//! ACL policies, tokens and namespaces as Nomad's `/v1/acl/*` and `/v1/namespace*` API
//! carries them.
//!
//! Times are Unix nanoseconds inside Caravan and RFC 3339 strings on the wire, as Go's
//! `time.Time` writes them; a token's `ExpirationTTL` is a Go duration (nanoseconds, or a
//! string such as `"1h"` when a person wrote the body).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The token type that may do everything.
pub const TOKEN_TYPE_MANAGEMENT: &str = "management";
/// The token type whose rights are its policies'.
pub const TOKEN_TYPE_CLIENT: &str = "client";
/// The policy that applies to a request without a token.
pub const ANONYMOUS_POLICY: &str = "anonymous";
/// The accessor ID Nomad reports for the anonymous token.
pub const ANONYMOUS_ACCESSOR: &str = "anonymous";

/// A named set of rules (`ACLPolicy`); `Rules` is kept exactly as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AclPolicy {
    pub name: String,
    pub description: String,
    pub rules: String,
    #[serde(rename = "JobACL")]
    #[serde(default, deserialize_with = "crate::json::without_nulls")]
    pub job_acl: Option<serde_json::Value>,
    pub create_index: u64,
    pub modify_index: u64,
}

/// What `GET /v1/acl/policies` lists of a policy (`ACLPolicyListStub`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AclPolicyStub {
    pub name: String,
    pub description: String,
    #[serde(rename = "JobACL")]
    #[serde(default, deserialize_with = "crate::json::without_nulls")]
    pub job_acl: Option<serde_json::Value>,
    pub create_index: u64,
    pub modify_index: u64,
}

impl AclPolicy {
    pub fn stub(&self) -> AclPolicyStub {
        AclPolicyStub {
            name: self.name.clone(),
            description: self.description.clone(),
            job_acl: self.job_acl.clone(),
            create_index: self.create_index,
            modify_index: self.modify_index,
        }
    }
}

/// A token (`ACLToken`). The secret is what a caller sends; the accessor names it.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AclToken {
    #[serde(rename = "AccessorID")]
    pub accessor_id: String,
    #[serde(rename = "SecretID")]
    pub secret_id: String,
    pub name: String,
    /// `management` or `client`.
    pub r#type: String,
    #[serde(deserialize_with = "null_as_default")]
    pub policies: Vec<String>,
    #[serde(default, deserialize_with = "crate::json::without_nulls")]
    pub roles: Vec<serde_json::Value>,
    pub global: bool,
    #[serde(with = "rfc3339_nanos")]
    pub create_time: i64,
    /// Unix nanoseconds; `None` for a token that never expires.
    #[serde(with = "optional_rfc3339_nanos")]
    pub expiration_time: Option<i64>,
    /// Nanoseconds; only meaningful in a create request.
    #[serde(rename = "ExpirationTTL", deserialize_with = "go_duration")]
    pub expiration_ttl: i64,
    pub create_index: u64,
    pub modify_index: u64,
}

/// A secret must never reach a log line through `{:?}`.
impl std::fmt::Debug for AclToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AclToken")
            .field("accessor_id", &self.accessor_id)
            .field("name", &self.name)
            .field("type", &self.r#type)
            .field("policies", &self.policies)
            .field("expiration_time", &self.expiration_time)
            .finish_non_exhaustive()
    }
}

/// What `GET /v1/acl/tokens` lists of a token (`ACLTokenListStub`): no secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AclTokenStub {
    #[serde(rename = "AccessorID")]
    pub accessor_id: String,
    pub name: String,
    pub r#type: String,
    pub policies: Vec<String>,
    #[serde(default, deserialize_with = "crate::json::without_nulls")]
    pub roles: Vec<serde_json::Value>,
    pub global: bool,
    #[serde(with = "rfc3339_nanos")]
    pub create_time: i64,
    #[serde(with = "optional_rfc3339_nanos")]
    pub expiration_time: Option<i64>,
    pub create_index: u64,
    pub modify_index: u64,
}

impl AclToken {
    pub fn is_management(&self) -> bool {
        self.r#type == TOKEN_TYPE_MANAGEMENT
    }

    /// Whether the token has expired at `now` (Unix nanoseconds).
    pub fn is_expired(&self, now: i64) -> bool {
        self.expiration_time.is_some_and(|at| at <= now)
    }

    pub fn stub(&self) -> AclTokenStub {
        AclTokenStub {
            accessor_id: self.accessor_id.clone(),
            name: self.name.clone(),
            r#type: self.r#type.clone(),
            policies: self.policies.clone(),
            roles: self.roles.clone(),
            global: self.global,
            create_time: self.create_time,
            expiration_time: self.expiration_time,
            create_index: self.create_index,
            modify_index: self.modify_index,
        }
    }
}

/// A namespace (`Namespace`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Namespace {
    pub name: String,
    pub description: String,
    pub quota: String,
    #[serde(deserialize_with = "null_as_default")]
    pub meta: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "crate::json::without_nulls")]
    pub capabilities: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "crate::json::without_nulls")]
    pub node_pool_configuration: Option<serde_json::Value>,
    pub create_index: u64,
    pub modify_index: u64,
}

impl Namespace {
    /// The namespace every cluster has and nobody can delete.
    pub fn default_namespace() -> Namespace {
        Namespace {
            name: crate::DEFAULT_NAMESPACE.to_string(),
            description: "Default shared namespace".to_string(),
            ..Namespace::default()
        }
    }
}

/// Whether `name` may name a namespace: Nomad's `^[a-zA-Z0-9-]{1,128}$`.
pub fn valid_namespace_name(name: &str) -> bool {
    (1..=128).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// Whether `name` may name a policy: Nomad's `^[a-zA-Z0-9-]{1,128}$`.
pub fn valid_policy_name(name: &str) -> bool {
    valid_namespace_name(name)
}

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// A Go duration as JSON carries it: nanoseconds, or a string (`"1h30m"`).
fn go_duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Duration {
        Nanos(i64),
        Text(String),
    }
    match Option::<Duration>::deserialize(deserializer)? {
        None => Ok(0),
        Some(Duration::Nanos(n)) => Ok(n),
        Some(Duration::Text(text)) => crate::duration::parse_duration(&text).map_err(|_| {
            serde::de::Error::custom(format!(
                "ExpirationTTL: {text:?} is not a duration (e.g. \"1h\", \"30m\")"
            ))
        }),
    }
}

mod rfc3339_nanos {
    use super::*;

    pub fn serialize<S: Serializer>(nanos: &i64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&crate::time::rfc3339(*nanos))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
        let text = Option::<String>::deserialize(deserializer)?.unwrap_or_default();
        if text.is_empty() {
            return Ok(0);
        }
        crate::time::parse_rfc3339(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not an RFC 3339 time")))
    }
}

mod optional_rfc3339_nanos {
    use super::*;

    pub fn serialize<S: Serializer>(nanos: &Option<i64>, serializer: S) -> Result<S::Ok, S::Error> {
        match nanos {
            Some(nanos) => serializer.serialize_str(&crate::time::rfc3339(*nanos)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<i64>, D::Error> {
        match Option::<String>::deserialize(deserializer)? {
            None => Ok(None),
            Some(text) if text.is_empty() || text.starts_with("0001-01-01") => Ok(None),
            Some(text) => crate::time::parse_rfc3339(&text).map(Some).ok_or_else(|| {
                serde::de::Error::custom(format!("{text:?} is not an RFC 3339 time"))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_round_trips_through_nomads_json() {
        let token = AclToken {
            accessor_id: "a".into(),
            secret_id: "s".into(),
            name: "n".into(),
            r#type: TOKEN_TYPE_CLIENT.into(),
            policies: vec!["p".into()],
            create_time: 1_700_000_000_123_456_789,
            expiration_time: Some(1_700_000_060_000_000_000),
            ..AclToken::default()
        };
        let json = serde_json::to_value(&token).unwrap();
        assert_eq!(json["CreateTime"], "2023-11-14T22:13:20.123456789Z");
        assert_eq!(json["SecretID"], "s");
        let back: AclToken = serde_json::from_value(json).unwrap();
        assert_eq!(back, token);
    }

    #[test]
    fn stubs_read_what_go_clients_send_with_nulls_dropped() {
        let stub: AclTokenStub = crate::json::from_slice_lenient(
            br#"{"AccessorID":"a","ExpirationTime":null,"Policies":null}"#,
        )
        .unwrap();
        assert_eq!(
            (stub.accessor_id.as_str(), stub.expiration_time),
            ("a", None)
        );
    }

    #[test]
    fn ttl_reads_go_durations_and_nanoseconds() {
        let from_text: AclToken = serde_json::from_str(r#"{"ExpirationTTL":"1h"}"#).unwrap();
        assert_eq!(from_text.expiration_ttl, 3_600 * crate::SECOND_NS);
        let from_nanos: AclToken = serde_json::from_str(r#"{"ExpirationTTL":5}"#).unwrap();
        assert_eq!(from_nanos.expiration_ttl, 5);
        let bad = serde_json::from_str::<AclToken>(r#"{"ExpirationTTL":"soon"}"#).unwrap_err();
        assert!(bad.to_string().contains("ExpirationTTL"), "{bad}");
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let token = AclToken {
            secret_id: "very-secret".into(),
            ..AclToken::default()
        };
        assert!(!format!("{token:?}").contains("very-secret"));
    }

    #[test]
    fn namespace_names_follow_nomads_rule() {
        for (name, ok) in [
            ("default", true),
            ("prod-1", true),
            ("", false),
            ("a/b", false),
            ("a b", false),
            ("..", false),
        ] {
            assert_eq!(valid_namespace_name(name), ok, "{name:?}");
        }
    }
}
