//! A running container's counters from the daemon's stats API, as the client's
//! [`Sample`] (what `alloc status -stats` and the allocation stats route show).

use std::path::Path;
use std::time::Duration;

use bollard::models::ContainerStatsResponse;
use bollard::query_parameters::StatsOptionsBuilder;
use futures::StreamExt;

use super::client;
use super::container::ContainerRecord;
use crate::cgroups::CgroupVersion;
use crate::stats::Sample;

/// One reading of the container recorded in `state_dir`; `None` when it does not run.
pub fn sample(socket: &str, state_dir: &Path) -> Option<Sample> {
    let record = ContainerRecord::read(state_dir)?;
    let response = client::blocking(socket, Duration::from_secs(5), |docker| async move {
        if !client::is_running(&docker, &record.id).await {
            return Err("not running".to_string());
        }
        let options = StatsOptionsBuilder::default()
            .stream(false)
            .one_shot(true)
            .build();
        let mut stats = docker.stats(&record.id, Some(options));
        match stats.next().await {
            Some(Ok(response)) => Ok(response),
            Some(Err(error)) => Err(error.to_string()),
            None => Err("no stats".to_string()),
        }
    })
    .ok()?;
    Some(to_sample(&response))
}

/// The daemon's counters as a sample: RSS is cgroup v1's `rss` or v2's `anon`.
pub fn to_sample(response: &ContainerStatsResponse) -> Sample {
    let memory = response.memory_stats.clone().unwrap_or_default();
    let detail = memory.stats.unwrap_or_default();
    let (version, rss) = match detail.get("rss") {
        Some(rss) => (CgroupVersion::V1, *rss),
        None => (
            CgroupVersion::V2,
            detail.get("anon").copied().unwrap_or_default(),
        ),
    };
    let cpu = response.cpu_stats.clone().unwrap_or_default();
    let usage = cpu.cpu_usage.unwrap_or_default();
    let throttling = cpu.throttling_data.unwrap_or_default();
    Sample::from_engine(
        Some(version),
        (
            rss,
            memory.usage.unwrap_or_default(),
            memory.max_usage.unwrap_or_default(),
        ),
        (
            usage.usage_in_usermode.unwrap_or_default(),
            usage.usage_in_kernelmode.unwrap_or_default(),
            usage.total_usage.unwrap_or_default(),
        ),
        (
            throttling.throttled_periods.unwrap_or_default(),
            throttling.throttled_time.unwrap_or_default(),
        ),
    )
}
