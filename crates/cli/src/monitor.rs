//! The evaluation monitor of `job run` and `job stop` (Nomad's `command/monitor.go`,
//! in its pre-1.1 form without timestamps, as the workshop shows it):
//!
//! ```text
//! ==> Monitoring evaluation "b5edcaa7"
//!     Evaluation triggered by job "hello-exec-batch"
//!     Allocation "48154342" created: node "6477d9ed", group "example"
//!     Evaluation status changed: "pending" -> "complete"
//! ==> Evaluation "b5edcaa7" finished with status "complete"
//! ```
//!
//! An evaluation within a deployment says so (`Evaluation within deployment: "<id>"`),
//! and once it is finished the deployment is monitored, as Nomad 1.x does
//! (`==> <time>: Monitoring deployment "<id>"`, then [`crate::deployment_monitor`]).
//!
//! [`MonitorState`] is pure (data in, lines out); [`monitor`] drives it over an
//! [`EvalSource`], which is the HTTP API in the CLI and a script in tests.

use std::fmt;

use caravan_api_types::AllocationListStub;
use caravan_structs::{AllocClientStatus, AllocDesiredStatus, EvalStatus, Evaluation};

use crate::alloc_metrics::format_alloc_metrics;
use crate::api_client::{ApiClient, ApiError, QueryOptions};
use crate::deployment_monitor::{self, HttpDeploymentSource, WatchOptions};
use crate::meta::{Ui, limit};
use crate::time_format::TimeContext;

/// One line of monitor output; `Display` adds Nomad's prefixed-UI prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MonitorLine {
    /// `==> ` lines (stdout).
    Info(String),
    /// Indented lines (stdout).
    Output(String),
    /// `==> ` lines on stderr.
    Error(String),
    /// Text printed as it is on stdout (the deployment monitor's blocks).
    Raw(String),
    /// Text printed as it is on stderr.
    RawError(String),
}

impl fmt::Display for MonitorLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MonitorLine::Info(text) | MonitorLine::Error(text) => write!(f, "==> {text}"),
            MonitorLine::Output(text) => write!(f, "    {text}"),
            MonitorLine::Raw(text) | MonitorLine::RawError(text) => f.write_str(text),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct AllocState {
    id: String,
    group: String,
    node: String,
    desired: AllocDesiredStatus,
    client: AllocClientStatus,
    client_desc: String,
    index: u64,
}

/// What the monitor has seen of one evaluation so far (Nomad's `evalState`).
#[derive(Debug, Clone)]
pub struct MonitorState {
    status: EvalStatus,
    node: String,
    job: String,
    deployment: String,
    namespace: String,
    index: u64,
    /// In the order the API listed them; Nomad iterates a Go map (random order).
    allocs: Vec<AllocState>,
    length: usize,
}

impl MonitorState {
    /// The initial state: status `pending`, nothing seen. `length` is 8 or 36 (`-verbose`).
    pub fn new(length: usize) -> MonitorState {
        MonitorState {
            status: EvalStatus::Pending,
            node: String::new(),
            job: String::new(),
            deployment: String::new(),
            namespace: String::new(),
            index: 0,
            allocs: Vec::new(),
            length,
        }
    }

