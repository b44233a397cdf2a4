//! When each task of a group may start and when its sidecars must stop, from its
//! `lifecycle` blocks (Nomad's task hook coordinator and the alloc runner's kill rules):
//!
//! - prestart tasks start at once;
//! - main tasks (no `lifecycle`) once every ephemeral prestart task has completed
//!   successfully and every prestart sidecar has started;
//! - poststart tasks once every main task has started;
//! - poststop tasks once every other task is dead.
//!
//! Once the group is being stopped, every task not yet started may "start": its runner
//! sees the kill and ends it at once, so it is recorded dead, never run. Poststop tasks
//! still wait for the others: they are the group's cleanup.
//!
//! Pure: the alloc runner asks after every task state change.

use std::collections::{BTreeMap, BTreeSet};

use caravan_structs::{TaskGroup, TaskState, TaskStateKind, ZERO_TIME};

/// Where a task stands in its group's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Prestart,
    Main,
    Poststart,
    Poststop,
}

/// One task's `lifecycle`: its phase and whether it is a sidecar (keeps running beside
/// the main tasks rather than running to completion).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Role {
    pub phase: Phase,
    pub sidecar: bool,
}

impl Role {
    /// Nomad restarts a task that exited successfully only if it is meant to keep
    /// running: a main task of a service job, or a prestart/poststart sidecar.
    pub fn runs_to_completion(&self, batch: bool) -> bool {
        match self.phase {
            Phase::Main => batch,
            Phase::Prestart | Phase::Poststart => !self.sidecar,
            Phase::Poststop => true,
        }
    }
}

/// The roles of a group's tasks.
#[derive(Debug, Clone, Default)]
pub struct TaskOrder {
    roles: BTreeMap<String, Role>,
}

impl TaskOrder {
    /// The order of `group`'s tasks. A hook other than the three (refused at submit)
    /// counts as a main task.
    pub fn new(group: &TaskGroup) -> TaskOrder {
        let roles = group
            .tasks
            .iter()
            .map(|task| {
                let (phase, sidecar) = match &task.lifecycle {
                    Some(lifecycle) => {
                        let phase = match lifecycle.hook.as_str() {
                            "prestart" => Phase::Prestart,
                            "poststart" => Phase::Poststart,
                            "poststop" => Phase::Poststop,
                            _ => Phase::Main,
                        };
                        (phase, lifecycle.sidecar && phase != Phase::Poststop)
                    }
                    None => (Phase::Main, false),
                };
                (task.name.clone(), Role { phase, sidecar })
            })
            .collect();
        TaskOrder { roles }
    }

    /// The role of the task called `name` (a main task if there is no such task).
    pub fn role(&self, name: &str) -> Role {
        self.roles.get(name).copied().unwrap_or(Role {
            phase: Phase::Main,
            sidecar: false,
        })
    }

    /// Which of the tasks not started yet (`waiting`) may start now, given every task's
    /// state and whether the group is being stopped.
    pub fn ready(
        &self,
        waiting: &BTreeSet<String>,
        states: &BTreeMap<String, TaskState>,
        stopping: bool,
    ) -> Vec<String> {
        let state = |name: &str| states.get(name);
        let in_phase = |phase: Phase| {
            self.roles
                .iter()
                .filter(move |(_, role)| role.phase == phase)
        };
        let prestart_done = in_phase(Phase::Prestart).all(|(name, role)| {
            let state = state(name);
            if role.sidecar {
                state.is_some_and(has_started)
            } else {
                state.is_some_and(|s| s.state == TaskStateKind::Dead && !s.failed)
            }
        });
        let mains_started =
            in_phase(Phase::Main).all(|(name, _)| state(name).is_some_and(has_started));
        let others_dead = self
            .roles
            .iter()
            .filter(|(_, role)| role.phase != Phase::Poststop)
            .all(|(name, _)| state(name).is_some_and(|s| s.state == TaskStateKind::Dead));
        waiting
            .iter()
            .filter(|name| match self.role(name).phase {
                Phase::Poststop => others_dead,
                _ if stopping => true,
                Phase::Prestart => true,
                Phase::Main => prestart_done,
                Phase::Poststart => mains_started,
            })
            .cloned()
            .collect()
    }

