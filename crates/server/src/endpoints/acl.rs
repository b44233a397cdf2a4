//! ACLs and namespaces: the bootstrap, policies, tokens, namespaces, and turning a
//! caller's secret into what it may do ([`Server::resolve_secret`]).

use crate::*;

use std::collections::HashMap;

use caravan_acl::{Acl, PolicyRules, parse_rules};
use caravan_state::SecurityCommand;
use caravan_structs::acl::{
    ANONYMOUS_POLICY, AclPolicy, AclToken, Namespace, TOKEN_TYPE_CLIENT, TOKEN_TYPE_MANAGEMENT,
    valid_namespace_name, valid_policy_name,
};

/// Nomad's answers to a caller the ACL system turns away (all 403s).
pub const ACL_TOKEN_NOT_FOUND: &str = "ACL token not found";
pub const ACL_TOKEN_EXPIRED: &str = "ACL token expired";
pub const PERMISSION_DENIED: &str = "Permission denied";
/// Nomad's answer to an ACL call on an agent without ACLs (a 400).
pub const ACL_DISABLED: &str = "ACL support disabled";

/// The ACL settings of the agent configuration's `acl {}` block.
#[derive(Debug, Clone)]
pub struct AclConfig {
    pub enabled: bool,
    /// The shortest and longest `ExpirationTTL` a token may ask for
    /// (`token_min_expiration_ttl`, `token_max_expiration_ttl`).
    pub token_min_ttl: Duration,
    pub token_max_ttl: Duration,
}

impl Default for AclConfig {
    fn default() -> AclConfig {
        AclConfig {
            enabled: false,
            token_min_ttl: Duration::from_secs(60),
            token_max_ttl: Duration::from_secs(24 * 3600),
        }
    }
}

/// Compiled ACLs by the policies (name and modify index) they merge: parsing rules on
/// every request would be wasted work, and a changed policy gets a new key.
#[derive(Default)]
pub struct AclCache {
    compiled: std::sync::Mutex<HashMap<PolicySetKey, Arc<Acl>>>,
}

/// A set of policies by name and modify index.
type PolicySetKey = Vec<(String, u64)>;

/// How many distinct policy sets are kept compiled; past it the cache starts over.
const ACL_CACHE_SIZE: usize = 1024;

/// Compares two secrets in time that depends only on their lengths.
pub fn secrets_equal(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Who a request comes from, once its secret is resolved.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token; `None` for an anonymous caller (or when ACLs are off).
    pub token: Option<Arc<AclToken>>,
    pub acl: Arc<Acl>,
}

impl Server {
    pub fn acl_enabled(&self) -> bool {
        self.config.acl.enabled
    }

    fn require_acl(&self) -> Result<(), ServerError> {
        if self.acl_enabled() {
            Ok(())
        } else {
            Err(ServerError::BadRequest(ACL_DISABLED.to_string()))
        }
    }

    /// What the holder of `secret` may do: everything when ACLs are off; the anonymous
    /// policy's rights without a secret; a 403 for a secret no token has, or an expired
    /// token's.
    pub fn resolve_secret(&self, secret: Option<&str>) -> Result<Caller, ServerError> {
        if !self.acl_enabled() {
            return Ok(Caller {
                token: None,
                acl: Arc::new(Acl::management()),
            });
        }
        let snapshot = self.snapshot();
        let Some(secret) = secret.filter(|s| !s.is_empty()) else {
            let policies: Vec<Arc<AclPolicy>> =
                snapshot.acl_policy(ANONYMOUS_POLICY).into_iter().collect();
            return Ok(Caller {
                token: None,
                acl: self.compile(&policies),
            });
        };
        let token = snapshot
            .acl_token_by_secret(secret)
            .filter(|t| secrets_equal(&t.secret_id, secret))
            .ok_or_else(|| ServerError::Forbidden(ACL_TOKEN_NOT_FOUND.to_string()))?;
        if token.is_expired(self.now()) {
            return Err(ServerError::Forbidden(ACL_TOKEN_EXPIRED.to_string()));
        }
        let acl = if token.is_management() {
            Arc::new(Acl::management())
        } else {
            let policies: Vec<Arc<AclPolicy>> = token
                .policies
                .iter()
                .filter_map(|name| snapshot.acl_policy(name))
                .collect();
            self.compile(&policies)
        };
        Ok(Caller {
            token: Some(token),
            acl,
        })
    }

