//! A task's environment (`NOMAD_*` variables) and the `${...}` interpolation of its config.

use std::collections::BTreeMap;
use std::path::Path;

use caravan_drivers::FsIsolation;
use caravan_structs::{AllocatedSharedResources, Allocation, Node, Task, TaskGroup, short_id};

use crate::alloc_dir::AllocDir;

/// Where a chrooted task sees its directories, innermost first: the secrets and task
/// directories lie inside the task's directory on the host, so they are mapped before
/// anything shorter could match.
const CHROOT_DIRS: [(&str, &str); 3] = [
    ("NOMAD_SECRETS_DIR", "/secrets"),
    ("NOMAD_TASK_DIR", "/local"),
    ("NOMAD_ALLOC_DIR", "/alloc"),
];

/// The environment of one task: the agent's own environment, then Nomad's task
/// variables, then the task's `env` block (interpolated).
pub struct TaskEnv {
    pub vars: BTreeMap<String, String>,
    node: Node,
}

impl TaskEnv {
    /// Builds the environment for `task` of `alloc` on `node`, whose directory is
    /// `task_dir` (from [`AllocDir::task`]).
    #[allow(clippy::too_many_arguments)]
    pub fn build(
        alloc: &Allocation,
        group: &TaskGroup,
        task: &Task,
        node: &Node,
        region: &str,
        dir: &AllocDir,
        task_dir: &Path,
        agent_env: impl Iterator<Item = (String, String)>,
    ) -> TaskEnv {
        let mut vars: BTreeMap<String, String> = agent_env.collect();
        let job = alloc.job.as_ref();
        let path = |p: std::path::PathBuf| p.display().to_string();
        let nomad: [(&str, String); 16] = [
            ("NOMAD_ALLOC_DIR", path(dir.shared())),
            ("NOMAD_TASK_DIR", path(task_dir.join("local"))),
            ("NOMAD_SECRETS_DIR", path(task_dir.join("secrets"))),
            ("NOMAD_ALLOC_ID", alloc.id.to_string()),
            ("NOMAD_SHORT_ALLOC_ID", short_id(&alloc.id).to_string()),
            ("NOMAD_ALLOC_NAME", alloc.name.clone()),
            ("NOMAD_ALLOC_INDEX", alloc.index().to_string()),
            ("NOMAD_TASK_NAME", task.name.clone()),
            ("NOMAD_GROUP_NAME", group.name.clone()),
            ("NOMAD_JOB_ID", alloc.job_id.to_string()),
            (
                "NOMAD_JOB_NAME",
                job.map(|j| j.name.clone()).unwrap_or_default(),
            ),
            ("NOMAD_DC", node.datacenter.clone()),
            ("NOMAD_REGION", region.to_string()),
            ("NOMAD_NAMESPACE", alloc.namespace.clone()),
            ("NOMAD_CPU_LIMIT", task.resources.cpu.to_string()),
            ("NOMAD_MEMORY_LIMIT", task.resources.memory_mb.to_string()),
        ];
        for (key, value) in nomad {
            vars.insert(key.to_string(), value);
        }
        if task.resources.memory_max_mb > 0 {
            vars.insert(
                "NOMAD_MEMORY_MAX_LIMIT".into(),
                task.resources.memory_max_mb.to_string(),
            );
        }
        if let Some(parent) = job.map(|j| j.parent_id.clone()).filter(|p| !p.is_empty()) {
            vars.insert("NOMAD_JOB_PARENT_ID".into(), parent.to_string());
        }
        vars.extend(port_vars(&alloc.allocated_resources.shared));
        // Meta: job, then group, then task, the narrower winning; Nomad sets both the
        // key as written and upper-cased.
        let job_meta = job.map(|j| j.meta.clone()).unwrap_or_default();
        for meta in [&job_meta, &group.meta, &task.meta] {
            for (key, value) in meta {
                vars.insert(format!("NOMAD_META_{key}"), value.clone());
                vars.insert(format!("NOMAD_META_{}", key.to_uppercase()), value.clone());
            }
        }
        let mut env = TaskEnv {
            vars,
            node: node.clone(),
        };
        let task_vars: Vec<(String, String)> = task
            .env
            .iter()
            .map(|(k, v)| (k.clone(), env.interpolate(v)))
            .collect();
        env.vars.extend(task_vars);
        env
    }

