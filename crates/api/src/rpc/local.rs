//! The client's connection to a server in the same process.

use std::sync::Arc;
use std::time::Duration;

use caravan_api_types::rpc::{ALLOCS_GET_WAIT, NodeClientAllocsResponse};

use caravan_client::{RpcError, ServerRpc, Workload};
use caravan_server::{Server, ServerError};
use caravan_structs::{
    AllocClientUpdate, AllocId, Allocation, Node, NodeId, ServiceRegistration,
    ServiceRegistrationListStub, Variable, VariableMetadata,
};

/// How long one long-poll for allocations may wait before it is renewed.
pub const LONG_POLL: Duration = Duration::from_secs(300);

/// Calls the server directly: a client in the server's process needs no network hop.
pub struct LocalRpc(pub Arc<Server>);

impl ServerRpc for LocalRpc {
    async fn register_node(&self, node: Node) -> Result<Duration, RpcError> {
        self.0
            .register_node(node)
            .await
            .map(|r| r.heartbeat_ttl)
            .map_err(rpc_error)
    }

    async fn heartbeat(&self, node_id: &NodeId, secret_id: &str) -> Result<Duration, RpcError> {
        self.0
            .heartbeat(node_id, secret_id)
            .await
            .map_err(rpc_error)
    }

    async fn get_client_allocs(
        &self,
        node_id: &NodeId,
        secret_id: &str,
        min_index: u64,
    ) -> Result<(NodeClientAllocsResponse, u64), RpcError> {
        self.0
            .get_client_allocs(node_id, secret_id, min_index, LONG_POLL)
            .await
            .map_err(rpc_error)
    }

    async fn get_allocs(
        &self,
        node_id: &NodeId,
        secret_id: &str,
        alloc_ids: Vec<AllocId>,
        min_index: u64,
    ) -> Result<Vec<Allocation>, RpcError> {
        self.0
            .get_allocs(node_id, secret_id, &alloc_ids, min_index, ALLOCS_GET_WAIT)
            .await
            .map(|(allocs, _)| allocs)
            .map_err(rpc_error)
    }

    async fn update_allocations(
        &self,
        node_id: &NodeId,
        secret_id: &str,
        updates: Vec<AllocClientUpdate>,
    ) -> Result<(), RpcError> {
        self.0
            .update_allocations(node_id, secret_id, updates)
            .await
            .map(|_| ())
            .map_err(rpc_error)
    }

    async fn upsert_services(
        &self,
        node_id: &NodeId,
        secret_id: &str,
        services: Vec<ServiceRegistration>,
    ) -> Result<(), RpcError> {
        self.0
            .upsert_services(node_id, secret_id, services)
            .await
            .map(drop)
            .map_err(rpc_error)
    }

    async fn delete_alloc_services(
        &self,
        node_id: &NodeId,
        secret_id: &str,
        alloc_ids: Vec<AllocId>,
    ) -> Result<(), RpcError> {
        self.0
            .delete_alloc_services(node_id, secret_id, alloc_ids)
            .await
            .map(drop)
            .map_err(rpc_error)
    }

    async fn service_list(
        &self,
        node_id: &NodeId,
        secret_id: &str,
        namespace: &str,
        min_index: u64,
    ) -> Result<(Vec<ServiceRegistrationListStub>, u64), RpcError> {
        self.0
            .node_service_list(node_id, secret_id, namespace, min_index, LONG_POLL)
            .await
            .map_err(rpc_error)
    }

    async fn service_registrations(
        &self,
        node_id: &NodeId,
        secret_id: &str,
        namespace: &str,
        name: &str,
        min_index: u64,
    ) -> Result<(Vec<ServiceRegistration>, u64), RpcError> {
        self.0
            .node_service_registrations(node_id, secret_id, namespace, name, min_index, LONG_POLL)
            .await
            .map_err(rpc_error)
    }

    async fn workload_variable(
        &self,
        node_id: &NodeId,
        secret_id: &str,
        workload: &Workload,
        path: &str,
        min_index: u64,
    ) -> Result<(Option<Variable>, u64), RpcError> {
        self.0
            .workload_variable(
                node_id.as_str(),
                secret_id,
                workload.alloc_id.as_str(),
                &workload.task,
                path,
                min_index,
                LONG_POLL,
            )
            .await
            .map_err(rpc_error)
    }

    async fn workload_variable_list(
        &self,
        node_id: &NodeId,
        secret_id: &str,
        workload: &Workload,
        prefix: &str,
        min_index: u64,
    ) -> Result<(Vec<VariableMetadata>, u64), RpcError> {
        self.0
            .workload_variable_list(
                node_id.as_str(),
                secret_id,
                workload.alloc_id.as_str(),
                &workload.task,
                prefix,
                min_index,
                LONG_POLL,
            )
            .await
            .map_err(rpc_error)
    }
}

/// A server error as the client acts on it: as a remote client would read it.
fn rpc_error(error: ServerError) -> RpcError {
    super::rpc_error(super::error_kind(&error), error.to_string())
}
