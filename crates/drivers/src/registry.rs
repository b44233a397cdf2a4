//! The drivers of a client, by name: built by the binary from the agent configuration,
//! handed to the client, which fingerprints them, and starts, re-attaches to and stops
//! tasks through them.

use std::collections::BTreeMap;
use std::sync::Arc;

use caravan_structs::DriverInfo;
use caravan_structs::driver_schema::DriverSchemas;

use crate::{Driver, ExecutorCommand};

/// The task drivers a client runs tasks with.
#[derive(Debug, Clone)]
pub struct DriverRegistry {
    drivers: BTreeMap<&'static str, Arc<dyn Driver>>,
    executor: ExecutorCommand,
}

impl DriverRegistry {
    /// An empty registry whose drivers supervise their tasks with `executor`.
    pub fn new(executor: ExecutorCommand) -> DriverRegistry {
        DriverRegistry {
            drivers: BTreeMap::new(),
            executor,
        }
    }

    /// Adds a driver under its name (replacing one of the same name).
    pub fn register(&mut self, driver: Arc<dyn Driver>) {
        self.drivers.insert(driver.name(), driver);
    }

    /// The same registry with `driver` added.
    pub fn with(mut self, driver: Arc<dyn Driver>) -> DriverRegistry {
        self.register(driver);
        self
    }

    /// The driver tasks name as `driver = "<name>"`, if this client has it.
    pub fn get(&self, name: &str) -> Option<Arc<dyn Driver>> {
        self.drivers.get(name).cloned()
    }

    /// Each driver's fingerprint, by name (the node's `Drivers`).
    pub fn fingerprint(&self) -> BTreeMap<String, DriverInfo> {
        self.drivers
            .iter()
            .map(|(name, driver)| (name.to_string(), driver.fingerprint()))
            .collect()
    }

    /// Each driver's task config schema, for the servers' submit-time checks.
    pub fn schemas(&self) -> DriverSchemas {
        self.drivers
            .iter()
            .map(|(name, driver)| (*name, driver.config_schema()))
            .collect()
    }

    /// How the drivers launch executors.
    pub fn executor(&self) -> &ExecutorCommand {
        &self.executor
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::Value;

    use super::*;
    use crate::{ExecConfig, ExecDriver, JavaDriver, RawExecDriver};

    fn registry() -> DriverRegistry {
        let executor = ExecutorCommand::test_binary("unused", false);
        DriverRegistry::new(executor.clone())
            .with(Arc::new(RawExecDriver::new(executor.clone(), false)))
            .with(Arc::new(ExecDriver::new(
                executor.clone(),
                ExecConfig::default(),
            )))
            .with(Arc::new(JavaDriver::from_plugin_config(
                executor,
                Ok(ExecConfig::default()),
            )))
    }

    fn config(json: &str) -> serde_json::Map<String, Value> {
        serde_json::from_str(json).unwrap()
    }

    /// The servers' submit-time check, with the schemas the drivers declare.
    #[test]
    fn driver_config_table() {
        let schemas = registry().schemas();
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
            (
                "java",
                r#"{"jar_path": "local/app.jar", "jvm_options": ["-Xmx1g"], "args": ["a"]}"#,
                &[],
            ),
            (
                "java",
                r#"{"command": "java"}"#,
                &[
                    "config: unknown key \"command\" for driver \"java\"; it accepts class, class_path, jar_path, jvm_options, args, pid_mode, ipc_mode, cap_add, cap_drop",
                ],
            ),
            ("docker", r#"{"image": "redis"}"#, &[]),
        ];
        for (driver, json, want) in cases {
            assert_eq!(
                schemas.check(driver, &config(json)),
                *want,
                "{driver} {json}"
            );
        }
    }

    #[test]
    fn a_disabled_driver_is_registered_and_fingerprinted_as_disabled() {
        let registry = registry();
        let raw_exec = registry.get("raw_exec").unwrap();
        assert_eq!(raw_exec.name(), "raw_exec");
        let info = &registry.fingerprint()["raw_exec"];
        assert_eq!(
            (
                info.detected,
                info.healthy,
                info.health_description.as_str()
            ),
            (false, false, "disabled")
        );
        assert!(registry.get("docker").is_none());
    }
}
