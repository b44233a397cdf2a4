//! A client agent's calls to a server's RPC port: registration, heartbeats, the
//! long-poll for its allocations' modify indexes, fetching the changed ones, and its
//! status updates. Every call but registration carries the node's secret.

use std::time::Duration;

use caravan_api_types::rpc::{
    ALLOCS_GET_WAIT, AllocUpdateRequest, AllocUpdateResponse, AllocsGetRequest, AllocsGetResponse,
    HeartbeatRequest, HeartbeatResponse, NODE_SECRET_HEADER, NodeClientAllocsResponse,
    ServiceDeleteRequest, ServiceUpsertRequest, ServiceWriteResponse,
};
use caravan_structs::{
    Node, ServiceRegistration, ServiceRegistrationListStub, Variable, VariableMetadata,
};

use crate::{Call, Client, Config, ConfigError, Error, Indexed, Method, QueryOptions, paths};

/// How long a registration or heartbeat may take.
const SHORT_CALL: Duration = Duration::from_secs(10);
/// How long a batch of status updates may take.
const UPDATE_CALL: Duration = Duration::from_secs(30);
/// How much longer than its wait a long-poll may take to answer.
const LONG_POLL_SLACK: Duration = Duration::from_secs(30);

/// The RPC client for one server.
#[derive(Debug, Clone)]
pub struct RpcClient {
    api: Client,
}

impl RpcClient {
    /// A client for the server's RPC address `host:port`, sharing `http`'s pool.
    pub fn new(address: &str, http: reqwest::Client) -> Result<RpcClient, ConfigError> {
        RpcClient::with_token(address, http, None)
    }

    /// [`RpcClient::new`] whose calls carry an ACL token: with ACLs on, a node registers
    /// with a token that has `node:write`.
    pub fn with_token(
        address: &str,
        http: reqwest::Client,
        token: Option<String>,
    ) -> Result<RpcClient, ConfigError> {
        let config = Config {
            token,
            ..Config::address(address)
        };
        Ok(RpcClient {
            api: Client::with_http(config, http)?,
        })
    }

    /// `POST /v1/internal/node/register`: registers (or refreshes) the node.
    pub async fn register_node(&self, node: &Node) -> Result<HeartbeatResponse, Error> {
        let call = Call::new(Method::Post, paths::rpc::NODE_REGISTER)
            .json(node)?
            .timeout(SHORT_CALL);
        self.api.write(call).await
    }

    /// `POST /v1/internal/node/heartbeat`.
    pub async fn heartbeat(&self, request: &HeartbeatRequest) -> Result<HeartbeatResponse, Error> {
        let call = Call::new(Method::Post, paths::rpc::NODE_HEARTBEAT)
            .json(request)?
            .timeout(SHORT_CALL);
        self.api.write(call).await
    }

    /// `GET /v1/internal/node/:id/client-allocs`: the node's allocations' modify
    /// indexes once their index passes `options.index`, or when `options.wait` runs
    /// out (Nomad's `Node.GetClientAllocs`), with the allocations changed past it.
    /// Generic over what each of those decodes into, as [`RpcClient::get_allocs`] is.
    pub async fn node_client_allocs<T: serde::de::DeserializeOwned>(
        &self,
        node_id: &str,
        secret_id: &str,
        options: QueryOptions,
    ) -> Result<Indexed<NodeClientAllocsResponse<T>>, Error> {
        let call = Call::get(paths::rpc::node_client_allocs(node_id))
            .blocking(options)
            .header(NODE_SECRET_HEADER, secret_id)
            .timeout(options.wait.unwrap_or_default() + LONG_POLL_SLACK);
        self.api.read(call).await
    }

    /// `POST /v1/internal/allocations/get`: the node's allocations with these IDs, once
    /// the server's state passes `request.min_query_index` (Nomad's `Alloc.GetAllocs`).
    /// Generic over what each allocation decodes into, so that a caller that needs a
    /// few fields (the simulator) need not decode every allocation's job.
    pub async fn get_allocs<T: serde::de::DeserializeOwned>(
        &self,
        secret_id: &str,
        request: &AllocsGetRequest,
    ) -> Result<AllocsGetResponse<T>, Error> {
        let call = Call::new(Method::Post, paths::rpc::ALLOCATIONS_GET)
            .json(request)?
            .header(NODE_SECRET_HEADER, secret_id)
            .timeout(ALLOCS_GET_WAIT + LONG_POLL_SLACK);
        self.api.write(call).await
    }

