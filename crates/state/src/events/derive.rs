//! Which events a write makes. Before the write, [`EventSources::of`] notes what it may
//! change (the jobs, nodes and ACL objects it names, and what it removes, taken from the
//! state before); after, [`EventSources::events`] reads those objects back and keeps the
//! ones written at this index. Only the objects a write names are looked at, so a write
//! costs the same whatever the size of the state.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use caravan_structs::acl::{AclPolicy, AclToken};
use caravan_structs::{AllocId, Allocation, JobId, Node, NodeId, ServiceRegistration};
use imbl::OrdMap;

use super::{Event, Payload, Topic};
use crate::apply::Command;
use crate::deployments::DeploymentCommand;
use crate::security::SecurityCommand;
use crate::snapshot::{JobKey, Snapshot};

/// What a write may change, noted before it is applied.
pub(crate) struct EventSources {
    /// The write's event type (Nomad's, by request type); `None`: a write Nomad sends no
    /// events for (scheduler configuration, namespaces, restores).
    event_type: Option<&'static str>,
    /// The type of its evaluation events, where Nomad writes them apart
    /// (`EvaluationUpdated`: a plan's, a node's).
    eval_type: &'static str,
    /// The type of its node events.
    node_type: &'static str,
    jobs: BTreeSet<JobKey>,
    nodes: BTreeSet<NodeId>,
    removed_nodes: Vec<Arc<Node>>,
    tokens: Vec<String>,
    removed_tokens: Vec<Arc<AclToken>>,
    policies: Vec<String>,
    removed_policies: Vec<Arc<AclPolicy>>,
    services_before: OrdMap<String, Arc<ServiceRegistration>>,
}

const EVAL_UPDATED: &str = "EvaluationUpdated";

