//! The container a task becomes: its name, labels, environment, published ports, mounts
//! and limits, from the task's launch, its config and the plugin's settings. Pure, so
//! that every refusal and mapping is table-tested without a daemon.

use std::collections::HashMap;
use std::path::Path;

use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType, PortBinding};

use super::config::{DockerPluginConfig, DockerTaskConfig};
use crate::TaskLaunch;

/// The label every container of an allocation carries (Nomad's).
pub const ALLOC_ID_LABEL: &str = "com.hashicorp.nomad.alloc_id";

/// Nomad's refusal of `privileged` on a client that does not allow it.
pub const PRIVILEGED_REFUSED: &str = "Docker privileged mode is disabled on this Nomad agent";

/// Nomad's refusal of host paths on a client with volumes disabled.
pub const VOLUMES_REFUSED: &str = "volumes are not enabled; cannot mount host paths";

/// The refusal of a host path `what` names, with what the operator can change.
fn volumes_refused(what: &str) -> String {
    format!(
        "{VOLUMES_REFUSED} ({what}); set plugin \"docker\" {{ config {{ volumes {{ enabled = true }} }} }} on the client"
    )
}

/// Nomad's container name: `<task>-<alloc_id>`.
pub fn container_name(launch: &TaskLaunch) -> String {
    format!("{}-{}", launch.task_name, launch.alloc_id)
}

/// The create request for the task's container, or why the task may not run as
/// configured.
pub fn container_body(
    launch: &TaskLaunch,
    config: &DockerTaskConfig,
    plugin: &DockerPluginConfig,
    image: &str,
) -> Result<ContainerCreateBody, String> {
    if config.privileged && !plugin.allow_privileged {
        return Err(PRIVILEGED_REFUSED.into());
    }
    let (exposed_ports, port_bindings) = published_ports(launch, config)?;
    let (binds, mounts) = task_mounts(launch, config, plugin)?;
    let network_mode = network_mode(launch, config)?;
    let mut cmd = Vec::new();
    if let Some(command) = config.command.as_deref().filter(|c| !c.is_empty()) {
        cmd.push(command.to_string());
    }
    cmd.extend(config.args.iter().cloned());
    let mut env: Vec<String> = launch
        .env
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    env.sort();
    let (memory, memory_reservation) = memory_limits(launch, config);
    Ok(ContainerCreateBody {
        image: Some(image.to_string()),
        cmd: (!cmd.is_empty()).then_some(cmd),
        entrypoint: (!config.entrypoint.is_empty()).then(|| config.entrypoint.clone()),
        working_dir: config.work_dir.clone().filter(|w| !w.is_empty()),
        hostname: config.hostname.clone().filter(|h| !h.is_empty()),
        env: Some(env),
        labels: Some(labels(launch, config)),
        exposed_ports: (!exposed_ports.is_empty()).then_some(exposed_ports),
        host_config: Some(HostConfig {
            binds: Some(binds),
            mounts: Some(mounts),
            port_bindings: (!port_bindings.is_empty()).then_some(port_bindings),
            network_mode: Some(network_mode),
            memory: Some(memory),
            memory_reservation,
            // Nomad: no swap beyond the memory limit.
            memory_swap: Some(memory),
            cpu_shares: Some(launch.resources.cpu.max(2)),
            privileged: Some(config.privileged),
            ..HostConfig::default()
        }),
        ..ContainerCreateBody::default()
    })
}

/// The hard memory limit and, when oversubscription (`memory_max`) or
/// `memory_hard_limit` raises it, the soft one (`resources.memory`), in bytes.
pub fn memory_limits(launch: &TaskLaunch, config: &DockerTaskConfig) -> (i64, Option<i64>) {
    let mb = |v: i64| v.max(0) << 20;
    let reserved = launch.resources.memory_mb;
    let hard = launch.resources.memory_max_mb.max(config.memory_hard_limit);
    if hard > reserved {
        (mb(hard), Some(mb(reserved)))
    } else {
        (mb(reserved), None)
    }
}

