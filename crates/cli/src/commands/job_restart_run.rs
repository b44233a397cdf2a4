//! The `job restart` loop against the API: batches of allocations restarted in place
//! (`/v1/client/allocation/:id/restart`) or stopped and followed to their running
//! replacement (`/v1/allocation/:id/stop`), with Nomad's lines and questions. Unlike
//! Nomad, which restarts a batch's allocations concurrently, a batch's allocations are
//! handled one after another; what is printed and waited for is the same.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::time::{Duration, Instant};

use caravan_api_types::AllocationRestartRequest;
use caravan_structs::{AllocClientStatus, EvalStatus, deployment};

use crate::alloc_metrics::format_alloc_metrics;
use crate::api_client::ApiClient;
use crate::commands::job_restart::{
    BatchWait, HELP, OnError, RestartOptions, RestartTarget, allocations, filter_allocs, ordinal,
    parse_options, render_errors,
};
use crate::commands::lookup;
use crate::flags::{FlagKind, FlagSet};
use crate::meta::{self, limit};
use crate::time_format::{format_time, now_nanos};

/// How often a rescheduled allocation's replacement is looked at.
const POLL: Duration = Duration::from_millis(250);
/// Nomad reminds the user every minute that it still waits for a replacement.
const STILL_WAITING: Duration = Duration::from_secs(60);

/// One failure, and whether trying more batches is likely to fail the same way
/// (placement failures and permission errors are not, as in Nomad).
struct RestartError {
    message: String,
    recoverable: bool,
}

fn now() -> String {
    format_time(now_nanos())
}

/// A `==> <time>: <text>` line (bold in Nomad).
fn headline(text: &str) {
    meta::out(&format!("==> {}: {text}", now()));
}

/// A `    <time>: <text>` line.
fn step(text: &str) {
    meta::out(&format!("    {}: {text}", now()));
}

