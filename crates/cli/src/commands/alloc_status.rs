//! `caravan alloc status ALLOC` (Nomad's `command/alloc_status.go`).

use caravan_api_types::{AllocResourceUsage, ResourceUsage};
use caravan_structs::{Allocation, TaskEvent, TaskState};

use crate::alloc_metrics::format_alloc_metrics;
use crate::byte_size::ibytes_mb;
use crate::columnize::{format_kv, format_list, format_list_with_spaces};
use crate::commands::lookup;
use crate::flags::FlagSet;
use crate::meta::{self, Ui, limit};
use crate::resource_usage::{cpu_cell, memory_cell, render_verbose_usage};
use crate::time_format::TimeContext;
use caravan_jobspec::format_duration;

const HELP: &str = "Usage: caravan alloc status [options] <allocation>

  Display information about existing allocations and its tasks. This command can
  be used to inspect the current status of an allocation, including its running
  status, metadata, and verbose failure messages reported by internal
  subsystems.

Alloc Status Options:

  -short
    Display short output. Shows only the most recent task event.

  -stats
    Display detailed resource usage statistics.

  -verbose
    Show full information.

  -json
    Output the allocation in its JSON format.
";

/// Display options of `alloc status`.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllocStatusOptions {
    /// `-verbose`: full IDs, absolute times, placement metrics.
    pub verbose: bool,
    /// `-short`: one line per task.
    pub short: bool,
    /// `-stats`: the `Memory Stats` and `CPU Stats` tables under each task's resources.
    pub stats: bool,
}

/// The whole `alloc status` output (no trailing newline), without live statistics.
pub fn render_alloc_status(
    alloc: &Allocation,
    opts: AllocStatusOptions,
    ui: Ui,
    time: &TimeContext,
) -> String {
    render_alloc_status_with_stats(alloc, None, opts, ui, time)
}

