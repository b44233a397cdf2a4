//! `caravan job restart` (Nomad 1.6's `command/job_restart.go`): a job's running
//! allocations restarted in place, or stopped and rescheduled, in batches. This file
//! holds the options and the pure choices (which allocations, which batches, what is
//! printed); `job_restart_run.rs` drives the API.

use std::collections::BTreeSet;
use std::time::Duration;

use caravan_api_types::AllocationListStub;
use caravan_structs::{AllocClientStatus, AllocDesiredStatus, Job};

use crate::flags::Parsed;
use crate::meta::limit;

pub(crate) const HELP: &str = "Usage: caravan job restart [options] <job>

  Restart or reschedule allocations for a particular job.

  Restarting the job calls the 'Restart Allocation' API endpoint to restart the
  tasks inside allocations, so the allocations themselves are not modified but
  rather restarted in-place.

  Rescheduling the job uses the 'Stop Allocation' API endpoint to stop the
  allocations and trigger the Caravan scheduler to compute new placements. This
  may cause the new allocations to be scheduled in different clients from the
  originals.

  This command can operate in batches and it waits until all restarted or
  rescheduled allocations are running again before proceeding to the next
  batch. It is also possible to specify additional time to wait between
  batches.

  By default the command restarts all running tasks in-place with one
  allocation per batch.

  When ACLs are enabled, this command requires a token with the
  'alloc-lifecycle' and 'read-job' capabilities for the job's namespace. The
  'list-jobs' capability is required to run the command with a job prefix
  instead of the exact job ID.

Restart Options:

  -all-tasks
    If set, all tasks in the allocations are restarted, even the ones that
    have already run, such as non-sidecar tasks. Tasks will restart following
    their lifecycle order. This option cannot be used with '-task'.

  -batch-size=<n|n%>
    Number of allocations to restart at once. It may be defined as a percentage
    value of the current number of running allocations. Percentage values are
    rounded up to increase parallelism. Defaults to 1.

  -batch-wait=<duration|'ask'>
    Time to wait between restart batches. If set to 'ask' the command halts
    between batches and waits for user input on how to proceed. If the answer
    is a time duration all remaining batches will use this new value. Defaults
    to 0.

  -group=<group-name>
    Only restart allocations for the given group. Can be specified multiple
    times. If no group is set all allocations for the job are restarted.

  -on-error=<'ask'|'fail'>
    Determines what action to take when an error happens during a restart
    batch. If 'ask' the command stops and waits for user confirmation on how to
    proceed. If 'fail' the command exits immediately. Defaults to 'ask'.

  -reschedule
    If set, allocations are stopped and rescheduled instead of restarted
    in-place. Since the group is not modified the restart does not create a new
    deployment, and so values defined in 'update' blocks, such as
    'max_parallel', are not taken into account. This option cannot be used with
    '-task'.

  -task=<task-name>
    Specify the task to restart. Can be specified multiple times. If groups are
    also specified the task must exist in at least one of them. If no task is
    set only tasks that are currently running are restarted. This option cannot
    be used with '-all-tasks' or '-reschedule'.

  -yes
    Automatic yes to prompts. If set, the command ignores batch errors and
    automatically proceeds with the remaining batches without waiting. Use
    '-on-error' and '-batch-wait' to adjust these behaviors.

  -verbose
    Display full information.
";

/// `-batch-size`: a number of allocations, or a percentage of the eligible ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchSize {
    Count(usize),
    Percent(usize),
}

impl BatchSize {
    /// How many allocations one batch restarts, of `eligible`: percentages round up.
    pub fn of(self, eligible: usize) -> usize {
        match self {
            BatchSize::Count(n) => n,
            BatchSize::Percent(p) => (eligible * p).div_ceil(100).max(1),
        }
    }
}

/// `-batch-wait`: a pause between batches, or a question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchWait {
    Wait(Duration),
    Ask,
}

/// `-on-error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    Ask,
    Fail,
}

/// What the flags ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartOptions {
    pub job: String,
    pub all_tasks: bool,
    pub yes: bool,
    pub batch_size: BatchSize,
    pub batch_wait: BatchWait,
    pub on_error: OnError,
    pub reschedule: bool,
    pub groups: BTreeSet<String>,
    pub tasks: BTreeSet<String>,
    pub verbose: bool,
}

