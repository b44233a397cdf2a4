//! The document tree ([`Body`]) to a [`Job`]: shared by the HCL1 and HCL2 readers.
//!
//! Like Nomad's jobspec parsers this fills in only what the parser itself did (name = ID,
//! group count 1, task resource defaults via the struct defaults, affinity/spread weight
//! 50); the rest is `Job::canonicalize`'s job.

use caravan_structs::{EphemeralDisk, Job, LogConfig, Resources, RestartPolicy, Task, TaskGroup};

use crate::ast::{Body, Item};
use crate::error::ParseError;
use crate::placement;

/// Real Nomad job keys we accept and ignore for now (not yet implemented).
pub const IGNORED_JOB_KEYS: &[&str] = &[
    "update",
    "periodic",
    "parameterized",
    "migrate",
    "reschedule",
    "multiregion",
    "vault",
    "vault_token",
    "consul",
    "consul_token",
    "ui",
    "id",
];

/// Real Nomad group keys we accept and ignore for now (not yet implemented).
pub const IGNORED_GROUP_KEYS: &[&str] = &[
    "network",
    "service",
    "update",
    "reschedule",
    "volume",
    "scaling",
    "migrate",
    "vault",
    "consul",
    "shutdown_delay",
    "stop_after_client_disconnect",
    "max_client_disconnect",
    "prevent_reschedule_on_lost",
    "disconnect",
];

/// Real Nomad task keys we accept and ignore for now (not yet implemented).
pub const IGNORED_TASK_KEYS: &[&str] = &[
    "artifact",
    "template",
    "service",
    "vault",
    "lifecycle",
    "volume_mount",
    "identity",
    "scaling",
    "csi_plugin",
    "dispatch_payload",
    "consul",
    "kind",
    "shutdown_delay",
    "action",
    "schedule",
];

/// Real Nomad `resources` keys we accept and ignore (`disk` is deprecated in Nomad).
pub const IGNORED_RESOURCES_KEYS: &[&str] =
    &["disk", "iops", "network", "device", "numa", "secrets"];

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
];

const RESOURCES_KEYS: &[&str] = &["cpu", "memory", "memory_max", "cores"];
const RESTART_KEYS: &[&str] = &["attempts", "interval", "delay", "mode", "render_templates"];
const EPHEMERAL_DISK_KEYS: &[&str] = &["sticky", "migrate", "size"];
const LOGS_KEYS: &[&str] = &["max_files", "max_file_size", "disabled", "enabled"];

