//! Nodes: registration and heartbeats (checked against the node's secret), eligibility,
//! drains, a node missing its heartbeat, and the long-poll on a node's allocations. Each
//! change is one command carrying the evaluations it causes.

use std::collections::HashSet;

use caravan_api_types::rpc::NodeClientAllocsResponse;

use super::eval::jobs_of;
use crate::*;

impl Server {
    /// Registers a client node (or refreshes one that registers again) as ready. A node
    /// that registers again keeps the eligibility and drain the operator gave it.
    pub async fn register_node(&self, mut node: Node) -> Result<NodeRegistration, ServerError> {
        let now = self.now();
        let snapshot = self.snapshot();
        let existing = snapshot.node(&node.id);
        if let Some(existing) = &existing {
            if existing.secret_id != node.secret_id {
                return Err(ServerError::PermissionDenied);
            }
            node.scheduling_eligibility = existing.scheduling_eligibility;
            node.drain = existing.drain;
        }
        // A new node is eligible unless it says otherwise (a missing or empty
        // `SchedulingEligibility` reads as eligible).
        node.status = NodeStatus::Ready;
        node.events.push(node_event(
            if existing.is_some() {
                "Node re-registered"
            } else {
                "Node registered"
            },
            now,
        ));
        let node_id = node.id.clone();
        let was_ready = existing
            .as_ref()
            .is_some_and(|n| n.status == NodeStatus::Ready);
        let evals = if was_ready {
            Vec::new()
        } else {
            self.system_job_evals(&snapshot, &node_id, now, &HashSet::new())
        };
        let covered = jobs_of(&evals);
        let index = self
            .apply(Command::NodeRegister { node, now, evals })
            .await?;
        let heartbeat_ttl = self.leader().heartbeats.reset(
            &self.config.heartbeat,
            &node_id,
            random_fraction(),
            now,
        );
        if !was_ready {
            let missed = self.system_job_evals(&self.snapshot(), &node_id, now, &covered);
            self.catch_up(missed).await;
        }
        self.capacity_changed(index).await;
        Ok(NodeRegistration {
            index,
            heartbeat_ttl,
        })
    }

    /// Checks that a caller is a registered node holding its own secret (client agents
    /// forwarding API calls over the RPC port).
    pub fn authenticate_node(
        &self,
        node_id: &(impl AsId<NodeId> + ?Sized),
        secret_id: &str,
    ) -> Result<(), ServerError> {
        self.check_secret(node_id, secret_id).map(drop)
    }

    pub(crate) fn check_secret(
        &self,
        node_id: &(impl AsId<NodeId> + ?Sized),
        secret_id: &str,
    ) -> Result<Arc<Node>, ServerError> {
        let node = self
            .snapshot()
            .node(node_id)
            .ok_or(ServerError::NotFound("node"))?;
        if node.secret_id != secret_id {
            return Err(ServerError::PermissionDenied);
        }
        Ok(node)
    }

    /// A node says it is alive; answers its next TTL. A node marked down comes back.
    pub async fn heartbeat(
        &self,
        node_id: &(impl AsId<NodeId> + ?Sized),
        secret_id: &str,
    ) -> Result<Duration, ServerError> {
        let node = self.check_secret(node_id, secret_id)?;
        let node_id = &node.id;
        let now = self.now();
        let ttl =
            self.leader()
                .heartbeats
                .reset(&self.config.heartbeat, node_id, random_fraction(), now);
        if node.status != NodeStatus::Ready {
            let evals = self.system_job_evals(&self.snapshot(), node_id, now, &HashSet::new());
            let covered = jobs_of(&evals);
            let index = self
                .apply(Command::NodeUpdateStatus {
                    node_id: node_id.clone(),
                    status: NodeStatus::Ready,
                    event: Some(node_event(
                        "Node heartbeat received; node is ready again",
                        now,
                    )),
                    now,
                    evals,
                })
                .await?;
            let missed = self.system_job_evals(&self.snapshot(), node_id, now, &covered);
            self.catch_up(missed).await;
            self.capacity_changed(index).await;
        }
        Ok(ttl)
    }

