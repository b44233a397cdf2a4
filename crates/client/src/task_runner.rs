//! Runs one task of an allocation: its prestart hooks, then start, watch, restart per
//! policy, stop on request (after its pre-kill hooks); after a client restart,
//! re-attach to the task where it was left.
//!
//! Every change of the task's state is persisted ([`TaskStatus`]) before it is
//! reported, together with whether a task handle is open, so a client killed at any
//! point resumes without starting a duplicate or acting on an exit twice.
//!
//! The runner knows its driver only through [`Driver`]: what differs between drivers
//! (the paths a task sees, its default user) is in the driver's capabilities.

use std::sync::Arc;
use std::time::{Duration, Instant};

use caravan_drivers::process::parse_signal;
use caravan_drivers::{Driver, ExitResult, TaskLaunch, TaskProcess};
use caravan_structs::time::{format_duration, rfc3339};
use caravan_structs::{Task, TaskEvent, TaskState, TaskStateKind, ZERO_TIME};
use tokio::sync::{mpsc, oneshot, watch};

use crate::alloc_dir::AllocDir;
use crate::alloc_runner::RestartError;
use crate::hooks::{HookError, LogFiles, TaskHook, TaskPreKill, TaskPrestart};
use crate::restart::{RestartDecision, RestartTracker};
use crate::state_db::{self, PersistedTask, TaskStore};
use crate::task_env::TaskEnv;
use crate::task_status::TaskStatus;
use crate::{now_nanos, random_fraction};

/// `caravan executor <spec.json>`, the hidden subcommand that supervises one task.
pub use caravan_drivers::executor::run as run_executor;

/// Nomad caps any task's kill timeout at the client's `max_kill_timeout` (30 s default).
pub const MAX_KILL_TIMEOUT: Duration = Duration::from_secs(30);

/// Nomad's display message of a `Leader Task Dead` event.
const LEADER_DEAD: &str = "Leader Task in Group dead";

/// Nomad's display message of a `Main Tasks Dead` event.
const MAIN_DEAD: &str = "Main tasks in the group died";

/// Why a task is being stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KillReason {
    /// The server wants the allocation stopped.
    AllocStopped,
    /// Another task of the allocation failed.
    SiblingFailed(String),
    /// The group's `leader` task finished: the others are stopped with it.
    LeaderDead,
    /// The group's main tasks are all dead: its sidecars are stopped (Nomad's `Main
    /// Tasks Dead`).
    MainDead,
}

impl KillReason {
    /// The event a task being stopped records first: why it is stopped, unless the
    /// server asked.
    fn event(&self) -> Option<TaskEvent> {
        match self {
            KillReason::AllocStopped => None,
            KillReason::SiblingFailed(sibling) => {
                let mut sibling_event = event(
                    "Sibling Task Failed",
                    format!("Task's sibling \"{sibling}\" failed"),
                );
                sibling_event
                    .details
                    .insert("failed_sibling".into(), sibling.clone());
                Some(sibling_event)
            }
            KillReason::LeaderDead => Some(event("Leader Task Dead", LEADER_DEAD)),
            KillReason::MainDead => Some(event("Main Tasks Dead", MAIN_DEAD)),
        }
    }
}

/// A request to restart a running task in place (Nomad's `TaskRunner.Restart` with
/// `failure = false`): the task is killed with its `kill_signal` and started again at
/// once, and the restart does not count against the restart policy.
pub struct RestartRequest {
    /// The `Restart Signaled` event to record first.
    pub event: TaskEvent,
    /// Answered once the running task has exited (it starts again right after), or with
    /// [`RestartError::TaskNotRunning`]; dropped unanswered when the runner has ended.
    pub done: oneshot::Sender<Result<(), RestartError>>,
    /// Signal the running task with this instead of restarting it (a template's
    /// `change_mode = "signal"`): the event is recorded, the task keeps running.
    pub signal: Option<nix::sys::signal::Signal>,
}

