//! Nodes: registration and heartbeats (checked against the node's secret), eligibility,
//! drains, a node missing its heartbeat, and the long-poll on a node's allocations.

use crate::*;

impl Server {
    /// Registers a client node (or refreshes one that registers again) as ready. A node
    /// that registers again keeps the eligibility and drain the operator gave it.
    pub fn register_node(&self, mut node: Node) -> Result<NodeRegistration, ServerError> {
        let now = self.now();
        let existing = self.snapshot().node(&node.id);
        if let Some(existing) = &existing {
            if existing.secret_id != node.secret_id {
                return Err(ServerError::PermissionDenied);
            }
            node.scheduling_eligibility = existing.scheduling_eligibility.clone();
            node.drain = existing.drain;
        }
        node.status = NODE_STATUS_READY.to_string();
        if node.scheduling_eligibility.is_empty() {
            node.scheduling_eligibility = NODE_ELIGIBLE.to_string();
        }
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
            .is_some_and(|n| n.status == NODE_STATUS_READY);
        let index = self.state.apply(Command::NodeRegister { node, now });
        let heartbeat_ttl =
            self.heartbeats
                .reset(&self.config.heartbeat, &node_id, random_fraction());
        self.capacity_changed(index);
        if !was_ready {
            self.evaluate_system_jobs(&node_id);
        }
        Ok(NodeRegistration {
            index,
            heartbeat_ttl,
        })
    }

    /// Checks that a caller is a registered node holding its own secret (client agents
    /// forwarding API calls over the RPC port).
    pub fn authenticate_node(&self, node_id: &str, secret_id: &str) -> Result<(), ServerError> {
        self.check_secret(node_id, secret_id).map(drop)
    }

