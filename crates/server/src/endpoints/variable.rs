//! Nomad Variables: read, write (with check-and-set), delete and lock. Items are
//! sealed here, before the command is built, and opened here when read.

use caravan_state::{VARIABLE_CONFLICT, VariableCommand, new_lock};
use caravan_structs::{Variable, VariableEncrypted, validate_variable, validate_variable_path};

use crate::*;

/// What a write did: stored the variable, or met a conflict (the check-and-set index
/// or a lock) and stored nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VariableWrite {
    /// The variable as stored, with its new indexes.
    Written(Variable, u64),
    /// The variable as it stands (Nomad answers it with a 409); an empty one, at the
    /// requested path, when there is none.
    Conflict(Variable),
}

/// A lock operation (`?lock-acquire`, `?lock-renew`, `?lock-release`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockOperation {
    Acquire,
    Renew,
    Release,
}

/// Nomad's lock defaults and bounds: TTL and delay 15s, a TTL of 10s to 24h. A lock
/// may live in a variable without items (Nomad allows that for locks alone).
const DEFAULT_LOCK_TTL: i64 = 15_000_000_000;
const DEFAULT_LOCK_DELAY: i64 = 15_000_000_000;
const MIN_LOCK_TTL: i64 = 10_000_000_000;
const MAX_LOCK_TTL: i64 = 24 * 3600 * 1_000_000_000;

fn lock_duration(field: &str, text: &str, default: i64) -> Result<i64, ServerError> {
    if text.is_empty() {
        return Ok(default);
    }
    caravan_structs::duration::parse_duration(text).map_err(|e| {
        ServerError::BadRequest(format!(
            "invalid Lock.{field} {text:?}: {e}; use a Go duration such as \"15s\""
        ))
    })
}

impl Server {
    /// The variable at `(namespace, path)` with its items in clear.
    pub fn read_variable(
        &self,
        snapshot: &Snapshot,
        namespace: &str,
        path: &str,
    ) -> Result<Option<Variable>, ServerError> {
        let Some(sealed) = snapshot.variable(namespace, path) else {
            return Ok(None);
        };
        let items = self.open_variable(snapshot, &sealed)?;
        Ok(Some(sealed.decrypted(items, self.now())))
    }

    /// Unix nanoseconds now, for callers that show locks as they stand.
    pub fn variables_now(&self) -> i64 {
        self.now()
    }

    fn conflict(&self, namespace: &str, path: &str) -> Result<VariableWrite, ServerError> {
        let current = self.read_variable(&self.snapshot(), namespace, path)?;
        Ok(VariableWrite::Conflict(current.unwrap_or_else(|| {
            Variable {
                namespace: namespace.to_string(),
                path: path.to_string(),
                ..Variable::default()
            }
        })))
    }

    /// Applies a variable command; a conflict refusal becomes [`VariableWrite::Conflict`].
    async fn apply_variable(
        &self,
        command: VariableCommand,
        namespace: &str,
        path: &str,
    ) -> Result<VariableWrite, ServerError> {
        match self.apply(Command::Variables(command)).await {
            Ok(index) => {
                let written = self
                    .read_variable(&self.snapshot(), namespace, path)?
                    .unwrap_or_else(|| Variable {
                        namespace: namespace.to_string(),
                        path: path.to_string(),
                        ..Variable::default()
                    });
                Ok(VariableWrite::Written(written, index))
            }
            Err(ServerError::Invalid(reasons))
                if reasons.iter().any(|r| r.starts_with(VARIABLE_CONFLICT)) =>
            {
                self.conflict(namespace, path)
            }
            Err(other) => Err(other),
        }
    }

