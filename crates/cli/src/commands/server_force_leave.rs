//! `caravan server force-leave` (Nomad's `command/server_force_leave.go`): forces a
//! failed server into the `left` state so the cluster stops waiting for it.

use crate::flags::FlagSet;
use crate::meta;

const HELP: &str = "Usage: caravan server force-leave [options] <node>

  Forces an server to enter the \"left\" state. This can be used to
  eject nodes which have failed and will not rejoin the cluster.
  Note that if the member is actually still alive, it will
  eventually rejoin the cluster again. The failed or left server will
  be garbage collected after 24h.

  If ACLs are enabled, this option requires a token with the 'agent:write'
  capability.

Server Force-Leave Options:

  -prune
    Removes failed or left server from the Serf member list immediately.
    This will not work with alive server.
";

/// `caravan server force-leave`: prints nothing on success, as Nomad does.
pub fn run(args: &[String]) -> i32 {
    let parsed = match meta::parse(FlagSet::new().bools(&["prune"]), args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let [node] = parsed.args.as_slice() else {
        meta::err("This command takes one argument: <node>");
        meta::err(&meta::help_hint("server force-leave"));
        return 1;
    };
    let client = match meta::client(&parsed) {
        Ok(c) => c,
        Err(code) => return code,
    };
    match client.run(|api| api.agent_force_leave(node, parsed.bool("prune"))) {
        Ok(()) => 0,
        Err(e) => {
            meta::err(&format!("Error force-leaving server {node}: {e}"));
            1
        }
    }
}
