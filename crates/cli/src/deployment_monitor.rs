//! The deployment monitor (Nomad's `DeploymentStatusCommand.monitor`): what `job run`
//! shows after its evaluation, and `deployment status -monitor`.
//!
//! Not on a terminal, every answer of the blocking query prints a block: a blank line,
//! the time, the deployment's key/values and its `Deployed` table. On a terminal,
//! `Deployment "<id>" in progress...` stands until the end, which replaces it with
//! `✓ Deployment "<id>" successful` or `! Deployment "<id>" failed` and the last
//! block, indented as Nomad's glint layout is. A failed deployment that auto-reverts
//! is followed by the rollback's deployment, as in Nomad.
//!
//! [`watch`] is driven by a [`DeploymentSource`]: the HTTP API in the CLI, a script in
//! tests.

use std::io::IsTerminal;
use std::time::Duration;

use caravan_api_types::AllocationListStub;
use caravan_structs::{Deployment, deployment::status};

use crate::api_client::{ApiClient, ApiError, QueryOptions};
use crate::commands::job_status::render_alloc_stubs;
use crate::deployment_format::render_deployment;
use crate::meta::{Ui, limit};
use crate::monitor::MonitorLine;
use crate::time_format::TimeContext;

/// The longest a blocking query waits on the agent (Nomad's default when a monitor
/// passes no wait).
pub const DEFAULT_WAIT: Duration = Duration::from_secs(300);

/// Where the monitor reads deployments from.
pub trait DeploymentSource {
    /// The deployment `id`, waiting up to `wait` for a change past `index` when it is
    /// not 0. Returns it and the index to wait on next.
    fn deployment(
        &mut self,
        id: &str,
        index: u64,
        wait: Duration,
    ) -> Result<(Deployment, u64), ApiError>;
    /// The allocations the deployment placed (`-verbose`).
    fn allocations(&mut self, id: &str) -> Result<Vec<AllocationListStub>, ApiError>;
    /// The job's newest deployment.
    fn latest_deployment(&mut self, job_id: &str) -> Result<Option<Deployment>, ApiError>;
    /// Gives an auto-revert time to register the rollback (Nomad waits a second).
    fn wait_for_rollback(&mut self);
    /// The clock and zone timestamps are printed with.
    fn time(&mut self) -> TimeContext;
}

/// How the monitor prints.
#[derive(Debug, Clone, Copy)]
pub struct WatchOptions {
    /// 8, or 36 with `-verbose`.
    pub length: usize,
    /// `-verbose`: the deployment's allocations under each block.
    pub verbose: bool,
    /// Inside `job run`'s monitor, whose output lines are indented: a block's first
    /// (blank) line carries the indent, as Nomad's prefixed UI prints it.
    pub prefixed: bool,
    /// Whether stdout is a terminal (the in-place form).
    pub tty: bool,
    /// The blocking query's wait.
    pub wait: Duration,
    /// Styling (bold section titles).
    pub ui: Ui,
}

/// Follows deployment `id` from `index` until it ends, handing every line to `emit`.
/// Returns its last status (`successful`, `failed`, `cancelled`, `blocked`), or `None`
/// when it could not be read (the error is printed).
pub fn watch(
    source: &mut dyn DeploymentSource,
    id: &str,
    index: u64,
    options: WatchOptions,
    emit: &mut dyn FnMut(MonitorLine),
) -> Option<String> {
    let short = limit(id, options.length).to_string();
    if options.tty {
        emit(MonitorLine::Raw(format!(
            "  Deployment {short:?} in progress..."
        )));
    }
    let mut index = index;
    loop {
        let (deployment, next) = match source.deployment(id, index, options.wait) {
            Ok(found) => found,
            Err(e) => {
                let time = source.time();
                let text = format!("{}: Error fetching deployment: {e}", time.format(time.now));
                emit(if options.tty {
                    MonitorLine::Raw(format!("    {text}"))
                } else if options.prefixed {
                    MonitorLine::Error(text)
                } else {
                    MonitorLine::RawError(text)
                });
                return None;
            }
        };
        index = next;
        let block = render_block(source, &deployment, options);
        let ended = !matches!(
            deployment.status.as_str(),
            status::RUNNING | status::PAUSED | status::UNBLOCKING
        );
        if !options.tty {
            // Nomad prints "\n<block>" through the monitor's UI: the indent of a
            // prefixed UI lands on the blank line.
            emit(if options.prefixed {
                MonitorLine::Output(String::new())
            } else {
                MonitorLine::Raw(String::new())
            });
            emit(MonitorLine::Raw(block.clone()));
        }
        if !ended {
            continue;
        }
        if options.tty {
            let mark = if deployment.status == status::SUCCESSFUL {
                "✓"
            } else {
                "!"
            };
            // Replaces the in-progress line, as glint redraws its frame.
            emit(MonitorLine::Raw(format!(
                "\x1b[1A\x1b[2K  {mark} Deployment {short:?} {}",
                deployment.status
            )));
            let indented: Vec<String> = std::iter::once(String::new())
                .chain(block.lines().map(|l| format!("    {l}")))
                .chain(std::iter::once(String::new()))
                .map(|l| l.trim_end().to_string())
                .collect();
            emit(MonitorLine::Raw(indented.join("\n")));
        }
        if deployment.status == status::FAILED && deployment.auto_reverts() {
            follow_rollback(source, &deployment, options, emit);
        }
        return Some(deployment.status);
    }
}