    /// A node missed its heartbeat: mark it down and re-evaluate every job it ran, so its
    /// allocations are replaced elsewhere.
    pub(crate) async fn node_down(&self, node_id: &NodeId) {
        let snapshot = self.snapshot();
        let Some(node) = snapshot.node(node_id) else {
            return;
        };
        if node.status == NodeStatus::Down {
            return;
        }
        tracing::warn!(%node_id, name = %node.name, "node missed its heartbeat, marking it down");
        let now = self.now();
        let evals = self.node_job_evals(
            &snapshot,
            node_id,
            EvalTrigger::NodeUpdate,
            now,
            &HashSet::new(),
        );
        let covered = jobs_of(&evals);
        let command = Command::NodeUpdateStatus {
            node_id: node_id.clone(),
            status: NodeStatus::Down,
            event: Some(node_event("Node heartbeat missed", now)),
            now,
            evals,
        };
        if let Err(error) = self.apply(command).await {
            tracing::error!(%node_id, %error, "could not mark a node down");
            return;
        }
        let missed = self.node_job_evals(
            &self.snapshot(),
            node_id,
            EvalTrigger::NodeUpdate,
            now,
            &covered,
        );
        self.catch_up(missed).await;
    }

    /// Sets a node's scheduling eligibility (`node eligibility -enable|-disable`).
    pub async fn set_eligibility(
        &self,
        node_id: &(impl AsId<NodeId> + ?Sized),
        eligible: bool,
    ) -> Result<u64, ServerError> {
        let snapshot = self.snapshot();
        let node = snapshot
            .node(node_id)
            .ok_or(ServerError::NotFound("node"))?;
        let node_id = &node.id;
        if node.drain && eligible {
            return Err(ServerError::Invalid(vec![
                "can not set node's scheduling eligibility to eligible while it is draining"
                    .to_string(),
            ]));
        }
        let eligibility = if eligible {
            NodeEligibility::Eligible
        } else {
            NodeEligibility::Ineligible
        };
        let now = self.now();
        let message = if eligible {
            "Node marked as eligible for scheduling"
        } else {
            "Node marked as ineligible for scheduling"
        };
        let evals = if eligible {
            self.system_job_evals(&snapshot, node_id, now, &HashSet::new())
        } else {
            Vec::new()
        };
        let covered = jobs_of(&evals);
        let index = self
            .apply(Command::NodeUpdateEligibility {
                node_id: node_id.clone(),
                eligibility,
                event: Some(node_event(message, now)),
                now,
                evals,
            })
            .await?;
        if eligible {
            let missed = self.system_job_evals(&self.snapshot(), node_id, now, &covered);
            self.catch_up(missed).await;
            self.capacity_changed(index).await;
        }
        Ok(index)
    }

    /// Starts (`Some`) or cancels (`None`) a drain: the node takes no new work, its
    /// service allocations are migrated to other nodes, batch ones are left to finish
    /// until the drain's deadline (at once for a negative one, never for 0), and its
    /// system ones stop unless the drain ignores system jobs. The node keeps the
    /// drain's `DrainStrategy` until the drain is done. Returns the evaluations created.
    pub async fn set_drain(
        &self,
        node_id: &(impl AsId<NodeId> + ?Sized),
        spec: Option<caravan_structs::DrainSpec>,
        mark_eligible: bool,
    ) -> Result<(u64, Vec<EvalId>), ServerError> {
        let enable = spec.is_some();
        let snapshot = self.snapshot();
        let node = snapshot
            .node(node_id)
            .ok_or(ServerError::NotFound("node"))?;
        let node_id = &node.id;
        let now = self.now();
        let eligible = !enable && mark_eligible;
        let evals = if enable {
            self.node_job_evals(
                &snapshot,
                node_id,
                EvalTrigger::NodeDrain,
                now,
                &HashSet::new(),
            )
        } else if eligible {
            self.system_job_evals(&snapshot, node_id, now, &HashSet::new())
        } else {
            Vec::new()
        };
        let covered = jobs_of(&evals);
        let mut created: Vec<EvalId> = if enable {
            evals.iter().map(|e| e.id.clone()).collect()
        } else {
            Vec::new()
        };
        let index = self
            .apply(Command::NodeUpdateDrain {
                node_id: node_id.clone(),
                drain: enable,
                strategy: spec
                    .clone()
                    .map(|spec| caravan_structs::DrainStrategy::starting(spec, now)),
                eligible,
                event: Some(node_event(
                    if enable {
                        "Node drain strategy set"
                    } else {
                        "Node drain strategy unset"
                    },
                    now,
                )),
                now,
                evals,
            })
            .await?;
        if enable {
            let missed = self.node_job_evals(
                &self.snapshot(),
                node_id,
                EvalTrigger::NodeDrain,
                now,
                &covered,
            );
            created.extend(missed.iter().map(|e| e.id.clone()));
            self.catch_up(missed).await;
            if spec.is_some_and(|s| s.deadline < 0) {
                // A forced drain: what is left goes now, not at the drainer's next look.
                crate::leader::drainer::force_past_deadlines(self, &self.snapshot(), now).await;
            }
        } else if eligible {
            let missed = self.system_job_evals(&self.snapshot(), node_id, now, &covered);
            self.catch_up(missed).await;
            self.capacity_changed(index).await;
        }
        Ok((index, created))
    }

