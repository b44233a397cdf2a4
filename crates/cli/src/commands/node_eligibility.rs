//! `caravan node eligibility` (Nomad's `command/node_eligibility.go`).

use caravan_api_types::NodeUpdateEligibilityRequest;

use crate::commands::lookup;
use crate::flags::FlagSet;
use crate::meta;

const HELP: &str = "Usage: caravan node eligibility [options] <node>

  Toggles the nodes scheduling eligibility. When a node is marked as ineligible,
  no new allocations will be placed on it but existing allocations will remain.
  To remove existing allocations, use the node drain command.

  It is required that either -enable or -disable is specified, but not both.
  The -self flag is useful to set the scheduling eligibility of the local node.

Node Eligibility Options:

  -disable
    Mark the specified node as ineligible for new allocations.

  -enable
    Mark the specified node as eligible for new allocations.

  -self
    Set the eligibility of the local node.
";

/// What Nomad prints after the update.
pub fn render_result(node_id: &str, eligible: bool) -> String {
    let what = if eligible { "eligible" } else { "ineligible" };
    format!("Node {node_id:?} scheduling eligibility set: {what} for scheduling")
}

/// `caravan node eligibility`.
pub fn run(args: &[String]) -> i32 {
    let set = FlagSet::new().bools(&["enable", "disable", "self"]);
    let parsed = match meta::parse(set, args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let (enable, disable, use_self) = (
        parsed.bool("enable"),
        parsed.bool("disable"),
        parsed.bool("self"),
    );
    if enable == disable {
        meta::err("Either the '-enable' or '-disable' flag must be set");
        meta::err(&meta::help_hint("node eligibility"));
        return 1;
    }
    let count = parsed.args.len();
    if (use_self && count != 0) || (!use_self && count != 1) {
        meta::err("Node ID must be specified if -self isn't being used");
        meta::err(&meta::help_hint("node eligibility"));
        return 1;
    }
    let client = match meta::client(&parsed) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let node_id = if use_self {
        match lookup::local_node_id(&client) {
            Ok(id) => id,
            Err(e) => {
                meta::err(&e);
                return 1;
            }
        }
    } else {
        parsed.args[0].clone()
    };
    let words = lookup::NodeLookup {
        error_prefix: "Error updating scheduling eligibility",
        not_found: "prefix or id",
        verbose: true,
    };
    let node = match lookup::find_node(&client, &node_id, words) {
        Ok(found) => found.node.value,
        Err(code) => return code,
    };
    let request = NodeUpdateEligibilityRequest::new(&node.id, enable);
    if let Err(e) = client.run(|api| api.update_eligibility(&node.id, &request)) {
        meta::err(&format!("Error updating scheduling eligibility: {e}"));
        return 1;
    }
    meta::out(&render_result(&node.id, enable));
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use caravan_api_types::NodeUpdateResponse;

    #[test]
    fn request_bodies() {
        let cases = [
            (
                "enable",
                true,
                r#"{"NodeID":"6477d9ed-0000","Eligibility":"eligible"}"#,
            ),
            (
                "disable",
                false,
                r#"{"NodeID":"6477d9ed-0000","Eligibility":"ineligible"}"#,
            ),
        ];
        for (name, eligible, want) in cases {
            let body = serde_json::to_string(&NodeUpdateEligibilityRequest::new(
                &"6477d9ed-0000".into(),
                eligible,
            ))
            .unwrap();
            assert_eq!(body, want, "case {name}");
        }
    }

    #[test]
    fn result_lines() {
        assert_eq!(
            render_result("6477d9ed-0000", true),
            r#"Node "6477d9ed-0000" scheduling eligibility set: eligible for scheduling"#
        );
        assert_eq!(
            render_result("6477d9ed-0000", false),
            r#"Node "6477d9ed-0000" scheduling eligibility set: ineligible for scheduling"#
        );
    }

    #[test]
    fn response_decodes() {
        let r: NodeUpdateResponse = serde_json::from_str(
            r#"{"EvalIDs":["e1"],"EvalCreateIndex":7,"NodeModifyIndex":7,"Index":7}"#,
        )
        .unwrap();
        assert_eq!(r.eval_ids, vec!["e1"]);
        assert_eq!(r.index, 7);
    }
}
