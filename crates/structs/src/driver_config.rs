//! The `config` block of a task, checked against its driver's schema (Nomad checks each
//! driver plugin's `hclspec`): unknown keys, missing required keys and wrong types are
//! errors that name the key, as a typo in `comand` would otherwise only show up when the
//! task fails to start.

use serde_json::Value;

/// The kind of value a driver config key takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    StringList,
    Number,
    Map,
}

impl Kind {
    fn accepts(self, value: &Value) -> bool {
        match self {
            Kind::String => value.is_string(),
            Kind::StringList => value
                .as_array()
                .is_some_and(|items| items.iter().all(|v| !v.is_object() && !v.is_array())),
            // HCL1 numbers may arrive as strings ("10"); Nomad's decoder accepts both.
            Kind::Number => {
                value.is_number() || value.as_str().is_some_and(|s| s.parse::<f64>().is_ok())
            }
            Kind::Map => value.is_object(),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Kind::String => "a string",
            Kind::StringList => "a list of strings",
            Kind::Number => "a number",
            Kind::Map => "a map",
        }
    }
}

/// (key, kind, required).
type Schema = &'static [(&'static str, Kind, bool)];

/// Nomad's raw_exec task config (`drivers/rawexec/driver.go` taskConfigSpec).
const RAW_EXEC: Schema = &[
    ("command", Kind::String, true),
    ("args", Kind::StringList, false),
    ("work_dir", Kind::String, false),
    ("oom_score_adj", Kind::Number, false),
    ("cgroup_v1_override", Kind::Map, false),
    ("cgroup_v2_override", Kind::String, false),
    ("denied_envvars", Kind::StringList, false),
];

/// Nomad's exec task config (`drivers/exec/driver.go` taskConfigSpec).
const EXEC: Schema = &[
    ("command", Kind::String, true),
    ("args", Kind::StringList, false),
    ("pid_mode", Kind::String, false),
    ("ipc_mode", Kind::String, false),
    ("cap_add", Kind::StringList, false),
    ("cap_drop", Kind::StringList, false),
    ("work_dir", Kind::String, false),
    ("oom_score_adj", Kind::Number, false),
    ("denied_envvars", Kind::StringList, false),
];

fn schema(driver: &str) -> Option<Schema> {
    match driver {
        "raw_exec" => Some(RAW_EXEC),
        "exec" => Some(EXEC),
        _ => None,
    }
}

/// Problems with a task's `config` for `driver`. Drivers Caravan does not know are left to
/// the client that would run them (placement reports `missing drivers` meanwhile).
pub fn check_driver_config(driver: &str, config: &serde_json::Map<String, Value>) -> Vec<String> {
    let Some(schema) = schema(driver) else {
        return Vec::new();
    };
    let mut problems = Vec::new();
    for (key, value) in config {
        match schema.iter().find(|(name, _, _)| name == key) {
            None => {
                let known: Vec<&str> = schema.iter().map(|(name, _, _)| *name).collect();
                problems.push(format!(
                    "config: unknown key \"{key}\" for driver \"{driver}\"; it accepts {}",
                    known.join(", ")
                ));
            }
            Some((_, kind, _)) if !kind.accepts(value) => {
                problems.push(format!(
                    "config: \"{key}\" must be {}, got {value}",
                    kind.describe()
                ));
            }
            Some(_) => {}
        }
    }
    for (key, _, required) in schema {
        if *required && !config.contains_key(*key) {
            problems.push(format!(
                "config: missing required key \"{key}\" for driver \"{driver}\""
            ));
        }
    }
    // Nomad: "oom_score_adj must not be negative" (lowering it needs privileges the
    // task does not get; 1000 is the kernel's most).
    if let Some(value) = config.get("oom_score_adj") {
        let number = value
            .as_i64()
            .or_else(|| value.as_str().and_then(|s| s.parse().ok()));
        if !number.is_some_and(|n| (0..=1000).contains(&n)) {
            problems.push(format!(
                "config: \"oom_score_adj\" must be a whole number from 0 to 1000, got {value}"
            ));
        }
    }
    for mode_key in ["pid_mode", "ipc_mode"] {
        if let Some(mode) = config.get(mode_key).and_then(Value::as_str)
            && !matches!(mode, "" | "private" | "host")
        {
            problems.push(format!(
                "config: \"{mode_key}\" must be \"private\" or \"host\", got \"{mode}\""
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> serde_json::Map<String, Value> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn driver_config_table() {
        let cases: &[(&str, &str, &[&str])] = &[
            (
                "raw_exec",
                r#"{"command": "/bin/echo", "args": ["hi", 1]}"#,
                &[],
            ),
            (
                "raw_exec",
                r#"{"comand": "/bin/echo"}"#,
                &[
                    "config: unknown key \"comand\" for driver \"raw_exec\"; it accepts command, args, work_dir, oom_score_adj, cgroup_v1_override, cgroup_v2_override, denied_envvars",
                    "config: missing required key \"command\" for driver \"raw_exec\"",
                ],
            ),
            (
                "raw_exec",
                r#"{"command": ["/bin/echo"]}"#,
                &["config: \"command\" must be a string, got [\"/bin/echo\"]"],
            ),
            (
                "raw_exec",
                r#"{"command": "/bin/echo", "args": "hi"}"#,
                &["config: \"args\" must be a list of strings, got \"hi\""],
            ),
            (
                "exec",
                r#"{"command": "/bin/sh", "pid_mode": "shared"}"#,
                &["config: \"pid_mode\" must be \"private\" or \"host\", got \"shared\""],
            ),
            (
                "exec",
                r#"{"command": "/bin/sh", "cap_add": ["net_raw"], "ipc_mode": "host"}"#,
                &[],
            ),
            ("docker", r#"{"image": "redis"}"#, &[]),
        ];
        for (driver, json, want) in cases {
            assert_eq!(
                check_driver_config(driver, &config(json)),
                *want,
                "{driver} {json}"
            );
        }
    }
}
