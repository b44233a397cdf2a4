//! The docker driver's two configurations: a task's `config` block ([`SCHEMA`],
//! [`DockerTaskConfig`]) and the agent's `plugin "docker" { config { ... } }`
//! ([`DockerPluginConfig`]), both with Nomad's names and defaults.

use std::collections::BTreeMap;
use std::time::Duration;

use caravan_structs::driver_schema::{ConfigKey, ConfigKind, ConfigRule, DriverSchema};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::task_config;

/// The docker task config keys Caravan carries out (a subset of Nomad's
/// `drivers/docker/config.go` taskConfigSpec; any other key is refused at submit).
pub const SCHEMA: DriverSchema = DriverSchema {
    keys: &[
        ConfigKey::required("image", ConfigKind::String),
        ConfigKey::optional("command", ConfigKind::String),
        ConfigKey::optional("args", ConfigKind::StringList),
        ConfigKey::optional("entrypoint", ConfigKind::StringList),
        ConfigKey::optional("work_dir", ConfigKind::String),
        ConfigKey::optional("ports", ConfigKind::StringList),
        ConfigKey::optional("port_map", ConfigKind::Blocks),
        ConfigKey::optional("network_mode", ConfigKind::String),
        ConfigKey::optional("volumes", ConfigKind::StringList),
        ConfigKey::optional("mount", ConfigKind::Blocks),
        ConfigKey::optional("labels", ConfigKind::Blocks),
        ConfigKey::optional("privileged", ConfigKind::Bool),
        ConfigKey::optional("auth", ConfigKind::Blocks),
        ConfigKey::optional("force_pull", ConfigKind::Bool),
        ConfigKey::optional("hostname", ConfigKind::String),
        ConfigKey::optional("memory_hard_limit", ConfigKind::Number).with_rule(
            ConfigRule::WholeNumber {
                min: 0,
                max: i64::MAX,
            },
        ),
    ],
};

/// A docker task's `config` block, decoded ([`SCHEMA`] lists the same keys).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DockerTaskConfig {
    #[serde(default, deserialize_with = "task_config::string")]
    pub image: Option<String>,
    #[serde(default, deserialize_with = "task_config::string")]
    pub command: Option<String>,
    #[serde(default, deserialize_with = "task_config::scalar_list")]
    pub args: Vec<String>,
    #[serde(default, deserialize_with = "task_config::scalar_list")]
    pub entrypoint: Vec<String>,
    #[serde(default, deserialize_with = "task_config::string")]
    pub work_dir: Option<String>,
    /// Labels of the group's network ports to publish.
    #[serde(default, deserialize_with = "task_config::scalar_list")]
    pub ports: Vec<String>,
    /// The legacy map of port label to container port.
    #[serde(default, deserialize_with = "string_map_blocks")]
    pub port_map: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "task_config::string")]
    pub network_mode: Option<String>,
    /// `host:container[:ro]`.
    #[serde(default, deserialize_with = "task_config::scalar_list")]
    pub volumes: Vec<String>,
    #[serde(default, deserialize_with = "blocks")]
    pub mount: Vec<MountBlock>,
    #[serde(default, deserialize_with = "string_map_blocks")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "boolean")]
    pub privileged: bool,
    #[serde(default, deserialize_with = "blocks")]
    pub auth: Vec<AuthBlock>,
    #[serde(default, deserialize_with = "boolean")]
    pub force_pull: bool,
    #[serde(default, deserialize_with = "task_config::string")]
    pub hostname: Option<String>,
    /// MB: the hard memory limit, `resources.memory` becoming the soft one.
    #[serde(default, deserialize_with = "whole_number")]
    pub memory_hard_limit: i64,
}

/// A `mount { ... }` block.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MountBlock {
    /// `bind` (Nomad's default), `volume` or `tmpfs`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub target: String,
    #[serde(default)]
    pub source: String,
    #[serde(default, deserialize_with = "boolean")]
    pub readonly: bool,
    /// Accepted as Nomad does; Docker's defaults apply.
    #[serde(default)]
    pub bind_options: Option<Value>,
    #[serde(default)]
    pub volume_options: Option<Value>,
    #[serde(default)]
    pub tmpfs_options: Option<Value>,
}

/// An `auth { ... }` block: the registry credentials for the pull.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthBlock {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub server_address: String,
}

impl DockerTaskConfig {
    /// The image, required and not empty.
    pub fn image(&self) -> Result<&str, String> {
        match self.image.as_deref() {
            Some(image) if !image.trim().is_empty() => Ok(image),
            _ => Err("\"image\" must name the image to run, e.g. \"redis:7\"".into()),
        }
    }

    /// The task's one `auth` block, if it has one.
    pub fn auth(&self) -> Option<&AuthBlock> {
        self.auth.first()
    }
}

/// Nomad's `plugin "docker" { config { ... } }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DockerPluginConfig {
    /// The daemon's address: `unix:///path/to.sock` (Docker's default socket when
    /// empty).
    pub endpoint: String,
    #[serde(deserialize_with = "boolean")]
    pub allow_privileged: bool,
    #[serde(deserialize_with = "one_block")]
    pub volumes: VolumesConfig,
    #[serde(deserialize_with = "one_block")]
    pub gc: GcConfig,
    #[serde(deserialize_with = "boolean")]
    pub disable_log_collection: bool,
}

/// `volumes { enabled }`: whether tasks may bind host paths (Nomad's default: no).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VolumesConfig {
    #[serde(deserialize_with = "boolean")]
    pub enabled: bool,
    /// Accepted as Nomad does; only the `local` driver is used.
    pub selinuxlabel: String,
}

