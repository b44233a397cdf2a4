//! Nomad's validate hook, before every start: the client's user rules (`user.denylist`
//! for `user.checked_drivers`). A task its driver runs as a default user (`exec`:
//! `nobody`) is checked as that user. Its error is not recoverable.

use super::{HookError, HookFuture, TaskHook, TaskPrestart};
use crate::task_runner::event;
use crate::user_rules::UserRules;

/// Checks the task's user against the client's rules.
pub struct ValidateHook {
    rules: UserRules,
}

impl ValidateHook {
    /// The hook for the client's `rules`.
    pub fn new(rules: UserRules) -> ValidateHook {
        ValidateHook { rules }
    }
}

impl TaskHook for ValidateHook {
    fn name(&self) -> &'static str {
        "validate"
    }

    fn prestart<'a>(
        &'a mut self,
        ctx: &'a mut TaskPrestart<'_>,
    ) -> HookFuture<'a, Result<(), HookError>> {
        let task = ctx.task;
        let checked = self
            .rules
            .check(&task.driver, &task.user, ctx.capabilities.default_user);
        Box::pin(async move {
            checked.map_err(|error| {
                let mut failed = event("Task hook failed", format!("validate: {error}"));
                failed.fails_task = true;
                HookError::Fatal(vec![
                    failed,
                    event("Not Restarting", "Error was unrecoverable"),
                ])
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use caravan_drivers::DriverCapabilities;

    use super::*;
    use crate::hooks::test_support::Harness;

    #[tokio::test]
    async fn a_denied_user_fails_the_task_for_good() {
        let mut harness = Harness::new("web");
        harness.task.driver = "exec".into();
        harness.task.user = "root".into();
        let mut hook = ValidateHook::new(UserRules::default());
        let Err(HookError::Fatal(events)) = harness.prestart(&mut hook).await else {
            panic!("root is denied to exec by default");
        };
        let messages: Vec<&str> = events.iter().map(|e| e.display_message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "validate: running as user \"root\" is disallowed",
                "Error was unrecoverable"
            ]
        );
        assert!(events[0].fails_task);
    }

    #[tokio::test]
    async fn the_drivers_default_user_is_the_one_checked() {
        let mut harness = Harness::new("web");
        harness.task.driver = "exec".into();
        let rules = UserRules {
            denylist: vec!["nobody".into()],
            checked_drivers: vec!["exec".into()],
        };
        let mut hook = ValidateHook::new(rules);
        assert!(harness.prestart(&mut hook).await.is_ok(), "no default user");
        harness.capabilities = DriverCapabilities {
            default_user: Some("nobody"),
            ..DriverCapabilities::default()
        };
        assert!(harness.prestart(&mut hook).await.is_err());
    }
}
