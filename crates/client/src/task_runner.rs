//! Runs one task of an allocation: start, watch, restart per policy, stop on request.

use std::time::{Duration, Instant};

use caravan_drivers::process::parse_signal;
use caravan_drivers::raw_exec::launch_from_config;
use caravan_drivers::{ExitResult, RawExecDriver, TaskLaunch, TaskProcess};
use caravan_structs::time::{format_duration, rfc3339};
use caravan_structs::{
    TASK_STATE_DEAD, TASK_STATE_PENDING, TASK_STATE_RUNNING, Task, TaskEvent, TaskState,
};
use tokio::sync::{mpsc, watch};

use crate::alloc_dir::AllocDir;
use crate::restart::{RestartDecision, RestartTracker};
use crate::task_env::TaskEnv;
use crate::{now_nanos, random_fraction};

/// Nomad caps any task's kill timeout at the client's `max_kill_timeout` (30 s default).
pub const MAX_KILL_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a task is being stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KillReason {
    /// The server wants the allocation stopped.
    AllocStopped,
    /// Another task of the allocation failed.
    SiblingFailed(String),
}

/// Everything one task runner needs.
pub struct TaskRunner {
    pub task: Task,
    pub batch: bool,
    pub env: TaskEnv,
    pub dir: AllocDir,
    pub raw_exec_enabled: bool,
    /// Where every new state of the task is sent, with the task's name.
    pub updates: mpsc::UnboundedSender<(String, TaskState)>,
    /// Becomes `Some` when the task must stop.
    pub kill: watch::Receiver<Option<KillReason>>,
}

/// A task event with Nomad's type and display message.
pub fn event(kind: &str, message: impl Into<String>) -> TaskEvent {
    let message = message.into();
    TaskEvent {
        r#type: kind.to_string(),
        time: now_nanos(),
        display_message: message.clone(),
        message,
        ..TaskEvent::default()
    }
}

impl TaskRunner {
    fn push(&self, state: &mut TaskState, event: TaskEvent) {
        state.events.push(event);
        // Nomad keeps the last 10 events of a task.
        let excess = state.events.len().saturating_sub(10);
        state.events.drain(..excess);
        let _ = self.updates.send((self.task.name.clone(), state.clone()));
    }

    fn finish(&self, state: &mut TaskState, failed: bool) {
        state.state = TASK_STATE_DEAD.to_string();
        state.failed = failed;
        state.finished_at = rfc3339(now_nanos());
        let _ = self.updates.send((self.task.name.clone(), state.clone()));
    }

    fn kill_requested(&self) -> Option<KillReason> {
        self.kill.borrow().clone()
    }

    /// Runs the task until it is dead for good.
    pub async fn run(mut self, mut state: TaskState) {
        if state.events.is_empty() {
            self.push(&mut state, event("Received", "Task received by client"));
        }
        self.push(&mut state, event("Task Setup", "Building Task Directory"));
        if let Err(error) = self.dir.build_task(&self.task.name) {
            let mut failure = event(
                "Setup Failure",
                format!("failed to build task directory: {error}"),
            );
            failure.fails_task = true;
            self.push(&mut state, failure);
            return self.finish(&mut state, true);
        }
        let policy = self.task.restart_policy.clone().unwrap_or_default();
        let mut tracker = RestartTracker::new(policy, self.batch);
        loop {
            if self.kill_requested().is_some() {
                return self.finish(&mut state, false);
            }
            let mut process = match self.start() {
                Ok(process) => process,
                Err(message) => {
                    let mut failure = event("Driver Failure", message.clone());
                    failure.driver_error = message;
                    failure.fails_task = true;
                    self.push(&mut state, failure);
                    self.push(
                        &mut state,
                        event("Not Restarting", "Error was unrecoverable"),
                    );
                    return self.finish(&mut state, true);
                }
            };
            state.state = TASK_STATE_RUNNING.to_string();
            state.started_at = rfc3339(now_nanos());
            self.push(&mut state, event("Started", "Task started by client"));

            let exit = tokio::select! {
                exit = process.wait() => Some(exit),
                _ = self.kill.wait_for(Option::is_some) => None,
            };
            let Some(exit) = exit else {
                return self.kill_task(&mut state, &mut process).await;
            };
            self.push(&mut state, terminated(exit));
            match tracker.after_exit(exit, Instant::now(), random_fraction()) {
                RestartDecision::Dead { failed, reason } => {
                    if let Some(reason) = reason {
                        let mut not_restarting = event("Not Restarting", reason);
                        not_restarting.fails_task = failed;
                        self.push(&mut state, not_restarting);
                    }
                    return self.finish(&mut state, failed);
                }
                RestartDecision::Restart { delay, reason } => {
                    state.state = TASK_STATE_PENDING.to_string();
                    let mut restarting = event(
                        "Restarting",
                        format!(
                            "Task restarting in {}",
                            format_duration(delay.as_nanos() as i64)
                        ),
                    );
                    restarting.restart_reason = reason;
                    restarting.start_delay = delay.as_nanos() as i64;
                    self.push(&mut state, restarting);
                    let killed = tokio::select! {
                        _ = tokio::time::sleep(delay) => false,
                        _ = self.kill.wait_for(Option::is_some) => true,
                    };
                    if killed {
                        return self.finish(&mut state, false);
                    }
                    state.restarts += 1;
                    state.last_restart = rfc3339(now_nanos());
                }
            }
        }
    }

