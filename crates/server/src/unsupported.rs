//! What Caravan decodes from a job file but cannot carry out yet. Each such setting is
//! refused at submit with a message that names it and says what to do, or, where the
//! job still runs as written but without the setting's effect, answered with a warning
//! (Nomad's `Warnings`, which `job run` and `job plan` print). Nothing is accepted
//! silently.

use caravan_structs::Job;
use caravan_structs::names::quoted;

/// Settings Caravan refuses, one sentence each.
pub fn refused(job: &Job) -> Vec<String> {
    let mut errors = Vec::new();
    let job_at = format!("job {}", quoted(job.id.as_str()));
    for group in &job.task_groups {
        let at = format!("{job_at}: group {}", quoted(&group.name));
        for (name, volume) in &group.volumes {
            let at = format!("{at}: volume {}", quoted(name));
            if volume.r#type == caravan_structs::VOLUME_TYPE_CSI {
                errors.push(format!(
                    "{at}: CSI volumes are not supported by Caravan; use a host volume (type = \"host\" and a client's host_volume as source)"
                ));
                continue;
            }
            if volume.per_alloc {
                errors.push(format!(
                    "{at}: per_alloc is not supported for host volumes by Caravan; name one host_volume as source"
                ));
            }
            if volume.sticky {
                errors.push(format!(
                    "{at}: sticky is for dynamic host volumes, which Caravan does not have; remove it"
                ));
            }
        }
        for task in &group.tasks {
            let at = format!("{at}: task {}", quoted(&task.name));
            for mount in &task.volume_mounts {
                let mode = mount.propagation_mode.as_deref().unwrap_or("private");
                if !mode.is_empty() && mode != "private" {
                    errors.push(format!(
                        "{at}: volume_mount of {}: propagation_mode {} is not supported by Caravan; remove it (mounts are private)",
                        quoted(mount.volume.as_deref().unwrap_or("")),
                        quoted(mode)
                    ));
                }
            }
            for key in ["cgroup_v1_override", "cgroup_v2_override"] {
                if task.config.contains_key(key) {
                    errors.push(format!(
                        "{at}: config: {key} is not supported by Caravan: each task runs in a cgroup of its own, created and removed with it"
                    ));
                }
            }
        }
    }
    errors
}

/// What the job runs with but its author may not mean, as Nomad's warnings text (`N
/// warning(s):` and a line each), or empty: Nomad's own warnings (`TaskGroup.Warnings`).
pub fn warnings(job: &Job) -> String {
    let mut warnings = Vec::new();
    for group in &job.task_groups {
        let max_parallel = group.update.as_ref().and_then(|u| u.max_parallel);
        if let Some(max_parallel) = max_parallel.filter(|m| *m > group.count) {
            warnings.push(format!(
                "Group {} has warnings: Update max parallel count is greater than task group count ({max_parallel} > {}). A destructive change would result in the simultaneous replacement of all allocations.",
                quoted(&group.name),
                group.count
            ));
        }
    }
    warnings.extend(consul_services(job));
    warnings.extend(raw_exec_volume_mounts(job));
    if warnings.is_empty() {
        return String::new();
    }
    let mut text = format!("{} warning(s):\n", warnings.len());
    for warning in warnings {
        text.push_str(&format!("\n* {warning}"));
    }
    text
}

/// `raw_exec` has no filesystem isolation, so Nomad mounts nothing for it: the task
/// reads the host volume at its host path. The volume still places the job (on nodes
/// that offer it), which is why jobs ask for one; the warning says where the data is.
fn raw_exec_volume_mounts(job: &Job) -> Vec<String> {
    let mut warnings = Vec::new();
    for group in &job.task_groups {
        for task in group.tasks.iter().filter(|t| t.driver == "raw_exec") {
            for mount in &task.volume_mounts {
                warnings.push(format!(
                    "Task {}: volume_mount of {} at {} has no effect with raw_exec, which has no filesystem isolation; the task finds the volume at the client's host_volume path",
                    quoted(&task.name),
                    quoted(mount.volume.as_deref().unwrap_or("")),
                    quoted(mount.destination.as_deref().unwrap_or(""))
                ));
            }
        }
    }
    warnings
}

