//! The servers' keyring: root keys that seal variables' items with AES-256-GCM.
//!
//! A variable's items are serialized as JSON and sealed under a fresh 96-bit nonce with
//! its namespace and path as associated data, so ciphertext moved to another variable
//! does not open. The key itself lives in the replicated state (see ARCHITECTURE.md:
//! Nomad keeps it in each server's keystore instead).

use std::collections::BTreeMap;
use std::sync::Arc;

use caravan_state::VariableCommand;
use caravan_structs::{EncryptedData, RootKey, RootKeyMeta};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

use crate::*;

/// Why items could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error("the system's random source failed")]
    Random,
    #[error("root key {0} is not a 32-byte AES-256 key")]
    BadKey(String),
    #[error(
        "variable items sealed with root key {0} do not open: the ciphertext is damaged or belongs elsewhere"
    )]
    Open(String),
    #[error("variable items are not a JSON object of strings: {0}")]
    Items(String),
}

impl From<KeyringError> for ServerError {
    fn from(error: KeyringError) -> ServerError {
        ServerError::Rejected(error.to_string())
    }
}

/// A new root key: 32 random bytes and a UUID.
pub(crate) fn generate_key(key_id: String, now: i64) -> Result<RootKey, KeyringError> {
    let mut material = vec![0u8; 32];
    SystemRandom::new()
        .fill(&mut material)
        .map_err(|_| KeyringError::Random)?;
    Ok(RootKey {
        key_id,
        create_time: now,
        create_index: 0,
        active: true,
        material,
    })
}

fn cipher(key: &RootKey) -> Result<LessSafeKey, KeyringError> {
    UnboundKey::new(&AES_256_GCM, &key.material)
        .map(LessSafeKey::new)
        .map_err(|_| KeyringError::BadKey(key.key_id.clone()))
}

fn associated_data(namespace: &str, path: &str) -> Vec<u8> {
    format!("{namespace}\0{path}").into_bytes()
}

/// Seals `items` of the variable at `(namespace, path)` with `key`.
pub(crate) fn seal(
    key: &RootKey,
    namespace: &str,
    path: &str,
    items: &BTreeMap<String, String>,
) -> Result<EncryptedData, KeyringError> {
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| KeyringError::Random)?;
    let mut sealed = serde_json::to_vec(items).map_err(|e| KeyringError::Items(e.to_string()))?;
    cipher(key)?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(associated_data(namespace, path)),
            &mut sealed,
        )
        .map_err(|_| KeyringError::BadKey(key.key_id.clone()))?;
    let mut ciphertext = nonce.to_vec();
    ciphertext.extend_from_slice(&sealed);
    Ok(EncryptedData {
        ciphertext,
        key_id: key.key_id.clone(),
    })
}

/// Opens what [`seal`] sealed.
pub(crate) fn open(
    key: &RootKey,
    namespace: &str,
    path: &str,
    data: &EncryptedData,
) -> Result<BTreeMap<String, String>, KeyringError> {
    let damaged = || KeyringError::Open(key.key_id.clone());
    if data.ciphertext.len() < NONCE_LEN {
        return Err(damaged());
    }
    let (nonce, sealed) = data.ciphertext.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| damaged())?;
    let mut buffer = sealed.to_vec();
    let clear = cipher(key)?
        .open_in_place(
            nonce,
            Aad::from(associated_data(namespace, path)),
            &mut buffer,
        )
        .map_err(|_| damaged())?;
    serde_json::from_slice(clear).map_err(|e| KeyringError::Items(e.to_string()))
}

impl Server {
    /// The key new variables are sealed with; made here if the leader has not made the
    /// first one yet (see [`initialize`]).
    pub(crate) async fn active_root_key(&self) -> Result<Arc<RootKey>, ServerError> {
        if let Some(key) = self.snapshot().active_root_key() {
            return Ok(key);
        }
        match self.add_root_key(true).await {
            Ok(_) => {}
            // Another write made the first key meanwhile: that one is used.
            Err(ServerError::Invalid(reasons))
                if reasons
                    .iter()
                    .any(|r| r == caravan_state::KEYRING_INITIALIZED) => {}
            Err(other) => return Err(other),
        }
        self.snapshot()
            .active_root_key()
            .ok_or_else(|| ServerError::Rejected("the keyring has no active root key".into()))
    }

    /// A new active root key; the old ones stay to open what they sealed.
    pub(crate) async fn rotate_root_key(&self) -> Result<RootKeyMeta, ServerError> {
        self.add_root_key(false).await
    }