    /// Whether the main tasks are over and only sidecars are left alive (Nomad's `Main
    /// Tasks Dead`): the sidecars are then stopped. Poststop tasks do not count.
    pub fn only_sidecars_left(&self, states: &BTreeMap<String, TaskState>) -> bool {
        let mut alive = self
            .roles
            .iter()
            .filter(|(_, role)| role.phase != Phase::Poststop)
            .filter(|(name, _)| {
                states
                    .get(name.as_str())
                    .is_none_or(|s| s.state != TaskStateKind::Dead)
            })
            .peekable();
        alive.peek().is_some() && alive.all(|(_, role)| role.sidecar)
    }

    /// Whether the stopping group's sidecars may be stopped: Nomad stops them only once
    /// every other task but the poststop ones is dead.
    pub fn sidecars_may_stop(&self, states: &BTreeMap<String, TaskState>) -> bool {
        self.roles
            .iter()
            .filter(|(_, role)| role.phase != Phase::Poststop && !role.sidecar)
            .all(|(name, _)| {
                states
                    .get(name.as_str())
                    .is_some_and(|s| s.state == TaskStateKind::Dead)
            })
    }
}

impl TaskOrder {
    /// The task states the deployment health of the allocation is judged on (Nomad's
    /// health tracker): poststop tasks are left out (they wait for the end), and so are
    /// ephemeral prestart and poststart tasks that completed successfully.
    pub fn health_relevant(
        &self,
        states: &BTreeMap<String, TaskState>,
    ) -> BTreeMap<String, TaskState> {
        states
            .iter()
            .filter(|(name, state)| {
                let role = self.role(name);
                let completed = state.state == TaskStateKind::Dead && !state.failed;
                match role.phase {
                    Phase::Poststop => false,
                    Phase::Prestart | Phase::Poststart => role.sidecar || !completed,
                    Phase::Main => true,
                }
            })
            .map(|(name, state)| (name.clone(), state.clone()))
            .collect()
    }
}

/// The tasks an `AllTasks` restart sent back to the start of the lifecycle order, until
/// each has run again (Nomad's coordinator reset): while one is restarting, the tasks
/// after it wait as if it had never started.
#[derive(Debug, Clone, Default)]
pub struct Restarting {
    /// Each restarting task, with whether it has been seen not running since.
    tasks: BTreeMap<String, bool>,
}

impl Restarting {
    /// `name`, now in `state`, is being restarted.
    pub fn begin(&mut self, name: &str, state: Option<&TaskState>) {
        let stopped = state.is_none_or(|s| s.state != TaskStateKind::Running);
        self.tasks.insert(name.to_string(), stopped);
    }

    /// Takes a new state of `name`: once it has stopped and runs again (or is dead), it
    /// is no longer restarting.
    pub fn observe(&mut self, name: &str, state: &TaskState) {
        let Some(stopped) = self.tasks.get_mut(name) else {
            return;
        };
        match state.state {
            TaskStateKind::Pending => *stopped = true,
            TaskStateKind::Running if *stopped => {
                self.tasks.remove(name);
            }
            TaskStateKind::Dead => {
                self.tasks.remove(name);
            }
            TaskStateKind::Running => {}
        }
    }

    /// The states the lifecycle order is decided on: a restarting task that is not dead
    /// shows as pending and never started.
    pub fn view(&self, states: &BTreeMap<String, TaskState>) -> BTreeMap<String, TaskState> {
        let mut view = states.clone();
        for name in self.tasks.keys() {
            if let Some(state) = view.get_mut(name)
                && state.state != TaskStateKind::Dead
            {
                state.state = TaskStateKind::Pending;
                state.started_at = ZERO_TIME.to_string();
            }
        }
        view
    }
}

impl Phase {
    /// Whether tasks of this phase wait for others before they start (again).
    pub fn waits_its_turn(self) -> bool {
        matches!(self, Phase::Main | Phase::Poststart)
    }
}

/// Whether the task has been started at least once.
fn has_started(state: &TaskState) -> bool {
    !state.started_at.is_empty() && state.started_at != ZERO_TIME
}

#[cfg(test)]
mod tests {
    use super::*;
    use caravan_structs::{Task, TaskLifecycle};

    fn task(name: &str, hook: Option<&str>, sidecar: bool) -> Task {
        Task {
            name: name.into(),
            lifecycle: hook.map(|hook| TaskLifecycle {
                hook: hook.into(),
                sidecar,
            }),
            ..Task::default()
        }
    }

    /// A group with one task of every kind.
    fn group() -> TaskOrder {
        TaskOrder::new(&TaskGroup {
            tasks: vec![
                task("init", Some("prestart"), false),
                task("proxy", Some("prestart"), true),
                task("main", None, false),
                task("announce", Some("poststart"), false),
                task("log-shipper", Some("poststart"), true),
                task("cleanup", Some("poststop"), false),
            ],
            ..TaskGroup::default()
        })
    }