    fn compile(&self, policies: &[Arc<AclPolicy>]) -> Arc<Acl> {
        let key: PolicySetKey = policies
            .iter()
            .map(|p| (p.name.clone(), p.modify_index))
            .collect();
        let mut cache = self
            .acl_cache
            .compiled
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(acl) = cache.get(&key) {
            return acl.clone();
        }
        // Stored rules were checked when written; one that no longer parses (a newer
        // server wrote it) grants nothing rather than failing every request.
        let rules: Vec<PolicyRules> = policies
            .iter()
            .filter_map(|p| parse_rules(&p.name, &p.rules).ok())
            .collect();
        let acl = Arc::new(Acl::from_policies(&rules));
        if cache.len() >= ACL_CACHE_SIZE {
            cache.clear();
        }
        cache.insert(key, acl.clone());
        acl
    }

    /// `POST /v1/acl/bootstrap`: the first management token. `reset_index` is what the
    /// operator wrote into the `acl-bootstrap-reset` file, if anything.
    pub async fn acl_bootstrap(
        &self,
        reset_index: Option<u64>,
        secret: Option<String>,
    ) -> Result<AclToken, ServerError> {
        self.require_acl()?;
        let done = self.snapshot().acl_bootstrap_index();
        if done != 0 && reset_index != Some(done) {
            return Err(ServerError::BadRequest(
                caravan_state::bootstrap_done_message(done),
            ));
        }
        let token = AclToken {
            accessor_id: self.id(),
            secret_id: secret.unwrap_or_else(|| self.id()),
            name: "Bootstrap Token".to_string(),
            r#type: TOKEN_TYPE_MANAGEMENT.to_string(),
            global: true,
            create_time: self.now(),
            ..AclToken::default()
        };
        let accessor = token.accessor_id.clone();
        self.apply(Command::Security(SecurityCommand::Bootstrap {
            token,
            reset_index,
        }))
        .await?;
        self.stored_token(&accessor)
    }

    fn stored_token(&self, accessor: &str) -> Result<AclToken, ServerError> {
        self.snapshot()
            .acl_token(accessor)
            .map(|t| AclToken::clone(&t))
            .ok_or(ServerError::NotFound("ACL token"))
    }

    /// Creates or replaces policies, each checked: a valid name and rules that parse.
    pub async fn upsert_acl_policies(&self, policies: Vec<AclPolicy>) -> Result<u64, ServerError> {
        self.require_acl()?;
        let mut errors = Vec::new();
        for policy in &policies {
            if !valid_policy_name(&policy.name) {
                errors.push(format!(
                    "invalid policy name {:?}: use 1 to 128 letters, digits and '-'",
                    policy.name
                ));
            }
            if policy.description.len() > 256 {
                errors.push(format!(
                    "policy {:?}: description longer than 256 characters",
                    policy.name
                ));
            }
            if let Err(e) = parse_rules(&format!("policy {:?}", policy.name), &policy.rules) {
                errors.push(format!("failed to parse rules: {e}"));
            }
        }
        if !errors.is_empty() {
            return Err(ServerError::Invalid(errors));
        }
        self.apply(Command::Security(SecurityCommand::PoliciesUpsert {
            policies,
        }))
        .await
    }

    pub async fn delete_acl_policies(&self, names: Vec<String>) -> Result<u64, ServerError> {
        self.require_acl()?;
        self.apply(Command::Security(SecurityCommand::PoliciesDelete { names }))
            .await
    }

