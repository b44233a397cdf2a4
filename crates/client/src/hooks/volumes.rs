//! The directories a task runs in (Nomad's `allocdir` and `task_dir` hooks): the
//! allocation's shared `alloc/{data,logs,tmp}`, each task's `local/`, `secrets/`,
//! `tmp/` and `private/`. Mounts into them are the driver's (`exec` binds `/alloc`,
//! `chroot_env` and a `/secrets` tmpfs in the task's own namespace); host and CSI
//! volumes are refused at submit until they exist.

use caravan_structs::TaskGroup;

use super::{AllocHook, HookError, HookFuture, TaskHook, TaskPrestart, blocking};
use crate::alloc_dir::AllocDir;
use crate::task_runner::event;

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
