//! The registrations an allocation makes for its `provider = "nomad"` services: where
//! each is served (the allocated port of its label on the node's address), named as
//! Nomad names them.

use caravan_structs::{Allocation, Node, SERVICE_PROVIDER_NOMAD, Service, ServiceRegistration};

/// Whose service it is: the group's, or one task's.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum ServiceOwner {
    Group,
    Task(String),
}

impl ServiceOwner {
    /// The name in registration and check IDs (Nomad: `group-<group>` for a group).
    pub fn id_part(&self, group: &str) -> String {
        match self {
            ServiceOwner::Group => format!("group-{group}"),
            ServiceOwner::Task(task) => task.clone(),
        }
    }
}

/// The `provider = "nomad"` services of the allocation's group and tasks, with their
/// owners.
pub fn nomad_services(alloc: &Allocation) -> Vec<(ServiceOwner, Service)> {
    let Some(group) = alloc
        .job
        .as_ref()
        .and_then(|job| job.group(&alloc.task_group))
    else {
        return Vec::new();
    };
    let group_services = group
        .services
        .iter()
        .map(|s| (ServiceOwner::Group, s.clone()));
    let task_services = group.tasks.iter().flat_map(|task| {
        task.services
            .iter()
            .map(|s| (ServiceOwner::Task(task.name.clone()), s.clone()))
    });
    group_services
        .chain(task_services)
        .filter(|(_, s)| s.provider == SERVICE_PROVIDER_NOMAD)
        .collect()
}

/// The node's address for services without an allocated port (its
/// `unique.network.ip-address`).
fn node_address(node: &Node) -> String {
    node.attributes
        .get("unique.network.ip-address")
        .cloned()
        .unwrap_or_else(|| "127.0.0.1".to_string())
}

/// Where a port label is served: the allocated port's address and host port; a number
/// is that port on the node's address; no label is the node's address alone.
pub fn address_of(alloc: &Allocation, node: &Node, port_label: &str) -> (String, i64) {
    if port_label.is_empty() {
        return (node_address(node), 0);
    }
    if let Ok(port) = port_label.parse::<u16>() {
        return (node_address(node), i64::from(port));
    }
    let shared = &alloc.allocated_resources.shared;
    let allocated = shared
        .ports
        .iter()
        .find(|p| p.label == port_label)
        .map(|p| (p.host_ip.clone(), p.value))
        .or_else(|| {
            shared.networks.iter().find_map(|n| {
                n.ports()
                    .find(|p| p.label == port_label)
                    .map(|p| (n.ip.clone(), p.value))
            })
        });
    match allocated {
        Some((ip, port)) if !ip.is_empty() => (ip, port),
        Some((_, port)) => (node_address(node), port),
        None => (node_address(node), 0),
    }
}

/// The registration of one service of the allocation.
pub fn registration(
    alloc: &Allocation,
    node: &Node,
    owner: &ServiceOwner,
    service: &Service,
) -> ServiceRegistration {
    let (mut address, port) = address_of(alloc, node, &service.port_label);
    if !service.address.is_empty() {
        address = service.address.clone();
    }
    ServiceRegistration {
        id: ServiceRegistration::make_id(
            alloc.id.as_str(),
            &owner.id_part(&alloc.task_group),
            &service.name,
            &service.port_label,
        ),
        service_name: service.name.clone(),
        namespace: alloc.namespace.clone(),
        node_id: node.id.clone(),
        datacenter: node.datacenter.clone(),
        job_id: alloc.job_id.as_str().to_string(),
        alloc_id: alloc.id.clone(),
        tags: service.tags.clone(),
        address,
        port,
        create_index: 0,
        modify_index: 0,
    }
}

#[cfg(test)]
mod tests {
    use caravan_structs::{AllocatedPortMapping, Service};

    use super::*;

    #[test]
    fn registrations_are_served_where_their_port_label_was_allocated() {
        let job = caravan_testkit::job("web")
            .group(|g| {
                g.services.push(Service {
                    name: "api".into(),
                    provider: "nomad".into(),
                    port_label: "http".into(),
                    tags: vec!["v1".into()],
                    ..Service::default()
                });
                g.services.push(Service {
                    name: "elsewhere".into(),
                    provider: "consul".into(),
                    ..Service::default()
                });
                g.tasks[0].services.push(Service {
                    name: "admin".into(),
                    provider: "nomad".into(),
                    port_label: "9000".into(),
                    ..Service::default()
                });
            })
            .build();
        let mut alloc = caravan_testkit::alloc("a1", &job, "n1").build();
        alloc
            .allocated_resources
            .shared
            .ports
            .push(AllocatedPortMapping {
                label: "http".into(),
                value: 23456,
                to: 0,
                host_ip: "10.0.0.5".into(),
            });
        let node = caravan_testkit::node("n1")
            .attribute("unique.network.ip-address", "10.0.0.9")
            .build();
        let services = nomad_services(&alloc);
        let names: Vec<&str> = services.iter().map(|(_, s)| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["api", "admin"],
            "consul services are not registered"
        );
        let registrations: Vec<ServiceRegistration> = services
            .iter()
            .map(|(owner, service)| registration(&alloc, &node, owner, service))
            .collect();
        let where_: Vec<(&str, &str, i64)> = registrations
            .iter()
            .map(|r| (r.id.as_str(), r.address.as_str(), r.port))
            .collect();
        let task = &job.task_groups[0].tasks[0].name;
        assert_eq!(
            where_,
            [
                ("_nomad-task-a1-group-g-api-http", "10.0.0.5", 23456),
                (
                    format!("_nomad-task-a1-{task}-admin-9000").as_str(),
                    "10.0.0.9",
                    9000
                ),
            ]
        );
        assert_eq!(registrations[0].tags, ["v1"]);
        assert_eq!(registrations[0].datacenter, "dc1");
        assert_eq!(registrations[0].node_id.as_str(), "n1");
    }
}