/// Services left to Consul (Nomad's default provider): Caravan has no Consul, so they
/// are neither registered nor checked. A warning rather than a refusal, so that job
/// files written for Nomad with Consul still run.
fn consul_services(job: &Job) -> Vec<String> {
    let mut warnings = Vec::new();
    for group in &job.task_groups {
        let task_services = group
            .tasks
            .iter()
            .flat_map(|t| t.services.iter().map(move |s| (Some(&t.name), s)));
        let services = group
            .services
            .iter()
            .map(|s| (None, s))
            .chain(task_services);
        for (task, service) in services {
            // Canonicalization makes an unset provider Nomad's default, consul.
            if !matches!(
                service.provider.as_str(),
                "" | caravan_structs::SERVICE_PROVIDER_CONSUL
            ) {
                continue;
            }
            let at = match task {
                Some(task) => format!("Task {}", quoted(task)),
                None => format!("Group {}", quoted(&group.name)),
            };
            warnings.push(format!(
                "{at}: service {} uses the consul provider, which needs Consul: Caravan does not register it or run its checks; set provider = \"nomad\" to use Caravan's own service catalog",
                quoted(&service.name)
            ));
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;
    use caravan_structs::{TaskGroup, UpdateStrategy, VolumeMount, VolumeRequest};

    fn job(edit: impl FnOnce(&mut TaskGroup)) -> Job {
        caravan_testkit::job("j").group(edit).build()
    }

    /// Every setting that is decoded but not carried out, and what happens to it.
    #[test]
    fn each_unsupported_setting_is_refused_or_warned_about() {
        type Edit = fn(&mut TaskGroup);
        let refusals: &[(&str, Edit, &str)] = &[
            (
                "csi volume",
                |g| {
                    g.volumes.insert(
                        "data".into(),
                        VolumeRequest {
                            r#type: "csi".into(),
                            ..Default::default()
                        },
                    );
                },
                "job \"j\": group \"g\": volume \"data\": CSI volumes are not supported by Caravan",
            ),
            (
                "per_alloc host volume",
                |g| {
                    g.volumes.insert(
                        "data".into(),
                        VolumeRequest {
                            r#type: "host".into(),
                            per_alloc: true,
                            ..Default::default()
                        },
                    );
                },
                "volume \"data\": per_alloc is not supported for host volumes",
            ),
            (
                "volume_mount propagation",
                |g| {
                    g.tasks[0].volume_mounts.push(VolumeMount {
                        volume: Some("data".into()),
                        propagation_mode: Some("bidirectional".into()),
                        ..VolumeMount::default()
                    })
                },
                "task \"t\": volume_mount of \"data\": propagation_mode \"bidirectional\" is not supported",
            ),
            (
                "cgroup_v1_override",
                |g| {
                    g.tasks[0]
                        .config
                        .insert("cgroup_v1_override".into(), serde_json::json!({}));
                },
                "config: cgroup_v1_override is not supported",
            ),
            (
                "cgroup_v2_override",
                |g| {
                    g.tasks[0]
                        .config
                        .insert("cgroup_v2_override".into(), serde_json::json!("x"));
                },
                "config: cgroup_v2_override is not supported",
            ),
        ];
        for (name, edit, want) in refusals {
            let errors = refused(&job(*edit));
            assert!(
                errors.len() == 1 && errors[0].contains(want),
                "{name}: {errors:?}"
            );
        }
        assert!(refused(&job(|_| {})).is_empty());
        let host_volume = job(|g| {
            g.volumes.insert(
                "data".into(),
                VolumeRequest {
                    r#type: "host".into(),
                    source: "data".into(),
                    ..Default::default()
                },
            );
            let mut mount = VolumeMount {
                volume: Some("data".into()),
                destination: Some("/data".into()),
                ..VolumeMount::default()
            };
            mount.canonicalize();
            g.tasks[0].volume_mounts.push(mount);
        });
        assert!(
            refused(&host_volume).is_empty(),
            "{:?}",
            refused(&host_volume)
        );
        assert!(
            warnings(&host_volume).contains(
                "* Task \"t\": volume_mount of \"data\" at \"/data\" has no effect with raw_exec"
            ),
            "{}",
            warnings(&host_volume)
        );
        let update = job(|g| {
            g.count = 2;
            g.update = Some(UpdateStrategy {
                max_parallel: Some(5),
                ..UpdateStrategy::default()
            })
        });
        assert!(
            refused(&update).is_empty(),
            "an update block is not refused"
        );
        let text = warnings(&update);
        assert_eq!(
            text,
            "1 warning(s):\n\n* Group \"g\" has warnings: Update max parallel count is greater than task group count (5 > 2). A destructive change would result in the simultaneous replacement of all allocations."
        );
        assert_eq!(warnings(&job(|_| {})), "");
        let consul = job(|g| {
            g.services.push(caravan_structs::Service {
                name: "web".into(),
                provider: "consul".into(),
                ..Default::default()
            })
        });
        assert!(refused(&consul).is_empty());
        assert!(
            warnings(&consul).contains("Group \"g\": service \"web\" uses the consul provider"),
            "{}",
            warnings(&consul)
        );
        let nomad = job(|g| {
            g.services.push(caravan_structs::Service {
                name: "web".into(),
                provider: "nomad".into(),
                ..Default::default()
            })
        });
        assert_eq!(warnings(&nomad), "");
    }
}