    pub(crate) fn check_secret(
        &self,
        node_id: &str,
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
    pub fn heartbeat(&self, node_id: &str, secret_id: &str) -> Result<Duration, ServerError> {
        let node = self.check_secret(node_id, secret_id)?;
        let ttl = self
            .heartbeats
            .reset(&self.config.heartbeat, node_id, random_fraction());
        if node.status != NODE_STATUS_READY {
            let now = self.now();
            let index = self.state.apply(Command::NodeUpdateStatus {
                node_id: node_id.to_string(),
                status: NODE_STATUS_READY.to_string(),
                event: Some(node_event(
                    "Node heartbeat received; node is ready again",
                    now,
                )),
                now,
            });
            self.capacity_changed(index);
            self.evaluate_system_jobs(node_id);
        }
        Ok(ttl)
    }

    /// A node missed its heartbeat: mark it down and re-evaluate every job it ran, so its
    /// allocations are replaced elsewhere.
    pub(crate) fn node_down(&self, node_id: &str) {
        let snapshot = self.snapshot();
        let Some(node) = snapshot.node(node_id) else {
            return;
        };
        if node.status == NODE_STATUS_DOWN {
            return;
        }
        tracing::warn!(node_id, name = %node.name, "server: node missed its heartbeat, marking it down");
        let now = self.now();
        self.state.apply(Command::NodeUpdateStatus {
            node_id: node_id.to_string(),
            status: NODE_STATUS_DOWN.to_string(),
            event: Some(node_event("Node heartbeat missed", now)),
            now,
        });
        self.evaluate_node_jobs(node_id, TRIGGER_NODE_UPDATE);
    }

    /// Nomad's `createNodeEvals` for system jobs: a node that can take work (it joined,
    /// came back, or became eligible) gets an evaluation of every system and sysbatch
    /// job, which places their allocations on it.
    pub(crate) fn evaluate_system_jobs(&self, node_id: &str) {
        let snapshot = self.snapshot();
        let now = self.now();
        let evals: Vec<Evaluation> = snapshot
            .all_jobs()
            .filter(|job| {
                job.is_system() && !job.stop && !job.is_periodic() && !job.is_parameterized()
            })
            .map(|job| {
                let mut eval = self.new_eval(job, TRIGGER_NODE_UPDATE, now);
                eval.node_id = node_id.to_string();
                eval
            })
            .collect();
        if evals.is_empty() {
            return;
        }
        let ids: Vec<String> = evals.iter().map(|e| e.id.clone()).collect();
        self.state.apply(Command::EvalsUpsert { evals });
        for id in ids {
            self.enqueue(id);
        }
    }

    /// Creates an evaluation for each job with live allocations on the node.
    pub(crate) fn evaluate_node_jobs(&self, node_id: &str, triggered_by: &str) -> Vec<String> {
        let snapshot = self.snapshot();
        let now = self.now();
        let mut seen = std::collections::BTreeSet::new();
        let mut evals = Vec::new();
        for alloc in snapshot.allocs_by_node(node_id) {
            if alloc.terminal() || !seen.insert((alloc.namespace.clone(), alloc.job_id.clone())) {
                continue;
            }
            let Some(job) = snapshot.job(&alloc.namespace, &alloc.job_id) else {
                continue;
            };
            let mut eval = self.new_eval(&job, triggered_by, now);
            eval.node_id = node_id.to_string();
            evals.push(eval);
        }
        let ids: Vec<String> = evals.iter().map(|e| e.id.clone()).collect();
        if !evals.is_empty() {
            self.state.apply(Command::EvalsUpsert { evals });
            for id in &ids {
                self.enqueue(id.clone());
            }
        }
        ids
    }

    /// Sets a node's scheduling eligibility (`node eligibility -enable|-disable`).
    pub fn set_eligibility(&self, node_id: &str, eligible: bool) -> Result<u64, ServerError> {
        let node = self
            .snapshot()
            .node(node_id)
            .ok_or(ServerError::NotFound("node"))?;
        if node.drain && eligible {
            return Err(ServerError::Invalid(vec![
                "can not set node's scheduling eligibility to eligible while it is draining"
                    .to_string(),
            ]));
        }
        let eligibility = if eligible {
            NODE_ELIGIBLE
        } else {
            NODE_INELIGIBLE
        };
        let now = self.now();
        let message = if eligible {
            "Node marked as eligible for scheduling"
        } else {
            "Node marked as ineligible for scheduling"
        };
        let index = self.state.apply(Command::NodeUpdateEligibility {
            node_id: node_id.to_string(),
            eligibility: eligibility.to_string(),
            event: Some(node_event(message, now)),
            now,
        });
        if eligible {
            self.capacity_changed(index);
            self.evaluate_system_jobs(node_id);
        }
        Ok(index)
    }

    /// Starts (or cancels) a drain: the node takes no new work and every allocation on it
    /// is migrated to other nodes. Returns the evaluations created.
    pub fn set_drain(
        &self,
        node_id: &str,
        enable: bool,
        mark_eligible: bool,
    ) -> Result<(u64, Vec<String>), ServerError> {
        self.snapshot()
            .node(node_id)
            .ok_or(ServerError::NotFound("node"))?;
        let now = self.now();
        let index = self.state.apply(Command::NodeUpdateDrain {
            node_id: node_id.to_string(),
            drain: enable,
            eligible: !enable && mark_eligible,
            event: Some(node_event(
                if enable {
                    "Node drain strategy set"
                } else {
                    "Node drain strategy unset"
                },
                now,
            )),
            now,
        });
        let evals = if enable {
            self.evaluate_node_jobs(node_id, TRIGGER_NODE_DRAIN)
        } else {
            Vec::new()
        };
        if !enable && mark_eligible {
            self.capacity_changed(index);
            self.evaluate_system_jobs(node_id);
        }
        Ok((index, evals))
    }

    /// A node's allocations, once their index passes `min_index` (or `wait` ends).
    pub async fn node_allocations(
        &self,
        node_id: &str,
        secret_id: &str,
        min_index: u64,
        wait: Duration,
    ) -> Result<(Vec<Allocation>, u64), ServerError> {
        self.check_secret(node_id, secret_id)?;
        let (allocs, index) = self
            .state
            .blocking_query(min_index, wait, |snapshot| {
                (
                    snapshot.allocs_by_node(node_id),
                    snapshot.node_allocs_index(node_id),
                )
            })
            .await;
        Ok((allocs.iter().map(|a| Allocation::clone(a)).collect(), index))
    }
}
