//! Node routes: list, read, the node's allocations, eligibility and drain.

use caravan_api_types::{
    HostStatsResponse, NodeListStub, NodeUpdateDrainRequest, NodeUpdateEligibilityRequest,
    NodeUpdateResponse,
};
use caravan_structs::{Allocation, Node};

use crate::{Call, Client, Error, Indexed, Method, QueryOptions, paths};

impl Client {
    /// `GET /v1/nodes[?prefix=]`.
    pub async fn nodes(&self, prefix: &str) -> Result<Indexed<Vec<NodeListStub>>, Error> {
        self.read(Call::get(paths::NODES).param_if_set("prefix", prefix))
            .await
    }

    /// `GET /v1/nodes[?os=true]`: every node, with its `os.name` when `os`.
    pub async fn node_list(&self, os: bool) -> Result<Indexed<Vec<NodeListStub>>, Error> {
        self.read(Call::get(paths::NODES).flag("os", os)).await
    }

    /// `GET /v1/node/:id`, a blocking query with `options`.
    pub async fn node(&self, id: &str, options: QueryOptions) -> Result<Indexed<Node>, Error> {
        self.read(Call::get(paths::node(id)).blocking(options))
            .await
    }

    /// `GET /v1/node/:id/allocations`, a blocking query with `options`.
    pub async fn node_allocations(
        &self,
        id: &str,
        options: QueryOptions,
    ) -> Result<Indexed<Vec<Allocation>>, Error> {
        self.read(Call::get(paths::node_allocations(id)).blocking(options))
            .await
    }

    /// `GET /v1/client/stats?node_id=`: the node's host usage, measured by its client.
    pub async fn host_stats(&self, node_id: &str) -> Result<Indexed<HostStatsResponse>, Error> {
        self.read(Call::get(paths::CLIENT_STATS).param_if_set("node_id", node_id))
            .await
    }

    /// `POST /v1/node/:id/eligibility`.
    pub async fn update_eligibility(
        &self,
        id: &str,
        request: &NodeUpdateEligibilityRequest,
    ) -> Result<NodeUpdateResponse, Error> {
        self.write(Call::new(Method::Post, paths::node_eligibility(id)).json(request)?)
            .await
    }

    /// `POST /v1/node/:id/drain`: a `DrainSpec` starts a drain, none ends it.
    pub async fn update_drain(
        &self,
        id: &str,
        request: &NodeUpdateDrainRequest,
    ) -> Result<NodeUpdateResponse, Error> {
        self.write(Call::new(Method::Post, paths::node_drain(id)).json(request)?)
            .await
    }
}
