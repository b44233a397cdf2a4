//! The task's log files (Nomad's logmon hook): `alloc/logs/<task>.stdout.0` and
//! `.stderr.0`, through the checked join. The task's own file descriptors append to
//! them (the executor opens them), so there is no log process to start; Caravan does
//! not rotate yet.

use super::{HookError, HookFuture, LogFiles, TaskHook, TaskPrestart};
use crate::task_runner::event;

/// Sets up where the task's output goes, before every start.
pub struct LogsHook;

impl TaskHook for LogsHook {
    fn name(&self) -> &'static str {
        "logs"
    }

    fn prestart<'a>(
        &'a mut self,
        ctx: &'a mut TaskPrestart<'_>,
    ) -> HookFuture<'a, Result<(), HookError>> {
        let name = &ctx.task.name;
        let file = |stream: &str| ctx.alloc_dir.log_file(name, stream, 0);
        let files = file("stdout").and_then(|stdout| {
            Ok(LogFiles {
                stdout,
                stderr: file("stderr")?,
            })
        });
        let result = match files {
            Ok(files) => {
                *ctx.log_files = Some(files);
                Ok(())
            }
            // Reported as the driver's failure to start, as it always was.
            Err(error) => {
                let message = format!("failed to open the task's log file: {error}");
                let mut failure = event("Driver Failure", message.clone());
                failure.driver_error = message;
                failure.fails_task = true;
                Err(HookError::Fatal(vec![
                    failure,
                    event("Not Restarting", "Error was unrecoverable"),
                ]))
            }
        };
        Box::pin(async move { result })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hooks::test_support::Harness;

    #[tokio::test]
    async fn the_log_files_are_the_tasks_in_alloc_logs() {
        let mut harness = Harness::built("web");
        harness.prestart(&mut LogsHook).await.unwrap();
        let logs = harness.dir.logs();
        assert_eq!(
            harness.log_files,
            Some(LogFiles {
                stdout: logs.join("web.stdout.0"),
                stderr: logs.join("web.stderr.0"),
            })
        );
    }

    #[tokio::test]
    async fn a_name_that_cannot_be_a_log_file_fails_the_task() {
        let mut harness = Harness::built("web");
        harness.task.name = "a/b".into();
        let Err(HookError::Fatal(events)) = harness.prestart(&mut LogsHook).await else {
            panic!("a slash cannot be in a log file's name");
        };
        assert_eq!(events[0].r#type, "Driver Failure");
        assert!(
            events[0]
                .driver_error
                .starts_with("failed to open the task's log file: "),
            "{events:?}"
        );
        assert!(harness.log_files.is_none());
    }
}
