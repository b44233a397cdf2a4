//! Nomad Variables: small encrypted documents (`Items`, string to string) stored by the
//! servers at `(namespace, path)`, and the servers' keyring that encrypts them.
//!
//! [`Variable`] is the cleartext shape the API speaks; the state store only ever holds
//! [`VariableEncrypted`]: the same metadata and the items as AES-256-GCM ciphertext with
//! the ID of the root key that sealed them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Nomad's `maxVariableSize`: the items' keys and values together.
pub const MAX_VARIABLE_SIZE: usize = 64 * 1024;

/// The only algorithm Nomad's keyring uses.
pub const KEY_ALGORITHM: &str = "aes256-gcm";

/// A variable with its items in clear, as `GET /v1/var/:path` answers and `PUT` takes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Variable {
    pub namespace: String,
    pub path: String,
    pub create_index: u64,
    pub modify_index: u64,
    pub create_time: i64,
    pub modify_time: i64,
    pub items: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock: Option<VariableLock>,
}

/// What `GET /v1/vars` lists: a variable without its items.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VariableMetadata {
    pub namespace: String,
    pub path: String,
    pub create_index: u64,
    pub modify_index: u64,
    pub create_time: i64,
    pub modify_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock: Option<VariableLock>,
}

/// A lock on a variable as the API shows it (Nomad 1.7): its holder's ID and Go
/// durations (`"15s"`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VariableLock {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "TTL")]
    pub ttl: String,
    pub lock_delay: String,
}

/// A lock as the state holds it: durations in nanoseconds and when it lapses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HeldLock {
    pub id: String,
    pub ttl: i64,
    pub lock_delay: i64,
    /// Unix nanoseconds past which the lock is no longer held unless renewed.
    pub expires_at: i64,
}

impl HeldLock {
    /// Whether the lock still holds at `now`.
    pub fn is_held(&self, now: i64) -> bool {
        now < self.expires_at
    }

    /// Whether a new holder may take it at `now`: Nomad keeps a lapsed lock out of reach
    /// for its lock delay, so a holder that lost it has time to notice.
    pub fn is_free(&self, now: i64) -> bool {
        now >= self.expires_at.saturating_add(self.lock_delay)
    }

    /// The API's view.
    pub fn to_api(&self) -> VariableLock {
        VariableLock {
            id: self.id.clone(),
            ttl: crate::duration::format_duration(self.ttl),
            lock_delay: crate::duration::format_duration(self.lock_delay),
        }
    }
}

/// Ciphertext and the key that sealed it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EncryptedData {
    /// 12-byte nonce followed by the AES-256-GCM ciphertext and tag.
    pub ciphertext: Vec<u8>,
    pub key_id: String,
}

/// A variable as the state store keeps it: metadata in clear, items sealed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VariableEncrypted {
    pub namespace: String,
    pub path: String,
    pub create_index: u64,
    pub modify_index: u64,
    pub create_time: i64,
    pub modify_time: i64,
    pub lock: Option<HeldLock>,
    pub data: EncryptedData,
}

impl VariableEncrypted {
    /// The metadata the list answers (a lapsed lock is not shown).
    pub fn metadata(&self, now: i64) -> VariableMetadata {
        VariableMetadata {
            namespace: self.namespace.clone(),
            path: self.path.clone(),
            create_index: self.create_index,
            modify_index: self.modify_index,
            create_time: self.create_time,
            modify_time: self.modify_time,
            lock: self
                .lock
                .as_ref()
                .filter(|l| l.is_held(now))
                .map(HeldLock::to_api),
        }
    }

    /// The cleartext variable, given its decrypted items.
    pub fn decrypted(&self, items: BTreeMap<String, String>, now: i64) -> Variable {
        let meta = self.metadata(now);
        Variable {
            namespace: meta.namespace,
            path: meta.path,
            create_index: meta.create_index,
            modify_index: meta.modify_index,
            create_time: meta.create_time,
            modify_time: meta.modify_time,
            items,
            lock: meta.lock,
        }
    }
}

/// One root key of the servers' keyring.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RootKey {
    pub key_id: String,
    pub create_time: i64,
    pub create_index: u64,
    /// Whether new variables are sealed with it (exactly one key is).
    pub active: bool,
    /// The 32 key bytes.
    pub material: Vec<u8>,
}

