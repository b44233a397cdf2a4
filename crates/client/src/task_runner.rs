//! Runs one task of an allocation: start, watch, restart per policy, stop on request;
//! after a client restart, re-attach to the task where it was left.
//!
//! Every change of the task's state is persisted ([`TaskStore`]) before it is reported,
//! together with whether a task handle is open, so a client killed at any point resumes
//! without starting a duplicate or acting on an exit twice.

use std::time::{Duration, Instant};

use caravan_drivers::process::parse_signal;
use caravan_drivers::raw_exec::launch_from_config;
use caravan_drivers::{Drivers, ExitResult, TaskLaunch, TaskProcess};
use caravan_structs::time::{format_duration, rfc3339};
use caravan_structs::{
    TASK_STATE_DEAD, TASK_STATE_PENDING, TASK_STATE_RUNNING, Task, TaskEvent, TaskState,
};
use tokio::sync::{mpsc, oneshot, watch};

use crate::alloc_dir::AllocDir;
use crate::alloc_runner::RestartError;
use crate::restart::{RestartDecision, RestartTracker};
use crate::state_db::{PersistedTask, TaskStore};
use crate::task_env::TaskEnv;
use crate::template::{TaskDirs, render_all};
use crate::{now_nanos, random_fraction};

/// How executors are launched ([`crate::Client::start_with`]), for the binary.
pub use caravan_drivers::ExecutorCommand;
/// `caravan executor <spec.json>`, the hidden subcommand that supervises one task (the
/// binary reaches the drivers crate through the client).
pub use caravan_drivers::executor::run as run_executor;

/// Nomad caps any task's kill timeout at the client's `max_kill_timeout` (30 s default).
pub const MAX_KILL_TIMEOUT: Duration = Duration::from_secs(30);

/// Nomad's display message of a `Leader Task Dead` event.
const LEADER_DEAD: &str = "Leader Task in Group dead";

/// Why a task is being stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KillReason {
    /// The server wants the allocation stopped.
    AllocStopped,
    /// Another task of the allocation failed.
    SiblingFailed(String),
    /// The group's `leader` task finished: the others are stopped with it.
    LeaderDead,
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
}

/// Everything one task runner needs.
pub struct TaskRunner {
    pub task: Task,
    pub batch: bool,
    pub env: TaskEnv,
    pub dir: AllocDir,
    /// The task's own directory, `dir.task(name)` (checked when the runner was made).
    pub task_dir: std::path::PathBuf,
    /// The group's network mode, `None` without a `network` block.
    pub network_mode: Option<String>,
    /// The client's `max_kill_timeout`: no task waits longer to be force-killed.
    pub max_kill_timeout: Duration,
    /// How long to wait before killing the task when it is stopped: the group's
    /// `shutdown_delay` and then the task's own (Nomad runs them one after the other).
    pub shutdown_delay: Duration,
    /// The job's dispatch payload (base64), for `dispatch_payload { file }`.
    pub dispatch_payload: Option<String>,
    pub raw_exec_enabled: bool,
    /// Which users tasks may run as (Nomad's validate hook).
    pub user_rules: crate::user_rules::UserRules,
    /// Starts tasks (under executors) and re-attaches to them.
    pub driver: Drivers,
    /// Where the task's state and executor records are persisted.
    pub store: TaskStore,
    /// Where every new state of the task is sent, with the task's name.
    pub updates: mpsc::UnboundedSender<(String, TaskState)>,
    /// Becomes `Some` when the task must stop.
    pub kill: watch::Receiver<Option<KillReason>>,
    /// User-requested in-place restarts, next to the kill switch.
    pub restart: mpsc::UnboundedReceiver<RestartRequest>,
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
    if state.state != TASK_STATE_PENDING {
        return None;
    }
    let last = state.events.last().filter(|e| e.r#type == "Restarting")?;
    let remaining = (last.time + last.start_delay - now_nanos()).max(0);
    Some(Duration::from_nanos(remaining as u64))
}

impl TaskRunner {
    /// Appends an event without publishing it (see [`TaskRunner::publish`]).
    fn record(&self, task: &mut PersistedTask, event: TaskEvent) {
        task.state.events.push(event);
        // Nomad keeps the last 10 events of a task.
        let excess = task.state.events.len().saturating_sub(10);
        task.state.events.drain(..excess);
    }

