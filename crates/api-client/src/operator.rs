//! Operator routes: the Raft peer set, snapshots of the servers' state, the scheduler
//! configuration, and deleting evaluations.

use base64::Engine;
use caravan_api_types::{
    EvalDeleteRequest, EvalDeleteResponse, RaftConfiguration, SchedulerConfigurationResponse,
    SchedulerSetConfigurationResponse,
};
use sha2::{Digest, Sha256};

use crate::{Call, Client, Error, Method, paths};

impl Client {
    /// `GET /v1/operator/scheduler/configuration`.
    pub async fn scheduler_configuration(&self) -> Result<SchedulerConfigurationResponse, Error> {
        self.write(Call::get(paths::SCHEDULER_CONFIGURATION)).await
    }

    /// `PUT /v1/operator/scheduler/configuration`: replaces the whole configuration.
    pub async fn set_scheduler_configuration(
        &self,
        config: &caravan_structs::SchedulerConfiguration,
    ) -> Result<SchedulerSetConfigurationResponse, Error> {
        self.write(Call::new(Method::Put, paths::SCHEDULER_CONFIGURATION).json(config)?)
            .await
    }

    /// `DELETE /v1/evaluations`: deletes evaluations by ID or filter (the eval broker
    /// must be paused).
    pub async fn delete_evaluations(
        &self,
        request: &EvalDeleteRequest,
    ) -> Result<EvalDeleteResponse, Error> {
        self.write(Call::new(Method::Delete, paths::EVALUATIONS).json(request)?)
            .await
    }

    /// `GET /v1/operator/raft/configuration[?stale=true]`: the Raft peer set; `stale`
    /// lets any server answer (a cluster without a leader).
    pub async fn raft_configuration(&self, stale: bool) -> Result<RaftConfiguration, Error> {
        self.write(Call::get(paths::RAFT_CONFIGURATION).flag("stale", stale))
            .await
    }

    /// `DELETE /v1/operator/raft/peer?address=`: removes the peer at `ip:port`.
    pub async fn raft_remove_peer_by_address(&self, address: &str) -> Result<(), Error> {
        self.remove_peer("address", address).await
    }

    /// `DELETE /v1/operator/raft/peer?id=`: removes the peer with that Raft ID.
    pub async fn raft_remove_peer_by_id(&self, id: &str) -> Result<(), Error> {
        self.remove_peer("id", id).await
    }

    async fn remove_peer(&self, key: &'static str, value: &str) -> Result<(), Error> {
        let call = Call::new(Method::Delete, paths::RAFT_PEER).param(key, value);
        self.send(call).await.map(drop)
    }

    /// `GET /v1/operator/snapshot[?stale=true]`: a snapshot archive of the servers'
    /// state (see `caravan_api_types::snapshot_archive`). When the answer carries
    /// Nomad's `Digest: sha-256=<base64>` header the bytes are checked against it, as
    /// Nomad's Go client does.
    pub async fn snapshot_save(&self, stale: bool) -> Result<Vec<u8>, Error> {
        let response = self
            .send(Call::get(paths::SNAPSHOT).flag("stale", stale))
            .await?;
        let digest = response
            .headers()
            .get("Digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let archive = crate::read_limited(response).await?;
        if let Some(digest) = digest {
            check_digest(&digest, &archive)?;
        }
        Ok(archive)
    }

    /// `PUT /v1/operator/snapshot` with a snapshot archive as the body: replaces the
    /// servers' state with it. The answer has no body.
    pub async fn snapshot_restore(&self, archive: &[u8]) -> Result<(), Error> {
        let call = Call::new(Method::Put, paths::SNAPSHOT).bytes(archive.to_vec());
        self.send(call).await.map(drop)
    }
}

/// Checks a `Digest` header against the bytes it describes. Only `sha-256` is known;
/// another algorithm is not checked, as it cannot be.
fn check_digest(digest: &str, bytes: &[u8]) -> Result<(), Error> {
    let Some(want) = digest.strip_prefix("sha-256=") else {
        return Ok(());
    };
    let got = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes));
    if got == want {
        Ok(())
    } else {
        Err(Error::Decode(format!(
            "snapshot checksum mismatch: the Digest header says sha-256={want}, the body is sha-256={got}"
        )))
    }
}