/// After an auto-reverting failure: the rollback's deployment, when one was made.
fn follow_rollback(
    source: &mut dyn DeploymentSource,
    failed: &Deployment,
    options: WatchOptions,
    emit: &mut dyn FnMut(MonitorLine),
) {
    source.wait_for_rollback();
    if !options.tty {
        emit(MonitorLine::Raw(String::new()));
    }
    match source.latest_deployment(&failed.job_id) {
        Ok(Some(rollback)) if rollback.id != failed.id => {
            watch(source, &rollback.id, 0, options, emit);
        }
        Ok(_) => {}
        Err(e) => {
            let time = source.time();
            let text = format!(
                "{}: Error fetching deployment of previous job version: {e}",
                time.format(time.now)
            );
            emit(if options.prefixed {
                MonitorLine::Error(text)
            } else {
                MonitorLine::RawError(text)
            });
        }
    }
}

/// One update: the time, the deployment, and with `-verbose` its allocations.
fn render_block(
    source: &mut dyn DeploymentSource,
    deployment: &Deployment,
    options: WatchOptions,
) -> String {
    let time = source.time();
    let mut block = format!(
        "{}\n{}",
        time.format(time.now),
        render_deployment(deployment, options.length, options.ui, &time)
    );
    if options.verbose {
        block.push_str(&format!("\n{}\n", options.ui.section("Allocations")));
        match source.allocations(&deployment.id) {
            Ok(allocs) => block.push_str(&render_alloc_stubs(&allocs, true, &time)),
            Err(e) => block.push_str(&format!("Error fetching allocations: {e}")),
        }
    }
    block
}

/// The HTTP [`DeploymentSource`].
pub struct HttpDeploymentSource<'a> {
    client: &'a ApiClient,
}

impl<'a> HttpDeploymentSource<'a> {
    /// A source reading through `client`.
    pub fn new(client: &'a ApiClient) -> HttpDeploymentSource<'a> {
        HttpDeploymentSource { client }
    }
}

impl DeploymentSource for HttpDeploymentSource<'_> {
    fn deployment(
        &mut self,
        id: &str,
        index: u64,
        wait: Duration,
    ) -> Result<(Deployment, u64), ApiError> {
        let started = std::time::Instant::now();
        let read = self
            .client
            .run(|api| api.deployment(id, QueryOptions::blocking(index, wait)))?;
        // An agent that answers a blocking query at once with the same index would
        // make this loop spin: poll about twice a second then.
        if index != 0 && read.index <= index && started.elapsed() < Duration::from_millis(100) {
            std::thread::sleep(Duration::from_millis(500));
        }
        let next = if read.index == 0 { index } else { read.index };
        Ok((read.value, next))
    }

    fn allocations(&mut self, id: &str) -> Result<Vec<AllocationListStub>, ApiError> {
        Ok(self.client.run(|api| api.deployment_allocations(id))?.value)
    }

    fn latest_deployment(&mut self, job_id: &str) -> Result<Option<Deployment>, ApiError> {
        Ok(self
            .client
            .run(|api| api.job_latest_deployment(job_id))?
            .value)
    }

    fn wait_for_rollback(&mut self) {
        std::thread::sleep(Duration::from_secs(1));
    }

    fn time(&mut self) -> TimeContext {
        TimeContext::system()
    }
}

/// Whether the monitor runs in its terminal form.
pub fn stdout_is_terminal() -> bool {
    std::io::stdout().is_terminal()
}

/// Prints a monitor line where Nomad does: errors on stderr.
pub fn print_line(line: MonitorLine) {
    match line {
        MonitorLine::Error(_) | MonitorLine::RawError(_) => crate::meta::err(&line.to_string()),
        _ => crate::meta::out(&line.to_string()),
    }
}

#[cfg(test)]
#[path = "deployment_monitor_tests.rs"]
mod tests;
