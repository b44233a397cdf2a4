//! Live resource usage of an allocation's tasks, as `/v1/client/allocation/:id/stats`
//! answers it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::{Client, now_nanos};

impl Client {
    /// Resource usage of an allocation's running tasks (Nomad's `AllocResourceUsage`):
    /// from each task's cgroup (`exec`) or process group (`raw_exec`), sampled twice
    /// 100 ms apart for CPU percentages. `None` for an allocation this client does not run.
    pub async fn allocation_stats(
        &self,
        alloc_id: &str,
    ) -> Option<caravan_drivers::stats::AllocResourceUsage> {
        let alloc = self.allocation(alloc_id)?;
        let group = alloc.job.as_ref()?.group(&alloc.task_group)?;
        // Each task's counters, read by its own driver.
        let dirs: Vec<(String, PathBuf, Arc<dyn caravan_drivers::Driver>)> = alloc
            .task_states
            .keys()
            .filter_map(|task| {
                let store = self.state_db.task(&alloc.id, task).ok()?;
                let spec = group.tasks.iter().find(|t| &t.name == task)?;
                let driver = self.drivers.get(&spec.driver)?;
                Some((task.clone(), store.executor_dir(), driver))
            })
            .collect();
        tokio::task::spawn_blocking(move || {
            use caravan_drivers::stats;
            let before: Vec<_> = dirs
                .iter()
                .map(|(_, dir, driver)| driver.stats(dir))
                .collect();
            std::thread::sleep(Duration::from_millis(100));
            let now = now_nanos();
            let tasks = dirs
                .iter()
                .zip(before)
                .filter_map(|((task, dir, driver), before)| {
                    let after = driver.stats(dir)?;
                    Some((task.clone(), stats::usage(&before?, &after, now)))
                })
                .collect();
            stats::alloc_usage(tasks, now)
        })
        .await
        .ok()
    }
}
