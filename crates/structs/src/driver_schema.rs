//! The shape of a task's `config` block, as a driver declares it (Nomad's plugin
//! `hclspec`), and the check of a config against it: unknown keys, missing required keys
//! and wrong types are errors that name the key, as a typo in `comand` would otherwise
//! only show up when the task fails to start.
//!
//! This module is data and a pure check. The schemas themselves belong to the drivers
//! (`caravan_drivers`, each driver's `config_schema`); the binary hands them to the server
//! ([`DriverSchemas`]), which checks submitted jobs without knowing any driver.

use std::collections::BTreeMap;

use serde_json::Value;

/// The kind of value a driver config key takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigKind {
    /// A string.
    String,
    /// A list of scalars (strings, numbers, booleans; HCL1 writes numbers bare).
    StringList,
    /// A number, or a string holding one (HCL1 numbers may arrive as `"10"`).
    Number,
    /// An object.
    Map,
    /// A boolean, or a string holding one (HCL1 may write `"true"`).
    Bool,
    /// Nested blocks: one object, or a list of objects (`mount { ... }`, `auth { ... }`).
    Blocks,
}

impl ConfigKind {
    fn accepts(self, value: &Value) -> bool {
        match self {
            ConfigKind::String => value.is_string(),
            ConfigKind::StringList => value
                .as_array()
                .is_some_and(|items| items.iter().all(|v| !v.is_object() && !v.is_array())),
            // HCL1 numbers may arrive as strings ("10"); Nomad's decoder accepts both.
            ConfigKind::Number => {
                value.is_number() || value.as_str().is_some_and(|s| s.parse::<f64>().is_ok())
            }
            ConfigKind::Map => value.is_object(),
            ConfigKind::Bool => {
                value.is_boolean() || matches!(value.as_str(), Some("true" | "false"))
            }
            ConfigKind::Blocks => {
                value.is_object()
                    || value
                        .as_array()
                        .is_some_and(|items| items.iter().all(Value::is_object))
            }
        }
    }

    fn describe(self) -> &'static str {
        match self {
            ConfigKind::String => "a string",
            ConfigKind::StringList => "a list of strings",
            ConfigKind::Number => "a number",
            ConfigKind::Map => "a map",
            ConfigKind::Bool => "true or false",
            ConfigKind::Blocks => "a block (or a list of blocks)",
        }
    }
}

/// A rule a key's value meets beyond its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigRule {
    /// A whole number in `min..=max` (Nomad's `oom_score_adj`: 0 to 1000).
    WholeNumber { min: i64, max: i64 },
    /// One of these strings; the empty string means unset.
    OneOf(&'static [&'static str]),
}

/// One key of a driver's task config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigKey {
    pub name: &'static str,
    pub kind: ConfigKind,
    pub required: bool,
    pub rule: Option<ConfigRule>,
}

impl ConfigKey {
    /// An optional key of `kind`.
    pub const fn optional(name: &'static str, kind: ConfigKind) -> ConfigKey {
        ConfigKey {
            name,
            kind,
            required: false,
            rule: None,
        }
    }

    /// A key every task of the driver must set.
    pub const fn required(name: &'static str, kind: ConfigKind) -> ConfigKey {
        ConfigKey {
            required: true,
            ..ConfigKey::optional(name, kind)
        }
    }

    /// The same key with a rule on its value.
    pub const fn with_rule(self, rule: ConfigRule) -> ConfigKey {
        ConfigKey {
            rule: Some(rule),
            ..self
        }
    }
}

/// A driver's task config schema: its keys, in the order the driver documents them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriverSchema {
    pub keys: &'static [ConfigKey],
}

impl DriverSchema {
    /// Problems with a task's `config` for `driver`, one message per problem, each
    /// starting with `config: ` and naming the key.
    pub fn check(&self, driver: &str, config: &serde_json::Map<String, Value>) -> Vec<String> {
        let mut problems = Vec::new();
        for (key, value) in config {
            match self.keys.iter().find(|k| k.name == key) {
                None => {
                    let known: Vec<&str> = self.keys.iter().map(|k| k.name).collect();
                    problems.push(format!(
                        "config: unknown key \"{key}\" for driver \"{driver}\"; it accepts {}",
                        known.join(", ")
                    ));
                }
                Some(spec) if !spec.kind.accepts(value) => {
                    problems.push(format!(
                        "config: \"{key}\" must be {}, got {value}",
                        spec.kind.describe()
                    ));
                }
                Some(_) => {}
            }
        }
        for key in self.keys.iter().filter(|k| k.required) {
            if !config.contains_key(key.name) {
                problems.push(format!(
                    "config: missing required key \"{}\" for driver \"{driver}\"",
                    key.name
                ));
            }
        }
        // Number rules first, then choices: the order these messages always came in.
        for key in self.keys {
            if let (Some(ConfigRule::WholeNumber { min, max }), Some(value)) =
                (key.rule, config.get(key.name))
            {
                let number = value
                    .as_i64()
                    .or_else(|| value.as_str().and_then(|s| s.parse().ok()));
                if !number.is_some_and(|n| (min..=max).contains(&n)) {
                    problems.push(format!(
                        "config: \"{}\" must be a whole number from {min} to {max}, got {value}",
                        key.name
                    ));
                }
            }
        }
        for key in self.keys {
            if let (Some(ConfigRule::OneOf(choices)), Some(choice)) =
                (key.rule, config.get(key.name).and_then(Value::as_str))
                && !choice.is_empty()
                && !choices.contains(&choice)
            {
                problems.push(format!(
                    "config: \"{}\" must be {}, got \"{choice}\"",
                    key.name,
                    either(choices)
                ));
            }
        }
        problems
    }
}

