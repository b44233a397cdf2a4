//! `caravan alloc restart` (Nomad's `command/alloc_restart.go`): restart an allocation's
//! tasks in place, without counting against their restart policy.

use caravan_api_types::AllocationRestartRequest;

use crate::commands::lookup;
use crate::flags::FlagSet;
use crate::meta;

const HELP: &str = "Usage: caravan alloc restart [options] <allocation> <task>

  Restart an existing allocation. This command is used to restart a specific alloc
  and its tasks. If no task is provided then all of the allocation's tasks that
  are currently running will be restarted.

  Use the option '-all-tasks' to restart tasks that have already run, such as
  non-sidecar prestart and poststart tasks.

Restart Specific Options:

  -all-tasks
    If set, all tasks in the allocation will be restarted, even the ones that
    already ran. This option cannot be used with '-task' or the '<task>'
    argument.

  -task <task-name>
    Specify the individual task to restart. If task name is given with both an
    argument and the '-task' option, preference is given to the '-task' option.
    This option cannot be used with '-all-tasks'.

  -verbose
    Show full information.
";

/// Which task the arguments name, or the error Nomad prints.
pub fn restart_request(
    task_flag: Option<&str>,
    task_arg: Option<&str>,
    all_tasks: bool,
) -> Result<AllocationRestartRequest, String> {
    let task = task_flag
        .filter(|t| !t.is_empty())
        .or(task_arg)
        .unwrap_or("")
        .to_string();
    if all_tasks && !task.is_empty() {
        return Err(
            "The -all-tasks option is not allowed when restarting a specific task.".to_string(),
        );
    }
    Ok(AllocationRestartRequest {
        task_name: task,
        all_tasks,
    })
}

/// Runs the command; returns the exit code.
pub fn run(args: &[String]) -> i32 {
    let set = FlagSet::new()
        .bools(&["all-tasks", "verbose"])
        .strings(&["task"]);
    let parsed = match meta::parse(set, args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if parsed.args.is_empty() || parsed.args.len() > 2 {
        meta::err("This command takes one or two arguments: <allocation> <task>");
        meta::err(&meta::help_hint("alloc restart"));
        return 1;
    }
    let request = match restart_request(
        parsed.string("task"),
        parsed.args.get(1).map(String::as_str),
        parsed.bool("all-tasks"),
    ) {
        Ok(request) => request,
        Err(message) => {
            meta::err(&message);
            return 1;
        }
    };
    let client = match meta::client(&parsed) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let alloc = match lookup::find_alloc(&client, &parsed.args[0], parsed.bool("verbose")) {
        Ok(alloc) => alloc,
        Err(code) => return code,
    };
    if !request.task_name.is_empty() && !alloc.task_states.contains_key(&request.task_name) {
        meta::err(&format!(
            "Could not find task named: {}, found:",
            request.task_name
        ));
        for task in alloc.task_states.keys() {
            meta::err(&format!("* {task}"));
        }
        return 1;
    }
    match client.run(|api| api.restart_allocation(&alloc.id, &request)) {
        Ok(_) => 0,
        Err(e) => {
            meta::err(&format!("Failed to restart allocation:\n\n{e}"));
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_choice_follows_nomad() {
        let request = |flag, arg, all| restart_request(flag, arg, all);
        assert_eq!(
            request(None, None, false),
            Ok(AllocationRestartRequest {
                task_name: String::new(),
                all_tasks: false
            })
        );
        assert_eq!(
            request(Some("web"), Some("db"), false).unwrap().task_name,
            "web"
        );
        assert_eq!(request(None, Some("db"), false).unwrap().task_name, "db");
        assert_eq!(
            request(None, None, true),
            Ok(AllocationRestartRequest {
                task_name: String::new(),
                all_tasks: true
            })
        );
        assert!(
            request(None, Some("db"), true)
                .unwrap_err()
                .contains("-all-tasks")
        );
    }

    #[test]
    fn body_is_nomads_shape() {
        let body = serde_json::to_value(AllocationRestartRequest {
            task_name: "web".into(),
            all_tasks: false,
        })
        .unwrap();
        assert_eq!(
            body,
            serde_json::json!({"TaskName": "web", "AllTasks": false})
        );
    }
}