    /// Persists the task's state, then reports it.
    fn publish(&self, task: &PersistedTask) {
        if let Err(error) = self.store.save(task) {
            tracing::warn!(task = %self.task.name, %error, "client: failed to persist task state");
        }
        let _ = self
            .updates
            .send((self.task.name.clone(), task.state.clone()));
    }

    fn push(&self, task: &mut PersistedTask, event: TaskEvent) {
        self.record(task, event);
        self.publish(task);
    }

    fn finish(&self, task: &mut PersistedTask, failed: bool) {
        task.state.state = TASK_STATE_DEAD.to_string();
        task.state.failed = failed;
        task.state.finished_at = rfc3339(now_nanos());
        task.handle = false;
        self.publish(task);
    }

    fn kill_requested(&self) -> Option<KillReason> {
        self.kill.borrow().clone()
    }

    /// Runs the task until it is dead for good.
    ///
    /// `restored` means `task` comes from the state DB after a client restart: no new
    /// `Received`/`Task Setup` events, a task with an open handle is re-attached (no new
    /// `Started`, restart count kept), one waiting out a restart delay waits out the rest.
    pub async fn run(mut self, task: PersistedTask, restored: bool) {
        let mut task = task;
        if !restored {
            if task.state.events.is_empty() {
                self.push(&mut task, event("Received", "Task received by client"));
            }
            self.push(&mut task, event("Task Setup", "Building Task Directory"));
        }
        if let Err(error) = self.dir.build_task(&self.task.name) {
            let mut failure = event(
                "Setup Failure",
                format!("failed to build task directory: {error}"),
            );
            failure.fails_task = true;
            self.record(&mut task, failure);
            return self.finish(&mut task, true);
        }
        let mut attached: Option<TaskProcess> = None;
        let mut delay: Option<Duration> = None;
        if restored {
            if task.handle {
                match self.recover() {
                    Ok(process) => {
                        // Nomad emits no event for this; the log says it.
                        tracing::info!(task = %self.task.name, pid = process.pid(), "client: re-attached to task");
                        attached = Some(process);
                    }
                    Err(error) => {
                        tracing::warn!(task = %self.task.name, %error, "client: cannot re-attach to task; starting it again");
                        task.handle = false;
                        self.publish(&task);
                    }
                }
            } else {
                delay = remaining_restart_delay(&task.state);
            }
        }
        let policy = self.task.restart_policy.clone().unwrap_or_default();
        let mut tracker = RestartTracker::new(policy, self.batch);
        // Artifacts and templates, once per runner (Nomad keeps its hooks' state).
        let mut prestart_done = false;
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
                    return self.finish(&mut task, false);
                }
                task.state.restarts += 1;
                task.state.last_restart = rfc3339(now_nanos());
            }
            let mut process = match attached.take() {
                Some(process) => {
                    if task.state.state != TASK_STATE_RUNNING {
                        // The client died between starting the task and recording it.
                        task.state.state = TASK_STATE_RUNNING.to_string();
                        task.state.started_at = rfc3339(now_nanos());
                        self.push(&mut task, event("Started", "Task started by client"));
                    }
                    process
                }
                None => {
                    if self.kill_requested().is_some() {
                        return self.finish(&mut task, false);
                    }
                    // Nomad's validate hook, the first prestart hook: its error is
                    // not recoverable.
                    if let Err(error) = self.user_rules.check(&self.task.driver, &self.task.user) {
                        let mut failed = event("Task hook failed", format!("validate: {error}"));
                        failed.fails_task = true;
                        self.record(&mut task, failed);
                        self.record(
                            &mut task,
                            event("Not Restarting", "Error was unrecoverable"),
                        );
                        return self.finish(&mut task, true);
                    }
                    if !prestart_done {
                        match self.prestart(&mut task).await {
                            Ok(()) => prestart_done = true,
                            Err(Prestart::Killed) => return self.finish(&mut task, false),
                            Err(Prestart::Failed) => return self.finish(&mut task, true),
                            // Nomad: a failed download is recoverable, so the restart
                            // policy decides.
                            Err(Prestart::Retry) => {
                                match tracker.after_failure(Instant::now(), random_fraction()) {
                                    RestartDecision::Dead { failed, reason } => {
                                        if let Some(reason) = reason {
                                            let mut not_restarting =
                                                event("Not Restarting", reason);
                                            not_restarting.fails_task = failed;
                                            self.record(&mut task, not_restarting);
                                        }
                                        return self.finish(&mut task, failed);
                                    }
                                    RestartDecision::Restart {
                                        delay: wait,
                                        reason,
                                    } => {
                                        task.state.state = TASK_STATE_PENDING.to_string();
                                        self.push(&mut task, restarting(wait, reason));
                                        delay = Some(wait);
                                        continue;
                                    }
                                }
                            }
                        }
                    }
                    match self.start(&mut task).await {
                        Ok(process) => process,
                        Err(message) => {
                            task.handle = false;
                            let mut failure = event("Driver Failure", message.clone());
                            failure.driver_error = message;
                            failure.fails_task = true;
                            self.record(&mut task, failure);
                            self.record(
                                &mut task,
                                event("Not Restarting", "Error was unrecoverable"),
                            );
                            return self.finish(&mut task, true);
                        }
                    }
                }
            };

