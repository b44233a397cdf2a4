//! The agent's own routes: self, health, leader, metrics, garbage collection.

use crate::{Call, Client, Error, Indexed, Method, paths};

impl Client {
    /// `GET /v1/agent/self`: the agent's configuration and stats, as free-form JSON
    /// (`config.DataDir`, `stats.client.node_id`...).
    pub async fn agent_self(&self) -> Result<Indexed<serde_json::Value>, Error> {
        self.read(Call::get(paths::AGENT_SELF)).await
    }

    /// `GET /v1/agent/health`.
    pub async fn agent_health(&self) -> Result<serde_json::Value, Error> {
        self.write(Call::get(paths::AGENT_HEALTH)).await
    }

    /// `GET /v1/status/leader`: the leader's RPC address.
    pub async fn status_leader(&self) -> Result<String, Error> {
        self.write(Call::get(paths::STATUS_LEADER)).await
    }

    /// `GET /v1/metrics[?format=]`: JSON by default, Prometheus text with
    /// `format=prometheus`; the answer's text either way.
    pub async fn metrics(&self, format: &str) -> Result<String, Error> {
        let response = self
            .send(Call::get(paths::METRICS).param_if_set("format", format))
            .await?;
        let bytes = crate::read_limited(response).await?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// `PUT /v1/system/gc`: collects garbage now; the answer has no body.
    pub async fn system_gc(&self) -> Result<(), Error> {
        let mut call = Call::new(Method::Put, paths::SYSTEM_GC);
        call.body = Some(Vec::new());
        self.send(call).await.map(drop)
    }
}
