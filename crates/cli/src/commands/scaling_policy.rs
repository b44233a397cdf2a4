//! `caravan scaling policy list|info` (Nomad's `command/scaling_policy*.go`).

use std::collections::BTreeMap;

use caravan_api_types::ScalingPolicyListStub;
use caravan_structs::ScalingPolicy;

use crate::columnize::{format_kv, format_list};
use crate::flags::FlagSet;
use crate::meta;

/// `caravan scaling` without a known subcommand.
pub const SCALING_USAGE: &str = "Usage: caravan scaling <subcommand> [options]

  This command groups subcommands for interacting with the scaling API.

Subcommands:
    policy    Interact with Caravan scaling policies";

/// `caravan scaling policy` without a known subcommand.
pub const POLICY_USAGE: &str = "Usage: caravan scaling policy <subcommand> [options]

  This command groups subcommands for interacting with scaling policies. Scaling
  policies can be used by an external autoscaler to perform scaling actions on
  Caravan targets.

  List policies:

      $ caravan scaling policy list

  Detail an individual scaling policy:

      $ caravan scaling policy info <policy_id>

  Please see the individual subcommand help for detailed usage information.";

const LIST_HELP: &str = "Usage: caravan scaling policy list [options]

  List is used to list the currently configured scaling policies.

  If ACLs are enabled, this command requires a token with the 'read-job' and
  'list-jobs' capabilities for the namespace of all policies. Any namespaces
  that the token does not have access to will have its policies filtered from
  the results.

Policy Info Options:

  -job
    Specifies the job ID to filter the scaling policies list by.

  -type
    Filter scaling policies by type.

  -verbose
    Display full information.

  -json
    Output the scaling policy in its JSON format.
";

const INFO_HELP: &str = "Usage: caravan scaling policy info [options] <policy_id>

  Info is used to read the specified scaling policy.

  If ACLs are enabled, this command requires a token with the 'read-job' and
  'list-jobs' capabilities for the policy's namespace.

Policy Info Options:

  -verbose
    Display full information.

  -json
    Output the scaling policy in its JSON format.
";

/// Nomad's `formatScalingPolicyTarget`: `Namespace:default,Job:web,Group:app`, then any
/// other keys.
pub fn format_target(target: &BTreeMap<String, String>) -> String {
    let pick = |key: &str| {
        target
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(k, v)| format!("{k}:{v}"))
            .unwrap_or_default()
    };
    let mut parts = vec![pick("namespace"), pick("job"), pick("group")];
    parts.extend(
        target
            .iter()
            .filter(|(k, _)| {
                !["namespace", "job", "group"]
                    .iter()
                    .any(|known| k.eq_ignore_ascii_case(known))
            })
            .map(|(k, v)| format!("{k}:{v}")),
    );
    parts.join(",")
}

/// Nomad's `formatScalingPolicies`: the table, sorted by target.
pub fn format_policies(stubs: &[ScalingPolicyListStub], length: usize) -> String {
    if stubs.is_empty() {
        return "No policies found".to_string();
    }
    let mut sorted: Vec<&ScalingPolicyListStub> = stubs.iter().collect();
    sorted.sort_by_cached_key(|p| format_target(&p.target));
    let mut rows = vec!["ID|Enabled|Type|Target".to_string()];
    rows.extend(sorted.iter().map(|p| {
        format!(
            "{}|{}|{}|{}",
            meta::limit(&p.id, length),
            p.enabled,
            p.r#type,
            format_target(&p.target)
        )
    }));
    format_list(&rows)
}

/// What `scaling policy info` prints for one policy.
pub fn format_policy(policy: &ScalingPolicy, length: usize) -> String {
    let document = if policy.policy.is_empty() {
        "<empty>".to_string()
    } else {
        meta::json_pretty(&policy.policy)
    };
    let rows = [
        format!("ID|{}", meta::limit(&policy.id, length)),
        format!("Enabled|{}", policy.enabled.unwrap_or(true)),
        format!("Target|{}", format_target(&policy.target)),
        format!("Min|{}", policy.min.unwrap_or(0)),
        format!("Max|{}", policy.max.unwrap_or(0)),
    ];
    format!("{}\n\nPolicy:\n{document}", format_kv(&rows))
}

