//! `caravan job plan` / `caravan plan` (Nomad's `command/job_plan.go`).
//!
//! The job file is parsed exactly as `job run` parses it, then `PUT /v1/job/:id/plan`
//! asks the scheduler for a dry run. The output is Nomad's: the job diff, the
//! `Scheduler dry-run:` section, warnings, and the `Job Modify Index` paragraph for
//! `job run -check-index`. `-explain` (Caravan's addition) adds, for each task group, a
//! table of every node and why it was or was not chosen.
//!
//! Exit codes are Nomad's: 0 when no allocation would be created or destroyed, 1 when
//! some would, 255 on any error.

use std::collections::BTreeMap;

use caravan_api_types::{JobPlanRequest, JobPlanResponse, NodeExplanation};
use caravan_structs::EvalTrigger;

use crate::alloc_metrics::{format_alloc_metrics, format_g3};
use crate::colorstring::color;
use crate::columnize::format_list;
use crate::flags::{FlagKind, FlagSet};
use crate::job_file::{JobGetter, path_argument};
use crate::meta::{self, Ui};
use crate::plan_diff::{format_job_diff, go_quote};
use crate::time_format::{SECOND, TimeContext, go_duration, parse_rfc3339};

/// Nomad's exit code for "could not determine the plan".
pub const EXIT_ERROR: i32 = 255;

const HELP: &str = "Usage: caravan job plan [options] <path>
Alias: caravan plan

  Plan invokes a dry-run of the scheduler to determine the effects of submitting
  either a new or updated version of a job. The plan will not result in any
  changes to the cluster but gives insight into whether the job could be run
  successfully and how it would affect existing allocations.

  If the supplied path is \"-\", the jobfile is read from stdin. Otherwise
  it is read from the file at the supplied path.

  A job modify index is returned with the plan. This value can be used when
  submitting the job using \"caravan run -check-index\", which will check that the job
  was not modified between the plan and run command before invoking the
  scheduler. This ensures the job has not been modified since the plan.

  A structured diff between the local and remote job is displayed to
  give insight into what the scheduler will attempt to do and why.

  Plan will return one of the following exit codes:
    * 0: No allocations created or destroyed.
    * 1: Allocations created or destroyed.
    * 255: Error determining plan results.

Plan Options:

  -diff
    Determines whether the diff between the remote job and planned job is shown.
    Defaults to true.

  -explain
    Caravan's addition: after the dry-run, show for each task group every node
    with its outcome (placed, ranked, filtered, exhausted, not-ready), the
    reason it was rejected, how many allocations it would get and its scores,
    so you can see why each node was or was not chosen.

  -json
    Parses the job file as JSON (also chosen for files ending in .json).

  -hcl1
    Parses the job file as HCLv1. Takes precedence over \"-hcl2-strict\".

  -hcl2-strict
    Whether an error should be produced from the HCL2 parser where a variable
    has been supplied which is not defined within the root variables. Defaults
    to true, but ignored if \"-hcl1\" is also defined.

  -policy-override
    Sets the flag to force override any soft mandatory Sentinel policies.

  -var 'key=value'
    Variable for template, can be used multiple times.

  -var-file=path
    Path to HCL2 file containing user variables.

  -verbose
    Increase diff verbosity.
";

/// Nomad's `jobModifyIndexHelp`, with `caravan` for `nomad`.
const JOB_MODIFY_INDEX_HELP: &str = "To submit the job with version verification run:

caravan job run -check-index {index} {args}{path}

When running the job with the check-index flag, the job will only be run if the
job modify index given matches the server-side version. If the index has
changed, another user has modified the job and the plan's results are
potentially invalid.";

fn flag_set() -> FlagSet {
    FlagSet::new()
        .bools(&[
            "diff",
            "explain",
            "hcl1",
            "hcl2-strict",
            "json",
            "policy-override",
            "verbose",
        ])
        .strings(&["vault-token", "vault-namespace"])
        .flag("var", FlagKind::List)
        .flag("var-file", FlagKind::List)
}

/// What to print besides the dry run.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlanOptions {
    /// Print the job diff (`-diff`, on by default).
    pub diff: bool,
    /// Expand added and deleted objects and show unchanged fields (`-verbose`); also
    /// full node IDs in the `-explain` tables.
    pub verbose: bool,
    /// Print the node explanations (`-explain`).
    pub explain: bool,
}