    /// `GET /v1/status/peers` on the RPC port: the servers' RPC addresses, which a
    /// client adds to the ones it was configured with.
    pub async fn status_peers(&self) -> Result<Vec<String>, Error> {
        self.api
            .write(Call::get(paths::STATUS_PEERS).timeout(SHORT_CALL))
            .await
    }

    /// `POST /v1/internal/allocations/update`: a batch of allocation status updates.
    pub async fn update_allocations(
        &self,
        secret_id: &str,
        request: &AllocUpdateRequest,
    ) -> Result<AllocUpdateResponse, Error> {
        let call = Call::new(Method::Post, paths::rpc::ALLOCATIONS_UPDATE)
            .json(request)?
            .header(NODE_SECRET_HEADER, secret_id)
            .timeout(UPDATE_CALL);
        self.api.write(call).await
    }

    /// `POST /v1/internal/services/upsert`: registers services of the node's allocations.
    pub async fn upsert_services(
        &self,
        secret_id: &str,
        request: &ServiceUpsertRequest,
    ) -> Result<ServiceWriteResponse, Error> {
        let call = Call::new(Method::Post, paths::rpc::SERVICES_UPSERT)
            .json(request)?
            .header(NODE_SECRET_HEADER, secret_id)
            .timeout(UPDATE_CALL);
        self.api.write(call).await
    }

    /// `POST /v1/internal/services/delete`: removes the registrations of allocations
    /// the node stopped.
    pub async fn delete_services(
        &self,
        secret_id: &str,
        request: &ServiceDeleteRequest,
    ) -> Result<ServiceWriteResponse, Error> {
        let call = Call::new(Method::Post, paths::rpc::SERVICES_DELETE)
            .json(request)?
            .header(NODE_SECRET_HEADER, secret_id)
            .timeout(UPDATE_CALL);
        self.api.write(call).await
    }

    /// `GET /v1/internal/node/:id/services`: every service of `namespace` once the
    /// services table passes `options.index`.
    pub async fn node_services(
        &self,
        node_id: &str,
        secret_id: &str,
        namespace: &str,
        options: QueryOptions,
    ) -> Result<Indexed<Vec<ServiceRegistrationListStub>>, Error> {
        let call = Call::get(paths::rpc::node_services(node_id))
            .param("namespace", namespace)
            .blocking(options)
            .header(NODE_SECRET_HEADER, secret_id)
            .timeout(options.wait.unwrap_or_default() + LONG_POLL_SLACK);
        self.api.read(call).await
    }

    /// `GET /v1/internal/node/:id/service/:name`: a service's registrations in
    /// `namespace` once the services table passes `options.index`.
    pub async fn node_service(
        &self,
        node_id: &str,
        secret_id: &str,
        namespace: &str,
        name: &str,
        options: QueryOptions,
    ) -> Result<Indexed<Vec<ServiceRegistration>>, Error> {
        let call = Call::get(paths::rpc::node_service(node_id, name))
            .param("namespace", namespace)
            .blocking(options)
            .header(NODE_SECRET_HEADER, secret_id)
            .timeout(options.wait.unwrap_or_default() + LONG_POLL_SLACK);
        self.api.read(call).await
    }

    /// `GET /v1/internal/node/:id/variable`: the variable at `path` for task `task` of
    /// allocation `alloc_id` (`null` when there is none) once its index passes
    /// `options.index`.
    pub async fn node_variable(
        &self,
        node_id: &str,
        secret_id: &str,
        (alloc_id, task): (&str, &str),
        path: &str,
        options: QueryOptions,
    ) -> Result<Indexed<Option<Variable>>, Error> {
        let call = Call::get(paths::rpc::node_variable(node_id))
            .param("alloc", alloc_id)
            .param("task", task)
            .param("path", path)
            .blocking(options)
            .header(NODE_SECRET_HEADER, secret_id)
            .timeout(options.wait.unwrap_or_default() + LONG_POLL_SLACK);
        self.api.read(call).await
    }

    /// `GET /v1/internal/node/:id/variables`: the metadata of the variables task
    /// `task` of allocation `alloc_id` may list under `prefix`.
    pub async fn node_variables(
        &self,
        node_id: &str,
        secret_id: &str,
        (alloc_id, task): (&str, &str),
        prefix: &str,
        options: QueryOptions,
    ) -> Result<Indexed<Vec<VariableMetadata>>, Error> {
        let call = Call::get(paths::rpc::node_variables(node_id))
            .param("alloc", alloc_id)
            .param("task", task)
            .param("prefix", prefix)
            .blocking(options)
            .header(NODE_SECRET_HEADER, secret_id)
            .timeout(options.wait.unwrap_or_default() + LONG_POLL_SLACK);
        self.api.read(call).await
    }
}