impl EventSources {
    pub(crate) fn of(command: &Command, before: &Snapshot) -> EventSources {
        let mut sources = EventSources {
            event_type: None,
            eval_type: EVAL_UPDATED,
            node_type: "NodeStreamEvent",
            jobs: BTreeSet::new(),
            nodes: BTreeSet::new(),
            removed_nodes: Vec::new(),
            tokens: Vec::new(),
            removed_tokens: Vec::new(),
            policies: Vec::new(),
            removed_policies: Vec::new(),
            services_before: before.services.clone(),
        };
        let job_of_alloc = |id| {
            before
                .allocs
                .get(id)
                .map(|a: &Arc<Allocation>| (a.namespace.clone(), a.job_id.clone()))
        };
        let mut typed = |event_type: &'static str, eval_type: &'static str| {
            sources.event_type = Some(event_type);
            sources.eval_type = eval_type;
        };
        match command {
            Command::JobRegister { job, .. } => {
                typed("JobRegistered", "JobRegistered");
                sources.jobs.insert((job.namespace.clone(), job.id.clone()));
            }
            Command::JobScale {
                namespace, job_id, ..
            } => {
                typed("JobRegistered", "JobRegistered");
                sources.jobs.insert((namespace.clone(), job_id.clone()));
            }
            Command::JobDeregister {
                namespace, job_id, ..
            } => {
                // Nomad: a stopped job is a Job event; a purged one is gone, and only
                // its evaluation tells (no event carries a removed job).
                typed("JobDeregistered", "JobDeregistered");
                sources.jobs.insert((namespace.clone(), job_id.clone()));
            }
            Command::EvalsUpsert { evals } => {
                typed(EVAL_UPDATED, EVAL_UPDATED);
                sources.add_eval_jobs(evals);
            }
            Command::EvalsUnblock { ids, .. } => {
                typed(EVAL_UPDATED, EVAL_UPDATED);
                for id in ids {
                    if let Some(eval) = before.evals.get(id) {
                        sources
                            .jobs
                            .insert((eval.namespace.clone(), eval.job_id.clone()));
                    }
                }
            }
            Command::PlanApply {
                allocs,
                stopped,
                evals,
                deployment,
                ..
            } => {
                typed("PlanResult", EVAL_UPDATED);
                for alloc in allocs {
                    sources
                        .jobs
                        .insert((alloc.namespace.clone(), alloc.job_id.clone()));
                }
                for stop in stopped {
                    if let Some(alloc) = before.allocs.get(&stop.id) {
                        sources
                            .jobs
                            .insert((alloc.namespace.clone(), alloc.job_id.clone()));
                    }
                }
                if let Some(d) = deployment {
                    sources.jobs.insert((d.namespace.clone(), d.job_id.clone()));
                }
                sources.add_eval_jobs(evals);
            }
            Command::AllocClientUpdate { updates, evals, .. } => {
                typed("AllocationUpdated", "AllocationUpdated");
                // A drain that ends with its node's last allocation is Nomad's drainer's
                // write.
                sources.node_type = "NodeDrain";
                for update in updates {
                    if let Some(alloc) = before.allocs.get(&update.id) {
                        sources.nodes.insert(alloc.node_id.clone());
                        sources
                            .jobs
                            .insert((alloc.namespace.clone(), alloc.job_id.clone()));
                    }
                }
                sources.add_eval_jobs(evals);
            }
            Command::AllocDesiredTransition {
                transitions, evals, ..
            } => {
                typed(
                    "AllocationUpdateDesiredStatus",
                    "AllocationUpdateDesiredStatus",
                );
                sources
                    .jobs
                    .extend(transitions.iter().filter_map(|(id, _)| job_of_alloc(id)));
                sources.add_eval_jobs(evals);
            }
            Command::NodeRegister { node, evals, .. } => {
                sources.event_type = Some("NodeRegistration");
                sources.node_type = "NodeRegistration";
                sources.nodes.insert(node.id.clone());
                sources.add_eval_jobs(evals);
            }
            Command::NodeUpdateStatus { node_id, evals, .. } => {
                sources.event_type = Some("NodeStreamEvent");
                sources.nodes.insert(node_id.clone());
                sources.add_eval_jobs(evals);
            }
            Command::NodeUpdateDrain { node_id, evals, .. } => {
                sources.event_type = Some("NodeDrain");
                sources.node_type = "NodeDrain";
                sources.nodes.insert(node_id.clone());
                sources.add_eval_jobs(evals);
            }
            Command::NodeUpdateEligibility { node_id, evals, .. } => {
                sources.event_type = Some("NodeEligibility");
                sources.node_type = "NodeEligibility";
                sources.nodes.insert(node_id.clone());
                sources.add_eval_jobs(evals);
            }
            Command::NodeDrainComplete { node_ids, .. } => {
                sources.event_type = Some("NodeDrain");
                sources.node_type = "NodeDrain";
                sources.nodes.extend(node_ids.iter().cloned());
            }
            Command::GarbageCollect { nodes, .. } => {
                // Nomad: collected nodes are deregistrations; collected jobs,
                // evaluations and allocations make no events (nor does the buffer keep
                // them alive once collected).
                sources.event_type = Some("NodeDeregistration");
                sources.node_type = "NodeDeregistration";
                for id in nodes {
                    if let Some(node) = before.nodes.get(id) {
                        sources.removed_nodes.push(node.clone());
                    }
                }
            }
            Command::Deployment(deployment) => {
                let (event_type, id) = match deployment {
                    DeploymentCommand::StatusUpdate { update, .. } => {
                        ("DeploymentStatusUpdate", Some(&update.deployment_id))
                    }
                    DeploymentCommand::Promote { deployment_id, .. } => {
                        ("DeploymentPromotion", Some(deployment_id))
                    }
                    DeploymentCommand::AllocHealth { deployment_id, .. } => {
                        ("DeploymentAllocHealth", Some(deployment_id))
                    }
                    DeploymentCommand::JobStability { .. } => ("", None),
                };
                if let Some(d) = id.and_then(|id| before.deployments.by_id.get(id)) {
                    typed(event_type, event_type);
                    sources.jobs.insert((d.namespace.clone(), d.job_id.clone()));
                }
            }
            Command::Security(security) => sources.note_security(security, before),
            Command::Services(_) => sources.event_type = Some("ServiceRegistration"),
            // Nomad's event stream has no topic for variables or the keyring: their
            // writes make no events (a variable's items would not belong in one).
            Command::SchedulerSetConfig { .. }
            | Command::RestoreSnapshot { .. }
            | Command::ReconcileSummaries
            | Command::Variables(_) => {}
        }
        sources
    }

