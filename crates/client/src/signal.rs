//! `alloc signal`: a signal sent by a user to an allocation's running tasks.

use std::path::PathBuf;

use crate::Client;

/// Why a signal could not be sent to an allocation's tasks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignalError {
    #[error("Unknown allocation \"{0}\"")]
    UnknownAllocation(String),
    #[error("Task not found: {0}")]
    UnknownTask(String),
    #[error("invalid signal: {0:?}")]
    InvalidSignal(String),
    #[error("Task not running")]
    TaskNotRunning,
}

impl Client {
    /// Sends `signal` (`SIGUSR1`, `usr1`; empty is `SIGKILL`, as Nomad's `alloc signal`)
    /// to `task` of the allocation, or to every running task when `task` is empty
    /// (Nomad's `Allocations.Signal`).
    pub async fn signal_allocation(
        &self,
        alloc_id: &str,
        task: &str,
        signal: &str,
    ) -> Result<(), SignalError> {
        let sig = if signal.is_empty() {
            Some(nix::sys::signal::Signal::SIGKILL)
        } else {
            caravan_drivers::process::parse_signal(signal)
        }
        .ok_or_else(|| SignalError::InvalidSignal(signal.to_string()))?;
        let alloc = self
            .allocation(alloc_id)
            .ok_or_else(|| SignalError::UnknownAllocation(alloc_id.to_string()))?;
        if !task.is_empty() && !alloc.task_states.contains_key(task) {
            return Err(SignalError::UnknownTask(task.to_string()));
        }
        let dirs: Vec<(PathBuf, std::sync::Arc<dyn caravan_drivers::Driver>)> = alloc
            .task_states
            .iter()
            .filter(|(name, state)| {
                (task.is_empty() || name.as_str() == task)
                    && state.state == caravan_structs::TaskStateKind::Running
            })
            .filter_map(|(name, _)| {
                let dir = self.state_db.task(&alloc.id, name).ok()?.executor_dir();
                let driver = alloc
                    .job
                    .as_ref()
                    .and_then(|job| job.group(&alloc.task_group))
                    .and_then(|group| group.tasks.iter().find(|t| &t.name == name))
                    .and_then(|spec| self.drivers.get(&spec.driver))?;
                Some((dir, driver))
            })
            .collect();
        if dirs.is_empty() {
            return Err(SignalError::TaskNotRunning);
        }
        let sent = tokio::task::spawn_blocking(move || {
            dirs.iter()
                .filter(|(dir, driver)| driver.signal_recorded(dir, sig))
                .count()
        })
        .await
        .unwrap_or(0);
        if sent == 0 {
            return Err(SignalError::TaskNotRunning);
        }
        Ok(())
    }
}