    /// `PUT /v1/var/:path`: stores `variable` sealed with the active key. `cas`:
    /// Nomad's check-and-set (0: must not exist). A locked variable takes writes only
    /// with its lock's ID (`variable.Lock.ID`).
    pub async fn upsert_variable(
        &self,
        variable: Variable,
        cas: Option<u64>,
    ) -> Result<VariableWrite, ServerError> {
        validate_variable(&variable).map_err(ServerError::BadRequest)?;
        self.check_namespace_exists(&variable.namespace)?;
        let key = self.active_root_key().await?;
        let data = keyring::seal(&key, &variable.namespace, &variable.path, &variable.items)?;
        let now = self.now();
        let lock_id = variable
            .lock
            .as_ref()
            .map(|l| l.id.clone())
            .filter(|id| !id.is_empty());
        let command = VariableCommand::Upsert {
            variable: VariableEncrypted {
                namespace: variable.namespace.clone(),
                path: variable.path.clone(),
                data,
                ..VariableEncrypted::default()
            },
            cas,
            lock_id,
            now,
        };
        self.apply_variable(command, &variable.namespace, &variable.path)
            .await
    }

    /// `DELETE /v1/var/:path`. Deleting what is not there succeeds, as in Nomad.
    pub async fn delete_variable(
        &self,
        namespace: &str,
        path: &str,
        cas: Option<u64>,
        lock_id: Option<String>,
    ) -> Result<VariableWrite, ServerError> {
        validate_variable_path(path).map_err(ServerError::BadRequest)?;
        let command = VariableCommand::Delete {
            namespace: namespace.to_string(),
            path: path.to_string(),
            cas,
            lock_id,
            now: self.now(),
        };
        self.apply_variable(command, namespace, path).await
    }

    /// `PUT /v1/var/:path?lock-<operation>`. Acquiring takes the variable's items (the
    /// stored ones when the body has none) and `Lock.TTL`/`Lock.LockDelay`; renewing
    /// and releasing need `Lock.ID`.
    pub async fn lock_variable(
        &self,
        operation: LockOperation,
        variable: Variable,
    ) -> Result<VariableWrite, ServerError> {
        validate_variable_path(&variable.path).map_err(ServerError::BadRequest)?;
        self.check_namespace_exists(&variable.namespace)?;
        let now = self.now();
        let (namespace, path) = (variable.namespace.clone(), variable.path.clone());
        let requested = variable.lock.clone().unwrap_or_default();
        let command = match operation {
            LockOperation::Acquire => {
                let ttl = lock_duration("TTL", &requested.ttl, DEFAULT_LOCK_TTL)?;
                if !(MIN_LOCK_TTL..=MAX_LOCK_TTL).contains(&ttl) {
                    return Err(ServerError::BadRequest(format!(
                        "invalid Lock.TTL {:?}: it must be between 10s and 24h",
                        requested.ttl
                    )));
                }
                let delay = lock_duration("LockDelay", &requested.lock_delay, DEFAULT_LOCK_DELAY)?;
                let snapshot = self.snapshot();
                let mut items = variable.items.clone();
                if items.is_empty()
                    && let Some(stored) = snapshot.variable(&namespace, &path)
                {
                    items = self.open_variable(&snapshot, &stored)?;
                }
                let key = self.active_root_key().await?;
                let data = keyring::seal(&key, &namespace, &path, &items)?;
                VariableCommand::LockAcquire {
                    variable: VariableEncrypted {
                        namespace: namespace.clone(),
                        path: path.clone(),
                        lock: Some(new_lock(self.id(), ttl, delay, now)),
                        data,
                        ..VariableEncrypted::default()
                    },
                    now,
                }
            }
            LockOperation::Renew | LockOperation::Release => {
                if requested.id.is_empty() {
                    return Err(ServerError::BadRequest(
                        "missing Lock.ID: renewing or releasing a lock needs the ID its acquisition answered".into(),
                    ));
                }
                let (namespace, path, lock_id) = (namespace.clone(), path.clone(), requested.id);
                if operation == LockOperation::Renew {
                    VariableCommand::LockRenew {
                        namespace,
                        path,
                        lock_id,
                        now,
                    }
                } else {
                    VariableCommand::LockRelease {
                        namespace,
                        path,
                        lock_id,
                        now,
                    }
                }
            }
        };
        self.apply_variable(command, &namespace, &path).await
    }

    fn check_namespace_exists(&self, namespace: &str) -> Result<(), ServerError> {
        if self.snapshot().namespace(namespace).is_none() {
            return Err(ServerError::BadRequest(format!(
                "namespace {namespace:?} does not exist: create it first (namespace apply)"
            )));
        }
        Ok(())
    }
}
