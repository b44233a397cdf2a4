//! Nomad's template hook: renders the task's `template` blocks ([`crate::template`])
//! before it first starts, adds the variables of `env = true` templates to its
//! environment, and watches those that read the service catalogue while the task runs
//! ([`crate::template::watch`]). A task whose filesystem is isolated renders with the paths it sees
//! (`NOMAD_TASK_DIR=/local`). A failed template kills the task.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{HookError, HookFuture, TaskHook, TaskPrestart};
use crate::checks::TaskAction;
use crate::services::ServiceCatalog;
use crate::task_runner::event;
use crate::template::watch::TemplateContext;

/// Renders every template of the task once, and watches those that read the service
/// catalogue for as long as the runner lives.
pub struct TemplateHook {
    done: bool,
    namespace: String,
    /// The allocation: with the task's name, what the servers check variable reads of.
    alloc_id: caravan_structs::AllocId,
    catalog: Option<Arc<dyn ServiceCatalog>>,
    actions: mpsc::UnboundedSender<TaskAction>,
    /// The watcher of templates that read services; aborted with the hook.
    watcher: Option<JoinHandle<()>>,
}

impl TemplateHook {
    /// A hook whose templates read `catalog` in `namespace` and ask for restarts and
    /// signals on `actions`.
    pub fn new(
        namespace: String,
        alloc_id: caravan_structs::AllocId,
        catalog: Arc<dyn ServiceCatalog>,
        actions: mpsc::UnboundedSender<TaskAction>,
    ) -> TemplateHook {
        TemplateHook {
            done: false,
            namespace,
            alloc_id,
            catalog: Some(catalog),
            actions,
            watcher: None,
        }
    }
}

impl Drop for TemplateHook {
    fn drop(&mut self) {
        if let Some(watcher) = self.watcher.take() {
            watcher.abort();
        }
    }
}

impl TemplateHook {
    fn context(&self, ctx: &TaskPrestart<'_>) -> TemplateContext {
        TemplateContext {
            templates: ctx.task.templates.clone(),
            env: ctx.env.task_view(ctx.capabilities.fs_isolation),
            task_dir: ctx.task_dir.to_path_buf(),
            alloc_dir: ctx.alloc_dir.shared(),
            namespace: self.namespace.clone(),
            workload: crate::Workload {
                alloc_id: self.alloc_id.clone(),
                task: ctx.task.name.clone(),
            },
            catalog: self.catalog.clone(),
        }
    }
}

impl TaskHook for TemplateHook {
    fn name(&self) -> &'static str {
        "template"
    }

    /// A re-attached task's templates render again (what the catalogue holds now) and
    /// are watched again; their variables are kept for the task's next start.
    fn restored<'a>(&'a mut self, ctx: &'a mut TaskPrestart<'_>) -> HookFuture<'a, ()> {
        Box::pin(async move {
            if self.done || ctx.task.templates.is_empty() {
                return;
            }
            match self.context(ctx).first_render().await {
                Ok((vars, watch)) => {
                    ctx.env.vars.extend(vars);
                    self.done = true;
                    if let Some(watch) = watch {
                        let task = ctx.task.name.clone();
                        self.watcher = Some(tokio::spawn(watch.run(task, self.actions.clone())));
                    }
                }
                // The task runs on; its next start renders again (and fails then).
                Err(error) => {
                    tracing::warn!(task = %ctx.task.name, %error, "templates of a re-attached task failed to render");
                }
            }
        })
    }

    fn prestart<'a>(
        &'a mut self,
        ctx: &'a mut TaskPrestart<'_>,
    ) -> HookFuture<'a, Result<(), HookError>> {
        Box::pin(async move {
            if self.done || ctx.task.templates.is_empty() {
                self.done = true;
                return Ok(());
            }
            match self.context(ctx).first_render().await {
                // Nomad: template variables override the task's `env` block.
                Ok((vars, watch)) => {
                    ctx.env.vars.extend(vars);
                    self.done = true;
                    if let Some(watch) = watch {
                        let task = ctx.task.name.clone();
                        self.watcher = Some(tokio::spawn(watch.run(task, self.actions.clone())));
                    }
                    Ok(())
                }
                // Nomad kills the task with this event; it never started, so it is dead.
                Err(error) => {
                    let mut killing = event("Killing", format!("Template failed: {error}"));
                    killing.fails_task = true;
                    Err(HookError::Fatal(vec![killing]))
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use caravan_drivers::{DriverCapabilities, FsIsolation};
    use caravan_structs::Template;

    use super::*;
    use crate::hooks::test_support::Harness;

    /// A hook whose catalogue is never read (these templates name no service).
    fn hook() -> TemplateHook {
        let (actions, _) = mpsc::unbounded_channel();
        TemplateHook {
            done: false,
            namespace: "default".into(),
            alloc_id: caravan_structs::AllocId::from("test-alloc"),
            catalog: None,
            actions,
            watcher: None,
        }
    }

    fn template(data: &str, dest: &str, env: bool) -> Template {
        Template {
            embedded_tmpl: Some(data.into()),
            dest_path: Some(dest.into()),
            envvars: Some(env),
            ..Template::default()
        }
    }

    #[tokio::test]
    async fn templates_render_and_their_env_files_reach_the_environment() {
        let mut harness = Harness::built("web");
        harness.task.templates = vec![
            template("dir={{ env \"NOMAD_TASK_DIR\" }}\n", "local/out.txt", false),
            template("GREETING=hello\n", "local/env.txt", true),
        ];
        let mut hook = hook();
        harness.prestart(&mut hook).await.unwrap();
        let host_dir = harness.task_dir.join("local");
        assert_eq!(
            std::fs::read_to_string(host_dir.join("out.txt")).unwrap(),
            format!("dir={}\n", host_dir.display())
        );
        assert_eq!(harness.env.vars["GREETING"], "hello");
    }

    #[tokio::test]
    async fn a_chrooted_task_renders_with_the_paths_it_sees() {
        let mut harness = Harness::built("web");
        harness.capabilities = DriverCapabilities {
            fs_isolation: FsIsolation::Chroot,
            ..DriverCapabilities::default()
        };
        harness.task.templates = vec![template(
            "{{ env \"NOMAD_TASK_DIR\" }} {{ env \"NOMAD_ALLOC_DIR\" }}",
            "local/out.txt",
            false,
        )];
        harness.prestart(&mut hook()).await.unwrap();
        assert_eq!(
            std::fs::read_to_string(harness.task_dir.join("local/out.txt")).unwrap(),
            "/local /alloc"
        );
    }

    #[tokio::test]
    async fn a_failed_template_kills_the_task() {
        let mut harness = Harness::built("web");
        harness.task.templates = vec![template("{{ nosuchfunc }}", "local/x", false)];
        let Err(HookError::Fatal(events)) = harness.prestart(&mut hook()).await else {
            panic!("an unknown function fails the template");
        };
        assert_eq!(events[0].r#type, "Killing");
        assert!(
            events[0].display_message.starts_with("Template failed: "),
            "{events:?}"
        );
        assert!(events[0].fails_task);
    }
}
