//! Nomad Variables and the servers' keyring. Variables are kept sealed
//! ([`VariableEncrypted`]): the server encrypts before it builds a command, so neither
//! the log nor a snapshot ever holds an item in clear. Check-and-set and locks are
//! checked here, under the writer, against the state the write would change.

use std::sync::Arc;

use caravan_structs::{HeldLock, RootKey, VariableEncrypted};
use imbl::OrdMap;
use serde::{Deserialize, Serialize};

use crate::Refused;
use crate::snapshot::Snapshot;

/// The start of every refusal that is a conflict (a check-and-set index that does not
/// match, a lock held by someone else): the API answers those `409` with the variable.
pub const VARIABLE_CONFLICT: &str = "variable conflict";

/// The refusal of a first key into a keyring that has one already.
pub const KEYRING_INITIALIZED: &str = "the keyring already has an active root key";

/// `(namespace, path)`.
pub(crate) type VariableKey = (String, String);

/// A write to the variables or the keyring.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum VariableCommand {
    /// Create or replace a variable. `cas`: `Some(0)` = it must not exist, `Some(n)` =
    /// it must stand at modify index `n`. While a lock holds, `lock_id` must be its ID.
    Upsert {
        variable: VariableEncrypted,
        cas: Option<u64>,
        lock_id: Option<String>,
        now: i64,
    },
    /// Remove a variable, under the same rules as an upsert.
    Delete {
        namespace: String,
        path: String,
        cas: Option<u64>,
        lock_id: Option<String>,
        now: i64,
    },
    /// Take the lock `variable.lock` holds (creating the variable, or replacing its
    /// items), refused while another holder has it or its delay runs.
    LockAcquire {
        variable: VariableEncrypted,
        now: i64,
    },
    /// Push a held lock's expiry one TTL past `now`.
    LockRenew {
        namespace: String,
        path: String,
        lock_id: String,
        now: i64,
    },
    /// Give a held lock up; the variable stays.
    LockRelease {
        namespace: String,
        path: String,
        lock_id: String,
        now: i64,
    },
    /// Variables sealed again with another key (a full rotation). Each is written only
    /// if it still stands at the modify index it carries: a newer write wins.
    Rekey { variables: Vec<VariableEncrypted> },
    /// Add a root key; an active one makes every other inactive. `first`: only into a
    /// keyring with no active key (the first key, which two servers' writes may race
    /// to make), else refused.
    KeyUpsert { key: RootKey, first: bool },
    /// Remove an inactive root key; one that still seals variables only with `force`
    /// (they can no longer be read).
    KeyDelete { key_id: String, force: bool },
}

/// The variables and root keys, and the index of each table's last write.
#[derive(Clone, Default, PartialEq, Debug, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct VariableTables {
    pub(crate) variables: OrdMap<VariableKey, Arc<VariableEncrypted>>,
    pub(crate) keys: OrdMap<String, Arc<RootKey>>,
    pub(crate) index: u64,
    pub(crate) keyring_index: u64,
}

fn conflict(what: impl std::fmt::Display) -> Refused {
    Refused(format!("{VARIABLE_CONFLICT}: {what}"))
}

/// Whether a write may go on: the check-and-set index and the lock agree.
fn check_write(
    stored: Option<&VariableEncrypted>,
    cas: Option<u64>,
    lock_id: Option<&str>,
    now: i64,
) -> Result<(), Refused> {
    match (cas, stored) {
        (Some(0), Some(existing)) => {
            return Err(conflict(format!(
                "check-and-set index 0 but the variable exists at index {}",
                existing.modify_index
            )));
        }
        (Some(expected), Some(existing)) if existing.modify_index != expected => {
            return Err(conflict(format!(
                "check-and-set index {expected} but the variable is at index {}",
                existing.modify_index
            )));
        }
        (Some(expected), None) if expected != 0 => {
            return Err(conflict(format!(
                "check-and-set index {expected} but the variable does not exist"
            )));
        }
        _ => {}
    }
    if let Some(lock) = stored.and_then(|v| v.lock.as_ref())
        && lock.is_held(now)
        && lock_id != Some(lock.id.as_str())
    {
        return Err(conflict("the variable is locked: use its lock ID"));
    }
    Ok(())
}

