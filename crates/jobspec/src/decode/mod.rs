//! The document tree ([`Body`]) to a [`Job`]: shared by the HCL1 and HCL2 readers.
//!
//! Like Nomad's jobspec parsers this fills in only what the parser itself did (name = ID,
//! group count 1 or `scaling.min`, task resource defaults, affinity/spread weight 50,
//! constraint operator `=`, ports split into static and dynamic); the rest is
//! `Job::canonicalize`'s job. Values whose place in the file is known are checked here, so
//! the error points at them (`count` < 0, an unknown lifecycle hook, a bad cron spec, a
//! duplicate port label); the same rules run again in `validate_job` for JSON jobs.
//!
//! Every key of Nomad's job specification is either decoded, refused with a "not supported
//! by Caravan yet" error (Vault, Consul, multiregion, CSI plugins, Enterprise-only
//! blocks), or listed in an `IGNORED_*` constant with the reason.

mod network;
mod policies;
mod service;
mod task_files;

use std::collections::BTreeMap;

use caravan_structs::{
    DispatchPayloadConfig, EphemeralDisk, Job, JobType, JobUiConfig, JobUiLink, LogConfig,
    RequestedDevice, Resources, RestartPolicy, Task, TaskAction, TaskGroup, TaskLifecycle,
    VolumeMount, VolumeRequest, WorkloadIdentity,
};

use crate::ast::{Body, Item};
use crate::error::{ParseError, Pos};
use crate::placement;

/// Job keys accepted and ignored. Empty: every job key is decoded or refused.
pub const IGNORED_JOB_KEYS: &[&str] = &[];

/// Group keys accepted and ignored. Empty: every group key is decoded or refused.
pub const IGNORED_GROUP_KEYS: &[&str] = &[];

/// Task keys accepted and ignored. Empty: every task key is decoded or refused.
pub const IGNORED_TASK_KEYS: &[&str] = &[];

/// `resources` keys accepted and ignored: `iops` (deprecated; Nomad drops it too) and
/// `numa` (NUMA-aware placement, an Enterprise feature; Caravan places without it).
pub const IGNORED_RESOURCES_KEYS: &[&str] = &["iops", "numa"];

/// Job keys refused with "not supported by Caravan yet".
pub const REFUSED_JOB_KEYS: &[&str] = &[
    "multiregion",
    "vault",
    "vault_token",
    "vault_namespace",
    "consul",
    "consul_token",
    "consul_namespace",
];

/// Group keys refused with "not supported by Caravan yet".
pub const REFUSED_GROUP_KEYS: &[&str] = &["consul", "vault"];

/// Task keys refused with "not supported by Caravan yet" (`scaling` and `schedule` in a
/// task are Nomad Enterprise features).
pub const REFUSED_TASK_KEYS: &[&str] = &["vault", "consul", "csi_plugin", "scaling", "schedule"];

const JOB_KEYS: &[&str] = &[
    "region",
    "namespace",
    "type",
    "priority",
    "all_at_once",
    "datacenters",
    "node_pool",
    "meta",
    "constraint",
    "affinity",
    "spread",
    "group",
    "name",
    "id",
    "update",
    "periodic",
    "parameterized",
    "migrate",
    "reschedule",
    "ui",
];

const GROUP_KEYS: &[&str] = &[
    "count",
    "constraint",
    "affinity",
    "spread",
    "restart",
    "ephemeral_disk",
    "meta",
    "task",
    "network",
    "service",
    "update",
    "reschedule",
    "migrate",
    "volume",
    "scaling",
    "shutdown_delay",
    "stop_after_client_disconnect",
    "max_client_disconnect",
    "prevent_reschedule_on_lost",
    "disconnect",
];