    /// Applies one poll of the evaluation and its allocations; returns the lines that
    /// describe what changed.
    pub fn update(&mut self, eval: &Evaluation, allocs: &[AllocationListStub]) -> Vec<MonitorLine> {
        let n = self.length;
        let mut lines = Vec::new();
        if self.node.is_empty() && !eval.node_id.is_empty() {
            lines.push(MonitorLine::Output(format!(
                "Evaluation triggered by node {:?}",
                limit(&eval.node_id, n)
            )));
        }
        if self.job.is_empty() && !eval.job_id.is_empty() {
            lines.push(MonitorLine::Output(format!(
                "Evaluation triggered by job {:?}",
                eval.job_id
            )));
        }
        if self.deployment.is_empty() && !eval.deployment_id.is_empty() {
            lines.push(MonitorLine::Output(format!(
                "Evaluation within deployment: {:?}",
                limit(&eval.deployment_id, n)
            )));
        }
        let new_allocs: Vec<AllocState> = allocs
            .iter()
            .map(|a| AllocState {
                id: a.id.to_string(),
                group: a.task_group.clone(),
                node: a.node_id.to_string(),
                desired: a.desired_status,
                client: a.client_status,
                client_desc: a.client_description.clone(),
                index: a.create_index,
            })
            .collect();
        for alloc in &new_allocs {
            match self.allocs.iter().find(|old| old.id == alloc.id) {
                None if alloc.index < eval.create_index => {
                    // Nomad: an alloc created before the eval was modified by it.
                    lines.push(MonitorLine::Output(format!(
                        "Allocation {:?} modified: node {:?}, group {:?}",
                        limit(&alloc.id, n),
                        limit(&alloc.node, n),
                        alloc.group
                    )));
                }
                None if alloc.desired == AllocDesiredStatus::Run => {
                    lines.push(MonitorLine::Output(format!(
                        "Allocation {:?} created: node {:?}, group {:?}",
                        limit(&alloc.id, n),
                        limit(&alloc.node, n),
                        alloc.group
                    )));
                }
                None => {}
                Some(old) if old.client != alloc.client => {
                    let description = if alloc.client_desc.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", alloc.client_desc)
                    };
                    lines.push(MonitorLine::Output(format!(
                        "Allocation {:?} status changed: {:?} -> {:?}{description}",
                        limit(&alloc.id, n),
                        old.client,
                        alloc.client
                    )));
                }
                Some(_) => {}
            }
        }
        // Nomad: "We skip any transitions to pending status."
        if eval.status != EvalStatus::Pending && self.status != eval.status {
            lines.push(MonitorLine::Output(format!(
                "Evaluation status changed: {:?} -> {:?}",
                self.status, eval.status
            )));
        }
        self.status = eval.status;
        self.node = eval.node_id.to_string();
        self.job = eval.job_id.to_string();
        self.deployment = eval.deployment_id.to_string();
        self.namespace = eval.namespace.clone();
        self.index = eval.create_index;
        self.allocs = new_allocs;
        lines
    }
}

/// The lines printed when `eval` is terminal, and whether placements failed.
pub fn finish_lines(eval: &Evaluation, length: usize) -> (Vec<MonitorLine>, bool) {
    let id = limit(&eval.id, length);
    if eval.failed_tg_allocs.is_empty() {
        let line = format!("Evaluation {id:?} finished with status {:?}", eval.status);
        return (vec![MonitorLine::Info(line)], false);
    }
    let mut lines = vec![MonitorLine::Info(format!(
        "Evaluation {id:?} finished with status {:?} but failed to place all allocations:",
        eval.status
    ))];
    for (group, metrics) in &eval.failed_tg_allocs {
        let count = metrics.coalesced_failures + 1;
        let noun = if metrics.coalesced_failures > 0 {
            "allocations"
        } else {
            "allocation"
        };
        lines.push(MonitorLine::Output(format!(
            "Task Group {group:?} (failed to place {count} {noun}):"
        )));
        for line in format_alloc_metrics(metrics, false, "  ").lines() {
            lines.push(MonitorLine::Output(line.to_string()));
        }
    }
    if !eval.blocked_eval.is_empty() {
        lines.push(MonitorLine::Output(format!(
            "Evaluation {:?} waiting for additional capacity to place remainder",
            limit(&eval.blocked_eval, length)
        )));
    }
    (lines, true)
}

/// Where the monitor reads evaluations from.
pub trait EvalSource {
    /// The evaluation `id`, waiting for a change past `index` when it is not 0.
    /// Returns the evaluation and the index to wait on next.
    fn evaluation(&mut self, id: &str, index: u64) -> Result<(Evaluation, u64), ApiError>;
    /// The allocations the evaluation placed or changed.
    fn allocations(&mut self, id: &str) -> Result<Vec<AllocationListStub>, ApiError>;
    /// Waits `nanos` (the eval's `Wait` before a follow-up evaluation).
    fn sleep(&mut self, nanos: i64);
    /// Now, as the monitor's timestamps print it.
    fn timestamp(&mut self) -> String;
    /// Monitors deployment `id` of `namespace` until it ends (see
    /// [`crate::deployment_monitor`]); its last status, `None` when it could not be read.
    fn watch_deployment(
        &mut self,
        id: &str,
        namespace: &str,
        length: usize,
        emit: &mut dyn FnMut(MonitorLine),
    ) -> Option<String>;
}