    /// Replaces `${NOMAD_X}`, `${node.*}`, `${attr.*}`, `${meta.*}` and `${env.X}` with
    /// their values; anything unknown stays as written, like Nomad's.
    pub fn interpolate(&self, text: &str) -> String {
        interpolate_with(text, |key| self.lookup(key))
    }

    /// The environment as the task sees it: a task whose driver chroots it sees its
    /// directories at `/alloc`, `/local` and `/secrets` (Nomad sets them so).
    pub fn task_view(&self, isolation: FsIsolation) -> BTreeMap<String, String> {
        let mut vars = self.vars.clone();
        if isolation.sees_task_dirs_inside() {
            for (key, path) in CHROOT_DIRS {
                vars.insert(key.to_string(), path.to_string());
            }
        }
        vars
    }

    /// [`TaskEnv::interpolate`] for a task that sees its filesystem through
    /// `isolation`: `${NOMAD_TASK_DIR}` and friends become the paths the task sees.
    pub fn interpolate_for(&self, text: &str, isolation: FsIsolation) -> String {
        let mut text = self.interpolate(text);
        if isolation.sees_task_dirs_inside() {
            for (key, inside) in CHROOT_DIRS {
                if let Some(host_path) = self.vars.get(key) {
                    text = text.replace(host_path.as_str(), inside);
                }
            }
        }
        text
    }

    /// A task's `config` block with every string in it interpolated (Nomad interpolates
    /// the whole driver config), for a task that sees its filesystem through
    /// `isolation`. Keys stay as written.
    pub fn interpolate_config(
        &self,
        config: &serde_json::Map<String, serde_json::Value>,
        isolation: FsIsolation,
    ) -> serde_json::Map<String, serde_json::Value> {
        use serde_json::Value;
        fn walk(value: &Value, text: &dyn Fn(&str) -> String) -> Value {
            match value {
                Value::String(s) => Value::String(text(s)),
                Value::Array(items) => Value::Array(items.iter().map(|v| walk(v, text)).collect()),
                Value::Object(map) => Value::Object(
                    map.iter()
                        .map(|(k, v)| (k.clone(), walk(v, text)))
                        .collect(),
                ),
                other => other.clone(),
            }
        }
        let text = |s: &str| self.interpolate_for(s, isolation);
        config
            .iter()
            .map(|(key, value)| (key.clone(), walk(value, &text)))
            .collect()
    }

    fn lookup(&self, key: &str) -> Option<String> {
        let node = &self.node;
        match key {
            "node.unique.id" => return Some(node.id.to_string()),
            "node.unique.name" => return Some(node.name.clone()),
            "node.datacenter" => return Some(node.datacenter.clone()),
            "node.class" => return Some(node.node_class.clone()),
            "node.pool" => return Some(node.node_pool.clone()),
            "node.region" => return self.vars.get("NOMAD_REGION").cloned(),
            _ => {}
        }
        if let Some(attr) = key.strip_prefix("attr.") {
            return node.attributes.get(attr).cloned();
        }
        if let Some(meta) = key.strip_prefix("meta.") {
            return node.meta.get(meta).cloned();
        }
        if let Some(var) = key.strip_prefix("env.") {
            return self.vars.get(var).cloned();
        }
        self.vars.get(key).cloned()
    }
}

