//! `java`: runs a JVM isolated as `exec` runs its command (Nomad's java driver is the
//! exec driver's executor with `java` as the program). The task's `config` names a jar
//! (`jar_path`) or a main class (`class`, with `class_path`), and the driver runs
//! `java [jvm_options] [-cp class_path] [-jar jar_path] [class] [args]` inside the
//! task's chroot, where `java` is found in the `chroot_env` (`/usr`, `/etc` hold the
//! JVM and its `alternatives` links by default).
//!
//! Like Nomad's, it sets no heap size of its own: `-Xmx` and the like go in
//! `jvm_options`; the task's `memory` is enforced by its cgroup.

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use caravan_structs::DriverInfo;
use caravan_structs::driver_schema::{ConfigKey, ConfigKind, ConfigRule, DriverSchema};
use nix::sys::signal::Signal;
use serde::Deserialize;

use crate::cgroups::Hierarchy;
use crate::chroot;
use crate::driver::{DriverCapabilities, DriverFuture};
use crate::exec::{ExecConfig, ExecDriver, ExecTaskConfig, fingerprint_with};
use crate::executor::ExecutorCommand;
use crate::launch::blocking;
use crate::stats::Sample;
use crate::task_config::{self, NamespaceMode, decode};
use crate::{Driver, DriverError, ExitResult, TaskLaunch, TaskProcess};

/// The driver's name in job files.
pub const NAME: &str = "java";

/// Nomad's java task config (`drivers/java/driver.go` taskConfigSpec).
pub const SCHEMA: DriverSchema = DriverSchema {
    keys: &[
        ConfigKey::optional("class", ConfigKind::String),
        ConfigKey::optional("class_path", ConfigKind::String),
        ConfigKey::optional("jar_path", ConfigKind::String),
        ConfigKey::optional("jvm_options", ConfigKind::StringList),
        ConfigKey::optional("args", ConfigKind::StringList),
        ConfigKey::optional("pid_mode", ConfigKind::String)
            .with_rule(ConfigRule::OneOf(&["private", "host"])),
        ConfigKey::optional("ipc_mode", ConfigKind::String)
            .with_rule(ConfigRule::OneOf(&["private", "host"])),
        ConfigKey::optional("cap_add", ConfigKind::StringList),
        ConfigKey::optional("cap_drop", ConfigKind::StringList),
    ],
};

/// A `java` task's `config` block, decoded ([`SCHEMA`] lists the same keys).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JavaTaskConfig {
    /// The main class to run (`java ... <class> args`).
    #[serde(default, deserialize_with = "task_config::string")]
    pub class: Option<String>,
    /// `-cp`: where the JVM looks for classes.
    #[serde(default, deserialize_with = "task_config::string")]
    pub class_path: Option<String>,
    /// The jar to run (`java ... -jar <jar_path> args`), a path in the task's chroot,
    /// relative ones from its root (`local/app.jar`).
    #[serde(default, deserialize_with = "task_config::string")]
    pub jar_path: Option<String>,
    /// Options for the JVM, before the jar or class (`-Xmx512m`).
    #[serde(default, deserialize_with = "task_config::scalar_list")]
    pub jvm_options: Vec<String>,
    /// Arguments for the program, after the jar or class.
    #[serde(default, deserialize_with = "task_config::scalar_list")]
    pub args: Vec<String>,
    #[serde(default, deserialize_with = "task_config::namespace_mode")]
    pub pid_mode: Option<NamespaceMode>,
    #[serde(default, deserialize_with = "task_config::namespace_mode")]
    pub ipc_mode: Option<NamespaceMode>,
    #[serde(default, deserialize_with = "task_config::string_list")]
    pub cap_add: Vec<String>,
    #[serde(default, deserialize_with = "task_config::string_list")]
    pub cap_drop: Vec<String>,
}

