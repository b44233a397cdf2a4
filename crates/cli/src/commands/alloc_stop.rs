//! `caravan alloc stop` (Nomad's `command/alloc_stop.go`): stop an allocation and let
//! the scheduler place a replacement.

use crate::commands::lookup;
use crate::flags::FlagSet;
use crate::meta;
use crate::monitor::monitor_http;

const HELP: &str = "Usage: caravan alloc stop [options] <allocation>

  Stop an existing allocation. This command is used to signal a specific alloc
  to shut down. When the allocation has been shut down, it will then be
  rescheduled. An interactive monitoring session will display log lines as the
  allocation completes shutting down. It is safe to exit the monitor early with
  ctrl-c.

  When ACLs are enabled, this command requires a token with the
  'alloc-lifecycle', 'read-job', and 'list-jobs' capabilities for the
  allocation's namespace.

Stop Specific Options:

  -detach
    Return immediately instead of entering monitor mode. After the
    stop command is submitted, a new evaluation ID is printed to the
    screen, which can be used to examine the rescheduling evaluation using the
    eval-status command.

  -verbose
    Show full information.
";

/// Runs the command; returns the exit code.
pub fn run(args: &[String]) -> i32 {
    let set = FlagSet::new().bools(&["detach", "verbose"]);
    let parsed = match meta::parse(set, args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let [alloc] = parsed.args.as_slice() else {
        meta::err("This command takes one argument: <alloc-id>");
        meta::err(&meta::help_hint("alloc stop"));
        return 1;
    };
    let client = match meta::client(&parsed) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let alloc = match lookup::find_alloc(&client, alloc, parsed.bool("verbose")) {
        Ok(alloc) => alloc,
        Err(code) => return code,
    };
    let response = match client.run(|api| api.stop_allocation(&alloc.id)) {
        Ok(r) => r,
        Err(e) => {
            meta::err(&format!("Error stopping allocation: {e}"));
            return 1;
        }
    };
    if parsed.bool("detach") {
        meta::out(&response.eval_id);
        return 0;
    }
    monitor_http(
        &client,
        &response.eval_id,
        meta::id_length(parsed.bool("verbose")),
    )
}