    /// A new active root key (`first`: only into a keyring without one).
    async fn add_root_key(&self, first: bool) -> Result<RootKeyMeta, ServerError> {
        // Random like the key itself, not from the server's ID generator: a key made by
        // a leader's own initiative must not shift the IDs the server hands out.
        let key = generate_key(uuid::Uuid::new_v4().to_string(), self.now())?;
        let key_id = key.key_id.clone();
        self.apply(Command::Variables(VariableCommand::KeyUpsert {
            key,
            first,
        }))
        .await?;
        self.snapshot()
            .root_key(&key_id)
            .map(|k| k.meta())
            .ok_or_else(|| ServerError::Missing(format!("root key {key_id} not found")))
    }

    /// `GET /v1/operator/keyring/keys`: every root key's metadata.
    pub fn root_key_list(&self) -> (Vec<RootKeyMeta>, u64) {
        let snapshot = self.snapshot();
        let keys = snapshot.root_keys().iter().map(|k| k.meta()).collect();
        (keys, snapshot.keyring_index().max(1))
    }

    /// `PUT /v1/operator/keyring/rotate`: a new active key, and with `full` every
    /// variable sealed again with it (Nomad's rekey), so old keys can be removed.
    pub async fn rotate_keyring(&self, full: bool) -> Result<(RootKeyMeta, u64), ServerError> {
        let meta = self.rotate_root_key().await?;
        let mut index = meta.create_index;
        if full {
            index = self.rekey_variables().await?.max(index);
        }
        Ok((meta, index))
    }

    async fn rekey_variables(&self) -> Result<u64, ServerError> {
        let snapshot = self.snapshot();
        let Some(active) = snapshot.active_root_key() else {
            return Ok(snapshot.index);
        };
        let mut resealed = Vec::new();
        for variable in snapshot.all_variables() {
            if variable.data.key_id == active.key_id {
                continue;
            }
            let items = self.open_variable(&snapshot, variable)?;
            let mut next = caravan_structs::VariableEncrypted::clone(variable);
            next.data = seal(&active, &variable.namespace, &variable.path, &items)?;
            resealed.push(next);
        }
        if resealed.is_empty() {
            return Ok(snapshot.index);
        }
        self.apply(Command::Variables(VariableCommand::Rekey {
            variables: resealed,
        }))
        .await
    }

    /// `DELETE /v1/operator/keyring/key/:id`.
    pub async fn delete_root_key(&self, key_id: &str, force: bool) -> Result<u64, ServerError> {
        if self.snapshot().root_key(key_id).is_none() {
            return Err(ServerError::Missing(format!("root key {key_id} not found")));
        }
        self.apply(Command::Variables(VariableCommand::KeyDelete {
            key_id: key_id.to_string(),
            force,
        }))
        .await
    }

    /// A sealed variable's items, opened with the key that sealed them.
    pub(crate) fn open_variable(
        &self,
        snapshot: &Snapshot,
        variable: &caravan_structs::VariableEncrypted,
    ) -> Result<BTreeMap<String, String>, ServerError> {
        let key = snapshot.root_key(&variable.data.key_id).ok_or_else(|| {
            ServerError::Rejected(format!(
                "root key {} of variable {:?} is not in the keyring",
                variable.data.key_id, variable.path
            ))
        })?;
        Ok(open(
            &key,
            &variable.namespace,
            &variable.path,
            &variable.data,
        )?)
    }
}

/// Makes the first root key when a leader finds the keyring empty, as Nomad's leader
/// does on election, so `keyring list` shows a key from the start. A failure only
/// delays it: the first variable write makes the key then.
pub(crate) async fn initialize(server: Arc<Server>) {
    if server.snapshot().active_root_key().is_some() {
        return;
    }
    if let Err(error) = server.active_root_key().await {
        tracing::warn!(%error, "could not create the first root key; the first variable write will");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_items_open_only_with_their_key_and_place() {
        let key = generate_key("k".into(), 0).unwrap();
        let items = BTreeMap::from([("password".to_string(), "hunter2".to_string())]);
        let data = seal(&key, "default", "a/b", &items).unwrap();
        assert!(
            !data.ciphertext.windows(7).any(|w| w == b"hunter2"),
            "the cleartext must not show in the ciphertext"
        );
        assert_eq!(open(&key, "default", "a/b", &data).unwrap(), items);
        assert!(
            open(&key, "default", "a/c", &data).is_err(),
            "moved to another path"
        );
        let other = generate_key("k".into(), 0).unwrap();
        assert!(
            open(&other, "default", "a/b", &data).is_err(),
            "another key"
        );
        let again = seal(&key, "default", "a/b", &items).unwrap();
        assert_ne!(again.ciphertext, data.ciphertext, "a fresh nonce each time");
    }
}