impl JavaTaskConfig {
    /// The JVM's arguments, in Nomad's order (its `javaCmdArgs`); `Err` with Nomad's
    /// message when neither a jar nor a class is named.
    pub fn java_args(&self) -> Result<Vec<String>, DriverError> {
        fn set(value: &Option<String>) -> Option<&str> {
            value.as_deref().filter(|v| !v.is_empty())
        }
        if set(&self.jar_path).is_none() && set(&self.class).is_none() {
            return Err(DriverError::InvalidConfig(
                "jar_path or class must be specified".into(),
            ));
        }
        let mut args = self.jvm_options.clone();
        if let Some(class_path) = set(&self.class_path) {
            args.extend(["-cp".to_string(), class_path.to_string()]);
        }
        if let Some(jar) = set(&self.jar_path) {
            args.extend(["-jar".to_string(), jar.to_string()]);
        }
        if let Some(class) = set(&self.class) {
            args.push(class.to_string());
        }
        args.extend(self.args.iter().cloned());
        Ok(args)
    }
}

/// What `java -version` says of the client's JVM (`driver.java.*` attributes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JavaVersion {
    /// `17.0.9`
    pub version: String,
    /// `OpenJDK Runtime Environment (build 17.0.9+9-Debian-1deb12u1)`
    pub runtime: String,
    /// `OpenJDK 64-Bit Server VM (build 17.0.9+9-Debian-1deb12u1, mixed mode, sharing)`
    pub vm: String,
}