/// Nomad's `parseAndValidate`: the options, or the message printed before the help
/// hint. `interactive`: whether stdout is a terminal (`ask` needs one, unless `-yes`).
pub fn parse_options(parsed: &Parsed, interactive: bool) -> Result<RestartOptions, String> {
    let [job] = parsed.args.as_slice() else {
        return Err("This command takes one argument: <job>".to_string());
    };
    let yes = parsed.bool("yes");
    let batch_size_text = parsed.string("batch-size").unwrap_or("1");
    let batch_size = parse_batch_size(batch_size_text)?;
    let batch_wait_text = parsed.string("batch-wait").unwrap_or("0s");
    let batch_wait = if batch_wait_text.eq_ignore_ascii_case("ask") {
        if !interactive && !yes {
            return Err(
                "Invalid -batch-wait value \"ask\": \"ask\" cannot be used when terminal is not interactive"
                    .to_string(),
            );
        }
        BatchWait::Ask
    } else {
        let nanos = caravan_jobspec::parse_duration(batch_wait_text)
            .map_err(|e| format!("Invalid -batch-wait value {batch_wait_text:?}: {e}"))?;
        BatchWait::Wait(Duration::from_nanos(nanos.max(0) as u64))
    };
    let on_error = match parsed.string("on-error").unwrap_or("ask") {
        "ask" => {
            if !interactive && !yes {
                return Err(
                    "Invalid -on-error value \"ask\": \"ask\" cannot be used when terminal is not interactive"
                        .to_string(),
                );
            }
            OnError::Ask
        }
        "fail" => OnError::Fail,
        other => {
            return Err(format!(
                "Invalid -on-error value {other:?}: valid options are \"ask\" and \"fail\""
            ));
        }
    };
    let tasks: BTreeSet<String> = parsed.list("task").into_iter().collect();
    let all_tasks = parsed.bool("all-tasks");
    let reschedule = parsed.bool("reschedule");
    if all_tasks && !tasks.is_empty() {
        return Err("The -all-tasks option cannot be used with -task".to_string());
    }
    if reschedule && !tasks.is_empty() {
        return Err("The -reschedule option cannot be used with -task".to_string());
    }
    Ok(RestartOptions {
        job: job.trim().to_string(),
        all_tasks,
        yes,
        batch_size,
        batch_wait,
        on_error,
        reschedule,
        groups: parsed.list("group").into_iter().collect(),
        tasks,
        verbose: parsed.bool("verbose"),
    })
}

/// `-batch-size`: `<n>` or `<n>%`, more than zero.
pub fn parse_batch_size(text: &str) -> Result<BatchSize, String> {
    let (digits, percent) = match text.strip_suffix('%') {
        Some(digits) => (digits, true),
        None => (text, false),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "Invalid -batch-size value {text:?}: batch size must be an integer or a percentage"
        ));
    }
    let n: usize = digits
        .parse()
        .map_err(|e| format!("Invalid -batch-size value {text:?}: {e}"))?;
    if n == 0 {
        return Err(format!(
            "Invalid -batch-size value {text:?}: number value must be greater than zero"
        ));
    }
    Ok(if percent {
        BatchSize::Percent(n)
    } else {
        BatchSize::Count(n)
    })
}

/// An allocation of the job with the job version it was placed for.
#[derive(Debug, Clone)]
pub struct RestartTarget {
    pub alloc: AllocationListStub,
    pub job: Option<Job>,
}

impl RestartTarget {
    /// Nomad's `HasTask`: the task has a state, or the allocation's job version has it.
    pub fn has_task(&self, task: &str) -> bool {
        if self.alloc.task_states.contains_key(task) {
            return true;
        }
        self.job
            .as_ref()
            .and_then(|j| j.group(&self.alloc.task_group))
            .is_some_and(|g| g.tasks.iter().any(|t| t.name == task))
    }

    /// Nomad's `IsRunning`: running on its client, or meant to run.
    pub fn is_running(&self) -> bool {
        self.alloc.client_status == AllocClientStatus::Running
            || self.alloc.desired_status == AllocDesiredStatus::Run
    }
}

/// Nomad's `filterAllocs`: the allocations to restart, and (for `-verbose`) a line for
/// each one skipped, without its `    <time>: ` prefix.
pub fn filter_allocs(
    targets: Vec<RestartTarget>,
    options: &RestartOptions,
) -> (Vec<RestartTarget>, Vec<String>) {
    let length = crate::meta::id_length(options.verbose);
    let mut kept = Vec::new();
    let mut skipped = Vec::new();
    for target in targets {
        let short = limit(&target.alloc.id, length).to_string();
        if !target.is_running() {
            // Nomad prints the two statuses the other way round; kept as it prints them.
            skipped.push(format!(
                "Skipping allocation {short:?} because desired status is {:?} and client status is {:?}",
                target.alloc.client_status.as_str(),
                target.alloc.desired_status.as_str()
            ));
            continue;
        }
        if !options.groups.is_empty() && !options.groups.contains(&target.alloc.task_group) {
            skipped.push(format!(
                "Skipping allocation {short:?} because it doesn't have any of requested groups"
            ));
            continue;
        }
        if !options.tasks.is_empty() && !options.tasks.iter().any(|t| target.has_task(t)) {
            skipped.push(format!(
                "Skipping allocation {short:?} because it doesn't have any of requested tasks"
            ));
            continue;
        }
        kept.push(target);
    }
    (kept, skipped)
}

/// go-humanize's `Ordinal`: `1st`, `2nd`, `3rd`, `4th`, `11th`, `21st`.
pub fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// go-humanize's `english.Plural` for allocations: `1 allocation`, `3 allocations`.
pub fn allocations(n: usize) -> String {
    if n == 1 {
        "1 allocation".to_string()
    } else {
        format!("{n} allocations")
    }
}

/// The error list printed at the end: `2 errors occurred while restarting job:` and
/// one `* ...` line each.
pub fn render_errors(errors: &[String]) -> String {
    let noun = if errors.len() == 1 { "error" } else { "errors" };
    let mut out = format!("{} {noun} occurred while restarting job:", errors.len());
    for error in errors {
        out.push_str(&format!("\n* {}", error.trim()));
    }
    out
}

#[cfg(test)]
#[path = "job_restart_tests.rs"]
mod tests;