impl Snapshot {
    /// The sealed variable at `(namespace, path)`.
    pub fn variable(&self, namespace: &str, path: &str) -> Option<Arc<VariableEncrypted>> {
        self.variables
            .variables
            .get(&(namespace.to_string(), path.to_string()))
            .cloned()
    }

    /// Variables of a namespace (`*`: every one) whose path starts with `prefix`, in
    /// namespace and path order.
    pub fn variables_by_prefix(
        &self,
        namespace: &str,
        prefix: &str,
    ) -> Vec<Arc<VariableEncrypted>> {
        self.variables
            .variables
            .iter()
            .filter(|((ns, path), _)| {
                (namespace == "*" || ns == namespace) && path.starts_with(prefix)
            })
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Every variable.
    pub fn all_variables(&self) -> impl Iterator<Item = &Arc<VariableEncrypted>> {
        self.variables.variables.values()
    }

    /// The index of the last write to the variables.
    pub fn variables_index(&self) -> u64 {
        self.variables.index
    }

    /// The root keys, by ID.
    pub fn root_keys(&self) -> Vec<Arc<RootKey>> {
        self.variables.keys.values().cloned().collect()
    }

    /// The root key with this ID.
    pub fn root_key(&self, key_id: &str) -> Option<Arc<RootKey>> {
        self.variables.keys.get(key_id).cloned()
    }

    /// The key new variables are sealed with.
    pub fn active_root_key(&self) -> Option<Arc<RootKey>> {
        self.variables.keys.values().find(|k| k.active).cloned()
    }

    /// The index of the last write to the keyring.
    pub fn keyring_index(&self) -> u64 {
        self.variables.keyring_index
    }

    pub(crate) fn check_variables(&self, command: &VariableCommand) -> Result<(), Refused> {
        let stored = |namespace: &str, path: &str| self.variable(namespace, path);
        match command {
            VariableCommand::Upsert {
                variable,
                cas,
                lock_id,
                now,
            } => {
                self.check_key(&variable.data.key_id)?;
                let existing = stored(&variable.namespace, &variable.path);
                check_write(existing.as_deref(), *cas, lock_id.as_deref(), *now)
            }
            VariableCommand::Delete {
                namespace,
                path,
                cas,
                lock_id,
                now,
            } => {
                let existing = stored(namespace, path);
                check_write(existing.as_deref(), *cas, lock_id.as_deref(), *now)
            }
            VariableCommand::LockAcquire { variable, now } => {
                self.check_key(&variable.data.key_id)?;
                match stored(&variable.namespace, &variable.path)
                    .as_deref()
                    .and_then(|v| v.lock.as_ref())
                {
                    Some(lock) if !lock.is_free(*now) => {
                        Err(conflict("the variable is already locked"))
                    }
                    _ => Ok(()),
                }
            }
            VariableCommand::LockRenew {
                namespace,
                path,
                lock_id,
                now,
            }
            | VariableCommand::LockRelease {
                namespace,
                path,
                lock_id,
                now,
            } => {
                let held = stored(namespace, path)
                    .and_then(|v| v.lock.clone())
                    .filter(|l| l.is_held(*now));
                match held {
                    Some(lock) if lock.id == *lock_id => Ok(()),
                    Some(_) => Err(conflict("the lock is held under another ID")),
                    None => Err(conflict("the variable is not locked, or its lock lapsed")),
                }
            }
            VariableCommand::Rekey { variables } => variables
                .iter()
                .try_for_each(|v| self.check_key(&v.data.key_id)),
            VariableCommand::KeyUpsert { first: true, .. } if self.active_root_key().is_some() => {
                Err(Refused(KEYRING_INITIALIZED.to_string()))
            }
            VariableCommand::KeyUpsert { .. } => Ok(()),
            VariableCommand::KeyDelete { key_id, force } => match self.root_key(key_id) {
                None => Err(Refused(format!("root key {key_id} not found"))),
                // Nomad's words.
                Some(key) if key.active => Err(Refused(
                    "active root key cannot be deleted - call rotate first".to_string(),
                )),
                Some(_) if *force => Ok(()),
                Some(_) => {
                    let in_use = self
                        .all_variables()
                        .filter(|v| v.data.key_id == *key_id)
                        .count();
                    if in_use > 0 {
                        Err(Refused(format!(
                            "root key in use, cannot delete: {in_use} variables are sealed with it; rotate with -full first, or force it"
                        )))
                    } else {
                        Ok(())
                    }
                }
            },
        }
    }

    fn check_key(&self, key_id: &str) -> Result<(), Refused> {
        if self.variables.keys.contains_key(key_id) {
            Ok(())
        } else {
            Err(Refused(format!(
                "root key {key_id} not found: the variable was sealed with a key the keyring does not hold"
            )))
        }
    }

    pub(crate) fn apply_variables(&mut self, command: VariableCommand, index: u64) {
        let tables = &mut self.variables;
        match command {
            VariableCommand::Upsert {
                mut variable, now, ..
            } => {
                let key = (variable.namespace.clone(), variable.path.clone());
                match tables.variables.get(&key) {
                    Some(existing) => {
                        variable.create_index = existing.create_index;
                        variable.create_time = existing.create_time;
                        variable.lock = existing.lock.clone();
                    }
                    None => {
                        variable.create_index = index;
                        variable.create_time = now;
                        variable.lock = None;
                    }
                }
                variable.modify_index = index;
                variable.modify_time = now;
                tables.variables.insert(key, Arc::new(variable));
                tables.index = index;
            }
            VariableCommand::Delete {
                namespace, path, ..
            } => {
                if tables.variables.remove(&(namespace, path)).is_some() {
                    tables.index = index;
                }
            }
            VariableCommand::LockAcquire { mut variable, now } => {
                let key = (variable.namespace.clone(), variable.path.clone());
                match tables.variables.get(&key) {
                    Some(existing) => {
                        variable.create_index = existing.create_index;
                        variable.create_time = existing.create_time;
                    }
                    None => {
                        variable.create_index = index;
                        variable.create_time = now;
                    }
                }
                variable.modify_index = index;
                variable.modify_time = now;
                tables.variables.insert(key, Arc::new(variable));
                tables.index = index;
            }
            VariableCommand::LockRenew {
                namespace,
                path,
                now,
                ..
            } => {
                let key = (namespace, path);
                if let Some(existing) = tables.variables.get(&key) {
                    let mut variable = VariableEncrypted::clone(existing);
                    if let Some(lock) = &mut variable.lock {
                        lock.expires_at = now.saturating_add(lock.ttl);
                    }
                    // A renewal changes no item: Nomad leaves the modify index alone.
                    tables.variables.insert(key, Arc::new(variable));
                    tables.index = index;
                }
            }
            VariableCommand::LockRelease {
                namespace, path, ..
            } => {
                let key = (namespace, path);
                if let Some(existing) = tables.variables.get(&key) {
                    let mut variable = VariableEncrypted::clone(existing);
                    variable.lock = None;
                    variable.modify_index = index;
                    tables.variables.insert(key, Arc::new(variable));
                    tables.index = index;
                }
            }
            VariableCommand::Rekey { variables } => {
                for resealed in variables {
                    let key = (resealed.namespace.clone(), resealed.path.clone());
                    let Some(existing) = tables.variables.get(&key) else {
                        continue;
                    };
                    if existing.modify_index != resealed.modify_index {
                        continue;
                    }
                    let mut variable = VariableEncrypted::clone(existing);
                    variable.data = resealed.data;
                    tables.variables.insert(key, Arc::new(variable));
                    tables.index = index;
                }
            }
            VariableCommand::KeyUpsert { mut key, .. } => {
                key.create_index = index;
                if key.active {
                    let ids: Vec<String> = tables.keys.keys().cloned().collect();
                    for id in ids {
                        if let Some(existing) = tables.keys.get(&id).filter(|k| k.active) {
                            let mut inactive = RootKey::clone(existing);
                            inactive.active = false;
                            tables.keys.insert(id, Arc::new(inactive));
                        }
                    }
                }
                tables.keys.insert(key.key_id.clone(), Arc::new(key));
                tables.keyring_index = index;
            }
            VariableCommand::KeyDelete { key_id, .. } => {
                tables.keys.remove(&key_id);
                tables.keyring_index = index;
            }
        }
    }
}

/// A lock a caller asks for, before it is held: a fresh one expires one TTL from `now`.
pub fn new_lock(id: String, ttl: i64, lock_delay: i64, now: i64) -> HeldLock {
    HeldLock {
        id,
        ttl,
        lock_delay,
        expires_at: now.saturating_add(ttl),
    }
}

#[cfg(test)]
#[path = "variables_tests.rs"]
mod tests;
