//! `caravan eval list` (Nomad's `command/eval_list.go`).

use caravan_api_client::EvalListQuery;
use caravan_structs::Evaluation;

use crate::columnize::format_list;
use crate::commands::job_status::eval_failure_status;
use crate::flags::{FlagKind, FlagSet};
use crate::meta::{self, limit};

const HELP: &str = "Usage: caravan eval list [options]

  List is used to list the set of evaluations processed by Caravan.

Eval List Options:

  -verbose
    Show full information.

  -per-page
    How many results to show per page.

  -page-token
    Where to start pagination.

  -filter
    Specifies an expression used to filter query results.

  -job
    Only show evaluations for this job ID.

  -status
    Only show evaluations with this status.

  -json
    Output the evaluation in its JSON format.

  -t
    Format and display evaluation using a Go template.
";

/// Nomad's `formatEvalList`.
pub fn render_eval_list(evals: &[Evaluation], verbose: bool) -> String {
    let length = meta::id_length(verbose);
    let mut rows = vec![
        "ID|Priority|Triggered By|Job ID|Namespace|Node ID|Status|Placement Failures".to_string(),
    ];
    for eval in evals {
        rows.push(format!(
            "{}|{}|{}|{}|{}|{}|{}|{}",
            limit(&eval.id, length),
            eval.priority,
            eval.triggered_by,
            eval.job_id,
            eval.namespace,
            limit(&eval.node_id, length),
            eval.status,
            eval_failure_status(eval)
        ));
    }
    format_list(&rows)
}

/// The command line without its `-page-token` (and the token), as Nomad's
/// `argsWithoutPageToken` prints it for the next page.
pub fn args_without_page_token(args: &[String]) -> String {
    let mut kept: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if arg.trim_start_matches('-').starts_with("page-token") && arg.starts_with('-') {
            i += if arg.contains('=') { 1 } else { 2 };
            continue;
        }
        kept.push(arg);
        i += 1;
    }
    kept.join(" ")
}

/// `caravan eval list`.
pub fn run(args: &[String]) -> i32 {
    let set = FlagSet::new()
        .bools(&["verbose", "json", "ui"])
        .strings(&["t", "page-token", "filter", "job", "status"])
        .flag("per-page", FlagKind::Int);
    let parsed = match meta::parse(set, args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if let Err(code) = meta::no_arguments(&parsed, "eval list") {
        return code;
    }
    if let Err(code) = meta::no_template(&parsed) {
        return code;
    }
    let client = match meta::client(&parsed) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let query = EvalListQuery {
        job: parsed.string("job").unwrap_or("").to_string(),
        status: parsed.string("status").unwrap_or("").to_string(),
        filter: parsed.string("filter").unwrap_or("").to_string(),
        per_page: parsed
            .int("per-page")
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0),
        next_token: parsed.string("page-token").unwrap_or("").to_string(),
    };
    let read = match client.run(|api| api.evaluation_list(&query)) {
        Ok(read) => read,
        Err(e) => {
            meta::err(&format!("Error querying evaluations: {e}"));
            return 1;
        }
    };
    if parsed.bool("json") {
        meta::out(&meta::json_pretty(&read.value));
        return 0;
    }
    if read.value.is_empty() {
        meta::out("No evals found");
        return 0;
    }
    meta::out(&render_eval_list(&read.value, parsed.bool("verbose")));
    if !read.next_token.is_empty() {
        let command: Vec<String> = std::env::args().collect();
        meta::out(&format!(
            "\nResults have been paginated. To get the next page run:\n\n{} -page-token {}",
            args_without_page_token(&command),
            read.next_token
        ));
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use caravan_structs::{EvalStatus, EvalTrigger};

    #[test]
    fn list_table_as_nomad_prints_it() {
        let eval = |id: &str, status: EvalStatus, node: &str| Evaluation {
            id: id.into(),
            priority: 50,
            triggered_by: EvalTrigger::JobRegister,
            job_id: "example".into(),
            namespace: "default".into(),
            node_id: node.into(),
            status,
            ..Evaluation::default()
        };
        let evals = [
            eval(
                "5a3c0ae8-1111-2222-3333-444444444444",
                EvalStatus::Complete,
                "",
            ),
            eval(
                "9e1b2c3d-1111-2222-3333-444444444444",
                EvalStatus::Blocked,
                "6477d9ed-0000-0000-0000-000000000000",
            ),
        ];
        assert_eq!(
            render_eval_list(&evals, false),
            "ID        Priority  Triggered By  Job ID   Namespace  Node ID   Status    Placement Failures
5a3c0ae8  50        job-register  example  default    <none>    complete  false
9e1b2c3d  50        job-register  example  default    6477d9ed  blocked   N/A - In Progress"
        );
    }

    #[test]
    fn the_next_page_command_drops_the_old_token() {
        let args = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<Vec<_>>();
        for (given, want) in [
            (
                args(&["caravan", "eval", "list", "-per-page", "2"]),
                "caravan eval list -per-page 2",
            ),
            (
                args(&[
                    "caravan",
                    "eval",
                    "list",
                    "-page-token",
                    "7.abc",
                    "-per-page=2",
                ]),
                "caravan eval list -per-page=2",
            ),
            (
                args(&["caravan", "eval", "list", "-page-token=7.abc", "-json"]),
                "caravan eval list -json",
            ),
        ] {
            assert_eq!(args_without_page_token(&given), want);
        }
    }
}
