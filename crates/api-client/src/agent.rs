//! The agent's own routes: self, health, leader and peers, server membership (members,
//! join, force-leave), metrics, garbage collection.

use caravan_api_types::{JoinResponse, ServerMembers};

use crate::{Body, Call, Client, Error, Indexed, Method, paths};

/// What `GET /v1/agent/monitor` streams: the level, the form, and whose log.
#[derive(Debug, Clone, Default)]
pub struct MonitorQuery {
    /// `trace`, `debug`, `info` (the agent's default when empty), `warn`, `error`.
    pub log_level: String,
    /// hclog's JSON objects instead of text lines.
    pub log_json: bool,
    /// Each line names its source file and line.
    pub log_include_location: bool,
    /// Another client agent's log, relayed.
    pub node_id: String,
    /// Another server's log, relayed (`leader` for the leader).
    pub server_id: String,
}

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

    /// `GET /v1/agent/monitor`: the agent's log as Nomad's stream frames
    /// (`{"Data":"<base64>"}`, `{}` while idle), until the caller drops the body.
    pub async fn agent_monitor(&self, query: &MonitorQuery) -> Result<Body, Error> {
        let call = Call::get(paths::AGENT_MONITOR)
            .param_if_set("log_level", &query.log_level)
            .flag("log_json", query.log_json)
            .flag("log_include_location", query.log_include_location)
            .param_if_set("node_id", &query.node_id)
            .param_if_set("server_id", &query.server_id);
        Ok(Body::new(self.send(call).await?))
    }

    /// `GET /v1/status/leader`: the leader's RPC address.
    pub async fn status_leader(&self) -> Result<String, Error> {
        self.write(Call::get(paths::STATUS_LEADER)).await
    }

    /// `GET /v1/status/leader?region=`: the leader of another region (or of this one),
    /// as `server members` asks for each region its members are in.
    pub async fn status_region_leader(&self, region: &str) -> Result<String, Error> {
        self.write(Call::get(paths::STATUS_LEADER).param("region", region))
            .await
    }

    /// `GET /v1/status/peers`: the RPC addresses of the region's Raft peers.
    pub async fn status_peers(&self) -> Result<Vec<String>, Error> {
        self.write(Call::get(paths::STATUS_PEERS)).await
    }

    /// `GET /v1/agent/members`: the servers gossip knows, in every region.
    pub async fn agent_members(&self) -> Result<ServerMembers, Error> {
        self.write(Call::get(paths::AGENT_MEMBERS)).await
    }

    /// `GET /v1/agent/servers`: the servers a client agent talks to (`host:port`).
    pub async fn agent_servers(&self) -> Result<Vec<String>, Error> {
        self.write(Call::get(paths::AGENT_SERVERS)).await
    }

    /// `PUT /v1/agent/join?address=a&address=b`: joins the local server to others. The
    /// answer counts the joins; its `error` says why the others failed (Nomad's CLI
    /// fails when it is set).
    pub async fn agent_join(&self, addresses: &[String]) -> Result<JoinResponse, Error> {
        let mut call = addresses.iter().fold(
            Call::new(Method::Put, paths::AGENT_JOIN),
            |call, address| call.param("address", address),
        );
        call.body = Some(Vec::new());
        self.write(call).await
    }

    /// `PUT /v1/agent/force-leave?node=[&prune=true]`: forces a server into the `left`
    /// state; `prune` also drops it from the member list. The answer has no body.
    pub async fn agent_force_leave(&self, node: &str, prune: bool) -> Result<(), Error> {
        let mut call = Call::new(Method::Put, paths::AGENT_FORCE_LEAVE)
            .param("node", node)
            .flag("prune", prune);
        call.body = Some(Vec::new());
        self.send(call).await.map(drop)
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

    /// `PUT /v1/system/reconcile/summaries`.
    pub async fn system_reconcile_summaries(&self) -> Result<(), Error> {
        let mut call = Call::new(Method::Put, paths::SYSTEM_RECONCILE_SUMMARIES);
        call.body = Some(Vec::new());
        self.send(call).await.map(drop)
    }
}