/// `gc { image image_delay container }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GcConfig {
    /// Remove an image once no task uses it (Nomad's default: yes).
    #[serde(deserialize_with = "boolean")]
    pub image: bool,
    /// How long an unused image is kept first (Nomad's default: 3m).
    #[serde(deserialize_with = "duration")]
    pub image_delay: Duration,
    /// Remove a task's container when it stops (Nomad's default: yes).
    #[serde(deserialize_with = "boolean")]
    pub container: bool,
    /// Accepted as Nomad does; Caravan removes no containers it did not start.
    pub dangling_containers: Option<Value>,
}

impl Default for GcConfig {
    fn default() -> GcConfig {
        GcConfig {
            image: true,
            image_delay: Duration::from_secs(180),
            container: true,
            dangling_containers: None,
        }
    }
}

/// Docker's socket when the plugin names no endpoint.
pub const DEFAULT_ENDPOINT: &str = "unix:///var/run/docker.sock";

impl DockerPluginConfig {
    /// Reads the plugin block; errors name the key and say what it accepts.
    pub fn from_plugin_config(config: Option<&Value>) -> Result<DockerPluginConfig, String> {
        let Some(config) = config else {
            return Ok(DockerPluginConfig::default());
        };
        let config: DockerPluginConfig =
            serde_path_to_error::deserialize(config.clone()).map_err(|error| {
                let path = error.path().to_string();
                format!("plugin \"docker\" config: {path}: {}", error.into_inner())
            })?;
        if !config.endpoint.is_empty() && !config.endpoint.starts_with("unix://") {
            return Err(format!(
                "plugin \"docker\" config: endpoint: only unix sockets are supported \
                 (unix:///var/run/docker.sock), got {:?}",
                config.endpoint
            ));
        }
        Ok(config)
    }

    /// The daemon's socket path.
    pub fn socket_path(&self) -> &str {
        let endpoint = if self.endpoint.is_empty() {
            DEFAULT_ENDPOINT
        } else {
            &self.endpoint
        };
        endpoint.trim_start_matches("unix://")
    }
}

fn boolean<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    match Option::<Value>::deserialize(deserializer)? {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(b),
        Some(Value::String(s)) if s == "true" || s == "1" => Ok(true),
        Some(Value::String(s)) if s == "false" || s == "0" => Ok(false),
        Some(other) => Err(D::Error::custom(format!(
            "must be true or false, got {other}"
        ))),
    }
}

fn whole_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    match Option::<Value>::deserialize(deserializer)? {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) if n.as_i64().is_some() => Ok(n.as_i64().unwrap_or_default()),
        Some(Value::String(s)) if s.parse::<i64>().is_ok() => Ok(s.parse().unwrap_or_default()),
        Some(other) => Err(D::Error::custom(format!(
            "must be a whole number, got {other}"
        ))),
    }
}

/// A Go duration (`"3m"`, `"90s"`) or a number of nanoseconds.
fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let value = Value::deserialize(deserializer)?;
    let parsed = match &value {
        Value::Number(n) => n.as_u64().map(Duration::from_nanos),
        Value::String(s) => caravan_structs::duration::parse_duration(s)
            .ok()
            .map(|nanos| Duration::from_nanos(nanos.max(0) as u64)),
        _ => None,
    };
    parsed.ok_or_else(|| D::Error::custom(format!("must be a duration like \"3m\", got {value}")))
}

/// Blocks as HCL hands them over: one object or a list of objects.
fn block_values(value: Option<Value>) -> Result<Vec<Value>, String> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(map)) => Ok(vec![Value::Object(map)]),
        Some(Value::Array(items)) if items.iter().all(Value::is_object) => Ok(items),
        Some(other) => Err(format!("must be a block, got {other}")),
    }
}

fn blocks<'de, D: Deserializer<'de>, T: serde::de::DeserializeOwned>(
    deserializer: D,
) -> Result<Vec<T>, D::Error> {
    block_values(Option::<Value>::deserialize(deserializer)?)
        .map_err(D::Error::custom)?
        .into_iter()
        .map(|item| from_block(item).map_err(D::Error::custom))
        .collect()
}

fn one_block<'de, D: Deserializer<'de>, T: serde::de::DeserializeOwned + Default>(
    deserializer: D,
) -> Result<T, D::Error> {
    let mut merged = serde_json::Map::new();
    for block in
        block_values(Option::<Value>::deserialize(deserializer)?).map_err(D::Error::custom)?
    {
        if let Value::Object(map) = block {
            merged.extend(map);
        }
    }
    from_block(Value::Object(merged)).map_err(D::Error::custom)
}

/// Decodes one block; errors name the key inside it.
fn from_block<T: serde::de::DeserializeOwned>(block: Value) -> Result<T, String> {
    serde_path_to_error::deserialize(block).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner().to_string();
        if path == "." {
            inner
        } else {
            format!("{path}: {inner}")
        }
    })
}

/// `labels { a = "b" }` / `port_map { http = 8080 }`: string values, merged over blocks.
fn string_map_blocks<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    let mut merged = BTreeMap::new();
    for block in
        block_values(Option::<Value>::deserialize(deserializer)?).map_err(D::Error::custom)?
    {
        if let Value::Object(map) = block {
            for (key, value) in map {
                let text = match value {
                    Value::String(s) => s,
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    other => {
                        return Err(D::Error::custom(format!(
                            "\"{key}\" must be a string, got {other}"
                        )));
                    }
                };
                merged.insert(key, text);
            }
        }
    }
    Ok(merged)
}
