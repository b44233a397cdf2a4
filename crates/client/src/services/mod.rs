//! Nomad's own service catalogue as the client sees it: the registrations it makes for
//! the allocations it runs ([`registrations`]), what each allocation runs for its
//! services while it lives ([`AllocServices`]: registrations and checks), and the
//! catalogue's reads that templates watch ([`ServiceCatalog`]), variables included.

mod alloc_services;
pub mod registrations;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use caravan_structs::{
    AllocId, NodeId, ServiceRegistration, ServiceRegistrationListStub, Variable, VariableMetadata,
};

use crate::{RpcError, ServerRpc, Workload};

pub use alloc_services::{AllocServices, AllocServicesSetup};

/// A boxed future the catalogue answers with (it is kept as a trait object).
pub type CatalogFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, RpcError>> + Send + 'a>>;

/// The servers' service catalogue, as this node may use it.
pub trait ServiceCatalog: Send + Sync + 'static {
    /// Registers (or updates) services of allocations this node runs.
    fn upsert(&self, services: Vec<ServiceRegistration>) -> CatalogFuture<'_, ()>;
    /// Removes every registration of these allocations.
    fn delete_allocs(&self, alloc_ids: Vec<AllocId>) -> CatalogFuture<'_, ()>;
    /// Every service of a namespace with its tags once the catalogue's index passes
    /// `min_index`.
    fn list<'a>(
        &'a self,
        namespace: &'a str,
        min_index: u64,
    ) -> CatalogFuture<'a, (Vec<ServiceRegistrationListStub>, u64)>;
    /// A service's registrations once the catalogue's index passes `min_index`.
    fn registrations<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
        min_index: u64,
    ) -> CatalogFuture<'a, (Vec<ServiceRegistration>, u64)>;
    /// The variable at `path` as `workload` may read it, once its index passes
    /// `min_index` (`nomadVar`).
    fn variable<'a>(
        &'a self,
        workload: &'a Workload,
        path: &'a str,
        min_index: u64,
    ) -> CatalogFuture<'a, (Option<Variable>, u64)>;
    /// The variables under `prefix` `workload` may list (`nomadVarList`).
    fn variables<'a>(
        &'a self,
        workload: &'a Workload,
        prefix: &'a str,
        min_index: u64,
    ) -> CatalogFuture<'a, (Vec<VariableMetadata>, u64)>;
}

/// [`ServiceCatalog`] through the node's connection to its servers.
pub struct NodeCatalog<S> {
    pub server: Arc<S>,
    pub node_id: NodeId,
    pub secret_id: String,
}

impl<S: ServerRpc> ServiceCatalog for NodeCatalog<S> {
    fn upsert(&self, services: Vec<ServiceRegistration>) -> CatalogFuture<'_, ()> {
        Box::pin(
            self.server
                .upsert_services(&self.node_id, &self.secret_id, services),
        )
    }

    fn delete_allocs(&self, alloc_ids: Vec<AllocId>) -> CatalogFuture<'_, ()> {
        Box::pin(
            self.server
                .delete_alloc_services(&self.node_id, &self.secret_id, alloc_ids),
        )
    }

    fn list<'a>(
        &'a self,
        namespace: &'a str,
        min_index: u64,
    ) -> CatalogFuture<'a, (Vec<ServiceRegistrationListStub>, u64)> {
        Box::pin(
            self.server
                .service_list(&self.node_id, &self.secret_id, namespace, min_index),
        )
    }

    fn registrations<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
        min_index: u64,
    ) -> CatalogFuture<'a, (Vec<ServiceRegistration>, u64)> {
        Box::pin(self.server.service_registrations(
            &self.node_id,
            &self.secret_id,
            namespace,
            name,
            min_index,
        ))
    }

    fn variable<'a>(
        &'a self,
        workload: &'a Workload,
        path: &'a str,
        min_index: u64,
    ) -> CatalogFuture<'a, (Option<Variable>, u64)> {
        Box::pin(self.server.workload_variable(
            &self.node_id,
            &self.secret_id,
            workload,
            path,
            min_index,
        ))
    }

    fn variables<'a>(
        &'a self,
        workload: &'a Workload,
        prefix: &'a str,
        min_index: u64,
    ) -> CatalogFuture<'a, (Vec<VariableMetadata>, u64)> {
        Box::pin(self.server.workload_variable_list(
            &self.node_id,
            &self.secret_id,
            workload,
            prefix,
            min_index,
        ))
    }
}