            let woke = tokio::select! {
                exit = process.wait() => Wake::Exited(exit),
                _ = self.kill.wait_for(Option::is_some) => Wake::Killed,
                Some(request) = self.restart.recv() => Wake::Restart(request),
            };
            let exit = match woke {
                Wake::Exited(exit) => exit,
                Wake::Killed => return self.kill_task(&mut task, &mut process).await,
                Wake::Restart(request) => {
                    self.push(&mut task, request.event);
                    let exit = self.stop_process(&mut task, &mut process).await;
                    let _ = request.done.send(Ok(()));
                    // Nomad's restart tracker takes a triggered restart's hot path: no
                    // attempt counted, no delay, no reason.
                    task.handle = false;
                    self.record(&mut task, terminated(exit, process.oom_killed()));
                    task.state.state = TASK_STATE_PENDING.to_string();
                    self.push(&mut task, restarting(Duration::ZERO, String::new()));
                    delay = Some(Duration::ZERO);
                    continue;
                }
            };
            // The exit, the decision and the closed handle are persisted in one write.
            task.handle = false;
            self.record(&mut task, terminated(exit, process.oom_killed()));
            match tracker.after_exit(exit, Instant::now(), random_fraction()) {
                RestartDecision::Dead { failed, reason } => {
                    if let Some(reason) = reason {
                        let mut not_restarting = event("Not Restarting", reason);
                        not_restarting.fails_task = failed;
                        self.record(&mut task, not_restarting);
                    }
                    return self.finish(&mut task, failed);
                }
                RestartDecision::Restart {
                    delay: restart_delay,
                    reason,
                } => {
                    task.state.state = TASK_STATE_PENDING.to_string();
                    self.push(&mut task, restarting(restart_delay, reason));
                    delay = Some(restart_delay);
                }
            }
        }
    }

    /// Nomad's artifact then template prestart hooks: fetches the artifacts, renders the
    /// templates and adds the variables of `env = true` templates to the task's
    /// environment. Failures are recorded as Nomad's events.
    async fn prestart(&mut self, task: &mut PersistedTask) -> Result<(), Prestart> {
        let task_dir = self.task_dir.clone();
        let alloc_dir = self.dir.shared();
        let dirs = TaskDirs {
            task_dir: &task_dir,
            alloc_dir: &alloc_dir,
        };
        if let Err(error) = self.write_dispatch_payload() {
            // Nomad: the dispatch payload hook's error fails the task.
            let mut failed = event("Task hook failed", format!("dispatch_payload: {error}"));
            failed.fails_task = true;
            self.record(task, failed);
            return Err(Prestart::Failed);
        }
        if !self.task.artifacts.is_empty() {
            self.push(
                task,
                event("Downloading Artifacts", "Client is downloading artifacts"),
            );
        }
        for artifact in &self.task.artifacts {
            let env = &self.env;
            let fetched = tokio::select! {
                fetched = crate::artifact::fetch(artifact, |t| env.interpolate(t), &dirs) => fetched,
                _ = self.kill.wait_for(Option::is_some) => return Err(Prestart::Killed),
            };
            if let Err(error) = fetched {
                let mut failed = event("Failed Artifact Download", error.to_string());
                failed
                    .details
                    .insert("download_error".into(), error.to_string());
                self.record(task, failed);
                return Err(Prestart::Retry);
            }
        }
        if self.task.templates.is_empty() {
            return Ok(());
        }
        let mut env = self.env.vars.clone();
        if self.task.driver == "exec" {
            // Nomad renders a chrooted task's templates with the paths it sees.
            for (key, path) in [
                ("NOMAD_ALLOC_DIR", "/alloc"),
                ("NOMAD_TASK_DIR", "/local"),
                ("NOMAD_SECRETS_DIR", "/secrets"),
            ] {
                env.insert(key.to_string(), path.to_string());
            }
        }
        match render_all(&self.task.templates, &env, &dirs) {
            // Nomad: template variables override the task's `env` block.
            Ok(vars) => {
                self.env.vars.extend(vars);
                Ok(())
            }
            // Nomad kills the task with this event; it never started, so it is dead.
            Err(error) => {
                let mut killing = event("Killing", format!("Template failed: {error}"));
                killing.fails_task = true;
                self.record(task, killing);
                Err(Prestart::Failed)
            }
        }
    }

    /// Nomad's dispatch payload hook: a dispatched job's payload, decoded, in
    /// `local/<file>` of the task's directory.
    fn write_dispatch_payload(&self) -> Result<(), String> {
        let (Some(config), Some(payload)) = (&self.task.dispatch_payload, &self.dispatch_payload)
        else {
            return Ok(());
        };
        if config.file.is_empty() {
            return Ok(());
        }
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(payload)
            .map_err(|e| format!("the payload is not base64: {e}"))?;
        let path =
            caravan_drivers::host_path::join_beneath(&self.task_dir.join("local"), &config.file)
                .map_err(|e| e.to_string())?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))
    }

    fn kill_timeout(&self) -> Duration {
        Duration::from_nanos(self.task.kill_timeout.max(0) as u64).min(self.max_kill_timeout)
    }

    /// Starts the task: clears the executor's records, persists that a start is in flight
    /// (so a client killed from here on looks for the task instead of starting another),
    /// then starts it and records `Started`.
    async fn start(&self, task: &mut PersistedTask) -> Result<TaskProcess, String> {
        let exec = match self.task.driver.as_str() {
            "raw_exec" if self.raw_exec_enabled => None,
            "raw_exec" => return Err("driver \"raw_exec\" is disabled on this client".to_string()),
            "exec" => match &self.driver.exec {
                Some(exec) => Some(exec),
                None => {
                    return Err("driver \"exec\" is not available on this client".to_string());
                }
            },
            other => {
                return Err(format!(
                    "driver \"{other}\" is not available on this client"
                ));
            }
        };
        let (command, args, work_dir) =
            launch_from_config(&self.task).map_err(|e| e.to_string())?;
        self.store
            .reset_executor_dir()
            .map_err(|e| format!("failed to prepare the executor directory: {e}"))?;
        task.handle = true;
        if let Err(error) = self.store.save(task) {
            tracing::warn!(task = %self.task.name, %error, "client: failed to persist task state");
        }
        let log_file = |stream: &str| {
            self.dir
                .log_file(&self.task.name, stream, 0)
                .map_err(|e| format!("failed to open the task's log file: {e}"))
        };
        let mut env = self.env.vars.clone();
        remove_denied_envvars(&mut env, &self.task.config);
        if exec.is_some() {
            // Nomad: a chrooted task sees its directories at their paths in the chroot.
            for (key, path) in [
                ("NOMAD_ALLOC_DIR", "/alloc"),
                ("NOMAD_TASK_DIR", "/local"),
                ("NOMAD_SECRETS_DIR", "/secrets"),
            ] {
                env.insert(key.to_string(), path.to_string());
            }
        }
        let interpolate = |text: &str| {
            if exec.is_some() {
                interpolate_chroot_dirs(&self.env.interpolate(text), &self.env, &env)
            } else {
                self.env.interpolate(text)
            }
        };
        let command = interpolate(&command);
        let args = args.iter().map(|a| interpolate(a)).collect();
        let work_dir = work_dir.map(|d| interpolate(&d).into());
        let launch = TaskLaunch {
            command,
            args,
            env,
            task_dir: self.task_dir.clone(),
            work_dir,
            stdout_path: log_file("stdout")?,
            stderr_path: log_file("stderr")?,
            state_dir: self.store.executor_dir(),
            kill_signal: self.task.kill_signal.clone(),
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
            config: self.task.config.clone(),
            alloc_dir: self.dir.shared(),
            network_mode: self.network_mode.clone(),
        };
        let started = match exec {
            Some(exec) => exec.start(&launch).await,
            None => self.driver.raw_exec.start(&launch).await,
        };
        let process = started.map_err(|e| e.to_string())?;
        task.state.state = TASK_STATE_RUNNING.to_string();
        task.state.started_at = rfc3339(now_nanos());
        self.push(task, event("Started", "Task started by client"));
        Ok(process)
    }

    /// Re-attaches to the task this runner started before the client restarted.
    fn recover(&self) -> Result<TaskProcess, caravan_drivers::DriverError> {
        let state_dir = self.store.executor_dir();
        match (&self.task.driver[..], &self.driver.exec) {
            ("exec", Some(exec)) => exec.recover(&state_dir),
            _ => self.driver.raw_exec.recover(&state_dir),
        }
    }

    async fn kill_task(&mut self, task: &mut PersistedTask, process: &mut TaskProcess) {
        match self.kill_requested() {
            Some(KillReason::SiblingFailed(sibling)) => {
                let mut sibling_event = event(
                    "Sibling Task Failed",
                    format!("Task's sibling \"{sibling}\" failed"),
                );
                sibling_event
                    .details
                    .insert("failed_sibling".into(), sibling);
                self.push(task, sibling_event);
            }
            Some(KillReason::LeaderDead) => self.push(task, event("Leader Task Dead", LEADER_DEAD)),
            _ => {}
        }
        // Nomad's shutdown delay: the task keeps running a while before its kill signal.
        if !self.shutdown_delay.is_zero() {
            let delay = self.shutdown_delay;
            self.push(
                task,
                event(
                    "Waiting for shutdown delay",
                    format!(
                        "Waiting for shutdown_delay of {} before killing the task.",
                        format_duration(delay.as_nanos() as i64)
                    ),
                ),
            );
            if let Ok(exit) = tokio::time::timeout(delay, process.wait()).await {
                return self.killed(task, process, exit);
            }
        }
        let exit = self.stop_process(task, process).await;
        self.killed(task, process, exit);
    }

    /// Records how a task that was being killed ended (Nomad: `Killed`, not failed).
    fn killed(&self, task: &mut PersistedTask, process: &TaskProcess, exit: ExitResult) {
        self.record(task, terminated(exit, process.oom_killed()));
        self.record(task, event("Killed", "Task successfully killed"));
        self.finish(task, false);
    }

    /// Records `Killing`, then stops the task's process group: `kill_signal`, SIGKILL
    /// after the kill timeout. Answers how the task exited.
    async fn stop_process(
        &mut self,
        task: &mut PersistedTask,
        process: &mut TaskProcess,
    ) -> ExitResult {
        let timeout = self.kill_timeout();
        let signal =
            parse_signal(&self.task.kill_signal).unwrap_or(nix::sys::signal::Signal::SIGINT);
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
        self.push(task, killing);
        let (exit, _forced) = process.stop(signal, timeout).await;
        exit
    }
}