/// Everything one task runner needs.
pub struct TaskRunner {
    pub task: Task,
    /// Whether a successful exit ends the task rather than restarting it: a batch
    /// job's main task, an ephemeral lifecycle task ([`crate::task_order::Role`]).
    pub batch: bool,
    pub env: TaskEnv,
    pub dir: AllocDir,
    /// The task's own directory, `dir.task(name)` (checked when the runner was made).
    pub task_dir: std::path::PathBuf,
    /// The group's network mode, `None` without a `network` block.
    pub network_mode: Option<String>,
    /// The host volumes the task mounts, or why this client cannot give them
    /// ([`crate::hooks::volumes::host_volume_mounts`]).
    pub mounts: Result<Vec<caravan_drivers::TaskMount>, String>,
    /// The client's `max_kill_timeout`: no task waits longer to be force-killed.
    pub max_kill_timeout: Duration,
    /// The task's driver; `None` when this client has no driver of that name.
    pub driver: Option<Arc<dyn Driver>>,
    /// The task's hooks, run in order ([`crate::hooks::task_hooks`]).
    pub hooks: Vec<Box<dyn TaskHook>>,
    /// Where the task's output goes: set by the logs hook (`None` to begin with).
    pub log_files: Option<LogFiles>,
    /// Where the task's state and executor records are persisted.
    pub store: TaskStore,
    /// Where every new state of the task is sent, with the task's name.
    pub updates: mpsc::UnboundedSender<(String, TaskState)>,
    /// Becomes `Some` when the task must stop.
    pub kill: watch::Receiver<Option<KillReason>>,
    /// User-requested in-place restarts, next to the kill switch.
    pub restart: mpsc::UnboundedReceiver<RestartRequest>,
    /// Whether the task may start (again) now: closed by its allocation runner while an
    /// `AllTasks` restart waits for the tasks before it in the lifecycle order.
    pub start_gate: watch::Receiver<bool>,
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

/// How long is left of the restart delay a restored task was waiting out, if it was.
fn remaining_restart_delay(state: &TaskState) -> Option<Duration> {
    if state.state != TaskStateKind::Pending {
        return None;
    }
    let last = state.events.last().filter(|e| e.r#type == "Restarting")?;
    let remaining = (last.time + last.start_delay - now_nanos()).max(0);
    Some(Duration::from_nanos(remaining as u64))
}

impl TaskRunner {
    fn kill_requested(&self) -> Option<KillReason> {
        self.kill.borrow().clone()
    }

    /// Runs the task until it is dead for good.
    ///
    /// `restored` means `task` comes from the state DB after a client restart: no new
    /// `Received`/`Task Setup` events, a task with an open handle is re-attached (no new
    /// `Started`, restart count kept), one waiting out a restart delay waits out the rest.
    pub async fn run(mut self, task: PersistedTask, restored: bool) {
        let name = self.task.name.clone();
        let mut status = TaskStatus::new(name, task, self.store.clone(), self.updates.clone())
            .for_alloc(self.dir.alloc_id());
        if !restored && status.state().events.is_empty() {
            status
                .push(event("Received", "Task received by client"))
                .await;
        }
        let mut attached: Option<TaskProcess> = None;
        let mut delay: Option<Duration> = None;
        if restored {
            if status.handle() {
                match self.recover().await {
                    Ok(process) => {
                        // Nomad emits no event for this; the log says it.
                        tracing::info!(task = %self.task.name, pid = process.pid(), "re-attached to task");
                        attached = Some(process);
                        self.restored(&mut status).await;
                    }
                    Err(error) => {
                        tracing::warn!(task = %self.task.name, %error, "cannot re-attach to task; starting it again");
                        status.set_handle(false);
                        status.publish().await;
                    }
                }
            } else {
                delay = remaining_restart_delay(status.state());
            }
        }
        let policy = self.task.restart_policy.clone().unwrap_or_default();
        let mut tracker = RestartTracker::new(policy, self.batch);
        loop {
            if let Some(delay) = delay.take() {
                let sleep = tokio::time::sleep(delay);
                tokio::pin!(sleep);
                let killed = loop {
                    tokio::select! {
                        _ = &mut sleep => break false,
                        _ = self.kill.wait_for(Option::is_some) => break true,
                        Some(request) = self.restart.recv() => {
                            // Nomad: no handle while waiting out a restart delay.
                            let _ = request.done.send(Err(RestartError::TaskNotRunning));
                        }
                    }
                };
                if killed {
                    return status.finish(false).await;
                }
                let state = status.state_mut();
                state.restarts += 1;
                state.last_restart = rfc3339(now_nanos());
            }
            let mut process = match attached.take() {
                Some(process) => {
                    if status.state().state != TaskStateKind::Running {
                        // The client died between starting the task and recording it.
                        status.started().await;
                    }
                    process
                }
                None => {
                    self.wait_for_turn().await;
                    if let Some(reason) = self.kill_requested() {
                        // A task stopped before it ever ran (its group ended while it
                        // waited for its turn) says why, as Nomad's do.
                        let started_at = status.state().started_at.as_str();
                        let never_started = started_at.is_empty() || started_at == ZERO_TIME;
                        if never_started && let Some(why) = reason.event() {
                            status.record(why);
                        }
                        return status.finish(false).await;
                    }
                    match self.prestart(&mut status).await {
                        Ok(()) => {}
                        Err(HookError::Killed) => return status.finish(false).await,
                        Err(HookError::Fatal(events)) => {
                            for event in events {
                                status.record(event);
                            }
                            return status.finish(true).await;
                        }
                        // Nomad: a recoverable hook error (a failed download) goes to the
                        // restart policy.
                        Err(HookError::Recoverable(failed)) => {
                            status.record(failed);
                            let decision = tracker.after_failure(Instant::now(), random_fraction());
                            match follow(&mut status, decision).await {
                                Some(wait) => {
                                    delay = Some(wait);
                                    continue;
                                }
                                None => return,
                            }
                        }
                    }
                    match self.start(&mut status).await {
                        Ok(process) => process,
                        Err(message) => {
                            status.set_handle(false);
                            let mut failure = event("Driver Failure", message.clone());
                            failure.driver_error = message;
                            failure.fails_task = true;
                            status.record(failure);
                            status.record(event("Not Restarting", "Error was unrecoverable"));
                            return status.finish(true).await;
                        }
                    }
                }
            };

            let woke = loop {
                let woke = tokio::select! {
                    exit = process.wait() => Wake::Exited(exit),
                    _ = self.kill.wait_for(Option::is_some) => Wake::Killed,
                    Some(request) = self.restart.recv() => Wake::Restart(request),
                };
                match woke {
                    Wake::Restart(request) if request.signal.is_some() => {
                        self.signal(&mut status, &process, request).await;
                    }
                    woke => break woke,
                }
            };
            let exit = match woke {
                Wake::Exited(exit) => exit,
                Wake::Killed => return self.kill_task(&mut status, &mut process).await,
                Wake::Restart(request) => {
                    status.push(request.event).await;
                    let exit = self.stop_process(&mut status, &mut process).await;
                    let _ = request.done.send(Ok(()));
                    // Nomad's restart tracker takes a triggered restart's hot path: no
                    // attempt counted, no delay, no reason.
                    status.set_handle(false);
                    status.record(terminated(exit, process.oom_killed()));
                    let decision = RestartDecision::Restart {
                        delay: Duration::ZERO,
                        reason: String::new(),
                    };
                    delay = follow(&mut status, decision).await;
                    continue;
                }
            };
            // The exit, the decision and the closed handle are persisted in one write.
            status.set_handle(false);
            status.record(terminated(exit, process.oom_killed()));
            let decision = tracker.after_exit(exit, Instant::now(), random_fraction());
            match follow(&mut status, decision).await {
                Some(wait) => delay = Some(wait),
                None => return,
            }
        }
    }

    /// Waits until the start gate is open or the task is to be killed. A restart asked
    /// for meanwhile is refused: the task is not running.
    async fn wait_for_turn(&mut self) {
        loop {
            tokio::select! {
                _ = self.start_gate.wait_for(|open| *open) => return,
                _ = self.kill.wait_for(Option::is_some) => return,
                Some(request) = self.restart.recv() => {
                    let _ = request.done.send(Err(RestartError::TaskNotRunning));
                }
            }
        }
    }

    /// Runs the prestart hooks, in order, until one refuses.
    async fn prestart(&mut self, status: &mut TaskStatus) -> Result<(), HookError> {
        let capabilities = self
            .driver
            .as_ref()
            .map(|driver| driver.capabilities())
            .unwrap_or_default();
        for hook in &mut self.hooks {
            let mut ctx = TaskPrestart {
                task: &self.task,
                alloc_dir: &self.dir,
                task_dir: &self.task_dir,
                env: &mut self.env,
                capabilities,
                status,
                kill: &mut self.kill,
                log_files: &mut self.log_files,
            };
            if let Err(error) = hook.prestart(&mut ctx).await {
                tracing::debug!(task = %self.task.name, hook = hook.name(), ?error, "prestart hook refused");
                return Err(error);
            }
        }
        Ok(())
    }

    /// Records the request's event and signals the running task through its driver.
    async fn signal(
        &self,
        status: &mut TaskStatus,
        process: &TaskProcess,
        request: RestartRequest,
    ) {
        let Some(signal) = request.signal else {
            return;
        };
        status.push(request.event).await;
        let sent = match &self.driver {
            Some(driver) => driver.signal(process, signal).is_ok(),
            None => {
                process.signal_group(signal);
                true
            }
        };
        let answer = if sent {
            Ok(())
        } else {
            Err(RestartError::TaskNotRunning)
        };
        let _ = request.done.send(answer);
    }

    /// Tells every hook the task was re-attached.
    async fn restored(&mut self, status: &mut TaskStatus) {
        let capabilities = self
            .driver
            .as_ref()
            .map(|driver| driver.capabilities())
            .unwrap_or_default();
        for hook in &mut self.hooks {
            let mut ctx = TaskPrestart {
                task: &self.task,
                alloc_dir: &self.dir,
                task_dir: &self.task_dir,
                env: &mut self.env,
                capabilities,
                status,
                kill: &mut self.kill,
                log_files: &mut self.log_files,
            };
            hook.restored(&mut ctx).await;
        }
    }

    /// The task's `kill_signal`, else its driver's default.
    fn kill_signal(&self) -> &str {
        if self.task.kill_signal.is_empty() {
            self.driver
                .as_ref()
                .and_then(|driver| driver.capabilities().default_kill_signal)
                .unwrap_or("")
        } else {
            &self.task.kill_signal
        }
    }

    fn kill_timeout(&self) -> Duration {
        Duration::from_nanos(self.task.kill_timeout.max(0) as u64).min(self.max_kill_timeout)
    }

    /// Starts the task: clears the executor's records, persists that a start is in flight
    /// (so a client killed from here on looks for the task instead of starting another),
    /// then starts it through its driver and records `Started`.
    async fn start(&self, status: &mut TaskStatus) -> Result<TaskProcess, String> {
        let driver = self.driver.clone().ok_or_else(|| {
            format!(
                "driver \"{}\" is not available on this client",
                self.task.driver
            )
        })?;
        let mounts = self.mounts.clone()?;
        let logs: LogFiles = self
            .log_files
            .clone()
            .ok_or("failed to open the task's log file: no log files were set up")?;
        let store = self.store.clone();
        state_db::blocking(move || store.reset_executor_dir())
            .await
            .map_err(|e| format!("failed to prepare the executor directory: {e}"))?;
        status.set_handle(true);
        status.save().await;
        // The task sees its directories where its driver puts them (`/local` in a
        // chroot), in its environment and in its config alike.
        let isolation = driver.capabilities().fs_isolation;
        // What the driver reports while it starts the task (an image pull) becomes
        // `Driver` events as it happens.
        let (driver_events, mut driver_messages) = tokio::sync::mpsc::unbounded_channel();
        let launch = TaskLaunch {
            config: self.env.interpolate_config(&self.task.config, isolation),
            env: self.env.task_view(isolation),
            task_dir: self.task_dir.clone(),
            logs,
            state_dir: self.store.executor_dir(),
            kill_signal: self.kill_signal().to_string(),
            kill_timeout: self.kill_timeout(),
            alloc_id: self
                .env
                .vars
                .get("NOMAD_ALLOC_ID")
                .cloned()
                .unwrap_or_default(),
            task_name: self.task.name.clone(),
            user: self.task.user.clone(),
            resources: self.task.resources.clone(),
            alloc_dir: self.dir.shared(),
            network_mode: self.network_mode.clone(),
            mounts,
            driver_events: Some(driver_events),
        };
        let process = {
            let starting = driver.start(&launch);
            tokio::pin!(starting);
            loop {
                tokio::select! {
                    started = &mut starting => break started,
                    Some(message) = driver_messages.recv() => {
                        status.push(event("Driver", message)).await;
                    }
                }
            }
        };
        while let Ok(message) = driver_messages.try_recv() {
            status.push(event("Driver", message)).await;
        }
        let process = process.map_err(|e| e.to_string())?;
        status.started().await;
        Ok(process)
    }

    /// Re-attaches to the task this runner started before the client restarted.
    async fn recover(&self) -> Result<TaskProcess, String> {
        let driver = self.driver.clone().ok_or_else(|| {
            format!(
                "driver \"{}\" is not available on this client",
                self.task.driver
            )
        })?;
        let state_dir = self.store.executor_dir();
        // Reads the executor's records (and may kill an unsupervised task): blocking.
        tokio::task::spawn_blocking(move || driver.recover(&state_dir).map_err(|e| e.to_string()))
            .await
            .unwrap_or_else(|error| Err(error.to_string()))
    }

    async fn kill_task(&mut self, status: &mut TaskStatus, process: &mut TaskProcess) {
        if let Some(why) = self.kill_requested().and_then(|reason| reason.event()) {
            status.push(why).await;
        }
        for hook in &mut self.hooks {
            let mut ctx = TaskPreKill {
                status: &mut *status,
                process: &mut *process,
            };
            if let Some(exit) = hook.pre_kill(&mut ctx).await {
                return killed(status, process, exit).await;
            }
        }
        let exit = self.stop_process(status, process).await;
        killed(status, process, exit).await;
    }

    /// Records `Killing`, then stops the task through its driver: `kill_signal`, SIGKILL
    /// after the kill timeout. Answers how the task exited.
    async fn stop_process(&self, status: &mut TaskStatus, process: &mut TaskProcess) -> ExitResult {
        let timeout = self.kill_timeout();
        let signal = parse_signal(self.kill_signal()).unwrap_or(nix::sys::signal::Signal::SIGINT);
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
        status.push(killing).await;
        let (exit, _forced) = match &self.driver {
            Some(driver) => driver.stop(process, signal, timeout).await,
            // A process exists only through a driver; stop it directly all the same.
            None => process.stop(signal, timeout).await,
        };
        exit
    }
}

/// Records how a task that was being killed ended (Nomad: `Killed`, not failed).
async fn killed(status: &mut TaskStatus, process: &TaskProcess, exit: ExitResult) {
    status.record(terminated(exit, process.oom_killed()));
    status.record(event("Killed", "Task successfully killed"));
    status.finish(false).await;
}

/// What ended the wait on a running task.
enum Wake {
    Exited(ExitResult),
    Killed,
    Restart(RestartRequest),
}

/// Nomad's `Restarting` event: `Task restarting in 0s` for a user's restart.
pub(crate) fn restarting(delay: Duration, reason: String) -> TaskEvent {
    let mut restarting = event(
        "Restarting",
        format!(
            "Task restarting in {}",
            format_duration(delay.as_nanos() as i64)
        ),
    );
    restarting.restart_reason = reason;
    restarting.start_delay = delay.as_nanos() as i64;
    restarting
}

/// Nomad's `Terminated` event. An OOM kill sets `Details["oom_killed"] = "true"` and the
/// message `OOM Killed` (Nomad's `TaskEvent.SetOOMKilled`), shown as the exit message;
/// the restart policy sees the non-zero exit as a failure.
fn terminated(exit: ExitResult, oom_killed: bool) -> TaskEvent {
    let mut message = if exit.signal != 0 {
        format!("Exit Code: {}, Signal: {}", exit.exit_code, exit.signal)
    } else {
        format!("Exit Code: {}", exit.exit_code)
    };
    if oom_killed {
        message.push_str(", Exit Message: \"OOM Killed\"");
    }
    let mut terminated = event("Terminated", message);
    if oom_killed {
        terminated.message = "OOM Killed".into();
        terminated
            .details
            .insert("oom_killed".into(), "true".into());
    }
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

/// Carries out the restart policy's decision: `Some(delay)` when the task starts again
/// after it (its state back to pending, the "Restarting" event sent), `None` once it is
/// dead (the reason recorded and its final state sent).
async fn follow(status: &mut TaskStatus, decision: RestartDecision) -> Option<Duration> {
    match decision {
        RestartDecision::Dead { failed, reason } => {
            if let Some(reason) = reason {
                let mut not_restarting = event("Not Restarting", reason);
                not_restarting.fails_task = failed;
                status.record(not_restarting);
            }
            status.finish(failed).await;
            None
        }
        RestartDecision::Restart { delay, reason } => {
            status.state_mut().state = TaskStateKind::Pending;
            status.push(restarting(delay, reason)).await;
            Some(delay)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_oom_kill_is_a_terminated_event_with_nomads_detail_and_message() {
        let exit = ExitResult {
            exit_code: 137,
            signal: 9,
        };
        let event = terminated(exit, true);
        assert_eq!(event.r#type, "Terminated");
        assert_eq!(
            event.display_message,
            "Exit Code: 137, Signal: 9, Exit Message: \"OOM Killed\""
        );
        assert_eq!(event.message, "OOM Killed");
        assert_eq!(event.details["oom_killed"], "true");
        let plain = terminated(exit, false);
        assert_eq!(plain.display_message, "Exit Code: 137, Signal: 9");
        assert!(!plain.details.contains_key("oom_killed"));
    }
}
