//! What an allocation runs for its `provider = "nomad"` services while it lives: a
//! task's services are registered and their checks run once the task runs (a group's
//! once any task runs), the checks stop when their task stops, and everything is
//! deregistered when the allocation ends (the servers also remove them then).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use caravan_drivers::DriverRegistry;
use caravan_structs::{Allocation, Node, Service, TaskState, TaskStateKind};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::ServiceCatalog;
use super::registrations::{ServiceOwner, address_of, nomad_services, registration};
use crate::checks::{
    AllocHealth, CheckResults, CheckSpec, ChecksHealth, ProbeTarget, TaskAction, check_id,
    run_check,
};
use crate::state_db::StateDb;

/// A write to the catalogue, sent in order by the allocation's registrar.
enum CatalogWrite {
    Upsert(Vec<caravan_structs::ServiceRegistration>),
    DeleteAlloc,
}

/// An allocation's services and checks.
pub struct AllocServices {
    alloc: Allocation,
    node: Node,
    services: Vec<(ServiceOwner, Service)>,
    results: CheckResults,
    health: AllocHealth,
    actions: mpsc::UnboundedSender<TaskAction>,
    drivers: DriverRegistry,
    state_db: StateDb,
    /// Made when the first http check starts: most allocations have none.
    http: Option<reqwest::Client>,
    writes: mpsc::UnboundedSender<CatalogWrite>,
    /// Registration IDs written so far.
    registered: BTreeSet<String>,
    /// Running checks by owner.
    checks: BTreeMap<ServiceOwner, Vec<JoinHandle<()>>>,
    /// Tasks that run now.
    running: BTreeSet<String>,
    /// Deregistered: the allocation is stopping.
    stopped: bool,
}

/// What an allocation's services need from its runner.
pub struct AllocServicesSetup {
    pub alloc: Allocation,
    pub node: Node,
    pub catalog: Arc<dyn ServiceCatalog>,
    pub results: CheckResults,
    pub drivers: DriverRegistry,
    pub state_db: StateDb,
    /// Where checks send the restarts they ask for.
    pub actions: mpsc::UnboundedSender<TaskAction>,
}

impl AllocServices {
    /// The allocation's services, nothing registered yet, and the health of its checks.
    pub fn new(setup: AllocServicesSetup) -> (AllocServices, watch::Receiver<ChecksHealth>) {
        let services = nomad_services(&setup.alloc);
        let check_ids = services.iter().flat_map(|(owner, service)| {
            let owner_part = owner.id_part(&setup.alloc.task_group);
            let alloc_id = setup.alloc.id.as_str().to_string();
            service.checks.iter().map(move |check| {
                (
                    check_id(&alloc_id, &owner_part, &service.name, check),
                    check.on_update.as_str(),
                )
            })
        });
        let (health, receiver) = AllocHealth::new(check_ids);
        let (writes, queue) = mpsc::unbounded_channel();
        // Ends once the queue is written and every sender is gone; an allocation
        // without services has nothing to write.
        if !services.is_empty() {
            tokio::spawn(registrar(setup.catalog, setup.alloc.id.clone(), queue));
        }
        let services = AllocServices {
            http: None,
            alloc: setup.alloc,
            node: setup.node,
            services,
            results: setup.results,
            health,
            actions: setup.actions,
            drivers: setup.drivers,
            state_db: setup.state_db,
            writes,
            registered: BTreeSet::new(),
            checks: BTreeMap::new(),
            running: BTreeSet::new(),
            stopped: false,
        };
        (services, receiver)
    }