impl RootKey {
    /// What `GET /v1/operator/keyring/keys` shows: never the key itself.
    pub fn meta(&self) -> RootKeyMeta {
        RootKeyMeta {
            key_id: self.key_id.clone(),
            algorithm: KEY_ALGORITHM.to_string(),
            create_time: self.create_time,
            create_index: self.create_index,
            modify_index: self.create_index,
            state: if self.active { "active" } else { "inactive" }.to_string(),
        }
    }
}

/// A root key's metadata, Nomad's `RootKeyMeta`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RootKeyMeta {
    #[serde(rename = "KeyID")]
    pub key_id: String,
    pub algorithm: String,
    pub create_time: i64,
    pub create_index: u64,
    pub modify_index: u64,
    pub state: String,
}

/// Nomad's `ValidatePath`: letters, digits, `-`, `_`, `~` and `/`, 1 to 128 of them,
/// no empty segment, and under `nomad/` only `nomad/jobs` and below.
pub fn validate_variable_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("variable requires path".to_string());
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '~' | '/');
    if path.len() > 128 || !path.chars().all(allowed) {
        return Err(format!(
            "invalid path {path:?}: use 1 to 128 letters, digits, '-', '_', '~' and '/'"
        ));
    }
    let parts: Vec<&str> = path.split('/').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(format!(
            "invalid path {path:?}: no leading or trailing '/' and no empty segment ('//')"
        ));
    }
    match parts.as_slice() {
        ["nomad"] => Err(
            "\"nomad\" is a reserved top-level directory path, but you may write variables to \"nomad/jobs\" or below"
                .to_string(),
        ),
        ["nomad", second, ..] if *second != "jobs" => Err(
            "only paths at \"nomad/jobs\" or below are valid paths under the top-level \"nomad\" directory"
                .to_string(),
        ),
        _ => Ok(()),
    }
}

/// Nomad's `VariableDecrypted.Validate` for a variable about to be written.
pub fn validate_variable(variable: &Variable) -> Result<(), String> {
    if variable.namespace == "*" {
        return Err("can not target wildcard (\"*\") namespace".to_string());
    }
    if variable.items.is_empty() {
        return Err("empty variables are invalid".to_string());
    }
    let size: usize = variable.items.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > MAX_VARIABLE_SIZE {
        return Err("variables are limited to 64KiB in total size".to_string());
    }
    validate_variable_path(&variable.path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_paths_as_nomad_checks_them() {
        let cases: &[(&str, bool)] = &[
            ("example/first", true),
            ("a", true),
            ("a-b_c~d/e", true),
            ("nomad/jobs", true),
            ("nomad/jobs/web/api/task", true),
            ("", false),
            ("/leading", false),
            ("trailing/", false),
            ("double//slash", false),
            ("space here", false),
            ("dot.dot", false),
            ("nomad", false),
            ("nomad/other", false),
        ];
        for (path, ok) in cases {
            assert_eq!(
                validate_variable_path(path).is_ok(),
                *ok,
                "{path:?}: {:?}",
                validate_variable_path(path)
            );
        }
        assert!(validate_variable_path(&"a".repeat(128)).is_ok());
        assert!(validate_variable_path(&"a".repeat(129)).is_err());
    }

    #[test]
    fn empty_and_oversized_variables_are_refused() {
        let mut variable = Variable {
            namespace: "default".into(),
            path: "a/b".into(),
            ..Variable::default()
        };
        assert_eq!(
            validate_variable(&variable).unwrap_err(),
            "empty variables are invalid"
        );
        variable
            .items
            .insert("k".into(), "v".repeat(MAX_VARIABLE_SIZE));
        assert!(validate_variable(&variable).unwrap_err().contains("64KiB"));
        variable.items.insert("k".into(), "v".into());
        assert!(validate_variable(&variable).is_ok());
        variable.namespace = "*".into();
        assert!(validate_variable(&variable).is_err());
    }

    #[test]
    fn a_lapsed_lock_waits_out_its_delay() {
        let lock = HeldLock {
            id: "l".into(),
            ttl: 10,
            lock_delay: 5,
            expires_at: 100,
        };
        assert!(lock.is_held(99) && !lock.is_free(99));
        assert!(!lock.is_held(100) && !lock.is_free(104));
        assert!(lock.is_free(105));
    }
}