/// Why the prestart hooks did not let the task start (the events are recorded).
enum Prestart {
    /// The task was told to stop meanwhile.
    Killed,
    /// A template failed: the task fails.
    Failed,
    /// An artifact failed to download: the restart policy decides.
    Retry,
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

/// The task config's `denied_envvars`: names (or `PREFIX*` / `*SUFFIX` patterns) taken
/// out of the task's environment, whatever set them.
fn remove_denied_envvars(
    env: &mut std::collections::BTreeMap<String, String>,
    config: &serde_json::Map<String, serde_json::Value>,
) {
    let Some(denied) = config.get("denied_envvars").and_then(|v| v.as_array()) else {
        return;
    };
    let patterns: Vec<&str> = denied.iter().filter_map(|v| v.as_str()).collect();
    env.retain(|name, _| {
        !patterns.iter().any(|pattern| {
            match (pattern.strip_suffix('*'), pattern.strip_prefix('*')) {
                (Some(prefix), _) => name.starts_with(prefix),
                (None, Some(suffix)) => name.ends_with(suffix),
                (None, None) => name == pattern,
            }
        })
    });
}

/// A chrooted task's `${NOMAD_*_DIR}` were interpolated to host paths; they mean the
/// paths inside the chroot.
fn interpolate_chroot_dirs(
    text: &str,
    host: &TaskEnv,
    chroot: &std::collections::BTreeMap<String, String>,
) -> String {
    let mut text = text.to_string();
    for key in ["NOMAD_SECRETS_DIR", "NOMAD_TASK_DIR", "NOMAD_ALLOC_DIR"] {
        if let (Some(host_path), Some(inside)) = (host.vars.get(key), chroot.get(key)) {
            text = text.replace(host_path.as_str(), inside);
        }
    }
    text
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