/// `"a"`, `"a" or "b"`, `"a", "b" or "c"`.
fn either(choices: &[&str]) -> String {
    let quoted: Vec<String> = choices.iter().map(|c| format!("\"{c}\"")).collect();
    match quoted.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// The task config schemas of the drivers a cluster knows, by driver name. Drivers with
/// no schema here are left to the client that would run them (placement reports
/// `missing drivers` meanwhile).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DriverSchemas {
    schemas: BTreeMap<String, DriverSchema>,
}

impl DriverSchemas {
    /// Adds (or replaces) a driver's schema.
    pub fn insert(&mut self, driver: impl Into<String>, schema: DriverSchema) {
        self.schemas.insert(driver.into(), schema);
    }

    /// The schema of `driver`, if it has one.
    pub fn get(&self, driver: &str) -> Option<&DriverSchema> {
        self.schemas.get(driver)
    }

    /// Problems with a task's `config` for `driver`; none for a driver without a schema.
    pub fn check(&self, driver: &str, config: &serde_json::Map<String, Value>) -> Vec<String> {
        self.get(driver)
            .map(|schema| schema.check(driver, config))
            .unwrap_or_default()
    }
}

impl<S: Into<String>> FromIterator<(S, DriverSchema)> for DriverSchemas {
    fn from_iter<I: IntoIterator<Item = (S, DriverSchema)>>(iter: I) -> Self {
        DriverSchemas {
            schemas: iter.into_iter().map(|(k, v)| (k.into(), v)).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: DriverSchema = DriverSchema {
        keys: &[
            ConfigKey::required("command", ConfigKind::String),
            ConfigKey::optional("args", ConfigKind::StringList),
            ConfigKey::optional("mode", ConfigKind::String)
                .with_rule(ConfigRule::OneOf(&["private", "host"])),
            ConfigKey::optional("adj", ConfigKind::Number)
                .with_rule(ConfigRule::WholeNumber { min: 0, max: 1000 }),
            ConfigKey::optional("limits", ConfigKind::Map),
        ],
    };

    fn config(json: &str) -> serde_json::Map<String, Value> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn schema_check_table() {
        let cases: &[(&str, &[&str])] = &[
            (r#"{"command": "/bin/echo", "args": ["hi", 1, true]}"#, &[]),
            (
                r#"{"comand": "/bin/echo"}"#,
                &[
                    "config: unknown key \"comand\" for driver \"d\"; it accepts command, args, mode, adj, limits",
                    "config: missing required key \"command\" for driver \"d\"",
                ],
            ),
            (
                r#"{"command": ["/bin/echo"]}"#,
                &["config: \"command\" must be a string, got [\"/bin/echo\"]"],
            ),
            (
                r#"{"command": "x", "args": "hi", "limits": []}"#,
                &[
                    "config: \"args\" must be a list of strings, got \"hi\"",
                    "config: \"limits\" must be a map, got []",
                ],
            ),
            (
                r#"{"command": "x", "mode": "shared", "adj": "1001"}"#,
                &[
                    "config: \"adj\" must be a whole number from 0 to 1000, got \"1001\"",
                    "config: \"mode\" must be \"private\" or \"host\", got \"shared\"",
                ],
            ),
            (r#"{"command": "x", "mode": "", "adj": "10"}"#, &[]),
        ];
        for (json, want) in cases {
            assert_eq!(SCHEMA.check("d", &config(json)), *want, "{json}");
        }
    }

    #[test]
    fn drivers_without_a_schema_are_not_checked() {
        let schemas: DriverSchemas = [("d", SCHEMA)].into_iter().collect();
        assert!(
            schemas
                .check("docker", &config(r#"{"image": "redis"}"#))
                .is_empty()
        );
        assert_eq!(schemas.check("d", &config("{}")).len(), 1);
    }

    #[test]
    fn choices_read_as_a_sentence() {
        assert_eq!(either(&["a"]), "\"a\"");
        assert_eq!(either(&["a", "b", "c"]), "\"a\", \"b\" or \"c\"");
    }
}
