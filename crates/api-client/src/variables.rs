//! Nomad Variables (`/v1/vars`, `/v1/var/:path`) and the servers' keyring
//! (`/v1/operator/keyring/*`).

use caravan_structs::{RootKeyMeta, Variable, VariableMetadata};
use serde::Deserialize;

use crate::escape::path_escape;
use crate::{Call, Client, Error, Method, QueryOptions};

/// What a variable write came to: stored, or refused with a `409` that carries the
/// variable standing in the way (its check-and-set index or its lock).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VariableWrite {
    Written(Variable),
    Conflict(Variable),
}

/// A lock operation on a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockOperation {
    Acquire,
    Renew,
    Release,
}

impl LockOperation {
    fn param(self) -> &'static str {
        match self {
            LockOperation::Acquire => "lock-acquire",
            LockOperation::Renew => "lock-renew",
            LockOperation::Release => "lock-release",
        }
    }
}

/// A variable's path in a URL: each segment escaped, the slashes kept.
fn var_path(path: &str) -> String {
    let escaped: Vec<String> = path.split('/').map(path_escape).collect();
    format!("/v1/var/{}", escaped.join("/"))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RotateAnswer {
    key: RootKeyMeta,
}

impl Client {
    /// `GET /v1/vars?prefix=`: the metadata of the variables the caller may list.
    pub async fn variables(&self, prefix: &str) -> Result<Vec<VariableMetadata>, Error> {
        self.write(Call::get("/v1/vars").param_if_set("prefix", prefix))
            .await
    }

    /// `GET /v1/var/:path`: the variable with its items.
    pub async fn variable(&self, path: &str) -> Result<Variable, Error> {
        self.write(Call::get(var_path(path))).await
    }

    /// `GET /v1/var/:path` as a blocking query.
    pub async fn variable_blocking(
        &self,
        path: &str,
        options: QueryOptions,
    ) -> Result<crate::Indexed<Variable>, Error> {
        self.read(Call::get(var_path(path)).blocking(options)).await
    }

    /// `PUT /v1/var/:path[?cas=]`.
    pub async fn variable_put(
        &self,
        variable: &Variable,
        cas: Option<u64>,
    ) -> Result<VariableWrite, Error> {
        let mut call = Call::new(Method::Put, var_path(&variable.path)).json(variable)?;
        if let Some(cas) = cas {
            call = call.param("cas", cas);
        }
        self.variable_write(call).await
    }

    /// `PUT /v1/var/:path?lock-<operation>`.
    pub async fn variable_lock(
        &self,
        operation: LockOperation,
        variable: &Variable,
    ) -> Result<VariableWrite, Error> {
        let call = Call::new(Method::Put, var_path(&variable.path))
            .json(variable)?
            .param(operation.param(), "");
        self.variable_write(call).await
    }

    /// `DELETE /v1/var/:path[?cas=]`.
    pub async fn variable_delete(
        &self,
        path: &str,
        cas: Option<u64>,
    ) -> Result<VariableWrite, Error> {
        let mut call = Call::new(Method::Delete, var_path(path));
        if let Some(cas) = cas {
            call = call.param("cas", cas);
        }
        self.variable_write(call).await
    }

    async fn variable_write(&self, call: Call) -> Result<VariableWrite, Error> {
        let response = self.send_unchecked(call).await?;
        let code = response.status().as_u16();
        let conflict = code == 409;
        if code >= 400 && !conflict {
            let body = crate::read_limited(response)
                .await
                .map(|b| String::from_utf8_lossy(&b).trim_end().to_string())
                .unwrap_or_default();
            return Err(Error::Status {
                code,
                body,
                kind: None,
            });
        }
        let bytes = crate::read_limited(response).await?;
        let variable: Variable = if bytes.trim_ascii().is_empty() {
            Variable::default()
        } else {
            caravan_structs::json::from_slice_lenient(&bytes).map_err(Error::Decode)?
        };
        Ok(if conflict {
            VariableWrite::Conflict(variable)
        } else {
            VariableWrite::Written(variable)
        })
    }

    /// `GET /v1/operator/keyring/keys`.
    pub async fn keyring_keys(&self) -> Result<Vec<RootKeyMeta>, Error> {
        self.write(Call::get("/v1/operator/keyring/keys")).await
    }

    /// `PUT /v1/operator/keyring/rotate[?full=true]`: the new active key.
    pub async fn keyring_rotate(&self, full: bool) -> Result<RootKeyMeta, Error> {
        let answer: RotateAnswer = self
            .write(Call::new(Method::Put, "/v1/operator/keyring/rotate").flag("full", full))
            .await?;
        Ok(answer.key)
    }

    /// `DELETE /v1/operator/keyring/key/:id`.
    pub async fn keyring_remove(&self, key_id: &str, force: bool) -> Result<(), Error> {
        let path = format!("/v1/operator/keyring/key/{}", path_escape(key_id));
        self.send(Call::new(Method::Delete, path).flag("force", force))
            .await
            .map(drop)
    }
}
