//! `caravan system gc` (Nomad's `command/system_gc.go`): garbage-collects dead jobs,
//! terminal evaluations and allocations, and down nodes now; and `caravan system
//! reconcile summaries`, which derives every job's summary again.

use crate::flags::FlagSet;
use crate::meta;

/// `caravan system` without a subcommand.
pub const SYSTEM_USAGE: &str = "Usage: caravan system <subcommand> [options]

  This command groups subcommands for interacting with the system API. Users
  can perform system maintenance tasks such as trigger the garbage collector.

Subcommands:
    gc           Run the system garbage collection process
    reconcile    Perform system reconciliation tasks";

const HELP: &str = "Usage: caravan system gc [options]

  Initializes a garbage collection of jobs, evaluations, allocations, and nodes.
";

/// `caravan system gc`: prints nothing on success, as Nomad does.
pub fn run(args: &[String]) -> i32 {
    let parsed = match meta::parse(FlagSet::new(), args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if let Err(code) = meta::no_arguments(&parsed, "system gc") {
        return code;
    }
    let client = match meta::client(&parsed) {
        Ok(c) => c,
        Err(code) => return code,
    };
    match client.run(|api| api.system_gc()) {
        Ok(()) => 0,
        Err(e) => {
            meta::err(&format!("Error running system garbage-collection: {e}"));
            1
        }
    }
}

const RECONCILE_HELP: &str = "Usage: caravan system reconcile summaries [options]

  Reconciles the summaries of all registered jobs.
";

/// `caravan system reconcile summaries`: prints nothing on success, as Nomad does.
pub fn run_reconcile_summaries(args: &[String]) -> i32 {
    let parsed = match meta::parse(FlagSet::new(), args, RECONCILE_HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if let Err(code) = meta::no_arguments(&parsed, "system reconcile summaries") {
        return code;
    }
    let client = match meta::client(&parsed) {
        Ok(c) => c,
        Err(code) => return code,
    };
    match client.run(|api| api.system_reconcile_summaries()) {
        Ok(()) => 0,
        Err(e) => {
            meta::err(&format!("Error running system summary reconciliation: {e}"));
            1
        }
    }
}