/// `caravan scaling policy list`.
pub fn run_list(args: &[String]) -> i32 {
    let set = FlagSet::new()
        .bools(&["verbose", "json"])
        .strings(&["job", "type"]);
    let parsed = match meta::parse(set, args, LIST_HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if let Err(code) = meta::no_arguments(&parsed, "scaling policy list") {
        return code;
    }
    let client = match meta::client(&parsed) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let job = parsed.string("job").unwrap_or("");
    let policy_type = parsed.string("type").unwrap_or("");
    let length = meta::id_length(parsed.bool("verbose"));
    meta::finish(
        client.run(|api| api.scaling_policies(job, policy_type, "")),
        "Error listing scaling policies",
        |stubs| {
            if parsed.bool("json") {
                meta::out(&meta::json_pretty(&stubs.value));
            } else {
                meta::out(&format_policies(&stubs.value, length));
            }
        },
    )
}

/// `caravan scaling policy info`.
pub fn run_info(args: &[String]) -> i32 {
    let set = FlagSet::new().bools(&["verbose", "json"]);
    let parsed = match meta::parse(set, args, INFO_HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let json = parsed.bool("json");
    let length = meta::id_length(parsed.bool("verbose"));
    let client = match meta::client(&parsed) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if parsed.args.is_empty() && json {
        return meta::finish(
            client.run(|api| api.scaling_policies("", "", "")),
            "Error listing scaling policies",
            |stubs| meta::out(&meta::json_pretty(&stubs.value)),
        );
    }
    let [policy_id] = parsed.args.as_slice() else {
        meta::err("This command takes one of the following argument conditions:");
        meta::err(" * A single <policy_id>");
        meta::err(" * No arguments, with output format specified");
        meta::err(&meta::help_hint("scaling policy info"));
        return 1;
    };
    if policy_id.len() == 1 {
        meta::err("Identifier must contain at least two characters.");
        return 1;
    }
    let prefix = meta::sanitize_uuid_prefix(policy_id);
    let stubs = match client.run(|api| api.scaling_policies("", "", prefix)) {
        Ok(s) => s.value,
        Err(e) => {
            meta::err(&format!("Error querying scaling policy: {e}"));
            return 1;
        }
    };
    let id = match stubs.as_slice() {
        [] => {
            meta::err(&format!(
                "No scaling policies with prefix or id {prefix:?} found"
            ));
            return 1;
        }
        [only] => only.id.clone(),
        several => {
            meta::err(&format!(
                "Prefix matched multiple scaling policies\n\n{}",
                format_policies(several, length)
            ));
            return 0;
        }
    };
    meta::finish(
        client.run(|api| api.scaling_policy(&id)),
        "Error querying scaling policy",
        |policy| {
            if json {
                meta::out(&meta::json_pretty(&policy.value));
            } else {
                meta::out(&format_policy(&policy.value, length));
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(job: &str, group: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("Namespace".to_string(), "default".to_string()),
            ("Job".to_string(), job.to_string()),
            ("Group".to_string(), group.to_string()),
        ])
    }

    #[test]
    fn target_reads_namespace_job_group() {
        assert_eq!(
            format_target(&target("web", "app")),
            "Namespace:default,Job:web,Group:app"
        );
    }

    #[test]
    fn list_is_sorted_by_target() {
        let stub = |id: &str, job: &str| ScalingPolicyListStub {
            id: id.to_string(),
            enabled: true,
            r#type: "horizontal".to_string(),
            target: target(job, "g"),
            ..ScalingPolicyListStub::default()
        };
        let text = format_policies(
            &[
                stub("bbbbbbbb-0000", "zeta"),
                stub("aaaaaaaa-0000", "alpha"),
            ],
            8,
        );
        assert_eq!(
            text,
            "ID        Enabled  Type        Target\n\
             aaaaaaaa  true     horizontal  Namespace:default,Job:alpha,Group:g\n\
             bbbbbbbb  true     horizontal  Namespace:default,Job:zeta,Group:g"
        );
        assert_eq!(format_policies(&[], 8), "No policies found");
    }

    #[test]
    fn info_shows_bounds_and_the_policy_document() {
        let mut policy = ScalingPolicy {
            id: "0123456789abcdef".to_string(),
            enabled: Some(true),
            target: target("web", "app"),
            min: Some(1),
            max: Some(5),
            ..ScalingPolicy::default()
        };
        assert_eq!(
            format_policy(&policy, 8),
            "ID      = 01234567\nEnabled = true\nTarget  = Namespace:default,Job:web,Group:app\nMin     = 1\nMax     = 5\n\nPolicy:\n<empty>"
        );
        policy
            .policy
            .insert("cooldown".to_string(), serde_json::json!("1m"));
        assert!(format_policy(&policy, 8).ends_with("Policy:\n{\n    \"cooldown\": \"1m\"\n}"));
    }
}