const TASK_KEYS: &[&str] = &[
    "driver",
    "user",
    "config",
    "env",
    "meta",
    "resources",
    "constraint",
    "affinity",
    "restart",
    "kill_timeout",
    "kill_signal",
    "logs",
    "leader",
    "artifact",
    "template",
    "service",
    "lifecycle",
    "volume_mount",
    "identity",
    "dispatch_payload",
    "kind",
    "shutdown_delay",
    "action",
];

const RESOURCES_KEYS: &[&str] = &[
    "cpu",
    "memory",
    "memory_max",
    "cores",
    "disk",
    "network",
    "device",
];
const RESTART_KEYS: &[&str] = &["attempts", "interval", "delay", "mode", "render_templates"];
const EPHEMERAL_DISK_KEYS: &[&str] = &["sticky", "migrate", "size"];
const LOGS_KEYS: &[&str] = &["max_files", "max_file_size", "disabled", "enabled"];
const LIFECYCLE_KEYS: &[&str] = &["hook", "sidecar"];
const IDENTITY_KEYS: &[&str] = &[
    "name",
    "aud",
    "change_mode",
    "change_signal",
    "env",
    "file",
    "filepath",
    "service_name",
    "ttl",
];
const VOLUME_KEYS: &[&str] = &[
    "type",
    "source",
    "read_only",
    "sticky",
    "access_mode",
    "attachment_mode",
    "mount_options",
    "per_alloc",
];
const MOUNT_OPTIONS_KEYS: &[&str] = &["fs_type", "mount_flags"];
const VOLUME_MOUNT_KEYS: &[&str] = &[
    "volume",
    "destination",
    "read_only",
    "propagation_mode",
    "selinux_label",
];
const DEVICE_KEYS: &[&str] = &["count", "constraint", "affinity"];
const UI_KEYS: &[&str] = &["description", "link"];
const UI_LINK_KEYS: &[&str] = &["label", "url"];

/// Decodes a whole file: exactly one `job` block, besides the `extra` top-level keys the
/// syntax allows (HCL2's `variable` and `locals`, already evaluated by the caller).
pub(crate) fn job_file(file: &Body, extra: &[&str]) -> Result<Job, ParseError> {
    file.check_keys("the job file", &["job"], extra)?;
    let mut jobs = file.all("job");
    let Some(item) = jobs.next() else {
        return Err(file.error_at(
            Pos::new(1, 1),
            "no job found: the file must contain one job \"name\" { ... } block",
        ));
    };
    if let Some(second) = jobs.next() {
        return Err(file.error_at(
            second.pos,
            format!("a file holds exactly one job; the first is at {}", item.pos),
        ));
    }
    job(file, item)
}

/// Fails on the first item whose key is in `refused`.
pub(crate) fn refuse(body: &Body, context: &str, refused: &[&str]) -> Result<(), ParseError> {
    match body
        .iter()
        .find(|item| refused.contains(&item.key.as_str()))
    {
        None => Ok(()),
        Some(item) => Err(body.error_at(
            item.pos,
            format!(
                "\"{}\" in {context} is not supported by Caravan yet; remove it to run this job",
                item.key
            ),
        )),
    }
}

/// Checks the keys of a block: refused ones first (clearer than "unknown"), then unknown.
pub(crate) fn check_block(
    body: &Body,
    context: &str,
    known: &[&str],
    ignored: &[&str],
    refused: &[&str],
) -> Result<(), ParseError> {
    refuse(body, context, refused)?;
    body.check_keys(context, known, ignored)
}

/// The string of `key`, which must be one of `allowed`; the error points at the value.
pub(crate) fn one_of(
    body: &Body,
    key: &str,
    allowed: &[&str],
) -> Result<Option<String>, ParseError> {
    let Some(value) = body.string(key)? else {
        return Ok(None);
    };
    if allowed.contains(&value.as_str()) {
        return Ok(Some(value));
    }
    Err(body.error_at(
        value_pos(body, key),
        format!(
            "\"{key}\" must be one of {}; got \"{value}\"",
            allowed.join(", ")
        ),
    ))
}