/// Decodes a whole file: exactly one `job` block, besides the `extra` top-level keys the
/// syntax allows (HCL2's `variable` and `locals`, already evaluated by the caller).
pub(crate) fn job_file(file: &Body, extra: &[&str]) -> Result<Job, ParseError> {
    file.check_keys("the job file", &["job"], extra)?;
    let mut jobs = file.all("job");
    let Some(item) = jobs.next() else {
        return Err(file.error_at(
            crate::error::Pos::new(1, 1),
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

fn job(file: &Body, item: &Item) -> Result<Job, ParseError> {
    let id = file.single_label(item)?;
    let body = file.value_object("job", &item.value)?;
    if let Some(task) = body.get("task") {
        return Err(body.error_at(
            task.pos,
            format!("task blocks must be inside a group: wrap it in group \"name\" {{ ... }} in job \"{id}\""),
        ));
    }
    body.check_keys(&format!("job \"{id}\""), JOB_KEYS, IGNORED_JOB_KEYS)?;
    let mut job = Job {
        id: id.to_string(),
        name: body.string("name")?.unwrap_or_else(|| id.to_string()),
        region: body.string("region")?.unwrap_or_default(),
        namespace: body.string("namespace")?.unwrap_or_default(),
        r#type: body.string("type")?.unwrap_or_default(),
        priority: body.int("priority")?.unwrap_or_default(),
        all_at_once: body.bool("all_at_once")?.unwrap_or_default(),
        datacenters: body.strings("datacenters")?.unwrap_or_default(),
        node_pool: body.string("node_pool")?.unwrap_or_default(),
        meta: body.string_map("meta")?.unwrap_or_default(),
        constraints: placement::constraints(body)?,
        affinities: placement::affinities(body)?,
        spreads: placement::spreads(body)?,
        ..Job::default()
    };
    let job_type = if job.r#type.is_empty() {
        "service"
    } else {
        job.r#type.as_str()
    }
    .to_string();
    for group_item in body.all("group") {
        job.task_groups.push(group(body, group_item, &job_type)?);
    }
    Ok(job)
}

fn group(job: &Body, item: &Item, job_type: &str) -> Result<TaskGroup, ParseError> {
    let name = job.single_label(item)?;
    let body = job.value_object("group", &item.value)?;
    body.check_keys(&format!("group \"{name}\""), GROUP_KEYS, IGNORED_GROUP_KEYS)?;
    let mut group = TaskGroup {
        name: name.to_string(),
        constraints: placement::constraints(body)?,
        affinities: placement::affinities(body)?,
        spreads: placement::spreads(body)?,
        meta: body.string_map("meta")?.unwrap_or_default(),
        ..TaskGroup::default()
    };
    if let Some(count) = body.int("count")? {
        group.count = count;
    }
    if let Some(restart) = body.block("restart")? {
        group.restart_policy = Some(restart_policy(
            restart,
            RestartPolicy::default_for(job_type),
        )?);
    }
    if let Some(disk) = body.block("ephemeral_disk")? {
        group.ephemeral_disk = ephemeral_disk(disk)?;
    }
    for task_item in body.all("task") {
        let base = group
            .restart_policy
            .clone()
            .unwrap_or_else(|| RestartPolicy::default_for(job_type));
        group.tasks.push(task(body, task_item, base)?);
    }
    Ok(group)
}

fn task(group: &Body, item: &Item, restart_base: RestartPolicy) -> Result<Task, ParseError> {
    let name = group.single_label(item)?;
    let body = group.value_object("task", &item.value)?;
    body.check_keys(&format!("task \"{name}\""), TASK_KEYS, IGNORED_TASK_KEYS)?;
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
        ..Task::default()
    };
    // Driver config is driver-specific: kept as written, checked by the driver.
    if let Some(config) = body.block("config")? {
        task.config = config.to_json_map();
    }
    if let Some(resources_body) = body.block("resources")? {
        task.resources = resources(resources_body)?;
    }
    // Nomad: a task's restart block overrides only the fields it sets on the group's policy.
    if let Some(restart) = body.block("restart")? {
        task.restart_policy = Some(restart_policy(restart, restart_base)?);
    }
    if let Some(timeout) = body.duration("kill_timeout")? {
        task.kill_timeout = timeout;
    }
    if let Some(logs) = body.block("logs")? {
        task.log_config = log_config(logs)?;
    }
    Ok(task)
}

fn resources(body: &Body) -> Result<Resources, ParseError> {
    body.check_keys("resources", RESOURCES_KEYS, IGNORED_RESOURCES_KEYS)?;
    let mut resources = Resources::default();
    if let Some(cpu) = body.int("cpu")? {
        resources.cpu = cpu;
    }
    if let Some(memory) = body.int("memory")? {
        resources.memory_mb = memory;
    }
    if let Some(memory_max) = body.int("memory_max")? {
        resources.memory_max_mb = memory_max;
    }
    if let Some(cores) = body.int("cores")? {
        resources.cores = cores;
    }
    Ok(resources)
}

fn restart_policy(body: &Body, mut policy: RestartPolicy) -> Result<RestartPolicy, ParseError> {
    body.check_keys("restart", RESTART_KEYS, &[])?;
    if let Some(attempts) = body.int("attempts")? {
        policy.attempts = attempts;
    }
    if let Some(interval) = body.duration("interval")? {
        policy.interval = interval;
    }
    if let Some(delay) = body.duration("delay")? {
        policy.delay = delay;
    }
    if let Some(mode) = body.string("mode")? {
        policy.mode = mode;
    }
    if let Some(render) = body.bool("render_templates")? {
        policy.render_templates = render;
    }
    Ok(policy)
}

fn ephemeral_disk(body: &Body) -> Result<EphemeralDisk, ParseError> {
    body.check_keys("ephemeral_disk", EPHEMERAL_DISK_KEYS, &[])?;
    let mut disk = EphemeralDisk::default();
    if let Some(size) = body.int("size")? {
        disk.size_mb = size;
    }
    disk.sticky = body.bool("sticky")?.unwrap_or_default();
    disk.migrate = body.bool("migrate")?.unwrap_or_default();
    Ok(disk)
}

fn log_config(body: &Body) -> Result<LogConfig, ParseError> {
    body.check_keys("logs", LOGS_KEYS, &[])?;
    let mut logs = LogConfig::default();
    if let Some(files) = body.int("max_files")? {
        logs.max_files = files;
    }
    if let Some(size) = body.int("max_file_size")? {
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