/// `caravan job restart`.
pub fn run(args: &[String]) -> i32 {
    let set = FlagSet::new()
        .bools(&["all-tasks", "yes", "reschedule", "verbose"])
        .strings(&["batch-size", "batch-wait", "on-error"])
        .flag("group", FlagKind::List)
        .flag("task", FlagKind::List);
    let parsed = match meta::parse(set, args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let mut options = match parse_options(&parsed, std::io::stdout().is_terminal()) {
        Ok(options) => options,
        Err(e) => {
            meta::err(&e);
            meta::err(&meta::help_hint("job restart"));
            return 1;
        }
    };
    let client = match meta::client(&parsed) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let job_id = match lookup::job_id_by_prefix(&client, &options.job, &|_| true) {
        Ok(id) => id,
        Err(e) => {
            meta::err(&e);
            return 1;
        }
    };
    options.job = job_id;
    match targets(&client, &options) {
        Ok(targets) => restart(&client, &mut options, targets),
        Err(e) => {
            meta::err(&e);
            1
        }
    }
}

/// The job's allocations, each with the job version it was placed for.
fn targets(client: &ApiClient, options: &RestartOptions) -> Result<Vec<RestartTarget>, String> {
    let job = &options.job;
    let versions = client
        .run(|api| api.job_versions(job, false))
        .map_err(|e| format!("Error retrieving versions of job {job:?}: {e}"))?
        .value
        .versions;
    let by_version: BTreeMap<u64, caravan_structs::Job> =
        versions.into_iter().map(|j| (j.version, j)).collect();
    let stubs = client
        .run(|api| api.job_allocations(job, true))
        .map_err(|e| format!("Error retrieving allocations for job {job:?}: {e}"))?
        .value;
    Ok(stubs
        .into_iter()
        .map(|alloc| RestartTarget {
            job: by_version.get(&alloc.job_version).cloned(),
            alloc,
        })
        .collect())
}

fn restart(client: &ApiClient, options: &mut RestartOptions, targets: Vec<RestartTarget>) -> i32 {
    let (targets, skipped) = filter_allocs(targets, options);
    if options.verbose {
        for line in skipped {
            step(&line);
        }
    }
    if targets.is_empty() {
        meta::out("No allocations to restart");
        return 0;
    }
    let batch_size = options.batch_size.of(targets.len());
    let length = meta::id_length(options.verbose);
    headline(&format!("Restarting {}", allocations(targets.len())));
    let mut errors: Vec<String> = Vec::new();
    let mut canceled = false;
    for (number, batch) in targets.chunks(batch_size).enumerate() {
        if let Err(e) = no_active_deployment(client, &options.job, length) {
            errors.push(e);
            break;
        }
        if batch_size > 1 {
            headline(&format!(
                "Restarting {} batch of {} allocations",
                ordinal(number + 1),
                batch.len()
            ));
        }
        let failures: Vec<RestartError> = batch
            .iter()
            .filter_map(|target| handle_alloc(client, options, target, length).err())
            .collect();
        errors.extend(failures.iter().map(|f| f.message.clone()));
        let last = (number + 1) * batch_size >= targets.len();
        if last {
            break;
        }
        let batch_failed = !failures.is_empty();
        let recoverable = failures.iter().all(|f| f.recoverable);
        if batch_failed && options.on_error == OnError::Fail {
            headline("Stopping job restart due to error");
            break;
        }
        if batch_failed && options.yes && !recoverable {
            headline("Stopping job restart due to unrecoverable error");
            break;
        }
        let ask = !options.yes
            && (options.batch_wait == BatchWait::Ask
                || (options.on_error == OnError::Ask && batch_failed));
        if ask {
            if batch_failed {
                let messages: Vec<String> = failures.iter().map(|f| f.message.clone()).collect();
                meta::err(&format!("==> {}: {}", now(), render_errors(&messages)));
            }
            if !should_proceed(options, batch_failed.then_some(recoverable)) {
                headline("Job restart canceled");
                canceled = true;
                break;
            }
        }
        if let BatchWait::Wait(wait) = options.batch_wait
            && !wait.is_zero()
        {
            headline(&format!(
                "Waiting {} before restarting the next batch",
                caravan_structs::time::format_duration(wait.as_nanos() as i64)
            ));
            std::thread::sleep(wait);
        }
    }
    if !errors.is_empty() {
        if !canceled {
            headline("Job restart finished with errors");
        }
        meta::err(&format!("\n{}", render_errors(&errors)));
        return 1;
    }
    if !canceled {
        headline("Job restart finished");
        meta::out("\nJob restarted successfully!");
    }
    0
}

/// Nomad's `ensureNoActiveDeployment`.
fn no_active_deployment(client: &ApiClient, job: &str, length: usize) -> Result<(), String> {
    let deployments = client
        .run(|api| api.job_deployments(job, true))
        .map_err(|e| format!("Error retrieving deployments for job {job:?}: {e}"))?
        .value;
    for found in deployments {
        match found.status.as_str() {
            deployment::status::FAILED
            | deployment::status::SUCCESSFUL
            | deployment::status::CANCELLED => {}
            status => {
                return Err(format!(
                    "Deployment {:?} is {status:?}",
                    limit(&found.id, length)
                ));
            }
        }
    }
    Ok(())
}

/// Nomad's `handleAlloc`: restarts or reschedules one allocation and waits for it.
fn handle_alloc(
    client: &ApiClient,
    options: &RestartOptions,
    target: &RestartTarget,
    length: usize,
) -> Result<(), RestartError> {
    let short = limit(&target.alloc.id, length);
    let result = if options.reschedule {
        reschedule(client, target, length)
    } else {
        restart_in_place(client, options, target, length)
    };
    result.map_err(|mut e| {
        e.message = format!("Error restarting allocation {short:?}: {}", e.message);
        e
    })
}

fn restart_in_place(
    client: &ApiClient,
    options: &RestartOptions,
    target: &RestartTarget,
    length: usize,
) -> Result<(), RestartError> {
    let short = limit(&target.alloc.id, length);
    let group = &target.alloc.task_group;
    let id = target.alloc.id.as_str();
    let recoverable = |message: String| RestartError {
        recoverable: !message.contains("Permission denied"),
        message,
    };
    if options.all_tasks || options.tasks.is_empty() {
        let what = if options.all_tasks {
            "all tasks"
        } else {
            "running tasks"
        };
        step(&format!(
            "Restarting {what} in allocation {short:?} for group {group:?}"
        ));
        let request = AllocationRestartRequest {
            task_name: String::new(),
            all_tasks: options.all_tasks,
        };
        return client
            .run(|api| api.restart_allocation(id, &request))
            .map_err(|e| recoverable(e.to_string()));
    }
    let mut failures = Vec::new();
    for task in options.tasks.iter().filter(|t| target.has_task(t)) {
        step(&format!(
            "Restarting task {task:?} in allocation {short:?} for group {group:?}"
        ));
        let request = AllocationRestartRequest {
            task_name: task.clone(),
            all_tasks: false,
        };
        if let Err(e) = client.run(|api| api.restart_allocation(id, &request)) {
            failures.push(format!("Failed to restart task {task:?}: {e}"));
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(recoverable(failures.join("\n* ")))
    }
}

/// Nomad's `stopAlloc`: stops the allocation, then follows its replacements until one
/// runs, or a blocked evaluation of the job since the stop says the group cannot be
/// placed.
fn reschedule(
    client: &ApiClient,
    target: &RestartTarget,
    length: usize,
) -> Result<(), RestartError> {
    let original = target.alloc.id.to_string();
    let group = &target.alloc.task_group;
    step(&format!(
        "Rescheduling allocation {:?} for group {group:?}",
        limit(&original, length)
    ));
    let stopped = client
        .run(|api| api.stop_allocation(&original))
        .map_err(|e| RestartError {
            message: format!("Failed to stop allocation: {e}"),
            recoverable: !e.to_string().contains("Permission denied"),
        })?;
    let mut current = original.clone();
    let mut reminded = Instant::now();
    loop {
        let alloc = client
            .run(|api| api.allocation(&current))
            .map_err(|e| RestartError {
                message: format!(
                    "Failed to retrieve allocation {:?}: {e}",
                    limit(&current, length)
                ),
                recoverable: true,
            })?
            .value;
        if !alloc.next_allocation.is_empty() {
            let next = alloc.next_allocation.to_string();
            step(&format!(
                "Allocation {:?} replaced by {:?}, waiting for {:?} to start running",
                limit(&alloc.id, length),
                limit(&next, length),
                limit(&next, length)
            ));
            current = next;
            continue;
        }
        if alloc.client_status == AllocClientStatus::Running && alloc.id.as_str() != original {
            step(&format!(
                "Allocation {:?} is {:?}",
                limit(&alloc.id, length),
                alloc.client_status.as_str()
            ));
            return Ok(());
        }
        placement_failure(client, &alloc.job_id, group, stopped.index, length)?;
        if reminded.elapsed() >= STILL_WAITING {
            step(&format!(
                "Still waiting for allocation {:?} to be replaced",
                limit(&original, length)
            ));
            reminded = Instant::now();
        }
        std::thread::sleep(POLL);
    }
}

/// Nomad's `monitorPlacementFailures`: a blocked evaluation created since the stop
/// with failures for the group ends the wait with them.
fn placement_failure(
    client: &ApiClient,
    job: &str,
    group: &str,
    since: u64,
    length: usize,
) -> Result<(), RestartError> {
    let evals = client
        .run(|api| api.job_evaluations(job))
        .map_err(|e| RestartError {
            message: format!("Failed to retrieve evaluations for job {job:?}: {e}"),
            recoverable: true,
        })?
        .value;
    for eval in evals {
        if eval.create_index < since || eval.status != EvalStatus::Blocked {
            continue;
        }
        if let Some(failures) = eval.failed_tg_allocs.get(group) {
            return Err(RestartError {
                message: format!(
                    "Evaluation {:?} has placement failures for group {group:?}:\n{}",
                    limit(&eval.id, length),
                    format_alloc_metrics(failures, false, "    ")
                ),
                recoverable: false,
            });
        }
    }
    Ok(())
}

/// Nomad's `shouldProceed`: asks until the answer is one it understands. `failed`:
/// `Some(recoverable)` when the batch had errors. A duration answers `-batch-wait ask`
/// and is used for the remaining batches.
fn should_proceed(options: &mut RestartOptions, failed: Option<bool>) -> bool {
    let (question, mut choices) = match failed {
        None => ("Proceed with the next batch?", "Y/n".to_string()),
        Some(true) => (
            "Ignore the errors above and proceed with the next batch?",
            "y/N".to_string(),
        ),
        Some(false) => (
            "The errors above are likely to happen again.\nIgnore them anyway and proceed with the next batch?",
            "y/N".to_string(),
        ),
    };
    if options.batch_wait == BatchWait::Ask {
        choices.push_str("/<wait duration>");
    }
    loop {
        let Some(answer) = ask(&format!("==> {}: {question} [{choices}]", now())) else {
            return false;
        };
        match answer.to_lowercase().as_str() {
            "" => return failed.is_none(),
            "y" | "yes" => return true,
            "n" | "no" => return false,
            _ if options.batch_wait == BatchWait::Ask => {
                match caravan_jobspec::parse_duration(&answer) {
                    Ok(nanos) => {
                        let wait = Duration::from_nanos(nanos.max(0) as u64);
                        options.batch_wait = BatchWait::Wait(wait);
                        headline(&format!(
                            "Proceeding restarts with new wait time of {}",
                            caravan_structs::time::format_duration(nanos)
                        ));
                        return true;
                    }
                    Err(_) => meta::out(&format!("{}Invalid answer {answer:?}", " ".repeat(31))),
                }
            }
            _ => meta::out(&format!("{}Invalid answer {answer:?}", " ".repeat(31))),
        }
    }
}

/// One line from stdin after the question; `None` at its end.
fn ask(question: &str) -> Option<String> {
    print!("{question} ");
    std::io::stdout().flush().ok();
    let mut answer = String::new();
    match std::io::stdin().lock().read_line(&mut answer) {
        Ok(n) if n > 0 => Some(answer.trim().to_string()),
        _ => None,
    }
}