/// Where the value of `key` starts (the body's first position when absent).
pub(crate) fn value_pos(body: &Body, key: &str) -> Pos {
    body.get(key)
        .map(|item| item.value.pos)
        .unwrap_or(Pos::new(1, 1))
}

/// An error at the value of `key` when `check` fails.
pub(crate) fn check_at(
    body: &Body,
    key: &str,
    check: Result<(), String>,
) -> Result<(), ParseError> {
    check.map_err(|message| body.error_at(value_pos(body, key), message))
}

/// The bodies of the unlabelled blocks `key`, in order.
pub(crate) fn blocks<'a>(body: &'a Body, key: &str) -> Result<Vec<&'a Body>, ParseError> {
    body.all(key)
        .map(|item| {
            body.no_labels(item)?;
            body.value_object(key, &item.value)
        })
        .collect()
}

/// The single unlabelled block `key`, if present.
pub(crate) fn single_block<'a>(body: &'a Body, key: &str) -> Result<Option<&'a Body>, ParseError> {
    if let Some(item) = body.all(key).next() {
        body.no_labels(item)?;
    }
    body.block(key)
}

/// A non-negative integer of `key`.
pub(crate) fn non_negative(body: &Body, key: &str) -> Result<Option<i64>, ParseError> {
    let value = body.int(key)?;
    if let Some(n) = value
        && n < 0
    {
        return Err(body.error_at(
            value_pos(body, key),
            format!("\"{key}\" must be >= 0, got {n}"),
        ));
    }
    Ok(value)
}

/// A non-negative duration of `key`, in nanoseconds.
pub(crate) fn duration(body: &Body, key: &str) -> Result<Option<i64>, ParseError> {
    let value = body.duration(key)?;
    if let Some(n) = value
        && n < 0
    {
        return Err(body.error_at(
            value_pos(body, key),
            format!("\"{key}\" must not be negative"),
        ));
    }
    Ok(value)
}

/// Fails when two items have the same name, pointing at the second.
fn check_unique<'a>(
    parent: &Body,
    what: &str,
    names: impl Iterator<Item = (&'a str, Pos)>,
) -> Result<(), ParseError> {
    let mut seen: BTreeMap<&str, Pos> = BTreeMap::new();
    for (name, pos) in names {
        if let Some(first) = seen.insert(name, pos) {
            return Err(parent.error_at(
                pos,
                format!("{what} \"{name}\" is defined more than once; the first is at {first}"),
            ));
        }
    }
    Ok(())
}

