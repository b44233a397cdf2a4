//! The task's log files (Nomad's logmon hook): `alloc/logs/<task>.stdout.<N>` and
//! `.stderr.<N>`, rotated per the task's `logs` block. The task's executor writes them
//! (its pipes copied into a [`caravan_drivers::RotatingLog`]), so there is no log
//! process to start here: this hook checks the names and hands the driver the
//! settings.

use caravan_drivers::log_rotation::MEGABYTE;

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
        let task = ctx.task;
        let config = &task.log_config;
        // The checked join: a task name that cannot be a file name fails here.
        let checked = ["stdout", "stderr"]
            .into_iter()
            .try_for_each(|stream| ctx.alloc_dir.log_file(&task.name, stream, 0).map(drop));
        let result = match checked {
            Ok(()) => {
                *ctx.log_files = Some(LogFiles {
                    dir: ctx.alloc_dir.logs(),
                    task: task.name.clone(),
                    max_files: u32::try_from(config.max_files.max(1)).unwrap_or(u32::MAX),
                    max_file_size: u64::try_from(config.max_file_size_mb.max(1))
                        .unwrap_or(1)
                        .saturating_mul(MEGABYTE),
                    disabled: config.disabled,
                });
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
    async fn the_log_files_are_the_tasks_in_alloc_logs_rotated_per_its_logs_block() {
        let mut harness = Harness::built("web");
        harness.task.log_config.max_files = 3;
        harness.task.log_config.max_file_size_mb = 2;
        harness.prestart(&mut LogsHook).await.unwrap();
        assert_eq!(
            harness.log_files,
            Some(LogFiles {
                dir: harness.dir.logs(),
                task: "web".into(),
                max_files: 3,
                max_file_size: 2 * 1024 * 1024,
                disabled: false,
            })
        );
    }

    #[tokio::test]
    async fn disabled_logs_reach_the_driver() {
        let mut harness = Harness::built("web");
        harness.task.log_config.disabled = true;
        harness.prestart(&mut LogsHook).await.unwrap();
        assert!(harness.log_files.unwrap().disabled);
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