    fn start(&self) -> Result<TaskProcess, String> {
        match self.task.driver.as_str() {
            "raw_exec" if self.raw_exec_enabled => {}
            "raw_exec" => return Err("driver \"raw_exec\" is disabled on this client".to_string()),
            other => {
                return Err(format!(
                    "driver \"{other}\" is not available on this client"
                ));
            }
        }
        let (command, args, work_dir) =
            launch_from_config(&self.task).map_err(|e| e.to_string())?;
        let logs = self.dir.logs();
        let launch = TaskLaunch {
            command: self.env.interpolate(&command),
            args: args.iter().map(|a| self.env.interpolate(a)).collect(),
            env: self.env.vars.clone(),
            task_dir: self.dir.task(&self.task.name),
            work_dir: work_dir.map(|d| self.env.interpolate(&d).into()),
            stdout_path: logs.join(format!("{}.stdout.0", self.task.name)),
            stderr_path: logs.join(format!("{}.stderr.0", self.task.name)),
        };
        RawExecDriver.start(&launch).map_err(|e| e.to_string())
    }

    async fn kill_task(&mut self, state: &mut TaskState, process: &mut TaskProcess) {
        let timeout =
            Duration::from_nanos(self.task.kill_timeout.max(0) as u64).min(MAX_KILL_TIMEOUT);
        let signal =
            parse_signal(&self.task.kill_signal).unwrap_or(nix::sys::signal::Signal::SIGINT);
        if let Some(KillReason::SiblingFailed(sibling)) = self.kill_requested() {
            let mut sibling_event = event(
                "Sibling Task Failed",
                format!("Task's sibling \"{sibling}\" failed"),
            );
            sibling_event
                .details
                .insert("failed_sibling".into(), sibling);
            self.push(state, sibling_event);
        }
        let word = if signal == nix::sys::signal::Signal::SIGINT {
            "interrupt".to_string()
        } else {
            signal.to_string()
        };
        let mut killing = event(
            "Killing",
            format!(
                "Sent {word}. Waiting {} before force killing",
                format_duration(timeout.as_nanos() as i64)
            ),
        );
        killing.kill_timeout = timeout.as_nanos() as i64;
        self.push(state, killing);
        let (exit, _forced) = process.stop(signal, timeout).await;
        self.push(state, terminated(exit));
        self.push(state, event("Killed", "Task successfully killed"));
        self.finish(state, false);
    }
}

fn terminated(exit: ExitResult) -> TaskEvent {
    let message = if exit.signal != 0 {
        format!("Exit Code: {}, Signal: {}", exit.exit_code, exit.signal)
    } else {
        format!("Exit Code: {}", exit.exit_code)
    };
    let mut terminated = event("Terminated", message);
    terminated.exit_code = exit.exit_code as i64;
    terminated.signal = exit.signal as i64;
    terminated
        .details
        .insert("exit_code".into(), exit.exit_code.to_string());
    terminated
        .details
        .insert("signal".into(), exit.signal.to_string());
    terminated
}
