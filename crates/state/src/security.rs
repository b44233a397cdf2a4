//! The security tables: ACL policies, ACL tokens (by accessor, and by secret for the
//! lookup every request makes), the bootstrap marker, and namespaces. They change
//! through [`SecurityCommand`]s, replicated like every other write, so a token created
//! on one server works on all and survives restarts.

use std::sync::Arc;

use caravan_structs::acl::{AclPolicy, AclToken, Namespace};
use imbl::OrdMap;
use serde::{Deserialize, Serialize};

use crate::Refused;
use crate::snapshot::Snapshot;

/// A write to the security tables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SecurityCommand {
    /// Create or replace policies; their create index is kept on replace.
    PoliciesUpsert { policies: Vec<AclPolicy> },
    /// Remove policies; names already gone are skipped.
    PoliciesDelete { names: Vec<String> },
    /// Create or replace tokens, keyed by accessor; a replaced token keeps its secret,
    /// create time and create index.
    TokensUpsert { tokens: Vec<AclToken> },
    /// Remove tokens by accessor; accessors already gone are skipped.
    TokensDelete { accessors: Vec<String> },
    /// The first management token. Refused once done, unless `reset_index` is the
    /// index the bootstrap was done at (the operator's `acl-bootstrap-reset` file).
    Bootstrap {
        token: AclToken,
        reset_index: Option<u64>,
    },
    /// Create or replace namespaces.
    NamespacesUpsert { namespaces: Vec<Namespace> },
    /// Remove namespaces; refused for `default` and for one that still has jobs.
    NamespacesDelete { names: Vec<String> },
}

/// The tables.
#[derive(Clone, Default, PartialEq, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct SecurityTables {
    pub(crate) policies: OrdMap<String, Arc<AclPolicy>>,
    pub(crate) tokens: OrdMap<String, Arc<AclToken>>,
    /// Secret to accessor.
    pub(crate) secrets: OrdMap<String, String>,
    /// The index of the bootstrap; 0 until it is done.
    pub(crate) bootstrap_index: u64,
    pub(crate) namespaces: OrdMap<String, Arc<Namespace>>,
    pub(crate) index: SecurityIndexes,
}

/// The index of the last write to each security table.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SecurityIndexes {
    pub policies: u64,
    pub tokens: u64,
    pub namespaces: u64,
}

impl SecurityIndexes {
    pub(crate) fn all_at(index: u64) -> SecurityIndexes {
        SecurityIndexes {
            policies: index,
            tokens: index,
            namespaces: index,
        }
    }
}

/// Nomad's answer to a second bootstrap.
pub fn bootstrap_done_message(reset_index: u64) -> String {
    format!("ACL bootstrap already done (reset index: {reset_index})")
}

impl Snapshot {
    pub fn security_index(&self) -> SecurityIndexes {
        self.security.index
    }

    pub fn acl_policy(&self, name: &str) -> Option<Arc<AclPolicy>> {
        self.security.policies.get(name).cloned()
    }

    /// Policies whose name starts with `prefix`, by name.
    pub fn acl_policies(&self, prefix: &str) -> Vec<Arc<AclPolicy>> {
        self.security
            .policies
            .values()
            .filter(|p| p.name.starts_with(prefix))
            .cloned()
            .collect()
    }

    pub fn acl_token(&self, accessor: &str) -> Option<Arc<AclToken>> {
        self.security.tokens.get(accessor).cloned()
    }

    /// The token with this secret. The map lookup is by the secret's bytes; the caller
    /// compares the found token's secret in constant time before trusting it.
    pub fn acl_token_by_secret(&self, secret: &str) -> Option<Arc<AclToken>> {
        let accessor = self.security.secrets.get(secret)?;
        self.security.tokens.get(accessor).cloned()
    }

    /// Tokens whose accessor starts with `prefix`, by accessor.
    pub fn acl_tokens(&self, prefix: &str) -> Vec<Arc<AclToken>> {
        self.security
            .tokens
            .values()
            .filter(|t| t.accessor_id.starts_with(prefix))
            .cloned()
            .collect()
    }

    /// The index of the ACL bootstrap, 0 until it is done.
    pub fn acl_bootstrap_index(&self) -> u64 {
        self.security.bootstrap_index
    }

    /// The namespace `name`; `default` always exists.
    pub fn namespace(&self, name: &str) -> Option<Arc<Namespace>> {
        self.security.namespaces.get(name).cloned().or_else(|| {
            (name == caravan_structs::DEFAULT_NAMESPACE)
                .then(|| Arc::new(Namespace::default_namespace()))
        })
    }

    /// Every namespace, `default` included, by name.
    pub fn namespaces(&self) -> Vec<Arc<Namespace>> {
        let mut all: Vec<Arc<Namespace>> = self.security.namespaces.values().cloned().collect();
        if !self
            .security
            .namespaces
            .contains_key(caravan_structs::DEFAULT_NAMESPACE)
        {
            all.push(Arc::new(Namespace::default_namespace()));
            all.sort_by(|a, b| a.name.cmp(&b.name));
        }
        all
    }