/// Everything `job plan` prints after a successful request, without a trailing newline.
/// `job_type` picks the system-job wording of the failure line; `run_args` and `path`
/// complete the suggested `job run -check-index` command.
pub fn render_plan(
    response: &JobPlanResponse,
    job_type: &str,
    run_args: &str,
    path: &str,
    options: PlanOptions,
    ui: Ui,
    time: &TimeContext,
) -> String {
    let mut out = String::new();
    // Nomad: Output(fmt.Sprintf("%s\n", Color(TrimSpace(formatJobDiff(..))))).
    if options.diff
        && let Some(diff) = &response.diff
    {
        out.push_str(&color(
            format_job_diff(diff, options.verbose).trim(),
            ui.color,
        ));
        out.push_str("\n\n");
    }
    out.push_str(&color("[bold]Scheduler dry-run:[reset]", ui.color));
    out.push('\n');
    out.push_str(&color(&format_dry_run(response, job_type, time), ui.color));
    out.push_str("\n\n");
    if options.explain {
        out.push_str(&color(
            &format_node_explanations(&response.node_explanations, options.verbose),
            ui.color,
        ));
    }
    if !response.warnings.is_empty() {
        out.push_str(&color(
            &format!(
                "[bold][yellow]Job Warnings:\n{}[reset]\n",
                response.warnings
            ),
            ui.color,
        ));
        out.push('\n');
    }
    out.push_str(&color(
        &format_job_modify_index(response.job_modify_index, run_args, path),
        ui.color,
    ));
    out
}

/// Nomad's `formatDryRun` (colorstring markup): whether every allocation could be
/// placed and, if not, why, per task group; a pending rolling update; the next periodic
/// launch.
pub fn format_dry_run(response: &JobPlanResponse, job_type: &str, time: &TimeContext) -> String {
    // Nomad keeps the last rolling-update evaluation.
    let rolling = response
        .created_evals
        .iter()
        .rev()
        .find(|e| e.triggered_by == EvalTrigger::RollingUpdate);

    let mut out = String::new();
    if response.failed_tg_allocs.is_empty() {
        out.push_str("[bold][green]- All tasks successfully allocated.[reset]\n");
    } else {
        if job_type == "system" {
            out.push_str(
                "[bold][yellow]- WARNING: Failed to place allocations on all nodes.[reset]\n",
            );
        } else {
            out.push_str("[bold][yellow]- WARNING: Failed to place all allocations.[reset]\n");
        }
        // Nomad sorts the groups by name; the map is already ordered.
        for (group, metrics) in &response.failed_tg_allocs {
            let noun = if metrics.coalesced_failures > 0 {
                "allocations"
            } else {
                "allocation"
            };
            out.push_str(&format!(
                "  [yellow]Task Group {} (failed to place {} {noun}):\n[reset]",
                go_quote(group),
                metrics.coalesced_failures + 1
            ));
            out.push_str(&format!(
                "[yellow]{}[reset]\n\n",
                format_alloc_metrics(metrics, false, "    ")
            ));
        }
        if rolling.is_none() {
            strip_one_newline(&mut out);
        }
    }

    if let Some(rolling) = rolling {
        out.push_str(&format!(
            "[green]- Rolling update, next evaluation will be in {}.\n",
            go_duration(rolling.wait)
        ));
    }

    if let Some(next) = parse_rfc3339(&response.next_periodic_launch) {
        // Nomad's formatTimeDifference(now, next, time.Second): both truncated to seconds.
        let truncate = |t: i64| t - t.rem_euclid(SECOND);
        out.push_str(&format!(
            "[green]- If submitted now, next periodic launch would be at {} ({} from now).\n",
            time.format(next),
            go_duration(truncate(next) - truncate(time.now))
        ));
    }

    strip_one_newline(&mut out);
    out
}

fn strip_one_newline(text: &mut String) {
    if text.ends_with('\n') {
        text.pop();
    }
}

/// Nomad's `formatJobModifyIndex` (colorstring markup).
pub fn format_job_modify_index(index: u64, run_args: &str, path: &str) -> String {
    let help = JOB_MODIFY_INDEX_HELP
        .replace("{index}", &index.to_string())
        .replace("{args}", run_args)
        .replace("{path}", path);
    format!("[reset][bold]Job Modify Index: {index}[reset]\n{help}")
}

/// The flags the suggested `job run -check-index` needs to rebuild the same job, as
/// Nomad writes them: `-var="k=v" `, `-var-file="f" `, `-namespace="ns" `, each with a
/// trailing space.
pub fn run_args(vars: &[String], var_files: &[String], namespace: Option<&str>) -> String {
    let mut out = String::new();
    for var in vars {
        out.push_str(&format!("-var={} ", go_quote(var)));
    }
    for file in var_files {
        out.push_str(&format!("-var-file={} ", go_quote(file)));
    }
    if let Some(namespace) = namespace.filter(|n| !n.is_empty()) {
        out.push_str(&format!("-namespace={} ", go_quote(namespace)));
    }
    out
}

/// Nomad's `getExitCode`: 1 when the plan stops, places, migrates, destructively
/// updates or canaries any allocation, else 0.
///
/// Newer Nomad (#20502) no longer returns 0 just because the job spec is unchanged (a
/// missing allocation is still placed by `job run`); Caravan follows that. Caravan's
/// server counts only successful placements in `Place`, so a group that fails to place
/// also counts as "allocations would be created": Nomad's reconciler counts those
/// placements, and its `job plan` exits 1 for a job that cannot be placed.
pub fn plan_exit_code(response: &JobPlanResponse) -> i32 {
    let changes = response
        .annotations
        .desired_tg_updates
        .values()
        .any(|d| d.stop + d.place + d.migrate + d.destructive_update + d.canary > 0);
    if changes || !response.failed_tg_allocs.is_empty() {
        1
    } else {
        0
    }
}