fn job(file: &Body, item: &Item) -> Result<Job, ParseError> {
    let label = file.single_label(item)?;
    let body = file.value_object("job", &item.value)?;
    if let Some(task) = body.get("task") {
        return Err(body.error_at(
            task.pos,
            format!("task blocks must be inside a group: wrap it in group \"name\" {{ ... }} in job \"{label}\""),
        ));
    }
    let context = format!("job \"{label}\"");
    check_block(body, &context, JOB_KEYS, IGNORED_JOB_KEYS, REFUSED_JOB_KEYS)?;
    // Nomad (jobspec2): the label is the name; `id` may set a different ID.
    let id = body.string("id")?.unwrap_or_else(|| label.to_string());
    let r#type = one_of(body, "type", JobType::WORDS)?
        .map(|word| word.parse::<JobType>())
        .transpose()
        .map_err(|e| body.error_at(value_pos(body, "type"), e.to_string()))?;
    let priority = body.int("priority")?.unwrap_or_default();
    if body.get("priority").is_some() && !(1..=100).contains(&priority) {
        return Err(body.error_at(
            value_pos(body, "priority"),
            format!("\"priority\" must be between 1 and 100, got {priority}"),
        ));
    }
    let mut job = Job {
        name: body.string("name")?.unwrap_or_else(|| label.to_string()),
        id: id.into(),
        region: body.string("region")?.unwrap_or_default(),
        namespace: body.string("namespace")?.unwrap_or_default(),
        r#type,
        priority,
        all_at_once: body.bool("all_at_once")?.unwrap_or_default(),
        datacenters: body.strings("datacenters")?.unwrap_or_default(),
        node_pool: body.string("node_pool")?.unwrap_or_default(),
        meta: body.string_map("meta")?.unwrap_or_default(),
        constraints: placement::constraints(body)?,
        affinities: placement::affinities(body)?,
        spreads: placement::spreads(body)?,
        update: single_block(body, "update")?
            .map(policies::update)
            .transpose()?,
        migrate: single_block(body, "migrate")?
            .map(policies::migrate)
            .transpose()?,
        reschedule: single_block(body, "reschedule")?
            .map(policies::reschedule)
            .transpose()?,
        periodic: single_block(body, "periodic")?
            .map(policies::periodic)
            .transpose()?,
        parameterized_job: single_block(body, "parameterized")?
            .map(policies::parameterized)
            .transpose()?,
        ui: single_block(body, "ui")?.map(ui).transpose()?,
        ..Job::default()
    };
    let job_type = job.job_type();
    let groups: Vec<&Item> = body.all("group").collect();
    for group_item in &groups {
        job.task_groups.push(group(body, group_item, job_type)?);
    }
    check_unique(
        body,
        "group",
        groups
            .iter()
            .zip(&job.task_groups)
            .map(|(item, group)| (group.name.as_str(), item.pos)),
    )?;
    Ok(job)
}

fn ui(body: &Body) -> Result<JobUiConfig, ParseError> {
    check_block(body, "ui", UI_KEYS, &[], &[])?;
    let mut links = Vec::new();
    for link in blocks(body, "link")? {
        check_block(link, "ui link", UI_LINK_KEYS, &[], &[])?;
        links.push(JobUiLink {
            label: link.string("label")?.unwrap_or_default(),
            url: link.string("url")?.unwrap_or_default(),
        });
    }
    Ok(JobUiConfig {
        description: body.string("description")?.unwrap_or_default(),
        links,
    })
}

fn group(job: &Body, item: &Item, job_type: JobType) -> Result<TaskGroup, ParseError> {
    let name = job.single_label(item)?;
    let body = job.value_object("group", &item.value)?;
    let context = format!("group \"{name}\"");
    check_block(
        body,
        &context,
        GROUP_KEYS,
        IGNORED_GROUP_KEYS,
        REFUSED_GROUP_KEYS,
    )?;
    let mut group = TaskGroup {
        name: name.to_string(),
        constraints: placement::constraints(body)?,
        affinities: placement::affinities(body)?,
        spreads: placement::spreads(body)?,
        meta: body.string_map("meta")?.unwrap_or_default(),
        networks: network::networks(body)?,
        services: service::services(body)?,
        volumes: volumes(body)?,
        scaling: single_block(body, "scaling")?
            .map(policies::scaling)
            .transpose()?,
        shutdown_delay: duration(body, "shutdown_delay")?,
        stop_after_client_disconnect: duration(body, "stop_after_client_disconnect")?,
        max_client_disconnect: duration(body, "max_client_disconnect")?,
        prevent_reschedule_on_lost: body.bool("prevent_reschedule_on_lost")?,
        disconnect: single_block(body, "disconnect")?
            .map(policies::disconnect)
            .transpose()?,
        update: single_block(body, "update")?
            .map(policies::update)
            .transpose()?,
        migrate: single_block(body, "migrate")?
            .map(policies::migrate)
            .transpose()?,
        reschedule_policy: single_block(body, "reschedule")?
            .map(policies::reschedule)
            .transpose()?,
        ..TaskGroup::default()
    };
    // Nomad: a group without `count` runs `scaling.min` allocations, else one.
    match non_negative(body, "count")? {
        Some(count) => group.count = count,
        None => {
            if let Some(min) = group.scaling.as_ref().and_then(|s| s.min) {
                group.count = min;
            }
        }
    }
    if let Some(restart) = single_block(body, "restart")? {
        group.restart_policy = Some(restart_policy(
            restart,
            RestartPolicy::default_for(job_type),
        )?);
    }
    if let Some(disk) = single_block(body, "ephemeral_disk")? {
        group.ephemeral_disk = ephemeral_disk(disk)?;
    }
    let tasks: Vec<&Item> = body.all("task").collect();
    for task_item in &tasks {
        let base = group
            .restart_policy
            .clone()
            .unwrap_or_else(|| RestartPolicy::default_for(job_type));
        group.tasks.push(task(body, task_item, base)?);
    }
    check_unique(
        body,
        "task",
        tasks
            .iter()
            .zip(&group.tasks)
            .map(|(item, task)| (task.name.as_str(), item.pos)),
    )?;
    network::check_port_labels(body, &group)?;
    Ok(group)
}

