//! Nomad's service catalogue (`provider = "nomad"`): clients register the services of
//! the allocations they run and remove them when those stop; operators read and delete
//! them through the API.

use caravan_state::ServiceCommand;
use caravan_structs::{ServiceRegistration, ServiceRegistrationListStub};

use crate::*;

impl Server {
    /// A client registers (or updates) the services of allocations it runs.
    pub async fn upsert_services(
        &self,
        node_id: &(impl AsId<NodeId> + ?Sized),
        secret_id: &str,
        mut services: Vec<ServiceRegistration>,
    ) -> Result<u64, ServerError> {
        let node = self.check_secret(node_id, secret_id)?;
        let snapshot = self.snapshot();
        for service in &mut services {
            let Some(alloc) = snapshot.alloc(&service.alloc_id) else {
                return Err(ServerError::Invalid(vec![format!(
                    "service registration {:?}: allocation {} not found",
                    service.id, service.alloc_id
                )]));
            };
            if alloc.node_id != node.id {
                return Err(ServerError::Invalid(vec![format!(
                    "service registration {:?}: allocation {} does not run on node {}",
                    service.id, service.alloc_id, node.id
                )]));
            }
            if service.service_name.is_empty() || service.id.is_empty() {
                return Err(ServerError::Invalid(vec![
                    "service registration needs an ID and a ServiceName".into(),
                ]));
            }
            // What the servers know wins over what the client says.
            service.node_id = node.id.clone();
            service.datacenter = node.datacenter.clone();
            service.namespace = alloc.namespace.clone();
            service.job_id = alloc.job_id.as_str().to_string();
        }
        self.apply(Command::Services(ServiceCommand::Upsert { services }))
            .await
    }

    /// A client removes the services of allocations it stopped.
    pub async fn delete_alloc_services(
        &self,
        node_id: &(impl AsId<NodeId> + ?Sized),
        secret_id: &str,
        alloc_ids: Vec<AllocId>,
    ) -> Result<u64, ServerError> {
        let node = self.check_secret(node_id, secret_id)?;
        let snapshot = self.snapshot();
        if let Some(foreign) = alloc_ids
            .iter()
            .find(|id| snapshot.alloc(*id).is_some_and(|a| a.node_id != node.id))
        {
            return Err(ServerError::Invalid(vec![format!(
                "allocation {foreign} does not run on node {}",
                node.id
            )]));
        }
        self.apply(Command::Services(ServiceCommand::DeleteByAllocs {
            alloc_ids,
        }))
        .await
    }

    /// A service's registrations in a namespace once the services table passes
    /// `min_index` (or `wait` ends): what a client's templates watch.
    pub async fn node_service_registrations(
        &self,
        node_id: &(impl AsId<NodeId> + ?Sized),
        secret_id: &str,
        namespace: &str,
        name: &str,
        min_index: u64,
        wait: Duration,
    ) -> Result<(Vec<ServiceRegistration>, u64), ServerError> {
        self.check_secret(node_id, secret_id)?;
        let (services, index) = self
            .state
            .blocking_query(min_index, wait, |snapshot| {
                (
                    snapshot.service_registrations(namespace, name),
                    snapshot.table_index().services,
                )
            })
            .await;
        Ok((
            services
                .iter()
                .map(|s| ServiceRegistration::clone(s))
                .collect(),
            index,
        ))
    }

    /// Every service of a namespace with its tags once the services table passes
    /// `min_index` (or `wait` ends): what a template's `nomadServices` watches.
    pub async fn node_service_list(
        &self,
        node_id: &(impl AsId<NodeId> + ?Sized),
        secret_id: &str,
        namespace: &str,
        min_index: u64,
        wait: Duration,
    ) -> Result<(Vec<ServiceRegistrationListStub>, u64), ServerError> {
        self.check_secret(node_id, secret_id)?;
        Ok(self
            .state
            .blocking_query(min_index, wait, |snapshot| {
                (
                    snapshot.service_list(namespace),
                    snapshot.table_index().services,
                )
            })
            .await)
    }

    /// Removes one registration (`DELETE /v1/service/:name/:id`).
    pub async fn delete_service(
        &self,
        namespace: &str,
        name: &str,
        id: &str,
    ) -> Result<u64, ServerError> {
        let found = self
            .snapshot()
            .service_registration(id)
            .filter(|s| s.namespace == namespace && s.service_name == name);
        if found.is_none() {
            return Err(ServerError::Missing(
                "service registration not found".to_string(),
            ));
        }
        self.apply(Command::Services(ServiceCommand::Delete {
            namespace: namespace.to_string(),
            id: id.to_string(),
        }))
        .await
    }

    /// Every service of a namespace (`*`: all), for `GET /v1/services`.
    pub fn service_list(&self, namespace: &str) -> (Vec<ServiceRegistrationListStub>, u64) {
        let snapshot = self.snapshot();
        (
            snapshot.service_list(namespace),
            snapshot.table_index().services,
        )
    }
}
