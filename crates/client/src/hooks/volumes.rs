//! The directories a task runs in (Nomad's `allocdir` and `task_dir` hooks): the
//! allocation's shared `alloc/{data,logs,tmp}`, each task's `local/`, `secrets/`,
//! `tmp/` and `private/`. Mounts into them are the driver's (`exec` binds `/alloc`,
//! `chroot_env` and a `/secrets` tmpfs in the task's own namespace), and so are the
//! group's host volumes, which [`host_volume_mounts`] turns into the task's mounts
//! (Nomad's `volume_hook`). CSI volumes are refused at submit.

use std::collections::BTreeMap;

use caravan_drivers::TaskMount;
use caravan_structs::{ClientHostVolumeConfig, Task, TaskGroup, VOLUME_TYPE_HOST};

use super::{AllocHook, HookError, HookFuture, TaskHook, TaskPrestart, blocking};
use crate::alloc_dir::AllocDir;
use crate::task_runner::event;

/// The host directories `task` sees through its `volume_mount` blocks: each names one
/// of the group's `volume` blocks, whose `source` is one of this client's host volumes.
/// A mount is read-only when the `volume_mount`, the group's `volume` or the client's
/// `host_volume` says so (Nomad's). `Err` when the client has no such host volume (its
/// configuration changed since the allocation was placed), in Nomad's words.
pub fn host_volume_mounts(
    group: &TaskGroup,
    task: &Task,
    offered: &BTreeMap<String, ClientHostVolumeConfig>,
) -> Result<Vec<TaskMount>, String> {
    let mut mounts = Vec::new();
    for mount in &task.volume_mounts {
        let name = mount.volume.as_deref().unwrap_or("");
        let request = group
            .volumes
            .get(name)
            .ok_or_else(|| format!("No group volume named: {name}"))?;
        if request.r#type != VOLUME_TYPE_HOST {
            continue;
        }
        let volume = offered
            .get(&request.source)
            .ok_or_else(|| format!("No host volume named: {}", request.source))?;
        mounts.push(TaskMount {
            host_path: volume.path.clone().into(),
            task_path: mount.destination.clone().unwrap_or_default(),
            read_only: volume.read_only || request.read_only || mount.read_only == Some(true),
        });
    }
    Ok(mounts)
}

/// Builds the allocation directory before any task runs, and checks that every task's
/// directory is a plain name under it.
pub struct AllocDirHook {
    dir: AllocDir,
    tasks: Vec<String>,
}

impl AllocDirHook {
    /// The hook for `group`'s allocation directory `dir`.
    pub fn new(dir: AllocDir, group: &TaskGroup) -> AllocDirHook {
        AllocDirHook {
            dir,
            tasks: group.tasks.iter().map(|t| t.name.clone()).collect(),
        }
    }
}

impl AllocHook for AllocDirHook {
    fn name(&self) -> &'static str {
        "alloc_dir"
    }

    fn prerun(&mut self) -> HookFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let dir = self.dir.clone();
            blocking(move || {
                dir.build()
                    .map_err(|error| format!("failed to build alloc directory: {error}"))
            })
            .await?;
            // Through the checked join: a name that could leave the allocation directory
            // fails the allocation before any task directory is created.
            for task in &self.tasks {
                self.dir
                    .task(task)
                    .map_err(|error| format!("failed to build task directory: {error}"))?;
            }
            Ok(())
        })
    }
}

/// Builds the task's directory before it first starts, with Nomad's `Task Setup` event
/// (not again for a task found in the state DB, which had it already).
pub struct TaskDirHook {
    /// Whether the `Task Setup` event was recorded already.
    announced: bool,
    built: bool,
}

impl TaskDirHook {
    /// The hook for a new task, or a `restored` one.
    pub fn new(restored: bool) -> TaskDirHook {
        TaskDirHook {
            announced: restored,
            built: false,
        }
    }
}

