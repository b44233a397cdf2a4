//! The service registrations table (Nomad's `service_registrations`): every instance
//! of a `provider = "nomad"` service, written by the client that runs it and removed
//! when its allocation ends, its node goes down, or an operator deletes it.

use std::collections::BTreeMap;
use std::sync::Arc;

use caravan_structs::{
    AllocId, NodeId, ServiceRegistration, ServiceRegistrationListStub, ServiceRegistrationStub,
};
use serde::{Deserialize, Serialize};

use crate::snapshot::Snapshot;

/// A write to the service registrations table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ServiceCommand {
    /// Create or update registrations (a client's running allocation). Registrations
    /// of allocations that are already terminal, or gone, are skipped: a late client
    /// must not bring back what the servers removed.
    Upsert { services: Vec<ServiceRegistration> },
    /// Remove one registration by ID (`DELETE /v1/service/:name/:id`).
    Delete { namespace: String, id: String },
    /// Remove every registration of these allocations (their client stopped them).
    DeleteByAllocs { alloc_ids: Vec<AllocId> },
}

impl Snapshot {
    /// A service's registrations in a namespace, in ID order.
    pub fn service_registrations(
        &self,
        namespace: &str,
        name: &str,
    ) -> Vec<Arc<ServiceRegistration>> {
        self.services
            .values()
            .filter(|s| s.namespace == namespace && s.service_name == name)
            .cloned()
            .collect()
    }

    /// The registration with this ID.
    pub fn service_registration(&self, id: &str) -> Option<Arc<ServiceRegistration>> {
        self.services.get(id).cloned()
    }

    /// A job's registrations, in ID order.
    pub fn service_registrations_by_job(
        &self,
        namespace: &str,
        job_id: &str,
    ) -> Vec<Arc<ServiceRegistration>> {
        self.services
            .values()
            .filter(|s| s.namespace == namespace && s.job_id == job_id)
            .cloned()
            .collect()
    }

    /// An allocation's registrations.
    pub fn service_registrations_by_alloc(&self, alloc_id: &str) -> Vec<Arc<ServiceRegistration>> {
        self.services
            .values()
            .filter(|s| s.alloc_id.as_str() == alloc_id)
            .cloned()
            .collect()
    }

    /// The services of each namespace (`*`: every one) with the union of their tags,
    /// namespaces, services and tags in name order (Nomad's `ServiceRegistrationListStub`).
    pub fn service_list(&self, namespace: &str) -> Vec<ServiceRegistrationListStub> {
        let mut by_namespace: BTreeMap<&str, BTreeMap<&str, Vec<String>>> = BTreeMap::new();
        for service in self.services.values() {
            if namespace != "*" && service.namespace != namespace {
                continue;
            }
            let tags = by_namespace
                .entry(&service.namespace)
                .or_default()
                .entry(&service.service_name)
                .or_default();
            for tag in &service.tags {
                if !tags.contains(tag) {
                    tags.push(tag.clone());
                }
            }
        }
        by_namespace
            .into_iter()
            .map(|(namespace, services)| ServiceRegistrationListStub {
                namespace: namespace.to_string(),
                services: services
                    .into_iter()
                    .map(|(name, mut tags)| {
                        tags.sort();
                        ServiceRegistrationStub {
                            service_name: name.to_string(),
                            tags,
                        }
                    })
                    .collect(),
            })
            .collect()
    }

    pub(crate) fn apply_services(&mut self, command: ServiceCommand, index: u64) {
        match command {
            ServiceCommand::Upsert { services } => {
                for mut service in services {
                    let live = self
                        .allocs
                        .get(&service.alloc_id)
                        .is_some_and(|a| !a.client_terminal());
                    if !live {
                        continue;
                    }
                    match self.services.get(&service.id) {
                        Some(existing) if existing.same_as(&service) => continue,
                        Some(existing) => service.create_index = existing.create_index,
                        None => service.create_index = index,
                    }
                    service.modify_index = index;
                    self.services.insert(service.id.clone(), Arc::new(service));
                    self.table_index.services = index;
                }
            }
            ServiceCommand::Delete { namespace, id } => {
                if self
                    .services
                    .get(&id)
                    .is_some_and(|s| s.namespace == namespace)
                {
                    self.services.remove(&id);
                    self.table_index.services = index;
                }
            }
            ServiceCommand::DeleteByAllocs { alloc_ids } => {
                for alloc_id in &alloc_ids {
                    self.remove_alloc_services(alloc_id, index);
                }
            }
        }
    }

    /// Nomad removes an allocation's registrations once it is terminal, whatever its
    /// client managed to do.
    pub(crate) fn remove_alloc_services(&mut self, alloc_id: &AllocId, index: u64) {
        self.remove_services_where(index, |s| s.alloc_id == *alloc_id);
    }

    /// Nomad removes a down node's registrations: nobody is there to serve them.
    pub(crate) fn remove_node_services(&mut self, node_id: &NodeId, index: u64) {
        self.remove_services_where(index, |s| s.node_id == *node_id);
    }

    fn remove_services_where(
        &mut self,
        index: u64,
        matches: impl Fn(&ServiceRegistration) -> bool,
    ) {
        let gone: Vec<String> = self
            .services
            .iter()
            .filter(|(_, s)| matches(s))
            .map(|(id, _)| id.clone())
            .collect();
        for id in &gone {
            self.services.remove(id);
        }
        if !gone.is_empty() {
            self.table_index.services = index;
        }
    }
}
