//! Nomad's template hook: renders the task's `template` blocks ([`crate::template`])
//! before it first starts, and adds the variables of `env = true` templates to its
//! environment. A task whose filesystem is isolated renders with the paths it sees
//! (`NOMAD_TASK_DIR=/local`). A failed template kills the task.

use super::{HookError, HookFuture, TaskHook, TaskPrestart, blocking};
use crate::task_runner::event;
use crate::template::{TaskDirs, render_all};

/// Renders every template of the task, once.
#[derive(Default)]
pub struct TemplateHook {
    done: bool,
}

impl TaskHook for TemplateHook {
    fn name(&self) -> &'static str {
        "template"
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
            let env = ctx.env.task_view(ctx.capabilities.fs_isolation);
            let templates = ctx.task.templates.clone();
            let task_dir = ctx.task_dir.to_path_buf();
            let alloc_dir = ctx.alloc_dir.shared();
            // Reading sources and writing destinations: off the async runtime.
            let rendered = blocking(move || {
                let dirs = TaskDirs {
                    task_dir: &task_dir,
                    alloc_dir: &alloc_dir,
                };
                render_all(&templates, &env, &dirs).map_err(|e| e.to_string())
            })
            .await;
            match rendered {
                // Nomad: template variables override the task's `env` block.
                Ok(vars) => {
                    ctx.env.vars.extend(vars);
                    self.done = true;
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
        let mut hook = TemplateHook::default();
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
        harness
            .prestart(&mut TemplateHook::default())
            .await
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(harness.task_dir.join("local/out.txt")).unwrap(),
            "/local /alloc"
        );
    }

    #[tokio::test]
    async fn a_failed_template_kills_the_task() {
        let mut harness = Harness::built("web");
        harness.task.templates = vec![template("{{ nosuchfunc }}", "local/x", false)];
        let Err(HookError::Fatal(events)) = harness.prestart(&mut TemplateHook::default()).await
        else {
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
