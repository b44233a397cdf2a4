//! Nomad's artifact hook: fetches the task's `artifact` blocks into its directory
//! ([`crate::artifact::fetch`]) before it first starts. A failed download is
//! recoverable: the restart policy decides whether to try again.

use super::{HookError, HookFuture, TaskHook, TaskPrestart};
use crate::task_runner::event;
use crate::template::TaskDirs;

/// Fetches every artifact of the task, until all have been fetched once.
#[derive(Default)]
pub struct ArtifactHook {
    done: bool,
}

impl TaskHook for ArtifactHook {
    fn name(&self) -> &'static str {
        "artifacts"
    }

    fn prestart<'a>(
        &'a mut self,
        ctx: &'a mut TaskPrestart<'_>,
    ) -> HookFuture<'a, Result<(), HookError>> {
        Box::pin(async move {
            if self.done || ctx.task.artifacts.is_empty() {
                self.done = true;
                return Ok(());
            }
            ctx.status
                .push(event(
                    "Downloading Artifacts",
                    "Client is downloading artifacts",
                ))
                .await;
            let alloc_dir = ctx.alloc_dir.shared();
            let dirs = TaskDirs {
                task_dir: ctx.task_dir,
                alloc_dir: &alloc_dir,
            };
            for artifact in &ctx.task.artifacts {
                let env = &*ctx.env;
                let fetched = tokio::select! {
                    fetched = crate::artifact::fetch(artifact, |t| env.interpolate(t), &dirs) => fetched,
                    _ = ctx.kill.wait_for(Option::is_some) => return Err(HookError::Killed),
                };
                if let Err(error) = fetched {
                    let mut failed = event("Failed Artifact Download", error.to_string());
                    failed
                        .details
                        .insert("download_error".into(), error.to_string());
                    return Err(HookError::Recoverable(failed));
                }
            }
            self.done = true;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use caravan_structs::TaskArtifact;

    use super::*;
    use crate::hooks::test_support::Harness;
    use crate::task_runner::KillReason;

    fn artifact(source: &str) -> TaskArtifact {
        let mut artifact = TaskArtifact {
            getter_source: Some(source.into()),
            ..TaskArtifact::default()
        };
        artifact.canonicalize();
        artifact
    }

    #[tokio::test]
    async fn artifacts_are_fetched_once_with_nomads_event() {
        let mut harness = Harness::built("web");
        std::fs::write(harness.task_dir.join("app.txt"), "v1").unwrap();
        harness.task.artifacts = vec![artifact("app.txt")];
        let mut hook = ArtifactHook::default();
        harness.prestart(&mut hook).await.unwrap();
        assert_eq!(
            std::fs::read_to_string(harness.task_dir.join("local/app.txt")).unwrap(),
            "v1"
        );
        harness.prestart(&mut hook).await.unwrap();
        assert_eq!(harness.event_types(), ["Downloading Artifacts"]);
    }

    #[tokio::test]
    async fn a_failed_download_is_recoverable_with_its_error_in_the_details() {
        let mut harness = Harness::built("web");
        harness.task.artifacts = vec![artifact("hg::https://example.com/repo")];
        let Err(HookError::Recoverable(failed)) =
            harness.prestart(&mut ArtifactHook::default()).await
        else {
            panic!("an hg source is refused");
        };
        assert_eq!(failed.r#type, "Failed Artifact Download");
        assert!(
            failed.details["download_error"].contains("hg artifacts are not supported"),
            "{failed:?}"
        );
    }

    #[tokio::test]
    async fn a_kill_stops_the_download() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/never", listener.local_addr().unwrap());
        let mut harness = Harness::built("web");
        harness.task.artifacts = vec![artifact(&url)];
        harness.kill_tx.send_replace(Some(KillReason::AllocStopped));
        let result = harness.prestart(&mut ArtifactHook::default()).await;
        assert!(matches!(result, Err(HookError::Killed)), "{result:?}");
        drop(listener);
    }
}
