//! `caravan eval delete` (Nomad's `command/eval_delete.go`): evaluations deleted by ID
//! or by filter, with the eval broker paused.

use std::io::{BufRead, Write};

use caravan_api_types::EvalDeleteRequest;

use crate::api_client::ApiClient;
use crate::commands::lookup;
use crate::flags::FlagSet;
use crate::meta;

const HELP: &str = "Usage: caravan eval delete [options] <evaluation>

  Delete an evaluation by ID. If the evaluation ID is omitted, this command
  will use the filter flag to identify and delete a set of evaluations. If ACLs
  are enabled, this command requires a management ACL token.

  This command should be used cautiously and only in outage situations where
  there is a large backlog of evaluations not being processed. During most
  normal and outage scenarios, Caravan's reconciliation and state management will
  handle evaluations as needed.

  The eval broker is expected to be paused prior to running this command and
  un-paused after. This can be done using the following two commands:
    - caravan operator scheduler set-config -pause-eval-broker=true
    - caravan operator scheduler set-config -pause-eval-broker=false

Eval Delete Options:

  -filter
    Specifies an expression used to filter evaluations by for deletion. When
    using this flag, it is advisable to ensure the syntax is correct using the
    eval list command first.

  -yes
    Bypass the confirmation prompt if an evaluation ID was not provided.
";

/// Nomad's `verifyArgsAndFlags`: an ID or a filter, not both, and one ID at most.
pub fn check_args(args: &[String], filter: &str) -> Result<(), String> {
    if (filter.is_empty() && args.is_empty()) || (!filter.is_empty() && !args.is_empty()) {
        return Err("evaluation ID or filter flag required".to_string());
    }
    if args.len() > 1 {
        return Err(format!("expected 1 argument, got {}", args.len()));
    }
    Ok(())
}

/// The closing line: how many were deleted.
pub fn render_deleted(count: usize) -> String {
    let noun = if count > 1 {
        "evaluations"
    } else {
        "evaluation"
    };
    format!("Successfully deleted {count} {noun}")
}

/// Nomad's `askQuestion` verdicts: `Ok(())` to go on, else the line to print (if
/// any) and the exit code.
pub fn confirmation(answer: &str) -> Result<(), (Option<&'static str>, i32)> {
    let lower = answer.to_lowercase();
    if answer.is_empty() || lower.starts_with('n') {
        Err((Some("Cancelling eval deletion"), 0))
    } else if lower.starts_with('y') && answer.len() > 1 {
        Err((Some("For confirmation, an exact ‘y’ is required."), 0))
    } else if answer != "y" {
        Err((
            Some("No confirmation detected. For confirmation, an exact 'y' is required."),
            1,
        ))
    } else {
        Ok(())
    }
}