    const PENDING: &str = "pending";
    const RUNNING: &str = "running";
    const RESTARTING: &str = "restarting";
    const DONE: &str = "done";
    const FAILED: &str = "failed";

    /// A task state by a word: `restarting` is pending after having started once.
    fn state(word: &str) -> TaskState {
        let started = if word == PENDING {
            ZERO_TIME
        } else {
            "2026-01-01T00:00:00Z"
        };
        let kind = match word {
            PENDING | RESTARTING => TaskStateKind::Pending,
            RUNNING => TaskStateKind::Running,
            _ => TaskStateKind::Dead,
        };
        TaskState {
            state: kind,
            failed: word == FAILED,
            started_at: started.into(),
            ..TaskState::default()
        }
    }

    fn states(pairs: &[(&str, &str)]) -> BTreeMap<String, TaskState> {
        pairs
            .iter()
            .map(|(name, word)| (name.to_string(), state(word)))
            .collect()
    }

    fn names(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn which_waiting_tasks_may_start() {
        let order = group();
        let all = [
            "init",
            "proxy",
            "main",
            "announce",
            "log-shipper",
            "cleanup",
        ];
        // (why, tasks waiting, states now, which may start)
        type Case<'a> = (
            &'a str,
            &'a [&'a str],
            &'a [(&'a str, &'a str)],
            &'a [&'a str],
        );
        let cases: [Case; 9] = [
            (
                "a new group starts its prestart tasks only",
                &all,
                &[],
                &["init", "proxy"],
            ),
            (
                "main waits for the ephemeral prestart task to finish",
                &["main", "announce", "log-shipper", "cleanup"],
                &[("init", RUNNING), ("proxy", RUNNING)],
                &[],
            ),
            (
                "main waits for the prestart sidecar to start",
                &["proxy", "main", "announce", "log-shipper", "cleanup"],
                &[("init", DONE), ("proxy", PENDING)],
                &["proxy"],
            ),
            (
                "main starts once prestart is done and the sidecar runs",
                &["main", "announce", "log-shipper", "cleanup"],
                &[("init", DONE), ("proxy", RUNNING)],
                &["main"],
            ),
            (
                "a prestart sidecar that restarts after starting does not hold main back",
                &["main", "announce", "log-shipper", "cleanup"],
                &[("init", DONE), ("proxy", RESTARTING)],
                &["main"],
            ),
            (
                "a failed prestart task never lets main start",
                &["main", "announce", "log-shipper", "cleanup"],
                &[("init", FAILED), ("proxy", RUNNING)],
                &[],
            ),
            (
                "poststart tasks start once main has started",
                &["announce", "log-shipper", "cleanup"],
                &[("init", DONE), ("proxy", RUNNING), ("main", RUNNING)],
                &["announce", "log-shipper"],
            ),
            (
                "poststop waits while a sidecar is alive",
                &["cleanup"],
                &[
                    ("init", DONE),
                    ("proxy", RUNNING),
                    ("main", DONE),
                    ("announce", DONE),
                    ("log-shipper", DONE),
                ],
                &[],
            ),
            (
                "poststop starts once every other task is dead",
                &["cleanup"],
                &[
                    ("init", DONE),
                    ("proxy", DONE),
                    ("main", FAILED),
                    ("announce", DONE),
                    ("log-shipper", DONE),
                ],
                &["cleanup"],
            ),
        ];
        for (why, waiting, now, want) in cases {
            let ready = order.ready(&names(waiting), &states(now), false);
            let want: Vec<String> = names(want).into_iter().collect();
            assert_eq!(ready, want, "{why}");
        }
    }

    #[test]
    fn a_stopping_group_lets_waiting_tasks_end_but_poststop_still_waits() {
        let order = group();
        let waiting = names(&["main", "announce", "log-shipper", "cleanup"]);
        let now = states(&[("init", FAILED), ("proxy", RUNNING)]);
        assert_eq!(
            order.ready(&waiting, &now, true),
            ["announce", "log-shipper", "main"]
        );
    }

    #[test]
    fn a_group_without_lifecycle_starts_everything_at_once() {
        let order = TaskOrder::new(&TaskGroup {
            tasks: vec![task("web", None, false), task("worker", None, false)],
            ..TaskGroup::default()
        });
        let waiting = names(&["web", "worker"]);
        assert_eq!(
            order.ready(&waiting, &BTreeMap::new(), false),
            ["web", "worker"]
        );
        assert!(!order.only_sidecars_left(&states(&[("web", DONE), ("worker", RUNNING)])));
    }

    #[test]
    fn sidecars_are_stopped_when_only_they_are_left() {
        let order = group();
        let cases: [(&[(&str, &str)], bool); 4] = [
            (
                &[
                    ("init", DONE),
                    ("proxy", RUNNING),
                    ("main", RUNNING),
                    ("announce", DONE),
                    ("log-shipper", RUNNING),
                ],
                false,
            ),
            (
                &[
                    ("init", DONE),
                    ("proxy", RUNNING),
                    ("main", DONE),
                    ("announce", RUNNING),
                    ("log-shipper", RUNNING),
                ],
                false,
            ),
            (
                &[
                    ("init", DONE),
                    ("proxy", RUNNING),
                    ("main", DONE),
                    ("announce", DONE),
                    ("log-shipper", RESTARTING),
                ],
                true,
            ),
            (
                &[
                    ("init", DONE),
                    ("proxy", DONE),
                    ("main", DONE),
                    ("announce", DONE),
                    ("log-shipper", DONE),
                ],
                false,
            ),
        ];
        for (now, want) in cases {
            assert_eq!(order.only_sidecars_left(&states(now)), want, "{now:?}");
        }
    }

    #[test]
    fn a_stopping_groups_sidecars_stop_after_the_others() {
        let order = group();
        let mains_alive = states(&[
            ("init", DONE),
            ("proxy", RUNNING),
            ("main", RUNNING),
            ("announce", DONE),
        ]);
        assert!(!order.sidecars_may_stop(&mains_alive));
        let mains_dead = states(&[
            ("init", DONE),
            ("proxy", RUNNING),
            ("main", DONE),
            ("announce", DONE),
            ("log-shipper", RUNNING),
        ]);
        assert!(order.sidecars_may_stop(&mains_dead));
    }

    #[test]
    fn health_leaves_out_poststop_and_completed_ephemeral_tasks() {
        let order = group();
        let now = states(&[
            ("init", DONE),
            ("proxy", RUNNING),
            ("main", RUNNING),
            ("announce", FAILED),
            ("log-shipper", RUNNING),
            ("cleanup", PENDING),
        ]);
        let judged: Vec<String> = order.health_relevant(&now).into_keys().collect();
        assert_eq!(judged, ["announce", "log-shipper", "main", "proxy"]);
    }

    #[test]
    fn after_an_all_tasks_restart_main_waits_for_prestart_to_run_again() {
        let order = group();
        let mut restarting = Restarting::default();
        let mut now = states(&[
            ("init", DONE),
            ("proxy", RUNNING),
            ("main", RUNNING),
            ("announce", DONE),
            ("log-shipper", RUNNING),
            ("cleanup", PENDING),
        ]);
        for name in ["init", "proxy", "main", "announce", "log-shipper"] {
            restarting.begin(name, now.get(name));
        }
        now.insert("init".into(), state(RESTARTING));
        let held = names(&["main", "announce", "log-shipper"]);
        let ready = |now: &BTreeMap<String, TaskState>, restarting: &Restarting| {
            order.ready(&held, &restarting.view(now), false)
        };
        assert!(ready(&now, &restarting).is_empty());
        // The sidecar stops and starts again; the ephemeral task completes again.
        for (name, word) in [("proxy", RESTARTING), ("proxy", RUNNING), ("init", DONE)] {
            now.insert(name.into(), state(word));
            restarting.observe(name, &now[name]);
        }
        assert_eq!(ready(&now, &restarting), ["main"]);
        for (name, word) in [("main", RESTARTING), ("main", RUNNING)] {
            now.insert(name.into(), state(word));
            restarting.observe(name, &now[name]);
        }
        assert_eq!(
            ready(&now, &restarting),
            ["announce", "log-shipper", "main"]
        );
    }

    #[test]
    fn only_tasks_meant_to_keep_running_restart_after_success() {
        let role = |phase, sidecar| Role { phase, sidecar };
        assert!(!role(Phase::Main, false).runs_to_completion(false));
        assert!(role(Phase::Main, false).runs_to_completion(true));
        assert!(role(Phase::Prestart, false).runs_to_completion(false));
        assert!(!role(Phase::Prestart, true).runs_to_completion(true));
        assert!(!role(Phase::Poststart, true).runs_to_completion(false));
        assert!(role(Phase::Poststop, false).runs_to_completion(false));
    }
}
