//! `caravan agent-info` (Nomad's `command/agent_info.go`): the agent's stats from
//! `/v1/agent/self`, a section per subsystem, keys sorted.

use crate::flags::FlagSet;
use crate::meta;

const HELP: &str = "Usage: caravan agent-info [options]

  Display status information about the local agent.

  When ACLs are enabled, this command requires a token with the 'agent:read'
  capability.

Agent Info Options:

  -json
    Output the agent info in its JSON format.
";

/// Nomad's layout: each section's name, then `  key = value` lines, both sorted.
pub fn render_stats(stats: &serde_json::Map<String, serde_json::Value>) -> String {
    let mut sections: Vec<&String> = stats.keys().collect();
    sections.sort();
    let mut lines = Vec::new();
    for section in sections {
        lines.push(section.clone());
        let Some(values) = stats[section].as_object() else {
            continue;
        };
        let mut keys: Vec<&String> = values.keys().collect();
        keys.sort();
        for key in keys {
            let value = match &values[key] {
                serde_json::Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            lines.push(format!("  {key} = {value}"));
        }
    }
    lines.join("\n")
}

/// `caravan agent-info [-json]`.
pub fn run(args: &[String]) -> i32 {
    let parsed = match meta::parse(FlagSet::new().bools(&["json"]), args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if let Err(code) = meta::no_arguments(&parsed, "agent-info") {
        return code;
    }
    let client = match meta::client(&parsed) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let info = match client.run(|api| api.agent_self()) {
        Ok(info) => info.value,
        Err(e) => {
            meta::err(&format!("Error querying agent info: {e}"));
            return 1;
        }
    };
    if parsed.bool("json") {
        meta::out(&serde_json::to_string_pretty(&info).unwrap_or_default());
        return 0;
    }
    let stats = info
        .get("stats")
        .and_then(|s| s.as_object())
        .cloned()
        .unwrap_or_default();
    meta::out(&render_stats(&stats));
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_and_keys_are_sorted_with_two_space_indent() {
        let stats = serde_json::json!({
            "runtime": { "cpu_count": "2", "arch": "amd64" },
            "client": { "node_id": "abc", "known_servers": "1" },
        });
        assert_eq!(
            render_stats(stats.as_object().unwrap()),
            "client\n  known_servers = 1\n  node_id = abc\nruntime\n  arch = amd64\n  cpu_count = 2"
        );
    }
}