fn volumes(body: &Body) -> Result<BTreeMap<String, VolumeRequest>, ParseError> {
    let mut out = BTreeMap::new();
    let items: Vec<&Item> = body.all("volume").collect();
    check_unique(
        body,
        "volume",
        items
            .iter()
            .map(|item| (item.labels.first().map_or("", String::as_str), item.pos)),
    )?;
    for item in items {
        let name = body.single_label(item)?;
        let volume = body.value_object("volume", &item.value)?;
        check_block(volume, &format!("volume \"{name}\""), VOLUME_KEYS, &[], &[])?;
        let mount_options = match single_block(volume, "mount_options")? {
            Some(options) => {
                check_block(options, "mount_options", MOUNT_OPTIONS_KEYS, &[], &[])?;
                Some(caravan_structs::CsiMountOptions {
                    fs_type: options.string("fs_type")?.unwrap_or_default(),
                    mount_flags: options.strings("mount_flags")?.unwrap_or_default(),
                })
            }
            None => None,
        };
        out.insert(
            name.to_string(),
            VolumeRequest {
                name: name.to_string(),
                r#type: one_of(volume, "type", &["host", "csi"])?.unwrap_or_default(),
                source: volume.string("source")?.unwrap_or_default(),
                read_only: volume.bool("read_only")?.unwrap_or_default(),
                sticky: volume.bool("sticky")?.unwrap_or_default(),
                access_mode: volume.string("access_mode")?.unwrap_or_default(),
                attachment_mode: volume.string("attachment_mode")?.unwrap_or_default(),
                mount_options,
                per_alloc: volume.bool("per_alloc")?.unwrap_or_default(),
            },
        );
    }
    Ok(out)
}

