//! Variables as a task's templates read them (`nomadVar`, `nomadVarList`): asked by the
//! client that runs the allocation, behind its node's secret, and limited to the paths
//! Nomad grants a workload's identity without any ACL policy: `nomad/jobs`,
//! `nomad/jobs/<job>`, `nomad/jobs/<job>/<group>` and `nomad/jobs/<job>/<group>/<task>`
//! (a dispatched or periodic child reads its parent's).

use std::time::Duration;

use caravan_structs::{Variable, VariableMetadata};

use crate::*;

/// The namespace and paths a task of an allocation may read.
struct WorkloadScope {
    namespace: String,
    paths: [String; 4],
}

impl WorkloadScope {
    fn allows(&self, path: &str) -> bool {
        self.paths.iter().any(|p| p == path)
    }
}

impl Server {
    fn workload_scope(
        &self,
        node_id: &str,
        secret_id: &str,
        alloc_id: &str,
        task: &str,
    ) -> Result<WorkloadScope, ServerError> {
        let node = self.check_secret(node_id, secret_id)?;
        let alloc = self
            .snapshot()
            .alloc(alloc_id)
            .filter(|a| a.node_id == node.id)
            .ok_or_else(|| {
                ServerError::Forbidden(format!(
                    "Permission denied: allocation {alloc_id} does not run on node {node_id}"
                ))
            })?;
        let job = alloc.job.as_ref().ok_or_else(|| {
            ServerError::Rejected(format!("allocation {alloc_id} carries no job"))
        })?;
        let job_id = if job.parent_id.as_str().is_empty() {
            job.id.as_str()
        } else {
            job.parent_id.as_str()
        };
        let group = &alloc.task_group;
        Ok(WorkloadScope {
            namespace: alloc.namespace.clone(),
            paths: [
                "nomad/jobs".to_string(),
                format!("nomad/jobs/{job_id}"),
                format!("nomad/jobs/{job_id}/{group}"),
                format!("nomad/jobs/{job_id}/{group}/{task}"),
            ],
        })
    }

    /// The variable at `path` for task `task` of allocation `alloc_id`, once its index
    /// passes `min_index` (or `wait` ends): `None` when there is none. A path outside
    /// the workload's is refused.
    #[allow(clippy::too_many_arguments)]
    pub async fn workload_variable(
        &self,
        node_id: &str,
        secret_id: &str,
        alloc_id: &str,
        task: &str,
        path: &str,
        min_index: u64,
        wait: Duration,
    ) -> Result<(Option<Variable>, u64), ServerError> {
        let scope = self.workload_scope(node_id, secret_id, alloc_id, task)?;
        if !scope.allows(path) {
            return Err(ServerError::Forbidden(format!(
                "Permission denied: task {task:?} may read the variables at {} without an ACL policy, not {path:?}",
                scope.paths.join(", ")
            )));
        }
        let (sealed, index) = self
            .state
            .blocking_query(min_index, wait, |snapshot| {
                let sealed = snapshot.variable(&scope.namespace, path);
                let index = sealed
                    .as_ref()
                    .map_or(snapshot.variables_index(), |v| v.modify_index);
                (sealed, index)
            })
            .await;
        let variable = match sealed {
            Some(sealed) => {
                let items = self.open_variable(&self.snapshot(), &sealed)?;
                Some(sealed.decrypted(items, self.now()))
            }
            None => None,
        };
        Ok((variable, index))
    }

    /// The metadata of the workload's variables whose path starts with `prefix`, once
    /// the variables' index passes `min_index` (or `wait` ends).
    #[allow(clippy::too_many_arguments)]
    pub async fn workload_variable_list(
        &self,
        node_id: &str,
        secret_id: &str,
        alloc_id: &str,
        task: &str,
        prefix: &str,
        min_index: u64,
        wait: Duration,
    ) -> Result<(Vec<VariableMetadata>, u64), ServerError> {
        let scope = self.workload_scope(node_id, secret_id, alloc_id, task)?;
        let now = self.now();
        Ok(self
            .state
            .blocking_query(min_index, wait, |snapshot| {
                let listed = snapshot
                    .variables_by_prefix(&scope.namespace, prefix)
                    .iter()
                    .filter(|v| scope.allows(&v.path))
                    .map(|v| v.metadata(now))
                    .collect();
                (listed, snapshot.variables_index())
            })
            .await)
    }
}