    /// Nomad's `Node.GetClientAllocs`: a node's allocations as ID → `AllocModifyIndex`,
    /// once their index passes `min_index` (or `wait` ends), with that index; and, read
    /// from the same state, the allocations whose `AllocModifyIndex` passed `min_index`,
    /// as [`Server::get_allocs`] answers them. The client fetches only what it has not
    /// seen beyond those, and forgets the allocations no longer listed. When none of
    /// the node's allocations was removed since `min_index`, the listing names only
    /// the changed ones (`incremental`).
    pub async fn get_client_allocs(
        &self,
        node_id: &(impl AsId<NodeId> + ?Sized),
        secret_id: &str,
        min_index: u64,
        wait: Duration,
    ) -> Result<(NodeClientAllocsResponse, u64), ServerError> {
        let node = self.check_secret(node_id, secret_id)?;
        let node_id = &node.id;
        // Only a change of this node's allocations ends the wait.
        let snapshot = if min_index == 0 {
            self.snapshot()
        } else {
            self.state
                .wait_node_allocs_past(node_id, min_index, wait)
                .await
        };
        let index = snapshot.node_allocs_index(node_id).max(1);
        // A client that listed the node at `min_index` and lost nothing since needs
        // only what changed; one that claims an index this node never reached lists
        // everything again.
        let incremental = min_index > 0
            && min_index <= index
            && !snapshot.node_allocs_removed_since(node_id, min_index);
        // Listed from the node's index in one walk; only the changed allocations are read.
        let mut listed = Vec::new();
        let mut changed = Vec::new();
        for (id, modified) in snapshot.node_alloc_indexes(node_id) {
            let is_changed = modified > min_index;
            if is_changed || !incremental {
                listed.push((id.clone(), modified));
            }
            if !is_changed {
                continue;
            }
            if let Some(alloc) = snapshot.alloc(id) {
                changed.push(for_client(&alloc));
            }
        }
        // In ID order, as the node's index keeps them: the map is built in one pass.
        let allocs = listed.into_iter().collect();
        let answer = NodeClientAllocsResponse {
            allocs,
            changed,
            incremental,
        };
        Ok((answer, index))
    }

    /// Nomad's `Alloc.GetAllocs` as a client calls it: the node's allocations with
    /// these IDs, once this server's state has reached `min_index` (a follower may lag
    /// the server that listed them), or when `wait` ends, without their placement
    /// metrics. IDs it does not hold are left out; an allocation of another node is
    /// refused.
    pub async fn get_allocs(
        &self,
        node_id: &(impl AsId<NodeId> + ?Sized),
        secret_id: &str,
        alloc_ids: &[AllocId],
        min_index: u64,
        wait: Duration,
    ) -> Result<(Vec<Allocation>, u64), ServerError> {
        let node = self.check_secret(node_id, secret_id)?;
        let node_id = &node.id;
        let (snapshot, index) = self
            .state()
            .snapshot_past(min_index, wait, |snapshot| snapshot.index)
            .await;
        let mut allocs = Vec::with_capacity(alloc_ids.len());
        for id in alloc_ids {
            let Some(alloc) = snapshot.alloc(id) else {
                continue;
            };
            if alloc.node_id != *node_id {
                return Err(ServerError::Invalid(vec![format!(
                    "allocation {id} does not run on node {node_id}"
                )]));
            }
            allocs.push(for_client(&alloc));
        }
        Ok((allocs, index))
    }
}

/// An allocation as a client receives it. The client places nothing: why the scheduler
/// chose the node stays with the API's copy. Serializing it cost more than the rest of
/// the allocation.
fn for_client(alloc: &Allocation) -> Allocation {
    Allocation {
        metrics: Default::default(),
        ..alloc.clone()
    }
}
