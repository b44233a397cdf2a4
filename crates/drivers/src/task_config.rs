//! Decoding a task's `config` block into a driver's typed config, once, when the task
//! starts. The servers checked the block against the driver's schema at submit
//! ([`crate::Driver::config_schema`]), so a decoding error here means a job stored
//! before that check, or a caller that skipped it; the error still names the key.
//!
//! Values are read as leniently as the schema accepts them: HCL1 writes list items and
//! numbers bare or quoted (`args = ["-n", 10]`, `oom_score_adj = "500"`).

use std::collections::BTreeMap;

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::DriverError;

/// Decodes `config` into `T`. Errors read `"<key>" <problem>`, as the schema's do.
pub fn decode<T: DeserializeOwned>(
    config: &serde_json::Map<String, Value>,
) -> Result<T, DriverError> {
    let value = Value::Object(config.clone());
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner().to_string();
        DriverError::InvalidConfig(if path == "." {
            inner
        } else {
            format!("\"{path}\" {inner}")
        })
    })
}

/// The program every executor-run driver starts: `command`, required and not empty.
pub fn required_command(command: &Option<String>) -> Result<&str, DriverError> {
    match command.as_deref() {
        Some("") => Err(DriverError::InvalidConfig(
            "\"command\" must be a non-empty string".into(),
        )),
        Some(command) => Ok(command),
        None => Err(DriverError::InvalidConfig(
            "missing required field \"command\"".into(),
        )),
    }
}

/// A list of strings; numbers and booleans as written (`args = ["-n", 10]`).
pub fn scalar_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    let value = Option::<Value>::deserialize(deserializer)?;
    let bad = |value: &Value| D::Error::custom(format!("must be a list of strings, got {value}"));
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                Value::Bool(b) => Ok(b.to_string()),
                other => Err(bad(other)),
            })
            .collect(),
        Some(other) => Err(bad(&other)),
    }
}

/// A list of strings only (capability names).
pub fn string_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    let value = Option::<Value>::deserialize(deserializer)?;
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| D::Error::custom("must be a list of strings"))
            })
            .collect(),
        Some(_) => Err(D::Error::custom("must be a list of strings")),
    }
}

/// A string that must be non-empty when set (`command`, `work_dir`).
pub fn string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    match Option::<Value>::deserialize(deserializer)? {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(D::Error::custom(format!("must be a string, got {other}"))),
    }
}

/// `"private"` or `"host"`; empty or null is unset (the driver's default applies).
pub fn namespace_mode<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<NamespaceMode>, D::Error> {
    match Option::<Value>::deserialize(deserializer)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(m)) if m.is_empty() => Ok(None),
        Some(Value::String(m)) if m == "private" => Ok(Some(NamespaceMode::Private)),
        Some(Value::String(m)) if m == "host" => Ok(Some(NamespaceMode::Host)),
        Some(other) => Err(D::Error::custom(format!(
            "must be \"private\" or \"host\", got {other}"
        ))),
    }
}

/// `oom_score_adj`: 0 to 1000 (checked at submit), a number or a numeric string; 0 (the
/// kernel's default) when unset or unreadable.
pub fn oom_score_adj<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u16, D::Error> {
    let value = Option::<Value>::deserialize(deserializer)?;
    Ok(value
        .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
        .map_or(0, |n| n.min(1000) as u16))
}

/// Whether a task gets a namespace of its own (`pid_mode`, `ipc_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamespaceMode {
    /// A namespace of its own.
    Private,
    /// The host's.
    Host,
}

/// The task config's `denied_envvars`: names (or `PREFIX*` / `*SUFFIX` patterns) taken
/// out of the task's environment, whatever set them.
pub fn remove_denied_envvars(env: &mut BTreeMap<String, String>, denied: &[String]) {
    if denied.is_empty() {
        return;
    }
    env.retain(|name, _| {
        !denied.iter().any(
            |pattern| match (pattern.strip_suffix('*'), pattern.strip_prefix('*')) {
                (Some(prefix), _) => name.starts_with(prefix),
                (None, Some(suffix)) => name.ends_with(suffix),
                (None, None) => name == pattern,
            },
        )
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Sample {
        #[serde(default, deserialize_with = "string")]
        command: Option<String>,
        #[serde(default, deserialize_with = "scalar_list")]
        args: Vec<String>,
        #[serde(default, deserialize_with = "namespace_mode")]
        pid_mode: Option<NamespaceMode>,
        #[serde(default, deserialize_with = "oom_score_adj")]
        oom_score_adj: u16,
    }

    fn sample(json: serde_json::Value) -> Result<Sample, String> {
        let map = json.as_object().cloned().unwrap_or_default();
        decode::<Sample>(&map).map_err(|e| e.to_string())
    }

    #[test]
    fn decoding_is_lenient_where_the_schema_is_and_names_the_key_otherwise() {
        let ok = sample(serde_json::json!({
            "command": "/bin/echo", "args": ["-n", 10, true], "pid_mode": "",
            "oom_score_adj": "500"
        }))
        .unwrap();
        assert_eq!(ok.command.as_deref(), Some("/bin/echo"));
        assert_eq!(ok.args, ["-n", "10", "true"]);
        assert_eq!((ok.pid_mode, ok.oom_score_adj), (None, 500));
        let cases = [
            (
                serde_json::json!({"args": "hi"}),
                "invalid task config: \"args\" must be a list of strings, got \"hi\"",
            ),
            (
                serde_json::json!({"command": 1}),
                "invalid task config: \"command\" must be a string, got 1",
            ),
            (
                serde_json::json!({"pid_mode": "shared"}),
                "invalid task config: \"pid_mode\" must be \"private\" or \"host\", got \"shared\"",
            ),
        ];
        for (json, want) in cases {
            assert_eq!(sample(json).unwrap_err(), want);
        }
        assert!(required_command(&None).is_err());
        assert!(required_command(&Some(String::new())).is_err());
    }

    #[test]
    fn denied_envvars_take_names_and_patterns_out() {
        let mut env: BTreeMap<String, String> = ["SECRET_TOKEN", "KEEP_ME", "AWS_KEY", "MY_KEY"]
            .iter()
            .map(|k| (k.to_string(), "x".to_string()))
            .collect();
        remove_denied_envvars(
            &mut env,
            &["SECRET_TOKEN".into(), "AWS_*".into(), "*_KEY".into()],
        );
        assert_eq!(env.keys().collect::<Vec<_>>(), ["KEEP_ME"]);
    }
}