    fn add_eval_jobs(&mut self, evals: &[caravan_structs::Evaluation]) {
        self.jobs.extend(
            evals
                .iter()
                .map(|e| (e.namespace.clone(), JobId::clone(&e.job_id))),
        );
    }

    fn note_security(&mut self, security: &SecurityCommand, before: &Snapshot) {
        match security {
            SecurityCommand::PoliciesUpsert { policies } => {
                self.event_type = Some("ACLPolicyUpserted");
                self.policies = policies.iter().map(|p| p.name.clone()).collect();
            }
            SecurityCommand::PoliciesDelete { names } => {
                self.event_type = Some("ACLPolicyDeleted");
                self.removed_policies = names
                    .iter()
                    .filter_map(|n| before.security.policies.get(n).cloned())
                    .collect();
            }
            SecurityCommand::TokensUpsert { tokens } => {
                self.event_type = Some("ACLTokenUpserted");
                self.tokens = tokens.iter().map(|t| t.accessor_id.clone()).collect();
            }
            SecurityCommand::Bootstrap { token, .. } => {
                self.event_type = Some("ACLTokenUpserted");
                self.tokens = vec![token.accessor_id.clone()];
            }
            SecurityCommand::TokensDelete { accessors } => {
                self.event_type = Some("ACLTokenDeleted");
                self.removed_tokens = accessors
                    .iter()
                    .filter_map(|a| before.security.tokens.get(a).cloned())
                    .collect();
            }
            SecurityCommand::NamespacesUpsert { .. } | SecurityCommand::NamespacesDelete { .. } => {
            }
        }
    }