/// The variables of the allocation's ports, as Nomad's `addGroupPort` then `addPorts`
/// set them for a `host` network: for a port labelled `http`, `NOMAD_PORT_http` (the
/// mapped `to` port if any, else the host port), `NOMAD_ALLOC_PORT_http` (the same),
/// `NOMAD_HOST_PORT_http`, `NOMAD_IP_http`, `NOMAD_HOST_IP_http`, `NOMAD_ADDR_http` and
/// `NOMAD_HOST_ADDR_http` (`ip:host port`).
pub fn port_vars(shared: &AllocatedSharedResources) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    // Allocations that recorded only their networks (Nomad's pre-0.12 shape).
    for port in shared.networks.iter().flat_map(|n| n.ports()) {
        let mapped = if port.to > 0 { port.to } else { port.value };
        vars.insert(format!("NOMAD_PORT_{}", port.label), mapped.to_string());
        vars.insert(
            format!("NOMAD_HOST_PORT_{}", port.label),
            port.value.to_string(),
        );
    }
    for port in &shared.ports {
        let label = &port.label;
        let host = port.value.to_string();
        let addr = join_host_port(&port.host_ip, &host);
        let mapped = if port.to > 0 { port.to } else { port.value };
        vars.insert(format!("NOMAD_ADDR_{label}"), addr.clone());
        vars.insert(format!("NOMAD_HOST_ADDR_{label}"), addr);
        vars.insert(format!("NOMAD_IP_{label}"), port.host_ip.clone());
        vars.insert(format!("NOMAD_HOST_IP_{label}"), port.host_ip.clone());
        vars.insert(format!("NOMAD_PORT_{label}"), mapped.to_string());
        vars.insert(format!("NOMAD_ALLOC_PORT_{label}"), mapped.to_string());
        vars.insert(format!("NOMAD_HOST_PORT_{label}"), host);
    }
    // Nomad cleans these prefixes' keys (a label `my-port` gives `NOMAD_PORT_my_port`).
    const CLEANED: [&str; 4] = [
        "NOMAD_ADDR_",
        "NOMAD_IP_",
        "NOMAD_PORT_",
        "NOMAD_HOST_PORT_",
    ];
    vars.into_iter()
        .map(|(key, value)| {
            if CLEANED.iter().any(|prefix| key.starts_with(prefix)) {
                (clean_env_var(&key), value)
            } else {
                (key, value)
            }
        })
        .collect()
}

/// Go's `net.JoinHostPort`: IPv6 addresses in brackets.
fn join_host_port(ip: &str, port: &str) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

