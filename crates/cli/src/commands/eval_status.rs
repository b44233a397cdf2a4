//! `caravan eval status EVAL` (Nomad's `command/eval_status.go`).

use caravan_structs::{EvalTrigger, Evaluation};

use crate::alloc_metrics::format_alloc_metrics;
use crate::columnize::format_kv;
use crate::commands::job_status::{eval_failure_status, render_eval_list};
use crate::commands::lookup;
use crate::flags::FlagSet;
use crate::meta::{self, Ui, limit};
use crate::monitor::monitor_http;
use crate::time_format::TimeContext;

const HELP: &str = "Usage: caravan eval status [options] <evaluation>

  Display information about evaluations. This command can be used to inspect the
  current status of an evaluation as well as determine the reason an evaluation
  did not place all allocations.

Eval Status Options:

  -monitor
    Monitor an outstanding evaluation

  -verbose
    Show full information.

  -json
    Output the evaluation in its JSON format.
";

/// Nomad's `getTriggerDetails`: which ID explains the trigger.
fn trigger_details(eval: &Evaluation) -> Option<(&'static str, &str)> {
    let details: Option<(&'static str, &str)> = match eval.triggered_by {
        EvalTrigger::JobRegister
        | EvalTrigger::JobDeregister
        | EvalTrigger::PeriodicJob
        | EvalTrigger::RollingUpdate
        | EvalTrigger::DeploymentWatcher => Some(("Job ID", &eval.job_id)),
        EvalTrigger::NodeUpdate => Some(("Node ID", &eval.node_id)),
        EvalTrigger::MaxPlans => Some(("Previous Eval", &eval.previous_eval)),
        _ => None,
    };
    details.filter(|(_, subject)| !subject.is_empty())
}

/// The whole `eval status` output.
pub fn render_eval_status(eval: &Evaluation, verbose: bool, ui: Ui, time: &TimeContext) -> String {
    let n = meta::id_length(verbose);
    let (created, modified) = if verbose {
        (time.format(eval.create_time), time.format(eval.modify_time))
    } else {
        (time.pretty(eval.create_time), time.pretty(eval.modify_time))
    };
    let description = if eval.status_description.is_empty() {
        eval.status.as_str()
    } else {
        &eval.status_description
    };
    let mut rows = vec![
        format!("ID|{}", limit(&eval.id, n)),
        format!("Create Time|{created}"),
        format!("Modify Time|{modified}"),
        format!("Status|{}", eval.status),
        format!("Status Description|{description}"),
        format!("Type|{}", eval.r#type),
        format!("TriggeredBy|{}", eval.triggered_by),
    ];
    if let Some((noun, subject)) = trigger_details(eval) {
        rows.push(format!("{noun}|{subject}"));
    }
    rows.push(format!("Priority|{}", eval.priority));
    rows.push(format!("Placement Failures|{}", eval_failure_status(eval)));
    if verbose {
        rows.push(format!("Previous Eval|{}", eval.previous_eval));
        rows.push(format!("Next Eval|{}", eval.next_eval));
        rows.push(format!("Blocked Eval|{}", eval.blocked_eval));
    }
    let mut out = vec![format_kv(&rows)];
    if !eval.failed_tg_allocs.is_empty() {
        out.push(ui.section("Failed Placements"));
        for (group, metrics) in &eval.failed_tg_allocs {
            let noun = if metrics.coalesced_failures > 0 {
                "allocations"
            } else {
                "allocation"
            };
            out.push(format!(
                "Task Group {group:?} (failed to place {} {noun}):",
                metrics.coalesced_failures + 1
            ));
            out.push(format_alloc_metrics(metrics, false, "  "));
            out.push(String::new());
        }
        if !eval.blocked_eval.is_empty() {
            out.push(format!(
                "Evaluation {:?} waiting for additional capacity to place remainder",
                limit(&eval.blocked_eval, n)
            ));
        }
    }
    out.join("\n")
}

/// `caravan eval status`.
pub fn run(args: &[String]) -> i32 {
    let set = FlagSet::new()
        .bools(&["monitor", "verbose", "json"])
        .strings(&["t"]);
    let parsed = match meta::parse(set, args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let [eval_id] = parsed.args.as_slice() else {
        meta::err("This command takes one argument");
        meta::err(&meta::help_hint("eval status"));
        return 1;
    };
    let client = match meta::client(&parsed) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let verbose = parsed.bool("verbose");
    let length = meta::id_length(verbose);
    if eval_id.len() == 1 {
        meta::err("Identifier must contain at least two characters.");
        return 1;
    }
    let prefix = meta::sanitize_uuid_prefix(eval_id);
    let evals = match lookup::evals_with_prefix(&client, prefix) {
        Ok(evals) => evals,
        Err(e) => {
            meta::err(&format!("Error querying evaluation: {e}"));
            return 1;
        }
    };
    if evals.is_empty() {
        meta::err(&format!(
            "No evaluation(s) with prefix or id {prefix:?} found"
        ));
        return 1;
    }
    if evals.len() > 1 {
        meta::err(&format!(
            "Prefix matched multiple evaluations\n\n{}",
            render_eval_list(&evals, length)
        ));
        return 0;
    }
    if parsed.bool("monitor") {
        return monitor_http(&client, &evals[0].id, length);
    }
    let eval: Evaluation = match client.run(|api| api.evaluation(&evals[0].id, Default::default()))
    {
        Ok(read) => read.value,
        Err(e) => {
            meta::err(&format!("Error querying evaluation: {e}"));
            return 1;
        }
    };
    if parsed.bool("json") {
        meta::out(&meta::json_pretty(&eval));
        return 0;
    }
    meta::out(&render_eval_status(
        &eval,
        verbose,
        Ui::from_flags(&parsed),
        &TimeContext::system(),
    ));
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use caravan_structs::{AllocMetric, EvalStatus, JobType};

    #[test]
    fn failed_eval_like_nomad() {
        let mut eval = Evaluation {
            id: "e183a9bb-0000-0000-0000-000000000000".into(),
            priority: 50,
            r#type: JobType::Batch,
            triggered_by: EvalTrigger::JobRegister,
            job_id: "hello-exec-batch".into(),
            status: EvalStatus::Complete,
            blocked_eval: "eb9b4c68-0000-0000-0000-000000000000".into(),
            create_time: 100 * 1_000_000_000,
            modify_time: 101 * 1_000_000_000,
            ..Evaluation::default()
        };
        eval.failed_tg_allocs.insert(
            "example".into(),
            AllocMetric {
                nodes_evaluated: 3,
                coalesced_failures: 9,
                constraint_filtered: [("${attr.os.name} = windows".to_string(), 3)].into(),
                ..AllocMetric::default()
            },
        );
        let time = TimeContext::fixed_utc(160 * 1_000_000_000);
        assert_eq!(
            render_eval_status(&eval, false, Ui::plain(), &time),
            r#"ID                 = e183a9bb
Create Time        = 1m0s ago
Modify Time        = 59s ago
Status             = complete
Status Description = complete
Type               = batch
TriggeredBy        = job-register
Job ID             = hello-exec-batch
Priority           = 50
Placement Failures = true

Failed Placements
Task Group "example" (failed to place 10 allocations):
  * Constraint "${attr.os.name} = windows" filtered 3 nodes

Evaluation "eb9b4c68" waiting for additional capacity to place remainder"#
        );
    }
}