    /// The events of the write, read from the state after it.
    pub(crate) fn events(self, after: &Snapshot, index: u64) -> Vec<Event> {
        let Some(event_type) = self.event_type else {
            return Vec::new();
        };
        let mut events = Vec::new();
        let event = |topic, event_type, key: &str, namespace: &str, filter_keys, payload| Event {
            topic,
            event_type,
            key: key.to_string(),
            namespace: namespace.to_string(),
            filter_keys,
            index,
            payload,
        };
        // The allocations this write stored, by job and then ID (the order of the
        // job's own index).
        let mut written: BTreeMap<(&str, &str), BTreeMap<&AllocId, &Arc<Allocation>>> =
            BTreeMap::new();
        // An allocation written twice keeps its later version (the table's).
        for alloc in &after.allocs_written.0 {
            if alloc.modify_index == index {
                written
                    .entry((alloc.namespace.as_str(), alloc.job_id.as_str()))
                    .or_default()
                    .insert(&alloc.id, alloc);
            }
        }
        for key in &self.jobs {
            if let Some(job) = after.jobs.get(key).filter(|j| j.modify_index == index) {
                events.push(event(
                    Topic::Job,
                    event_type,
                    job.id.as_str(),
                    &job.namespace,
                    Vec::new(),
                    Payload::Job(job.clone()),
                ));
            }
            for id in after.evals_by_job.get(key).into_iter().flatten() {
                if let Some(eval) = after.evals.get(id).filter(|e| e.modify_index == index) {
                    events.push(event(
                        Topic::Evaluation,
                        self.eval_type,
                        eval.id.as_str(),
                        &eval.namespace,
                        related_keys(eval.job_id.as_str(), eval.deployment_id.as_str()),
                        Payload::Evaluation(eval.clone()),
                    ));
                }
            }
            let job = (key.0.as_str(), key.1.as_str());
            for alloc in written.get(&job).into_iter().flat_map(|a| a.values()) {
                events.push(event(
                    Topic::Allocation,
                    event_type,
                    alloc.id.as_str(),
                    &alloc.namespace,
                    related_keys(alloc.job_id.as_str(), alloc.deployment_id.as_str()),
                    Payload::Allocation(Arc::clone(alloc)),
                ));
            }
            for id in after.deployments.by_job.get(key).into_iter().flatten() {
                if let Some(d) = after
                    .deployments
                    .by_id
                    .get(id)
                    .filter(|d| d.modify_index == index)
                {
                    events.push(event(
                        Topic::Deployment,
                        event_type,
                        d.id.as_str(),
                        &d.namespace,
                        vec![d.job_id.as_str().to_string()],
                        Payload::Deployment(d.clone()),
                    ));
                }
            }
        }
        let node_event = |node: &Arc<Node>, event_type| {
            let mut node = Node::clone(node);
            node.secret_id.clear();
            let key = node.id.as_str().to_string();
            event(
                Topic::Node,
                event_type,
                &key,
                "",
                Vec::new(),
                Payload::Node(Arc::new(node)),
            )
        };
        for id in &self.nodes {
            if let Some(node) = after.nodes.get(id).filter(|n| n.modify_index == index) {
                events.push(node_event(node, self.node_type));
            }
        }
        for node in &self.removed_nodes {
            events.push(node_event(node, self.node_type));
        }
        let token_event = |token: &Arc<AclToken>| {
            let mut token = AclToken::clone(token);
            token.secret_id.clear();
            let key = token.accessor_id.clone();
            event(
                Topic::AclToken,
                event_type,
                &key,
                "",
                Vec::new(),
                Payload::AclToken(Arc::new(token)),
            )
        };
        for accessor in &self.tokens {
            if let Some(token) = after.security.tokens.get(accessor) {
                events.push(token_event(token));
            }
        }
        events.extend(self.removed_tokens.iter().map(token_event));
        let policy_event = |policy: &Arc<AclPolicy>| {
            event(
                Topic::AclPolicy,
                event_type,
                &policy.name,
                "",
                Vec::new(),
                Payload::AclPolicy(policy.clone()),
            )
        };
        for name in &self.policies {
            if let Some(policy) = after.security.policies.get(name) {
                events.push(policy_event(policy));
            }
        }
        events.extend(self.removed_policies.iter().map(policy_event));
        if after.table_index.services == index {
            events.extend(service_events(
                &self.services_before,
                &after.services,
                index,
            ));
        }
        events
    }
}

/// A job ID and, when there is one, a deployment ID: what `Topic:key` also matches.
fn related_keys(job_id: &str, deployment_id: &str) -> Vec<String> {
    let mut keys = vec![job_id.to_string()];
    if !deployment_id.is_empty() {
        keys.push(deployment_id.to_string());
    }
    keys
}

/// Registrations added or changed, then removed: the service table is small and may
/// change beside the write's own objects (an allocation stopping removes its services).
fn service_events(
    before: &OrdMap<String, Arc<ServiceRegistration>>,
    after: &OrdMap<String, Arc<ServiceRegistration>>,
    index: u64,
) -> Vec<Event> {
    let event = |event_type, service: &Arc<ServiceRegistration>| Event {
        topic: Topic::Service,
        event_type,
        key: service.id.clone(),
        namespace: service.namespace.clone(),
        filter_keys: vec![service.job_id.clone(), service.service_name.clone()],
        index,
        payload: Payload::Service(service.clone()),
    };
    let mut events: Vec<Event> = after
        .values()
        .filter(|s| s.modify_index == index)
        .map(|s| event("ServiceRegistration", s))
        .collect();
    events.extend(
        before
            .iter()
            .filter(|(id, _)| !after.contains_key(*id))
            .map(|(_, s)| event("ServiceDeregistration", s)),
    );
    events
}