    /// A task's new state: its services come up when it runs and their checks stop when
    /// it does not; the group's follow whether any task runs.
    pub fn task_state_changed(&mut self, task: &str, state: &TaskState) {
        if self.services.is_empty() || self.stopped {
            return;
        }
        if state.state == TaskStateKind::Running {
            self.running.insert(task.to_string());
        } else {
            self.running.remove(task);
        }
        let owners: Vec<ServiceOwner> = self
            .services
            .iter()
            .map(|(owner, _)| owner.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        for owner in owners {
            let up = match &owner {
                ServiceOwner::Group => !self.running.is_empty(),
                ServiceOwner::Task(name) => self.running.contains(name),
            };
            let checking = self.checks.contains_key(&owner);
            if up && !checking {
                self.start(&owner);
            } else if !up && checking {
                for check in self.checks.remove(&owner).unwrap_or_default() {
                    check.abort();
                }
            }
        }
    }

    fn start(&mut self, owner: &ServiceOwner) {
        let owned: Vec<Service> = self
            .services
            .iter()
            .filter(|(o, _)| o == owner)
            .map(|(_, s)| s.clone())
            .collect();
        let new: Vec<_> = owned
            .iter()
            .map(|service| registration(&self.alloc, &self.node, owner, service))
            .filter(|r| !self.registered.contains(&r.id))
            .collect();
        if !new.is_empty() {
            self.registered.extend(new.iter().map(|r| r.id.clone()));
            let _ = self.writes.send(CatalogWrite::Upsert(new));
        }
        let owner_part = owner.id_part(&self.alloc.task_group);
        let mut handles = Vec::new();
        for service in &owned {
            for check in &service.checks {
                let port_label = if check.port_label.is_empty() {
                    &service.port_label
                } else {
                    &check.port_label
                };
                let (mut address, port) = address_of(&self.alloc, &self.node, port_label);
                if check.port_label.is_empty() && !service.address.is_empty() {
                    address = service.address.clone();
                }
                // A script runs in the service's task, or the check's `task` for a
                // group's service (the group's only task when it names none); that
                // task is also the one `check_restart` restarts.
                let task = match owner {
                    ServiceOwner::Task(name) => Some(name.clone()),
                    ServiceOwner::Group if !check.task_name.is_empty() => {
                        Some(check.task_name.clone())
                    }
                    ServiceOwner::Group => self.only_task(),
                };
                let exec = task.as_ref().and_then(|task| self.exec_target(task));
                let spec = CheckSpec {
                    id: check_id(self.alloc.id.as_str(), &owner_part, &service.name, check),
                    check: check.clone(),
                    service: service.name.clone(),
                    task: match owner {
                        ServiceOwner::Task(name) => name.clone(),
                        ServiceOwner::Group => String::new(),
                    },
                    restart_task: task,
                    alloc_name: self.alloc.name.clone(),
                    alloc_id: self.alloc.id.clone(),
                    target: ProbeTarget {
                        address,
                        port,
                        exec,
                    },
                };
                handles.push(tokio::spawn(run_check(
                    spec,
                    self.results.clone(),
                    self.health.clone(),
                    self.actions.clone(),
                    self.http_client(),
                )));
            }
        }
        self.checks.insert(owner.clone(), handles);
    }

    /// The HTTP client the allocation's checks share.
    fn http_client(&mut self) -> reqwest::Client {
        self.http
            .get_or_insert_with(|| {
                reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::limited(10))
                    .build()
                    .unwrap_or_default()
            })
            .clone()
    }

    /// The name of the group's task when it has exactly one.
    fn only_task(&self) -> Option<String> {
        let group = self.alloc.job.as_ref()?.group(&self.alloc.task_group)?;
        match group.tasks.as_slice() {
            [task] => Some(task.name.clone()),
            _ => None,
        }
    }

    /// The task's driver and executor records, for script checks.
    fn exec_target(
        &self,
        task: &str,
    ) -> Option<(Arc<dyn caravan_drivers::Driver>, std::path::PathBuf)> {
        let spec = self
            .alloc
            .job
            .as_ref()?
            .group(&self.alloc.task_group)?
            .tasks
            .iter()
            .find(|t| t.name == task)?;
        let driver = self
            .drivers
            .get(&spec.driver)
            .filter(|d| d.capabilities().exec)?;
        let store = self.state_db.task(&self.alloc.id, task).ok()?;
        Some((driver, store.executor_dir()))
    }

    /// The allocation is stopping: its checks stop and its registrations go before
    /// its tasks are killed (Nomad deregisters first, so that callers stop coming
    /// while `shutdown_delay` runs). Nothing is registered again afterwards.
    pub fn deregister(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        for check in std::mem::take(&mut self.checks).into_values().flatten() {
            check.abort();
        }
        if !self.services.is_empty() {
            let _ = self.writes.send(CatalogWrite::DeleteAlloc);
        }
    }

    /// The allocation ended: as [`AllocServices::deregister`]; the registrar finishes
    /// its queue on its own (the runner does not wait for the servers).
    pub fn stop(mut self) {
        self.deregister();
    }
}

/// Writes an allocation's registrations in order, retrying a server that cannot be
/// reached for a while; a refusal is final (the allocation is gone).
async fn registrar(
    catalog: Arc<dyn ServiceCatalog>,
    alloc_id: caravan_structs::AllocId,
    mut queue: mpsc::UnboundedReceiver<CatalogWrite>,
) {
    while let Some(write) = queue.recv().await {
        let mut delay = Duration::from_millis(100);
        for _ in 0..8 {
            let result = match &write {
                CatalogWrite::Upsert(services) => catalog.upsert(services.clone()).await,
                CatalogWrite::DeleteAlloc => catalog.delete_allocs(vec![alloc_id.clone()]).await,
            };
            match result {
                Ok(()) => break,
                Err(crate::RpcError::Unavailable(error)) => {
                    tracing::warn!(%alloc_id, %error, "service registration failed, retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
                Err(error) => {
                    tracing::warn!(%alloc_id, %error, "service registration refused");
                    break;
                }
            }
        }
    }
}