/// Nomad's `helper.CleanEnvVar(s, '_')`: what is not a letter, `_`, `.` or (after the
/// first character) a digit becomes `_`.
fn clean_env_var(key: &str) -> String {
    key.chars()
        .enumerate()
        .map(|(i, c)| {
            if c.is_ascii_alphabetic() || c == '_' || c == '.' || (i > 0 && c.is_ascii_digit()) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Replaces each `${key}` in `text` with what `lookup` answers for it; a key it does not
/// know, and an unclosed `${`, stay as written (Nomad's interpolation).
pub fn interpolate_with(text: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        match lookup(&after[..end]) {
            Some(value) => out.push_str(&value),
            None => out.push_str(&rest[start..start + 2 + end + 1]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use caravan_structs::{AllocatedPortMapping, NetworkResource, Port};

    use super::*;

    #[test]
    fn port_variables_follow_nomads_names() {
        let mapping = |label: &str, value, to, ip: &str| AllocatedPortMapping {
            label: label.into(),
            value,
            to,
            host_ip: ip.into(),
        };
        let port = |label: &str, value, to| Port {
            label: label.into(),
            value,
            to,
            ..Port::default()
        };
        let shared = AllocatedSharedResources {
            networks: vec![NetworkResource {
                ip: "10.0.0.5".into(),
                reserved_ports: vec![port("db", 6379, 0)],
                dynamic_ports: vec![port("http", 23_456, 0), port("my-app", 24_000, 8080)],
                ..NetworkResource::default()
            }],
            ports: vec![
                mapping("db", 6379, 0, "10.0.0.5"),
                mapping("http", 23_456, 0, "10.0.0.5"),
                mapping("my-app", 24_000, 8080, "10.0.0.5"),
                mapping("v6", 25_000, 0, "::1"),
            ],
            ..AllocatedSharedResources::default()
        };
        let vars = port_vars(&shared);
        let cases = [
            ("NOMAD_PORT_http", "23456"),
            ("NOMAD_HOST_PORT_http", "23456"),
            ("NOMAD_ALLOC_PORT_http", "23456"),
            ("NOMAD_IP_http", "10.0.0.5"),
            ("NOMAD_HOST_IP_http", "10.0.0.5"),
            ("NOMAD_ADDR_http", "10.0.0.5:23456"),
            ("NOMAD_HOST_ADDR_http", "10.0.0.5:23456"),
            ("NOMAD_PORT_db", "6379"),
            ("NOMAD_ADDR_db", "10.0.0.5:6379"),
            // Mapped: the task binds `to`, the host exposes `value`.
            ("NOMAD_PORT_my_app", "8080"),
            ("NOMAD_ALLOC_PORT_my-app", "8080"),
            ("NOMAD_HOST_PORT_my_app", "24000"),
            ("NOMAD_ADDR_my_app", "10.0.0.5:24000"),
            ("NOMAD_HOST_ADDR_my-app", "10.0.0.5:24000"),
            ("NOMAD_ADDR_v6", "[::1]:25000"),
        ];
        for (key, want) in cases {
            assert_eq!(vars.get(key).map(String::as_str), Some(want), "{key}");
        }
        assert!(!vars.contains_key("NOMAD_PORT_my-app"));
        assert!(port_vars(&AllocatedSharedResources::default()).is_empty());
    }

    #[test]
    fn interpolation_keeps_unknown_references() {
        let node = Node {
            id: "n1".into(),
            meta: [("Name".to_string(), "client-1".to_string())].into(),
            ..Node::default()
        };
        let env = TaskEnv {
            vars: [("NOMAD_ALLOC_DIR".to_string(), "/a".to_string())].into(),
            node,
        };
        let cases = [
            ("${NOMAD_ALLOC_DIR}/data", "/a/data"),
            ("${meta.Name}-${node.unique.id}", "client-1-n1"),
            ("${nope} and ${attr.missing}", "${nope} and ${attr.missing}"),
            (
                "unterminated ${NOMAD_ALLOC_DIR",
                "unterminated ${NOMAD_ALLOC_DIR",
            ),
            ("plain", "plain"),
        ];
        for (input, want) in cases {
            assert_eq!(env.interpolate(input), want, "{input}");
        }
    }

    #[test]
    fn a_chrooted_task_sees_its_directories_in_its_config_and_environment() {
        let env = TaskEnv {
            vars: [
                ("NOMAD_ALLOC_DIR", "/data/a1/alloc"),
                ("NOMAD_TASK_DIR", "/data/a1/web/local"),
                ("NOMAD_SECRETS_DIR", "/data/a1/web/secrets"),
                ("NAME", "web"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            node: Node::default(),
        };
        let config = serde_json::json!({
            "command": "${NOMAD_TASK_DIR}/run",
            "args": ["--data=${NOMAD_ALLOC_DIR}/data", 3, "${NAME}"],
            "cgroup_v1_override": {"memory": "${NAME}"},
        });
        let config = config.as_object().unwrap();
        let chrooted = env.interpolate_config(config, FsIsolation::Chroot);
        assert_eq!(
            serde_json::Value::Object(chrooted),
            serde_json::json!({
                "command": "/local/run",
                "args": ["--data=/alloc/data", 3, "web"],
                "cgroup_v1_override": {"memory": "web"},
            })
        );
        let host = env.interpolate_config(config, FsIsolation::None);
        assert_eq!(host["command"], "/data/a1/web/local/run");
        assert_eq!(
            env.task_view(FsIsolation::Chroot)["NOMAD_SECRETS_DIR"],
            "/secrets"
        );
        assert_eq!(
            env.task_view(FsIsolation::None)["NOMAD_SECRETS_DIR"],
            "/data/a1/web/secrets"
        );
    }
}