fn ask(question: &str) -> Result<String, String> {
    print!("{question} ");
    std::io::stdout().flush().ok();
    let mut answer = String::new();
    match std::io::stdin().lock().read_line(&mut answer) {
        Ok(_) if answer.ends_with('\n') => Ok(answer.trim_end().to_string()),
        Ok(_) => Err("EOF".to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// The full ID of the evaluation an ID or prefix names.
fn full_eval_id(client: &ApiClient, id: &str) -> Result<String, String> {
    let prefix = meta::sanitize_uuid_prefix(id);
    let evals = lookup::evals_with_prefix(client, prefix).map_err(|e| e.to_string())?;
    match evals.as_slice() {
        [eval] => Ok(eval.id.to_string()),
        [] => Err("eval not found".to_string()),
        _ => Err(format!(
            "prefix {prefix:?} matched more than one evaluation"
        )),
    }
}

/// `caravan eval delete`.
pub fn run(args: &[String]) -> i32 {
    let set = FlagSet::new().bools(&["yes"]).strings(&["filter"]);
    let parsed = match meta::parse(set, args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let filter = parsed.string("filter").unwrap_or("").to_string();
    if let Err(e) = check_args(&parsed.args, &filter) {
        meta::err(&format!("Error validating command args and flags: {e}"));
        return 1;
    }
    let client = match meta::client(&parsed) {
        Ok(c) => c,
        Err(code) => return code,
    };
    // Checked here too (the server checks again) for quick, actionable feedback.
    match client.run(|api| api.scheduler_configuration()) {
        Ok(response) if response.scheduler_config.pause_eval_broker => {}
        Ok(_) => {
            meta::err("Eval broker is not paused");
            meta::out(
                "To delete evaluations you must first pause the eval broker by running \"caravan operator scheduler set-config -pause-eval-broker=true\"",
            );
            meta::out(
                "After the deletion is complete, unpause the eval broker by running \"caravan operator scheduler set-config -pause-eval-broker=false\"",
            );
            return 1;
        }
        Err(e) => {
            meta::err(&format!("Error querying scheduler configuration: {e}"));
            return 1;
        }
    }
    let request = match parsed.args.first() {
        Some(id) => match full_eval_id(&client, id) {
            Ok(id) => EvalDeleteRequest {
                eval_ids: vec![id],
                filter: String::new(),
            },
            Err(e) => {
                meta::err(&format!("Error deleting evaluations: {e}"));
                meta::out("No evaluations were deleted");
                return 1;
            }
        },
        None => {
            if !parsed.bool("yes") {
                // How many the filter matches now, for the question (Nomad's count).
                let query = caravan_api_client::EvalListQuery {
                    filter: filter.clone(),
                    ..Default::default()
                };
                let matched = match client.run(|api| api.evaluation_list(&query)) {
                    Ok(read) => read.value.len(),
                    Err(e) => {
                        meta::err(&format!("Error deleting evaluations: {e}"));
                        return 1;
                    }
                };
                let answer = match ask(&format!(
                    "Are you sure you want to delete {matched} evals? [y/N]"
                )) {
                    Ok(answer) => answer,
                    Err(e) => {
                        meta::err(&format!("Failed to parse answer: {e}"));
                        return 1;
                    }
                };
                if let Err((line, code)) = confirmation(&answer) {
                    if let Some(line) = line {
                        meta::out(line);
                    }
                    meta::out("No evaluations were deleted");
                    return code;
                }
                meta::out("");
            }
            EvalDeleteRequest {
                eval_ids: Vec::new(),
                filter,
            }
        }
    };
    match client.run(|api| api.delete_evaluations(&request)) {
        Ok(response) if response.count > 0 => {
            meta::out(&render_deleted(response.count));
            0
        }
        Ok(_) => {
            meta::out("No evaluations were deleted");
            0
        }
        Err(e) => {
            meta::err(&format!("Error deleting evaluations: {e}"));
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_or_a_filter_is_required() {
        let args = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<Vec<_>>();
        for (given, filter, want) in [
            (args(&[]), "", Err("evaluation ID or filter flag required")),
            (
                args(&["abc"]),
                "Status == \"pending\"",
                Err("evaluation ID or filter flag required"),
            ),
            (args(&["a", "b"]), "", Err("expected 1 argument, got 2")),
            (args(&["abc"]), "", Ok(())),
            (args(&[]), "Status == \"pending\"", Ok(())),
        ] {
            assert_eq!(
                check_args(&given, filter),
                want.map_err(str::to_string),
                "{given:?} {filter}"
            );
        }
    }

    #[test]
    fn deleted_counts_and_answers() {
        assert_eq!(render_deleted(1), "Successfully deleted 1 evaluation");
        assert_eq!(render_deleted(3), "Successfully deleted 3 evaluations");
        assert_eq!(confirmation("y"), Ok(()));
        assert_eq!(confirmation(""), Err((Some("Cancelling eval deletion"), 0)));
        assert_eq!(confirmation("yes").unwrap_err().1, 0);
        assert_eq!(confirmation("maybe").unwrap_err().1, 1);
    }
}
