//! How a group's tasks live and die together, as far as Caravan carries it out: a task
//! that fails stops its siblings, the `leader` task's end stops the others (Nomad's
//! alloc runner), and a task being stopped first waits out the group's and its own
//! `shutdown_delay` (Nomad's pre-kill). When each task starts, by its `lifecycle`
//! block, is [`crate::task_order`]'s.

use std::time::Duration;

use caravan_structs::time::format_duration;
use caravan_structs::{Task, TaskGroup, TaskState, TaskStateKind};

use super::{AllocHook, HookFuture, TaskHook, TaskPreKill};
use crate::task_runner::{KillReason, event};

/// Decides which task deaths stop the rest of the group.
pub struct LifecycleHook {
    /// The group's `leader = true` tasks.
    leaders: Vec<String>,
}

impl LifecycleHook {
    /// The hook for `group`'s tasks.
    pub fn new(group: &TaskGroup) -> LifecycleHook {
        LifecycleHook {
            leaders: group
                .tasks
                .iter()
                .filter(|t| t.leader)
                .map(|t| t.name.clone())
                .collect(),
        }
    }
}

impl AllocHook for LifecycleHook {
    fn name(&self) -> &'static str {
        "lifecycle"
    }

    /// Nomad: a failed task takes its siblings down; when the leader ends (failed or
    /// not), the others are stopped.
    fn task_state_updated(&mut self, task: &str, state: &TaskState) -> Option<KillReason> {
        if state.state != TaskStateKind::Dead {
            return None;
        }
        if state.failed {
            return Some(KillReason::SiblingFailed(task.to_string()));
        }
        self.leaders
            .iter()
            .any(|leader| leader == task)
            .then_some(KillReason::LeaderDead)
    }
}

/// Keeps a task running for its `shutdown_delay` before it is sent its kill signal.
pub struct ShutdownDelayHook {
    /// The group's `shutdown_delay` and then the task's own (Nomad runs them one after
    /// the other).
    delay: Duration,
}

impl ShutdownDelayHook {
    /// The hook for `task` of `group`.
    pub fn new(group: &TaskGroup, task: &Task) -> ShutdownDelayHook {
        ShutdownDelayHook {
            delay: Duration::from_nanos(
                (group.shutdown_delay.unwrap_or(0).max(0) as u64)
                    .saturating_add(task.shutdown_delay.max(0) as u64),
            ),
        }
    }
}

impl TaskHook for ShutdownDelayHook {
    fn name(&self) -> &'static str {
        "shutdown_delay"
    }

    fn pre_kill<'a>(
        &'a mut self,
        ctx: &'a mut TaskPreKill<'_>,
    ) -> HookFuture<'a, Option<caravan_drivers::ExitResult>> {
        Box::pin(async move {
            if self.delay.is_zero() {
                return None;
            }
            ctx.status
                .push(event(
                    "Waiting for shutdown delay",
                    format!(
                        "Waiting for shutdown_delay of {} before killing the task.",
                        format_duration(self.delay.as_nanos() as i64)
                    ),
                ))
                .await;
            // The task keeps running meanwhile; if it ends, there is nothing to kill.
            tokio::time::timeout(self.delay, ctx.process.wait())
                .await
                .ok()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(dead: bool, failed: bool) -> TaskState {
        TaskState {
            state: if dead {
                TaskStateKind::Dead
            } else {
                TaskStateKind::Running
            },
            failed,
            ..TaskState::default()
        }
    }

    #[test]
    fn which_deaths_stop_the_group() {
        let group = TaskGroup {
            tasks: vec![
                Task {
                    name: "main".into(),
                    leader: true,
                    ..Task::default()
                },
                Task {
                    name: "sidecar".into(),
                    ..Task::default()
                },
            ],
            ..TaskGroup::default()
        };
        let mut hook = LifecycleHook::new(&group);
        let cases = [
            ("main", state(false, false), None),
            ("main", state(true, false), Some(KillReason::LeaderDead)),
            (
                "main",
                state(true, true),
                Some(KillReason::SiblingFailed("main".into())),
            ),
            ("sidecar", state(true, false), None),
            (
                "sidecar",
                state(true, true),
                Some(KillReason::SiblingFailed("sidecar".into())),
            ),
        ];
        for (task, state, want) in cases {
            assert_eq!(
                hook.task_state_updated(task, &state),
                want,
                "{task} {state:?}"
            );
        }
    }

    #[test]
    fn the_delay_is_the_groups_then_the_tasks() {
        let group = TaskGroup {
            shutdown_delay: Some(2_000_000_000),
            ..TaskGroup::default()
        };
        let task = Task {
            shutdown_delay: 500_000_000,
            ..Task::default()
        };
        assert_eq!(
            ShutdownDelayHook::new(&group, &task).delay,
            Duration::from_millis(2500)
        );
        let none = ShutdownDelayHook::new(&TaskGroup::default(), &Task::default());
        assert!(none.delay.is_zero());
    }
}