/// Nomad's labels: the task's own, and the allocation's identity.
fn labels(launch: &TaskLaunch, config: &DockerTaskConfig) -> HashMap<String, String> {
    let mut labels: HashMap<String, String> = config.labels.clone().into_iter().collect();
    labels.insert(ALLOC_ID_LABEL.into(), launch.alloc_id.clone());
    labels.insert(
        "com.hashicorp.nomad.task_name".into(),
        launch.task_name.clone(),
    );
    for (label, var) in [
        ("com.hashicorp.nomad.job_name", "NOMAD_JOB_NAME"),
        ("com.hashicorp.nomad.job_id", "NOMAD_JOB_ID"),
        ("com.hashicorp.nomad.task_group_name", "NOMAD_GROUP_NAME"),
        ("com.hashicorp.nomad.namespace", "NOMAD_NAMESPACE"),
        ("com.hashicorp.nomad.node_id", "NOMAD_NODE_ID"),
        ("com.hashicorp.nomad.node_name", "NOMAD_NODE_NAME"),
    ] {
        if let Some(value) = launch.env.get(var) {
            labels.insert(label.into(), value.clone());
        }
    }
    labels
}

/// A port label as Nomad's environment names it (`my-port` → `my_port`).
fn env_label(label: &str) -> String {
    label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

type Ports = (Vec<String>, HashMap<String, Option<Vec<PortBinding>>>);

/// `ports` (group port labels: container port = the port's `to`, else its host value)
/// and the legacy `port_map` (label = container port), published on the port's host
/// IP for TCP and UDP, as Nomad does.
fn published_ports(launch: &TaskLaunch, config: &DockerTaskConfig) -> Result<Ports, String> {
    let mut exposed = Vec::new();
    let mut bindings = HashMap::new();
    let var = |prefix: &str, label: &str| launch.env.get(&format!("{prefix}{}", env_label(label)));
    let mut publish = |label: &str, container_port: String| -> Result<(), String> {
        let host_port = var("NOMAD_HOST_PORT_", label).ok_or_else(|| {
            format!(
                "port \"{label}\" is not a port of the group's network; add it as \
                 network {{ port \"{label}\" {{ ... }} }}"
            )
        })?;
        let host_ip = var("NOMAD_HOST_IP_", label)
            .or_else(|| var("NOMAD_IP_", label))
            .cloned()
            .unwrap_or_default();
        for protocol in ["tcp", "udp"] {
            let key = format!("{container_port}/{protocol}");
            exposed.push(key.clone());
            bindings.insert(
                key,
                Some(vec![PortBinding {
                    host_ip: Some(host_ip.clone()),
                    host_port: Some(host_port.clone()),
                }]),
            );
        }
        Ok(())
    };
    for label in &config.ports {
        let container_port = var("NOMAD_PORT_", label)
            .cloned()
            .ok_or_else(|| format!("port \"{label}\" is not a port of the group's network; add it as network {{ port \"{label}\" {{ ... }} }}"))?;
        publish(label, container_port)?;
    }
    for (label, container_port) in &config.port_map {
        if container_port.parse::<u16>().is_err() {
            return Err(format!(
                "port_map: \"{label}\" must be a port number, got {container_port:?}"
            ));
        }
        publish(label, container_port.clone())?;
    }
    Ok((exposed, bindings))
}

/// The task's network mode: its config's, else `none` for a group whose network mode
/// is `none`, else Docker's bridge (Nomad's: a group's default `host` mode leaves the
/// container on Docker's default network, its ports published on the host).
fn network_mode(launch: &TaskLaunch, config: &DockerTaskConfig) -> Result<String, String> {
    let mode = config
        .network_mode
        .clone()
        .filter(|m| !m.is_empty())
        .or_else(|| launch.network_mode.clone().filter(|m| m == "none"))
        .unwrap_or_else(|| "bridge".into());
    match mode.as_str() {
        "bridge" | "host" | "none" | "default" => Ok(mode),
        other if other.starts_with("container:") => Ok(mode),
        other => Err(format!(
            "network_mode must be \"bridge\", \"host\", \"none\" or \"container:<name>\", got \"{other}\""
        )),
    }
}

/// The bind mounts (`host:container[:mode]`) and mount blocks: the task's directories
/// at `/alloc`, `/local` and `/secrets` (Nomad's), the client's `TaskLaunch.mounts`,
/// the task's `volumes` and `mount` blocks.
fn task_mounts(
    launch: &TaskLaunch,
    config: &DockerTaskConfig,
    plugin: &DockerPluginConfig,
) -> Result<(Vec<String>, Vec<Mount>), String> {
    let task_dir = &launch.task_dir;
    let mut binds = vec![
        bind(&launch.alloc_dir, "/alloc", false),
        bind(&task_dir.join("local"), "/local", false),
        bind(&task_dir.join("secrets"), "/secrets", false),
    ];
    for mount in &launch.mounts {
        let target = if mount.task_path.starts_with('/') {
            mount.task_path.clone()
        } else {
            format!("/{}", mount.task_path)
        };
        binds.push(bind(&mount.host_path, &target, mount.read_only));
    }
    for volume in &config.volumes {
        let parts: Vec<&str> = volume.split(':').collect();
        let (host, container, mode) = match parts.as_slice() {
            [host, container] => (*host, *container, None),
            [host, container, mode] => (*host, *container, Some(*mode)),
            _ => {
                return Err(format!(
                    "volumes: {volume:?} must be \"host_path:container_path\" or \
                     \"host_path:container_path:ro\""
                ));
            }
        };
        if host.is_empty() || !container.starts_with('/') {
            return Err(format!(
                "volumes: {volume:?} needs a host path and an absolute container path"
            ));
        }
        let host_path = if host.starts_with('/') {
            if !plugin.volumes.enabled {
                return Err(volumes_refused(&format!("volumes: {volume:?}")));
            }
            Path::new(host).to_path_buf()
        } else {
            // Nomad: a relative host path is inside the task directory, allowed always.
            task_dir.join(host)
        };
        let mut spec = format!("{}:{container}", host_path.display());
        if let Some(mode) = mode {
            spec.push(':');
            spec.push_str(mode);
        }
        binds.push(spec);
    }
    let mut mounts = Vec::new();
    for block in &config.mount {
        if !block.target.starts_with('/') {
            return Err(format!(
                "mount: target must be an absolute path in the container, got {:?}",
                block.target
            ));
        }
        let kind = block.kind.as_deref().unwrap_or("bind");
        let (typ, source) = match kind {
            "bind" => {
                let source = if block.source.starts_with('/') {
                    if !plugin.volumes.enabled {
                        return Err(volumes_refused(&format!("mount source {:?}", block.source)));
                    }
                    block.source.clone()
                } else {
                    task_dir.join(&block.source).display().to_string()
                };
                (MountType::BIND, Some(source))
            }
            "volume" => {
                if !plugin.volumes.enabled && !block.source.is_empty() {
                    return Err(volumes_refused(&format!("mount volume {:?}", block.source)));
                }
                (
                    MountType::VOLUME,
                    Some(block.source.clone()).filter(|s| !s.is_empty()),
                )
            }
            "tmpfs" => (MountType::TMPFS, None),
            other => {
                return Err(format!(
                    "mount: type must be \"bind\", \"volume\" or \"tmpfs\", got \"{other}\""
                ));
            }
        };
        mounts.push(Mount {
            target: Some(block.target.clone()),
            source,
            typ: Some(typ),
            read_only: Some(block.readonly),
            ..Mount::default()
        });
    }
    Ok((binds, mounts))
}

fn bind(host: &Path, container: &str, read_only: bool) -> String {
    let mode = if read_only { ":ro" } else { "" };
    format!("{}:{container}{mode}", host.display())
}