    /// Creates a token (no accessor) or updates one (its accessor): the type, policies
    /// and TTL checked as Nomad does. Answers the stored token, secret included.
    pub async fn upsert_acl_token(&self, mut token: AclToken) -> Result<AclToken, ServerError> {
        self.require_acl()?;
        let snapshot = self.snapshot();
        let existing = if token.accessor_id.is_empty() {
            None
        } else {
            Some(
                snapshot
                    .acl_token(&token.accessor_id)
                    .ok_or(ServerError::NotFound("ACL token"))?,
            )
        };
        if token.r#type.is_empty() {
            token.r#type = TOKEN_TYPE_CLIENT.to_string();
        }
        let mut errors = Vec::new();
        match token.r#type.as_str() {
            TOKEN_TYPE_CLIENT if token.policies.is_empty() => {
                errors.push("client token missing policies".to_string())
            }
            TOKEN_TYPE_MANAGEMENT if !token.policies.is_empty() => {
                errors.push("management token cannot be associated with policies".to_string())
            }
            TOKEN_TYPE_CLIENT | TOKEN_TYPE_MANAGEMENT => {}
            other => errors.push(format!(
                "token type must be client or management, got {other:?}"
            )),
        }
        // Nomad lets a token name a policy that does not exist yet: it grants nothing
        // until the policy is written (python-nomad's suite relies on it).
        if token.name.len() > 256 {
            errors.push("token name longer than 256 characters".to_string());
        }
        match &existing {
            Some(old) => {
                if old.global != token.global {
                    errors.push("cannot toggle global mode".to_string());
                }
                token.expiration_time = old.expiration_time;
            }
            None => {
                token.accessor_id = self.id();
                token.secret_id = self.id();
                token.create_time = self.now();
                if token.expiration_ttl != 0 {
                    let ttl = Duration::from_nanos(token.expiration_ttl.max(0) as u64);
                    let (min, max) = (self.config.acl.token_min_ttl, self.config.acl.token_max_ttl);
                    if token.expiration_ttl < 0 || ttl < min {
                        errors.push(format!(
                            "expiration time cannot be less than {} in the future",
                            caravan_structs::time::format_duration(min.as_nanos() as i64)
                        ));
                    } else if ttl > max {
                        errors.push(format!(
                            "expiration time cannot be more than {} in the future",
                            caravan_structs::time::format_duration(max.as_nanos() as i64)
                        ));
                    }
                    token.expiration_time = Some(token.create_time + token.expiration_ttl);
                }
            }
        }
        if !errors.is_empty() {
            return Err(ServerError::Invalid(errors));
        }
        let accessor = token.accessor_id.clone();
        self.apply(Command::Security(SecurityCommand::TokensUpsert {
            tokens: vec![token],
        }))
        .await?;
        self.stored_token(&accessor)
    }

    pub async fn delete_acl_tokens(&self, accessors: Vec<String>) -> Result<u64, ServerError> {
        self.require_acl()?;
        self.apply(Command::Security(SecurityCommand::TokensDelete {
            accessors,
        }))
        .await
    }

    /// Creates or replaces namespaces.
    pub async fn upsert_namespaces(&self, namespaces: Vec<Namespace>) -> Result<u64, ServerError> {
        let mut errors = Vec::new();
        for namespace in &namespaces {
            if !valid_namespace_name(&namespace.name) {
                errors.push(format!(
                    "invalid name {:?}: a namespace name is 1 to 128 letters, digits and '-'",
                    namespace.name
                ));
            }
            if namespace.description.len() > 256 {
                errors.push("description longer than 256".to_string());
            }
        }
        if namespaces.is_empty() {
            errors.push("must specify at least one namespace".to_string());
        }
        if !errors.is_empty() {
            return Err(ServerError::Invalid(errors));
        }
        self.apply(Command::Security(SecurityCommand::NamespacesUpsert {
            namespaces,
        }))
        .await
    }

    /// Removes namespaces; `default` and one that still has running jobs are refused.
    pub async fn delete_namespaces(&self, names: Vec<String>) -> Result<u64, ServerError> {
        let snapshot = self.snapshot();
        for name in &names {
            if snapshot.namespace(name).is_none() {
                return Err(ServerError::Missing(format!(
                    "namespace {name:?} not found"
                )));
            }
        }
        self.apply(Command::Security(SecurityCommand::NamespacesDelete {
            names,
        }))
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_by_content_and_length() {
        assert!(secrets_equal("abc", "abc"));
        assert!(!secrets_equal("abc", "abd"));
        assert!(!secrets_equal("abc", "abcd"));
        assert!(secrets_equal("", ""));
    }
}
