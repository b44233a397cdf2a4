//! Nomad's dispatch payload hook: a dispatched job's payload, decoded, in
//! `local/<file>` of the task's directory (`dispatch_payload { file = "..." }`). Its
//! error fails the task.

use std::path::Path;

use caravan_structs::DispatchPayloadConfig;

use super::{HookError, HookFuture, TaskHook, TaskPrestart, blocking};
use crate::task_runner::event;

/// Writes the job's dispatch payload for the task, once.
pub struct DispatchPayloadHook {
    /// The job's payload (base64), if it was dispatched with one.
    payload: Option<String>,
    done: bool,
}

impl DispatchPayloadHook {
    /// The hook for a job whose payload is `payload`.
    pub fn new(payload: Option<String>) -> DispatchPayloadHook {
        DispatchPayloadHook {
            payload,
            done: false,
        }
    }
}

impl TaskHook for DispatchPayloadHook {
    fn name(&self) -> &'static str {
        "dispatch_payload"
    }

    fn prestart<'a>(
        &'a mut self,
        ctx: &'a mut TaskPrestart<'_>,
    ) -> HookFuture<'a, Result<(), HookError>> {
        Box::pin(async move {
            if self.done {
                return Ok(());
            }
            let (Some(config), Some(payload)) = (&ctx.task.dispatch_payload, &self.payload) else {
                self.done = true;
                return Ok(());
            };
            let (config, payload) = (config.clone(), payload.clone());
            let task_dir = ctx.task_dir.to_path_buf();
            let written = blocking(move || write(&task_dir, &config, &payload)).await;
            if let Err(error) = written {
                let mut failed = event("Task hook failed", format!("dispatch_payload: {error}"));
                failed.fails_task = true;
                return Err(HookError::Fatal(vec![failed]));
            }
            self.done = true;
            Ok(())
        })
    }
}

/// Decodes `payload` into `local/<file>` (blocking).
fn write(task_dir: &Path, config: &DispatchPayloadConfig, payload: &str) -> Result<(), String> {
    if config.file.is_empty() {
        return Ok(());
    }
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(payload)
        .map_err(|e| format!("the payload is not base64: {e}"))?;
    let path = caravan_drivers::host_path::join_beneath(&task_dir.join("local"), &config.file)
        .map_err(|e| e.to_string())?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hooks::test_support::Harness;

    fn config(file: &str) -> Option<DispatchPayloadConfig> {
        Some(DispatchPayloadConfig { file: file.into() })
    }

    #[tokio::test]
    async fn the_payload_lands_decoded_in_local() {
        let mut harness = Harness::built("web");
        harness.task.dispatch_payload = config("input/data.txt");
        let mut hook = DispatchPayloadHook::new(Some("aGVsbG8=".into()));
        harness.prestart(&mut hook).await.unwrap();
        let written = harness.task_dir.join("local/input/data.txt");
        assert_eq!(std::fs::read_to_string(written).unwrap(), "hello");
    }

    #[tokio::test]
    async fn a_bad_payload_or_a_path_out_of_local_fails_the_task() {
        for (file, payload, want) in [
            (
                "data",
                "not base64!",
                "dispatch_payload: the payload is not base64",
            ),
            ("../../escape", "aGVsbG8=", "dispatch_payload: "),
        ] {
            let mut harness = Harness::built("web");
            harness.task.dispatch_payload = config(file);
            let mut hook = DispatchPayloadHook::new(Some(payload.into()));
            let Err(HookError::Fatal(events)) = harness.prestart(&mut hook).await else {
                panic!("{file}: expected a fatal error");
            };
            assert_eq!(events[0].r#type, "Task hook failed");
            assert!(events[0].display_message.starts_with(want), "{events:?}");
            assert!(events[0].fails_task);
        }
    }

    #[tokio::test]
    async fn no_payload_or_no_file_writes_nothing() {
        let mut harness = Harness::built("web");
        harness
            .prestart(&mut DispatchPayloadHook::new(None))
            .await
            .unwrap();
        harness.task.dispatch_payload = config("");
        let mut hook = DispatchPayloadHook::new(Some("aGVsbG8=".into()));
        harness.prestart(&mut hook).await.unwrap();
        let local: Vec<_> = std::fs::read_dir(harness.task_dir.join("local"))
            .unwrap()
            .collect();
        assert!(local.is_empty());
    }
}