/// Monitors `eval_id` until it is terminal, following `NextEval`, then the deployment
/// of the last evaluation, handing every line to `emit`. Returns the exit code: 0; 2
/// when placements failed (unless the deployment then succeeded); 1 on errors and
/// when the deployment did not succeed.
pub fn monitor(
    source: &mut dyn EvalSource,
    eval_id: &str,
    length: usize,
    emit: &mut dyn FnMut(MonitorLine),
) -> i32 {
    let mut eval_id = eval_id.to_string();
    'evals: loop {
        let mut state = MonitorState::new(length);
        let mut header_written = false;
        let mut index = 0;
        loop {
            let (eval, next_index) = match source.evaluation(&eval_id, index) {
                Ok(found) => found,
                Err(_) => {
                    emit(MonitorLine::Error(format!(
                        "No evaluation with id {eval_id:?} found"
                    )));
                    return 1;
                }
            };
            index = next_index;
            if !header_written {
                emit(MonitorLine::Info(format!(
                    "Monitoring evaluation {:?}",
                    limit(&eval.id, length)
                )));
                header_written = true;
            }
            let allocs = match source.allocations(&eval.id) {
                Ok(allocs) => allocs,
                Err(e) => {
                    emit(MonitorLine::Error(format!(
                        "Error reading allocations: {e}"
                    )));
                    return 1;
                }
            };
            for line in state.update(&eval, &allocs) {
                emit(line);
            }
            if !eval.terminal() {
                continue;
            }
            let (lines, sched_failure) = finish_lines(&eval, length);
            for line in lines {
                emit(line);
            }
            if !eval.next_eval.is_empty() {
                if eval.wait != 0 {
                    emit(MonitorLine::Info(format!(
                        "Monitoring next evaluation {:?} in {}",
                        limit(&eval.next_eval, length),
                        caravan_jobspec::format_duration(eval.wait)
                    )));
                    source.sleep(eval.wait);
                }
                eval_id = eval.next_eval.to_string();
                continue 'evals;
            }
            let mut sched_failure = sched_failure;
            if !state.deployment.is_empty() {
                let (deployment, namespace) = (state.deployment.clone(), state.namespace.clone());
                emit(MonitorLine::Info(format!(
                    "{}: Monitoring deployment {:?}",
                    source.timestamp(),
                    limit(&deployment, length)
                )));
                match source
                    .watch_deployment(&deployment, &namespace, length, emit)
                    .as_deref()
                {
                    Some(caravan_structs::deployment::status::SUCCESSFUL) => sched_failure = false,
                    _ => return 1,
                }
            }
            // Nomad: placement failures get their own exit code so scripts can tell.
            return if sched_failure { 2 } else { 0 };
        }
    }
}

/// The HTTP [`EvalSource`]: blocking queries on `/v1/evaluation/:id`.
pub struct HttpEvalSource<'a> {
    client: &'a ApiClient,
}

impl<'a> HttpEvalSource<'a> {
    /// A source reading through `client`.
    pub fn new(client: &'a ApiClient) -> HttpEvalSource<'a> {
        HttpEvalSource { client }
    }
}

impl EvalSource for HttpEvalSource<'_> {
    fn evaluation(&mut self, id: &str, index: u64) -> Result<(Evaluation, u64), ApiError> {
        let started = std::time::Instant::now();
        let options = QueryOptions::blocking(index, std::time::Duration::from_secs(5));
        let read = self.client.run(|api| api.evaluation(id, options))?;
        // Guard against an agent that answers blocking queries at once with an
        // unchanged index: poll about once a second like Nomad's monitor then.
        if index != 0 && read.index <= index && started.elapsed().as_millis() < 100 {
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        let next = if read.index == 0 { index } else { read.index };
        Ok((read.value, next))
    }

    fn allocations(&mut self, id: &str) -> Result<Vec<AllocationListStub>, ApiError> {
        Ok(self.client.run(|api| api.evaluation_allocations(id))?.value)
    }

    fn sleep(&mut self, nanos: i64) {
        std::thread::sleep(std::time::Duration::from_nanos(nanos.max(0) as u64));
    }

    fn timestamp(&mut self) -> String {
        let time = TimeContext::system();
        time.format(time.now)
    }

    fn watch_deployment(
        &mut self,
        id: &str,
        namespace: &str,
        length: usize,
        emit: &mut dyn FnMut(MonitorLine),
    ) -> Option<String> {
        let tty = deployment_monitor::stdout_is_terminal();
        let options = WatchOptions {
            length,
            verbose: length == 36,
            prefixed: true,
            tty,
            wait: deployment_monitor::DEFAULT_WAIT,
            ui: Ui {
                color: tty && crate::meta::env_var("NO_COLOR").is_none(),
            },
        };
        // The evaluation's namespace: a job file may name another than the CLI's.
        let client = if namespace.is_empty() {
            self.client.clone()
        } else {
            self.client.in_namespace(namespace)
        };
        let mut source = HttpDeploymentSource::new(&client);
        deployment_monitor::watch(&mut source, id, 0, options, emit)
    }
}

/// Runs [`monitor`] against the agent, printing as Nomad does.
pub fn monitor_http(client: &ApiClient, eval_id: &str, length: usize) -> i32 {
    let mut source = HttpEvalSource::new(client);
    monitor(
        &mut source,
        eval_id,
        length,
        &mut deployment_monitor::print_line,
    )
}

#[cfg(test)]
#[path = "monitor_tests.rs"]
mod tests;