/// How an outcome sorts in the `-explain` table: placed, then ranked, then the rest.
fn outcome_rank(outcome: &str) -> u8 {
    match outcome {
        "placed" => 0,
        "ranked" => 1,
        _ => 2,
    }
}

/// The `-explain` tables (colorstring markup), each followed by a blank line: for each
/// task group, every node with
/// its outcome, the reason it was rejected, its placements and its scores (`%.3g`, as
/// in Nomad's score table; `-` when the node was not scored). Rows go placed first,
/// then ranked (best normalized score first), then the rest grouped by outcome.
pub fn format_node_explanations(
    explanations: &BTreeMap<String, Vec<NodeExplanation>>,
    verbose: bool,
) -> String {
    if explanations.is_empty() {
        return "No node explanations in the response (the agent does not support -explain).\n\n"
            .to_string();
    }
    let mut out = String::new();
    for (group, nodes) in explanations {
        out.push_str(&format!(
            "[bold]Node explanations for Task Group {}:[reset]\n",
            go_quote(group)
        ));
        let mut score_names: Vec<&str> = nodes
            .iter()
            .flat_map(|n| n.scores.keys().map(String::as_str))
            .collect();
        score_names.sort_unstable();
        score_names.dedup();

        let mut sorted: Vec<&NodeExplanation> = nodes.iter().collect();
        let normalized = |n: &NodeExplanation| {
            n.scores
                .get("normalized-score")
                .copied()
                .unwrap_or(f64::MIN)
        };
        sorted.sort_by(|a, b| {
            outcome_rank(&a.outcome)
                .cmp(&outcome_rank(&b.outcome))
                .then_with(|| a.outcome.cmp(&b.outcome))
                .then_with(|| b.placed.cmp(&a.placed))
                .then_with(|| normalized(b).total_cmp(&normalized(a)))
                .then_with(|| a.node_name.cmp(&b.node_name))
                .then_with(|| a.node_id.cmp(&b.node_id))
        });

        let mut rows = Vec::with_capacity(sorted.len() + 1);
        let mut header = String::from("Node|Name|Outcome|Reason|Placed");
        for name in &score_names {
            header.push('|');
            header.push_str(name);
        }
        rows.push(header);
        for node in sorted {
            let mut row = format!(
                "{}|{}|{}|{}|{}",
                meta::limit(&node.node_id, meta::id_length(verbose)),
                node.node_name,
                node.outcome,
                node.reason,
                node.placed
            );
            for name in &score_names {
                row.push('|');
                match node.scores.get(*name) {
                    Some(score) => row.push_str(&format_g3(*score)),
                    None => row.push('-'),
                }
            }
            rows.push(row);
        }
        out.push_str(&format_list(&rows));
        out.push_str("\n\n");
    }
    out
}

/// `caravan job plan`.
pub fn run(args: &[String]) -> i32 {
    let parsed = match meta::parse(flag_set(), args, HELP) {
        Ok(p) => p,
        // Nomad: help is 0, any flag error 255.
        Err(0) => return 0,
        Err(_) => return EXIT_ERROR,
    };
    let path = match path_argument(&parsed, "job plan", EXIT_ERROR) {
        Ok(path) => path,
        Err(code) => return code,
    };
    let getter = JobGetter::from_flags(&parsed);
    let job = match getter.get_canonical(path, EXIT_ERROR) {
        Ok(job) => job,
        Err(code) => return code,
    };
    let client = match meta::client(&parsed) {
        Ok(c) => c,
        Err(_) => return EXIT_ERROR,
    };
    let explain = parsed.bool("explain");
    let job_type = job.job_type().as_str();
    let job_id = job.id.clone();
    let request = JobPlanRequest {
        job: Some(job),
        // Nomad always asks for the diff, whatever `-diff` says: "so we can tell if
        // there are changes".
        diff: true,
        policy_override: parsed.bool("policy-override"),
        explain,
    };
    let response = match client.run(|api| api.plan_job(&job_id, &request)) {
        Ok(r) => r,
        Err(e) => {
            meta::err(&format!("Error during plan: {e}"));
            return EXIT_ERROR;
        }
    };
    let options = PlanOptions {
        // `-diff` defaults to true.
        diff: !parsed.is_set("diff") || parsed.bool("diff"),
        verbose: parsed.bool("verbose"),
        explain,
    };
    let args = run_args(&getter.vars, &getter.var_files, parsed.string("namespace"));
    meta::out(&render_plan(
        &response,
        job_type,
        &args,
        path,
        options,
        Ui::from_flags(&parsed),
        &TimeContext::system(),
    ));
    plan_exit_code(&response)
}

#[cfg(test)]
#[path = "job_plan_tests.rs"]
mod tests;
