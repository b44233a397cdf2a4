//! `caravan alloc signal` (Nomad's `command/alloc_signal.go`): send a signal to an
//! allocation's running tasks.

use crate::commands::lookup;
use crate::flags::FlagSet;
use crate::meta;

const HELP: &str = "Usage: caravan alloc signal [options] <allocation> <task>

  Signal an existing allocation. This command is used to signal a specific alloc
  and its subtasks. If no task is provided then all of the allocations subtasks
  will receive the signal.

Signal Specific Options:

  -s
    Specify the signal that the selected tasks should receive. Defaults to SIGKILL.

  -task <task-name>
    Specify the individual task that will receive the signal. If task name is given
    with both an argument and the '-task' option, preference is given to the '-task'
    option.

  -verbose
    Show full information.
";

/// Runs the command; returns the exit code.
pub fn run(args: &[String]) -> i32 {
    let set = FlagSet::new().bools(&["verbose"]).strings(&["s", "task"]);
    let parsed = match meta::parse(set, args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if parsed.args.is_empty() || parsed.args.len() > 2 {
        meta::err("This command takes up to two arguments: <alloc-id> <task>");
        meta::err(&meta::help_hint("alloc signal"));
        return 1;
    }
    let task = parsed
        .string("task")
        .filter(|t| !t.is_empty())
        .or(parsed.args.get(1).map(String::as_str))
        .unwrap_or("")
        .to_string();
    let Ok(client) = meta::client(&parsed) else {
        return 1;
    };
    let alloc = match lookup::find_alloc(&client, &parsed.args[0], parsed.bool("verbose")) {
        Ok(alloc) => alloc,
        Err(code) => return code,
    };
    if !task.is_empty() && !alloc.task_states.contains_key(&task) {
        meta::err(&format!("Could not find task named: {task}, found:"));
        for name in alloc.task_states.keys() {
            meta::err(&format!("* {name}"));
        }
        return 1;
    }
    let signal = parsed.string("s").unwrap_or("").to_string();
    meta::finish(
        client.run(|api| api.signal_allocation(&alloc.id, &task, &signal)),
        "Error signalling allocation",
        |()| {},
    )
}