impl TaskHook for TaskDirHook {
    fn name(&self) -> &'static str {
        "task_dir"
    }

    fn prestart<'a>(
        &'a mut self,
        ctx: &'a mut TaskPrestart<'_>,
    ) -> HookFuture<'a, Result<(), HookError>> {
        Box::pin(async move {
            if self.built {
                return Ok(());
            }
            if !self.announced {
                ctx.status
                    .push(event("Task Setup", "Building Task Directory"))
                    .await;
                self.announced = true;
            }
            let (dir, name) = (ctx.alloc_dir.clone(), ctx.task.name.clone());
            let built = blocking(move || dir.build_task(&name).map_err(|e| e.to_string())).await;
            if let Err(error) = built {
                let mut failure = event(
                    "Setup Failure",
                    format!("failed to build task directory: {error}"),
                );
                failure.fails_task = true;
                return Err(HookError::Fatal(vec![failure]));
            }
            self.built = true;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_mounts_become_read_only_when_any_layer_says_so() {
        let offered: BTreeMap<String, ClientHostVolumeConfig> = [("rw", false), ("ro", true)]
            .into_iter()
            .map(|(name, read_only)| {
                let config = ClientHostVolumeConfig {
                    name: name.into(),
                    path: format!("/srv/{name}"),
                    read_only,
                };
                (name.to_string(), config)
            })
            .collect();
        // (node volume, group read_only, mount read_only) -> read-only mount
        let cases = [
            ("rw", false, false, false),
            ("rw", true, false, true),
            ("rw", false, true, true),
            ("ro", true, false, true),
        ];
        for (source, group_ro, mount_ro, want) in cases {
            let mut group = TaskGroup::default();
            group.volumes.insert(
                "v".into(),
                caravan_structs::VolumeRequest {
                    r#type: "host".into(),
                    source: source.into(),
                    read_only: group_ro,
                    ..Default::default()
                },
            );
            let task = Task {
                volume_mounts: vec![caravan_structs::VolumeMount {
                    volume: Some("v".into()),
                    destination: Some("/data".into()),
                    read_only: Some(mount_ro),
                    ..Default::default()
                }],
                ..Task::default()
            };
            let mounts = host_volume_mounts(&group, &task, &offered).unwrap();
            assert_eq!(
                mounts,
                vec![TaskMount {
                    host_path: format!("/srv/{source}").into(),
                    task_path: "/data".into(),
                    read_only: want,
                }],
                "{source} {group_ro} {mount_ro}"
            );
        }
        let mut group = TaskGroup::default();
        group.volumes.insert(
            "v".into(),
            caravan_structs::VolumeRequest {
                r#type: "host".into(),
                source: "gone".into(),
                ..Default::default()
            },
        );
        let task = Task {
            volume_mounts: vec![caravan_structs::VolumeMount {
                volume: Some("v".into()),
                ..Default::default()
            }],
            ..Task::default()
        };
        assert_eq!(
            host_volume_mounts(&group, &task, &offered).unwrap_err(),
            "No host volume named: gone"
        );
    }
    use crate::hooks::test_support::Harness;

    #[tokio::test]
    async fn the_alloc_dir_is_built_and_task_names_are_checked() {
        let root = tempfile::tempdir().unwrap();
        let dir = AllocDir::new(root.path(), "a1").unwrap();
        let mut group = TaskGroup {
            tasks: vec![caravan_structs::Task {
                name: "web".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        AllocDirHook::new(dir.clone(), &group)
            .prerun()
            .await
            .unwrap();
        assert!(dir.shared().join("logs").is_dir());
        group.tasks[0].name = "../escape".into();
        let error = AllocDirHook::new(dir, &group).prerun().await.unwrap_err();
        assert!(
            error.starts_with("failed to build task directory: "),
            "{error}"
        );
    }

    #[tokio::test]
    async fn the_task_dir_is_built_once_with_its_setup_event() {
        let mut harness = Harness::new("web");
        let mut hook = TaskDirHook::new(false);
        for _ in 0..2 {
            harness.prestart(&mut hook).await.unwrap();
        }
        assert!(harness.task_dir.join("secrets").is_dir());
        assert_eq!(harness.event_types(), ["Task Setup"]);

        let mut restored = Harness::new("web");
        restored
            .prestart(&mut TaskDirHook::new(true))
            .await
            .unwrap();
        assert!(restored.event_types().is_empty());
        assert!(restored.task_dir.join("local").is_dir());
    }
}