    pub(crate) fn check_security(&self, command: &SecurityCommand) -> Result<(), Refused> {
        match command {
            SecurityCommand::Bootstrap { reset_index, .. } => {
                let done = self.security.bootstrap_index;
                if done != 0 && *reset_index != Some(done) {
                    return Err(Refused(bootstrap_done_message(done)));
                }
            }
            SecurityCommand::NamespacesDelete { names } => {
                for name in names {
                    if name == caravan_structs::DEFAULT_NAMESPACE {
                        return Err(Refused("default namespace can not be deleted".into()));
                    }
                    let jobs = self
                        .all_jobs()
                        .filter(|j| {
                            &j.namespace == name
                                && j.status != Some(caravan_structs::JobStatus::Dead)
                        })
                        .count();
                    if jobs > 0 {
                        return Err(Refused(format!(
                            "namespace {name:?} has {jobs} non-terminal jobs; stop them (`job stop -purge`) before deleting it"
                        )));
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    pub(crate) fn apply_security(&mut self, command: SecurityCommand, index: u64) {
        let tables = &mut self.security;
        match command {
            SecurityCommand::PoliciesUpsert { policies } => {
                for mut policy in policies {
                    policy.create_index = tables
                        .policies
                        .get(&policy.name)
                        .map_or(index, |old| old.create_index);
                    policy.modify_index = index;
                    tables
                        .policies
                        .insert(policy.name.clone(), Arc::new(policy));
                }
                tables.index.policies = index;
            }
            SecurityCommand::PoliciesDelete { names } => {
                for name in names {
                    tables.policies.remove(&name);
                }
                tables.index.policies = index;
            }
            SecurityCommand::TokensUpsert { tokens } => {
                for token in tokens {
                    tables.upsert_token(token, index);
                }
                tables.index.tokens = index;
            }
            SecurityCommand::TokensDelete { accessors } => {
                for accessor in accessors {
                    if let Some(token) = tables.tokens.remove(&accessor) {
                        tables.secrets.remove(&token.secret_id);
                    }
                }
                tables.index.tokens = index;
            }
            SecurityCommand::Bootstrap { token, .. } => {
                tables.upsert_token(token, index);
                tables.bootstrap_index = index;
                tables.index.tokens = index;
            }
            SecurityCommand::NamespacesUpsert { namespaces } => {
                for mut namespace in namespaces {
                    namespace.create_index = tables
                        .namespaces
                        .get(&namespace.name)
                        .map_or(index, |old| old.create_index);
                    namespace.modify_index = index;
                    tables
                        .namespaces
                        .insert(namespace.name.clone(), Arc::new(namespace));
                }
                tables.index.namespaces = index;
            }
            SecurityCommand::NamespacesDelete { names } => {
                for name in names {
                    tables.namespaces.remove(&name);
                }
                tables.index.namespaces = index;
            }
        }
    }
}

impl SecurityTables {
    fn upsert_token(&mut self, mut token: AclToken, index: u64) {
        match self.tokens.get(&token.accessor_id) {
            Some(old) => {
                token.secret_id = old.secret_id.clone();
                token.create_time = old.create_time;
                token.create_index = old.create_index;
            }
            None => token.create_index = index,
        }
        token.modify_index = index;
        self.secrets
            .insert(token.secret_id.clone(), token.accessor_id.clone());
        self.tokens
            .insert(token.accessor_id.clone(), Arc::new(token));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Command, StateStore};

    fn token(accessor: &str, secret: &str) -> AclToken {
        AclToken {
            accessor_id: accessor.into(),
            secret_id: secret.into(),
            r#type: "management".into(),
            ..AclToken::default()
        }
    }

    fn bootstrap(
        store: &StateStore,
        accessor: &str,
        reset_index: Option<u64>,
    ) -> Result<u64, Refused> {
        store.try_apply(Command::Security(SecurityCommand::Bootstrap {
            token: token(accessor, &format!("{accessor}-secret")),
            reset_index,
        }))
    }

    #[test]
    fn bootstrap_happens_once_unless_reset_with_its_index() {
        let store = StateStore::new();
        let first = bootstrap(&store, "a", None).unwrap();
        let again = bootstrap(&store, "b", None).unwrap_err();
        assert_eq!(again.0, bootstrap_done_message(first));
        assert!(bootstrap(&store, "b", Some(first + 7)).is_err());
        let reset = bootstrap(&store, "b", Some(first)).unwrap();
        assert_eq!(store.snapshot().acl_bootstrap_index(), reset);
        assert!(store.snapshot().acl_token_by_secret("b-secret").is_some());
    }

    #[test]
    fn token_updates_keep_the_secret_and_deletes_forget_it() {
        let store = StateStore::new();
        store.apply(Command::Security(SecurityCommand::TokensUpsert {
            tokens: vec![token("a", "s1")],
        }));
        let mut renamed = token("a", "ignored");
        renamed.name = "renamed".into();
        store.apply(Command::Security(SecurityCommand::TokensUpsert {
            tokens: vec![renamed],
        }));
        let snapshot = store.snapshot();
        let stored = snapshot.acl_token_by_secret("s1").unwrap();
        assert_eq!(stored.name, "renamed");
        assert!(snapshot.acl_token_by_secret("ignored").is_none());
        store.apply(Command::Security(SecurityCommand::TokensDelete {
            accessors: vec!["a".into()],
        }));
        assert!(store.snapshot().acl_token_by_secret("s1").is_none());
    }

    #[test]
    fn default_namespace_always_exists_and_cannot_be_deleted() {
        let store = StateStore::new();
        assert!(store.snapshot().namespace("default").is_some());
        let refused = store
            .try_apply(Command::Security(SecurityCommand::NamespacesDelete {
                names: vec!["default".into()],
            }))
            .unwrap_err();
        assert!(refused.0.contains("default namespace"));
        store.apply(Command::Security(SecurityCommand::NamespacesUpsert {
            namespaces: vec![Namespace {
                name: "web".into(),
                ..Namespace::default()
            }],
        }));
        let names: Vec<String> = store
            .snapshot()
            .namespaces()
            .iter()
            .map(|n| n.name.clone())
            .collect();
        assert_eq!(names, ["default", "web"]);
    }
}