fn task(group: &Body, item: &Item, restart_base: RestartPolicy) -> Result<Task, ParseError> {
    let name = group.single_label(item)?;
    let body = group.value_object("task", &item.value)?;
    let context = format!("task \"{name}\"");
    check_block(
        body,
        &context,
        TASK_KEYS,
        IGNORED_TASK_KEYS,
        REFUSED_TASK_KEYS,
    )?;
    let mut task = Task {
        name: name.to_string(),
        driver: body.string("driver")?.unwrap_or_default(),
        user: body.string("user")?.unwrap_or_default(),
        env: body.string_map("env")?.unwrap_or_default(),
        meta: body.string_map("meta")?.unwrap_or_default(),
        constraints: placement::constraints(body)?,
        affinities: placement::affinities(body)?,
        kill_signal: body.string("kill_signal")?.unwrap_or_default(),
        leader: body.bool("leader")?.unwrap_or_default(),
        kind: body.string("kind")?.unwrap_or_default(),
        shutdown_delay: duration(body, "shutdown_delay")?.unwrap_or_default(),
        artifacts: task_files::artifacts(body)?,
        templates: task_files::templates(body)?,
        services: service::services(body)?,
        volume_mounts: volume_mounts(body)?,
        actions: actions(body)?,
        ..Task::default()
    };
    // Driver config is driver-specific: kept as written, checked by the driver.
    if let Some(config) = single_block(body, "config")? {
        task.config = config.to_json_map();
    }
    if let Some(resources_body) = single_block(body, "resources")? {
        task.resources = resources(resources_body)?;
    }
    // Nomad: a task's restart block overrides only the fields it sets on the group's policy.
    if let Some(restart) = single_block(body, "restart")? {
        task.restart_policy = Some(restart_policy(restart, restart_base)?);
    }
    if let Some(timeout) = duration(body, "kill_timeout")? {
        task.kill_timeout = timeout;
    }
    if let Some(logs) = single_block(body, "logs")? {
        task.log_config = log_config(logs)?;
    }
    if let Some(lifecycle) = single_block(body, "lifecycle")? {
        check_block(lifecycle, "lifecycle", LIFECYCLE_KEYS, &[], &[])?;
        task.lifecycle = Some(TaskLifecycle {
            hook: one_of(lifecycle, "hook", caravan_structs::LIFECYCLE_HOOKS)?.unwrap_or_default(),
            sidecar: lifecycle.bool("sidecar")?.unwrap_or_default(),
        });
    }
    if let Some(payload) = single_block(body, "dispatch_payload")? {
        check_block(payload, "dispatch_payload", &["file"], &[], &[])?;
        task.dispatch_payload = Some(DispatchPayloadConfig {
            file: payload.string("file")?.unwrap_or_default(),
        });
    }
    for identity_body in blocks(body, "identity")? {
        let identity = identity(identity_body)?;
        // The unnamed identity is the task's default one; named ones are extra.
        if identity.name.is_empty() {
            if task.identity.is_some() {
                return Err(body.error_at(
                    value_pos(body, "identity"),
                    "only one unnamed \"identity\" block is allowed; name the others",
                ));
            }
            task.identity = Some(identity);
        } else {
            task.identities.push(identity);
        }
    }
    Ok(task)
}

fn identity(body: &Body) -> Result<WorkloadIdentity, ParseError> {
    check_block(body, "identity", IDENTITY_KEYS, &[], &[])?;
    Ok(WorkloadIdentity {
        name: body.string("name")?.unwrap_or_default(),
        audience: body.strings("aud")?.unwrap_or_default(),
        change_mode: one_of(body, "change_mode", &["noop", "restart", "signal"])?
            .unwrap_or_default(),
        change_signal: body.string("change_signal")?.unwrap_or_default(),
        env: body.bool("env")?.unwrap_or_default(),
        file: body.bool("file")?.unwrap_or_default(),
        filepath: body.string("filepath")?.unwrap_or_default(),
        service_name: body.string("service_name")?.unwrap_or_default(),
        ttl: duration(body, "ttl")?.unwrap_or_default(),
    })
}

fn volume_mounts(body: &Body) -> Result<Vec<VolumeMount>, ParseError> {
    blocks(body, "volume_mount")?
        .into_iter()
        .map(|mount| {
            check_block(mount, "volume_mount", VOLUME_MOUNT_KEYS, &[], &[])?;
            Ok(VolumeMount {
                volume: mount.string("volume")?,
                destination: mount.string("destination")?,
                read_only: mount.bool("read_only")?,
                propagation_mode: one_of(
                    mount,
                    "propagation_mode",
                    &["private", "host-to-task", "bidirectional"],
                )?,
                selinux_label: mount.string("selinux_label")?,
            })
        })
        .collect()
}

