//! `alloc exec`: a command started inside one of this client's running tasks.

use caravan_drivers::FsIsolation;
pub use caravan_drivers::{DriverError, ExecRequest, ExecSession};
use caravan_structs::TaskStateKind;

use crate::Client;

/// Why a command could not be started inside a task (Nomad's answers).
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// This client does not run the allocation.
    #[error("Unknown allocation \"{0}\"")]
    UnknownAllocation(String),
    /// No task named.
    #[error("task is required")]
    TaskRequired,
    /// No command given.
    #[error("command is not present")]
    CommandRequired,
    /// The allocation's group has no task of that name.
    #[error("unknown task name \"{0}\"")]
    UnknownTask(String),
    /// The task's driver cannot exec (or is not on this client).
    #[error("task \"{0}\" does not support exec")]
    NotSupported(String),
    /// The task does not run right now.
    #[error("task \"{0}\" is not running")]
    TaskNotRunning(String),
    /// The caller's token lacks `alloc-node-exec` for a task without filesystem
    /// isolation.
    #[error("Permission denied")]
    PermissionDenied,
    /// The driver could not start the command.
    #[error("{0}")]
    Driver(DriverError),
}

impl ExecError {
    /// The HTTP status Nomad answers it with.
    pub fn status(&self) -> u16 {
        match self {
            ExecError::UnknownAllocation(_) => 404,
            ExecError::PermissionDenied => 403,
            ExecError::TaskRequired
            | ExecError::CommandRequired
            | ExecError::UnknownTask(_)
            | ExecError::NotSupported(_)
            | ExecError::TaskNotRunning(_) => 400,
            ExecError::Driver(DriverError::NotRunning) => 400,
            ExecError::Driver(_) => 500,
        }
    }
}

impl Client {
    /// Whether task `task` of allocation `alloc_id` runs without filesystem isolation
    /// (`raw_exec`): exec into it then needs the `alloc-node-exec` capability, as it
    /// reaches the whole node.
    pub fn exec_reaches_node(&self, alloc_id: &str, task: &str) -> bool {
        let Some(alloc) = self.allocation(alloc_id) else {
            return false;
        };
        alloc
            .job
            .as_ref()
            .and_then(|job| job.group(&alloc.task_group))
            .and_then(|group| group.tasks.iter().find(|t| t.name == task))
            .and_then(|spec| self.drivers.get(&spec.driver))
            .is_some_and(|driver| driver.capabilities().fs_isolation == FsIsolation::None)
    }

    /// Starts `request` inside task `task` of allocation `alloc_id` (a full ID), through
    /// the task's driver and its executor's records.
    pub async fn exec_task(
        &self,
        alloc_id: &str,
        task: &str,
        request: ExecRequest,
    ) -> Result<ExecSession, ExecError> {
        if task.is_empty() {
            return Err(ExecError::TaskRequired);
        }
        if request.command.is_empty() {
            return Err(ExecError::CommandRequired);
        }
        let alloc = self
            .allocation(alloc_id)
            .ok_or_else(|| ExecError::UnknownAllocation(alloc_id.to_string()))?;
        let spec = alloc
            .job
            .as_ref()
            .and_then(|job| job.group(&alloc.task_group))
            .and_then(|group| group.tasks.iter().find(|t| t.name == task))
            .ok_or_else(|| ExecError::UnknownTask(task.to_string()))?;
        let driver = self
            .drivers
            .get(&spec.driver)
            .filter(|driver| driver.capabilities().exec)
            .ok_or_else(|| ExecError::NotSupported(task.to_string()))?;
        let running = alloc
            .task_states
            .get(task)
            .is_some_and(|state| state.state == TaskStateKind::Running);
        if !running {
            return Err(ExecError::TaskNotRunning(task.to_string()));
        }
        let store = self
            .state_db
            .task(&alloc.id, task)
            .map_err(|_| ExecError::UnknownTask(task.to_string()))?;
        let state_dir = store.executor_dir();
        driver
            .exec(&state_dir, request)
            .await
            .map_err(|error| match error {
                DriverError::NotRunning => ExecError::TaskNotRunning(task.to_string()),
                other => ExecError::Driver(other),
            })
    }
}