/// The whole `alloc status` output (no trailing newline). With `stats` (the agent's
/// `/v1/client/allocation/:id/stats` answer) the task resources show live usage.
pub fn render_alloc_status_with_stats(
    alloc: &Allocation,
    stats: Option<&AllocResourceUsage>,
    opts: AllocStatusOptions,
    ui: Ui,
    time: &TimeContext,
) -> String {
    let mut out = Vec::new();
    if opts.short {
        out.push(format_kv(&[
            format!("ID|{}", alloc.id),
            format!("Name|{}", alloc.name),
            format!("Created|{}", time.pretty(alloc.create_time)),
            format!("Modified|{}", time.pretty(alloc.modify_time)),
        ]));
        out.push(ui.section("Tasks"));
        let mut rows = vec!["Name|State|Last Event|Time|Lifecycle".to_string()];
        for (name, state) in &alloc.task_states {
            let (event, at) = state
                .events
                .last()
                .map(|e| (e.r#type.clone(), time.format(e.time)))
                .unwrap_or_default();
            rows.push(format!(
                "{name}|{}|{event}|{at}|{}",
                state.state,
                lifecycle_column(alloc, name)
            ));
        }
        out.push(format_list(&rows));
        return out.join("\n");
    }
    out.push(render_basic_info(alloc, opts.verbose, time));
    for (name, state) in &alloc.task_states {
        out.push(ui.bold(&format!("\nTask {name:?} is {:?}", state.state)));
        let usage = stats.and_then(|s| s.task(name));
        if let Some(resources) = render_task_resources(alloc, name, usage, opts.stats) {
            out.push(resources);
        }
        out.push(String::new());
        out.push(render_task_status(state, time));
    }
    if opts.verbose {
        out.push(ui.section("Placement Metrics"));
        out.push(format_alloc_metrics(&alloc.metrics, true, "  "));
    }
    out.join("\n")
}

/// The `Lifecycle` column of the short task list: `main`, or the task's hook followed by
/// `sidecar` for a sidecar (Nomad's `shortTaskStatus`).
fn lifecycle_column(alloc: &Allocation, task: &str) -> String {
    let lifecycle = alloc
        .job
        .as_ref()
        .and_then(|job| job.group(&alloc.task_group))
        .and_then(|group| group.tasks.iter().find(|t| t.name == task))
        .and_then(|t| t.lifecycle.as_ref());
    match lifecycle {
        None => "main".to_string(),
        Some(l) if l.sidecar => format!("{} sidecar", l.hook),
        Some(l) => l.hook.clone(),
    }
}

/// Nomad's `formatAllocBasicInfo`.
fn render_basic_info(alloc: &Allocation, verbose: bool, time: &TimeContext) -> String {
    let n = meta::id_length(verbose);
    let (created, modified) = if verbose {
        (
            time.format(alloc.create_time),
            time.format(alloc.modify_time),
        )
    } else {
        (
            time.pretty(alloc.create_time),
            time.pretty(alloc.modify_time),
        )
    };
    let mut rows = vec![
        format!("ID|{}", alloc.id),
        format!("Eval ID|{}", limit(&alloc.eval_id, n)),
        format!("Name|{}", alloc.name),
        format!("Node ID|{}", limit(&alloc.node_id, n)),
        format!("Node Name|{}", alloc.node_name),
        format!("Job ID|{}", alloc.job_id),
        format!("Job Version|{}", alloc.job_version()),
        format!("Client Status|{}", alloc.client_status),
        format!("Client Description|{}", alloc.client_description),
        format!("Desired Status|{}", alloc.desired_status),
        format!("Desired Description|{}", alloc.desired_description),
        format!("Created|{created}"),
        format!("Modified|{modified}"),
    ];
    // Nomad: the deployment's view of the allocation, when a deployment placed it.
    if !alloc.deployment_id.is_empty() {
        let status = alloc.deployment_status.clone().unwrap_or_default();
        let health = match status.healthy {
            Some(true) => "healthy",
            Some(false) => "unhealthy",
            None => "unset",
        };
        rows.push(format!("Deployment ID|{}", limit(&alloc.deployment_id, n)));
        rows.push(format!("Deployment Health|{health}"));
        if status.canary {
            rows.push("Canary|true".to_string());
        }
    }
    if !alloc.next_allocation.is_empty() {
        rows.push(format!(
            "Replacement Alloc ID|{}",
            limit(&alloc.next_allocation, n)
        ));
    }
    if verbose {
        let m = &alloc.metrics;
        rows.push(format!("Evaluated Nodes|{}", m.nodes_evaluated));
        rows.push(format!("Filtered Nodes|{}", m.nodes_filtered));
        rows.push(format!("Exhausted Nodes|{}", m.nodes_exhausted));
        rows.push(format!(
            "Allocation Time|{}",
            format_duration(m.allocation_time)
        ));
        rows.push(format!("Failures|{}", m.coalesced_failures));
    }
    format_kv(&rows)
}

/// Nomad's `outputTaskResources`: `Task Resources:` and its table, `None` when the
/// allocation has no resources for the task. With live usage the CPU and Memory cells
/// read `<used>/<reserved>`; with `display_stats` as well, Nomad's verbose tables follow.
///
/// Nomad prints this table without replacing empty cells; Caravan shows `<none>` for an
/// empty Addresses cell, as its other tables do.
fn render_task_resources(
    alloc: &Allocation,
    task: &str,
    usage: Option<&ResourceUsage>,
    display_stats: bool,
) -> Option<String> {
    let resources = alloc.allocated_resources.tasks.get(task)?;
    let memory = &resources.memory;
    let mut rows = vec![
        "CPU|Memory|Disk|Addresses".to_string(),
        format!(
            "{} MHz|{}|{}|<none>",
            cpu_cell(resources.cpu.cpu_shares, usage),
            memory_cell(&ibytes_mb(memory.memory_mb), usage),
            ibytes_mb(alloc.allocated_resources.shared.disk_mb)
        ),
    ];
    // Nomad: a second row names the memory_max (oversubscription) limit.
    if memory.memory_max_mb != 0 && memory.memory_max_mb != memory.memory_mb {
        rows.push(format!("|Max: {}||", ibytes_mb(memory.memory_max_mb)));
    }
    let table = format_list_with_spaces(&rows);
    let mut out = format!("Task Resources:\n{table}");
    if display_stats && let Some(usage) = usage {
        let verbose = render_verbose_usage(usage);
        if !verbose.is_empty() {
            out.push_str("\n\n");
            out.push_str(&verbose);
        }
    }
    Some(out)
}

/// Nomad's `outputTaskStatus`: `Task Events:` key/values and `Recent Events:`, newest first.
fn render_task_status(state: &TaskState, time: &TimeContext) -> String {
    let basic = format_kv(&[
        format!("Started At|{}", time.task_time(&state.started_at)),
        format!("Finished At|{}", time.task_time(&state.finished_at)),
        format!("Total Restarts|{}", state.restarts),
        format!("Last Restart|{}", time.task_time(&state.last_restart)),
    ]);
    let mut rows = vec!["Time|Type|Description".to_string()];
    for event in state.events.iter().rev() {
        let message = if event.display_message.is_empty() {
            display_message(event)
        } else {
            event.display_message.clone()
        };
        rows.push(format!(
            "{}|{}|{}",
            time.format(event.time),
            event.r#type,
            message
        ));
    }
    format!(
        "Task Events:\n{basic}\n\nRecent Events:\n{}",
        format_list(&rows)
    )
}

/// Nomad's `buildDisplayMessage`, for events the agent sent without `DisplayMessage`.
pub fn display_message(event: &TaskEvent) -> String {
    let or = |text: &str, fallback: &str| {
        if text.is_empty() {
            fallback.to_string()
        } else {
            text.to_string()
        }
    };
    match event.r#type.as_str() {
        "Started" => "Task started by client".to_string(),
        "Received" => "Task received by client".to_string(),
        "Driver Failure" => or(&event.driver_error, "Failed to start task"),
        "Downloading Artifacts" => "Client is downloading artifacts".to_string(),
        "Killing" if event.kill_timeout != 0 => format!(
            "Sent interrupt. Waiting {} before force killing",
            format_duration(event.kill_timeout)
        ),
        "Killing" => "Sent interrupt".to_string(),
        "Killed" => "Task successfully killed".to_string(),
        "Terminated" => {
            let mut parts = vec![format!("Exit Code: {}", event.exit_code)];
            if event.signal != 0 {
                parts.push(format!("Signal: {}", event.signal));
            }
            if !event.message.is_empty() {
                parts.push(format!("Exit Message: {:?}", event.message));
            }
            parts.join(", ")
        }
        "Restarting" => {
            let delay = format!("Task restarting in {}", format_duration(event.start_delay));
            if event.restart_reason.is_empty() || event.restart_reason == "Restart within policy" {
                delay
            } else {
                format!("{} - {delay}", event.restart_reason)
            }
        }
        "Not Restarting" => or(&event.restart_reason, "Task exceeded restart policy"),
        "Leader Task Dead" => "Leader Task in Group dead".to_string(),
        _ => event.message.clone(),
    }
}

/// `caravan alloc status`.
pub fn run(args: &[String]) -> i32 {
    let set = FlagSet::new()
        .bools(&["short", "verbose", "json", "stats"])
        .strings(&["t"]);
    let parsed = match meta::parse(set, args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let [alloc_id] = parsed.args.as_slice() else {
        meta::err("This command takes one of the following argument conditions:");
        meta::err(" * A single <allocation>");
        meta::err(&meta::help_hint("alloc status"));
        return 1;
    };
    let client = match meta::client(&parsed) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let verbose = parsed.bool("verbose");
    let alloc = match lookup::find_alloc(&client, alloc_id, verbose) {
        Ok(a) => a,
        Err(code) => return code,
    };
    if parsed.bool("json") {
        meta::out(&meta::json_pretty(&alloc));
        return 0;
    }
    let opts = AllocStatusOptions {
        verbose,
        short: parsed.bool("short"),
        stats: parsed.bool("stats"),
    };
    // Nomad reads the live usage for every full status. Without it (a terminal
    // allocation, an agent without the endpoint) today's reserved figures are shown;
    // the error is printed only when -stats asked for the figures.
    let stats = if opts.short {
        None
    } else {
        match client.run(|api| api.allocation_stats(&alloc.id)) {
            Ok(read) => Some(read.value),
            Err(e) => {
                if opts.stats {
                    meta::err(&format!("Couldn't retrieve stats: {e}"));
                }
                None
            }
        }
    };
    meta::out(&render_alloc_status_with_stats(
        &alloc,
        stats.as_ref(),
        opts,
        Ui::from_flags(&parsed),
        &TimeContext::system(),
    ));
    0
}

#[cfg(test)]
#[path = "alloc_status_tests.rs"]
mod tests;