/// Reads `java -version`'s output (it writes to stderr) as Nomad does: three lines (a
/// `Picked up _JAVA_OPTIONS` line first is skipped), the version quoted in the first.
pub fn parse_java_version(output: &str) -> Result<JavaVersion, String> {
    let mut lines: Vec<&str> = output.trim().lines().collect();
    if lines
        .first()
        .is_some_and(|l| l.contains("Picked up _JAVA_OPTIONS"))
    {
        lines.remove(0);
    }
    let [first, runtime, vm] = lines.as_slice() else {
        return Err(format!(
            "unexpected java version info output, expected 3 lines but got: {}",
            output.trim()
        ));
    };
    let version = first
        .split_once("version \"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map_or_else(|| first.trim().to_string(), |(v, _)| v.to_string());
    Ok(JavaVersion {
        version,
        runtime: runtime.trim().to_string(),
        vm: vm.trim().to_string(),
    })
}

/// Runs `java -version` with the agent's `PATH`; `Err` says why there is no JVM.
pub fn probe_java() -> Result<JavaVersion, String> {
    let output = std::process::Command::new("java")
        .arg("-version")
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| {
            format!(
                "java not found on this client ({e}); install a Java runtime (Debian: default-jre-headless) for the java driver"
            )
        })?;
    if !output.status.success() {
        return Err(format!(
            "java -version failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    parse_java_version(&String::from_utf8_lossy(&output.stderr))
}

/// Nomad's java fingerprint on given facts: the exec driver's needs (root, cgroups),
/// then a JVM; its `driver.java.*` attributes when there is one.
pub fn fingerprint_java(
    euid: u32,
    hierarchy: Option<&Hierarchy>,
    java: &Result<JavaVersion, String>,
) -> DriverInfo {
    let isolation = fingerprint_with(euid, hierarchy);
    if !isolation.healthy {
        return isolation;
    }
    match java {
        Ok(java) => DriverInfo {
            detected: true,
            healthy: true,
            health_description: "Healthy".into(),
            attributes: [
                ("driver.java", "1"),
                ("driver.java.version", java.version.as_str()),
                ("driver.java.runtime", java.runtime.as_str()),
                ("driver.java.vm", java.vm.as_str()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            ..DriverInfo::default()
        },
        Err(why) => DriverInfo {
            detected: false,
            healthy: false,
            health_description: why.clone(),
            ..DriverInfo::default()
        },
    }
}

/// A path written in a task's config, inside its chroot: relative ones from `/`, `.`
/// and `..` folded so it cannot climb out.
fn inside_chroot(path: &str) -> PathBuf {
    let mut out = PathBuf::from("/");
    for component in Path::new(path).components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

/// Where the task's `jar_path` is on the host: under one of its host volumes, else
/// under the `chroot_env` or the task directory.
fn jar_on_host(launch: &TaskLaunch, env: &[(PathBuf, PathBuf)], jar: &Path) -> PathBuf {
    let volume = launch.mounts.iter().find_map(|mount| {
        let rest = jar.strip_prefix(inside_chroot(&mount.task_path)).ok()?;
        Some(mount.host_path.join(rest))
    });
    volume.unwrap_or_else(|| chroot::host_path(&launch.task_dir, env, jar))
}

/// The `java` driver: the `exec` driver's isolation with `java` as the program.
#[derive(Debug, Clone)]
pub struct JavaDriver {
    executor: ExecutorCommand,
    /// The plugin block, or why it could not be read (the driver is then unhealthy).
    config: Result<ExecConfig, String>,
    exec: ExecDriver,
    hierarchy: Option<Hierarchy>,
    /// The client's JVM, probed once, when first needed: a server builds the driver for
    /// its schema alone and never runs `java`.
    java: std::sync::OnceLock<Result<JavaVersion, String>>,
}

impl JavaDriver {
    /// A driver from its plugin block as read (`plugin "java" { config { ... } }` plus
    /// the client's `chroot_env`, [`ExecConfig::from_named_plugin_config`]). The
    /// client's JVM is probed (`java -version`, blocking) by the first fingerprint.
    pub fn from_plugin_config(
        executor: ExecutorCommand,
        config: Result<ExecConfig, String>,
    ) -> JavaDriver {
        JavaDriver {
            exec: ExecDriver::from_plugin_config(executor.clone(), config.clone()),
            executor,
            config,
            hierarchy: Hierarchy::discover().ok(),
            java: std::sync::OnceLock::new(),
        }
    }

    /// The client's JVM, probed on first use.
    fn java(&self) -> &Result<JavaVersion, String> {
        self.java.get_or_init(probe_java)
    }

    /// Starts the JVM isolated, as `exec` starts its command; returns once it runs.
    pub async fn start_task(
        &self,
        launch: &TaskLaunch,
        task_config: &JavaTaskConfig,
    ) -> Result<TaskProcess, DriverError> {
        let config = self
            .config
            .as_ref()
            .map_err(|_| DriverError::Unavailable { driver: NAME })?;
        if let Err(why) = self.java.get().unwrap_or(&Ok(JavaVersion::default())) {
            return Err(DriverError::InvalidConfig(why.clone()));
        }
        let args = task_config.java_args()?;
        if let Some(jar) = task_config.jar_path.as_deref().filter(|j| !j.is_empty()) {
            let custom: Option<Vec<(String, String)>> = config
                .chroot_env
                .as_ref()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
            let env = chroot::chroot_env(custom.as_deref());
            let inside = inside_chroot(jar);
            let on_host = jar_on_host(launch, &env, &inside);
            let jar = jar.to_string();
            blocking(&launch.state_dir, move || {
                if on_host.is_file() {
                    return Ok(());
                }
                Err(DriverError::InvalidConfig(format!(
                    "jar_path {jar:?}: no file at {} in the task's filesystem; fetch the jar with an artifact (into local/) or mount it with a volume_mount",
                    inside.display()
                )))
            })
            .await?;
        }
        let exec_config = ExecTaskConfig {
            command: Some("java".into()),
            args,
            pid_mode: task_config.pid_mode,
            ipc_mode: task_config.ipc_mode,
            cap_add: task_config.cap_add.clone(),
            cap_drop: task_config.cap_drop.clone(),
            ..ExecTaskConfig::default()
        };
        self.exec.start_task(launch, &exec_config).await
    }
}

impl Driver for JavaDriver {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Nomad's: as `exec` (root, cgroups), then a JVM on the agent's `PATH`; a bad
    /// plugin block makes it unhealthy with the block's error as the description.
    fn fingerprint(&self) -> DriverInfo {
        // SAFETY: geteuid cannot fail.
        let euid = unsafe { libc::geteuid() };
        let mut info = fingerprint_java(euid, self.hierarchy.as_ref(), self.java());
        if let Err(error) = &self.config {
            info.healthy = false;
            info.health_description = error.clone();
        }
        info
    }

    fn config_schema(&self) -> DriverSchema {
        SCHEMA
    }

    fn capabilities(&self) -> DriverCapabilities {
        self.exec.capabilities()
    }

    crate::driver::executor_task_methods!(JavaTaskConfig);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::CgroupVersion;

    #[test]
    fn java_args_follow_nomads_order() {
        let config = |json: serde_json::Value| -> JavaTaskConfig {
            decode(json.as_object().unwrap()).unwrap()
        };
        let cases = [
            (
                serde_json::json!({"jar_path": "local/app.jar", "jvm_options": ["-Xmx256m"], "args": ["a", 1]}),
                vec!["-Xmx256m", "-jar", "local/app.jar", "a", "1"],
            ),
            (
                serde_json::json!({"class": "Hello", "class_path": "/app:/lib/x.jar", "args": ["b"]}),
                vec!["-cp", "/app:/lib/x.jar", "Hello", "b"],
            ),
            (
                serde_json::json!({"class": "Main", "jar_path": "app.jar"}),
                vec!["-jar", "app.jar", "Main"],
            ),
        ];
        for (json, want) in cases {
            assert_eq!(config(json.clone()).java_args().unwrap(), want, "{json}");
        }
        let error = config(serde_json::json!({"args": ["x"]}))
            .java_args()
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid task config: jar_path or class must be specified"
        );
    }

    #[test]
    fn java_version_output_is_read_as_nomad_reads_it() {
        let openjdk = "openjdk version \"17.0.9\" 2023-10-17\nOpenJDK Runtime Environment (build 17.0.9+9-Debian-1deb12u1)\nOpenJDK 64-Bit Server VM (build 17.0.9+9-Debian-1deb12u1, mixed mode, sharing)\n";
        assert_eq!(
            parse_java_version(openjdk).unwrap(),
            JavaVersion {
                version: "17.0.9".into(),
                runtime: "OpenJDK Runtime Environment (build 17.0.9+9-Debian-1deb12u1)".into(),
                vm:
                    "OpenJDK 64-Bit Server VM (build 17.0.9+9-Debian-1deb12u1, mixed mode, sharing)"
                        .into(),
            }
        );
        let picked = format!("Picked up _JAVA_OPTIONS: -Xmx1g\n{openjdk}");
        assert_eq!(parse_java_version(&picked).unwrap().version, "17.0.9");
        assert!(parse_java_version("java: command not found").is_err());
    }

    #[test]
    fn fingerprint_needs_isolation_then_a_jvm() {
        let hierarchy = Hierarchy {
            version: CgroupVersion::V2,
            mounts: Default::default(),
        };
        let java = Ok(JavaVersion {
            version: "17.0.9".into(),
            runtime: "rt".into(),
            vm: "vm".into(),
        });
        let info = fingerprint_java(0, Some(&hierarchy), &java);
        assert!(info.detected && info.healthy);
        assert_eq!(info.attributes["driver.java.version"], "17.0.9");
        assert_eq!(info.attributes["driver.java.vm"], "vm");
        let info = fingerprint_java(1000, Some(&hierarchy), &java);
        assert_eq!(
            (info.detected, info.health_description.as_str()),
            (false, "Driver must run as root")
        );
        let missing = Err("java not found on this client".to_string());
        let info = fingerprint_java(0, Some(&hierarchy), &missing);
        assert!(!info.detected && !info.healthy && info.attributes.is_empty());
        assert_eq!(info.health_description, "java not found on this client");
    }

    #[test]
    fn the_jar_is_looked_for_in_volumes_then_the_chroot() {
        let launch = TaskLaunch {
            task_dir: "/data/alloc/a1/web".into(),
            mounts: vec![crate::TaskMount {
                host_path: "/srv/jars".into(),
                task_path: "jars".into(),
                read_only: true,
            }],
            ..TaskLaunch::default()
        };
        let env = chroot::chroot_env(None);
        let cases = [
            ("/jars/app.jar", "/srv/jars/app.jar"),
            ("local/app.jar", "/data/alloc/a1/web/local/app.jar"),
            ("/usr/share/java/x.jar", "/usr/share/java/x.jar"),
            ("../../etc/x.jar", "/etc/x.jar"),
        ];
        for (jar, host) in cases {
            assert_eq!(
                jar_on_host(&launch, &env, &inside_chroot(jar)),
                PathBuf::from(host),
                "{jar}"
            );
        }
    }
}