fn actions(body: &Body) -> Result<Vec<TaskAction>, ParseError> {
    let items: Vec<&Item> = body.all("action").collect();
    check_unique(
        body,
        "action",
        items
            .iter()
            .map(|item| (item.labels.first().map_or("", String::as_str), item.pos)),
    )?;
    items
        .into_iter()
        .map(|item| {
            let name = body.single_label(item)?;
            let action = body.value_object("action", &item.value)?;
            check_block(
                action,
                &format!("action \"{name}\""),
                &["command", "args"],
                &[],
                &[],
            )?;
            Ok(TaskAction {
                name: name.to_string(),
                command: action.string("command")?.unwrap_or_default(),
                args: action.strings("args")?.unwrap_or_default(),
            })
        })
        .collect()
}

fn resources(body: &Body) -> Result<Resources, ParseError> {
    check_block(
        body,
        "resources",
        RESOURCES_KEYS,
        IGNORED_RESOURCES_KEYS,
        &[],
    )?;
    let mut resources = Resources::default();
    if let Some(cores) = non_negative(body, "cores")? {
        resources.cores = cores;
        // Nomad: with `cores` set and no `cpu`, the task asks for no MHz.
        resources.cpu = 0;
    }
    if let Some(cpu) = body.int("cpu")? {
        resources.cpu = cpu;
    }
    if let Some(memory) = body.int("memory")? {
        resources.memory_mb = memory;
    }
    if let Some(memory_max) = body.int("memory_max")? {
        resources.memory_max_mb = memory_max;
    }
    // Deprecated in Nomad (ephemeral_disk replaced it) but still part of the API shape.
    if let Some(disk) = body.int("disk")? {
        resources.disk_mb = disk;
    }
    resources.networks = network::networks(body)?;
    for item in body.all("device") {
        let name = body.single_label(item)?;
        let device = body.value_object("device", &item.value)?;
        check_block(device, &format!("device \"{name}\""), DEVICE_KEYS, &[], &[])?;
        let count = non_negative(device, "count")?;
        resources.devices.push(RequestedDevice {
            name: name.to_string(),
            count: count.map(|n| n as u64),
            constraints: placement::constraints(device)?,
            affinities: placement::affinities(device)?,
        });
    }
    Ok(resources)
}

fn restart_policy(body: &Body, mut policy: RestartPolicy) -> Result<RestartPolicy, ParseError> {
    check_block(body, "restart", RESTART_KEYS, &[], &[])?;
    if let Some(attempts) = non_negative(body, "attempts")? {
        policy.attempts = attempts;
    }
    if let Some(interval) = duration(body, "interval")? {
        policy.interval = interval;
    }
    if let Some(delay) = duration(body, "delay")? {
        policy.delay = delay;
    }
    if let Some(mode) = one_of(body, "mode", &["fail", "delay"])? {
        policy.mode = mode;
    }
    if let Some(render) = body.bool("render_templates")? {
        policy.render_templates = render;
    }
    Ok(policy)
}

fn ephemeral_disk(body: &Body) -> Result<EphemeralDisk, ParseError> {
    check_block(body, "ephemeral_disk", EPHEMERAL_DISK_KEYS, &[], &[])?;
    let mut disk = EphemeralDisk::default();
    if let Some(size) = non_negative(body, "size")? {
        disk.size_mb = size;
    }
    disk.sticky = body.bool("sticky")?.unwrap_or_default();
    disk.migrate = body.bool("migrate")?.unwrap_or_default();
    Ok(disk)
}

fn log_config(body: &Body) -> Result<LogConfig, ParseError> {
    check_block(body, "logs", LOGS_KEYS, &[], &[])?;
    let mut logs = LogConfig::default();
    if let Some(files) = non_negative(body, "max_files")? {
        logs.max_files = files;
    }
    if let Some(size) = non_negative(body, "max_file_size")? {
        logs.max_file_size_mb = size;
    }
    if let Some(disabled) = body.bool("disabled")? {
        logs.disabled = disabled;
    }
    // Nomad 1.7+: `enabled = false` is the newer spelling of `disabled = true`.
    if let Some(enabled) = body.bool("enabled")? {
        logs.disabled = !enabled;
    }
    Ok(logs)
}
