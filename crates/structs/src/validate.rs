//! Job validation: every rule names the job, group or task it applies to.

use std::collections::BTreeSet;

use crate::names::{MAX_JOB_ID_BYTES, MAX_NAME_BYTES, path_component_problem, quoted};
use crate::network::MAX_PORT;
use crate::periodic::{DISPATCH_PAYLOAD_VALUES, check_cron};
use crate::{
    Constraint, JOB_TYPE_BATCH, JOB_TYPE_SERVICE, JOB_TYPE_SYSBATCH, JOB_TYPE_SYSTEM, Job,
    LIFECYCLE_HOOKS, MigrateStrategy, Port, ReschedulePolicy, SECOND_NS, Service, Task, TaskGroup,
    UpdateStrategy,
};

/// Operators a `constraint` accepts (Nomad's set).
pub const CONSTRAINT_OPERATORS: &[&str] = &[
    "=",
    "==",
    "is",
    "!=",
    "not",
    "<",
    "<=",
    ">",
    ">=",
    "version",
    "semver",
    "regexp",
    "set_contains",
    "set_contains_all",
    "set_contains_any",
    "is_set",
    "is_not_set",
    "distinct_hosts",
    "distinct_property",
];

/// The most allocations one group may ask for. Nomad sets no limit; Caravan bounds it
/// so that one request cannot make the scheduler build billions of placements.
pub const MAX_GROUP_COUNT: i64 = 100_000;

/// A group or task name's rules (Nomad's "Task name cannot include slashes", and the
/// rest of [`path_component_problem`]), each error naming the field.
fn name_rules(errors: &mut Vec<String>, at: &str, what: &str, name: &str) {
    if let Some(problem) = path_component_problem(name) {
        errors.push(format!("{at}: {what} name {problem}"));
    }
    if name.len() > MAX_NAME_BYTES {
        errors.push(format!(
            "{at}: {what} name is {} bytes long; the limit is {MAX_NAME_BYTES}",
            name.len()
        ));
    }
}

/// The rules a job ID submitted by a user meets on top of [`validate_job`]'s: bounded in
/// length, and no slash, which Caravan keeps for the children periodic and parameterized
/// jobs launch (`<parent>/periodic-<time>`) so that a user's job can never pose as one.
pub fn check_submitted_job_id(id: &str) -> Result<(), String> {
    if id.len() > MAX_JOB_ID_BYTES {
        return Err(format!(
            "job {}: ID is {} bytes long; the limit is {MAX_JOB_ID_BYTES}",
            quoted(id),
            id.len()
        ));
    }
    if id.contains(['/', '\\']) {
        return Err(format!("job {}: ID cannot include slashes", quoted(id)));
    }
    Ok(())
}

/// The largest value any one resource ask may have (cpu MHz, memory MB, cores): far
/// beyond any machine, small enough that sums over a cluster cannot overflow.
pub const MAX_RESOURCE_VALUE: i64 = i32::MAX as i64;

/// Bounds of a task's `resources` beyond the minimums: nothing negative or absurd, and
/// no task-level disk (Nomad's rule: disk is the group's `ephemeral_disk`).
fn resource_bounds(errors: &mut Vec<String>, at: &str, resources: &crate::Resources) {
    for (field, value) in [
        ("cpu", resources.cpu),
        ("cores", resources.cores),
        ("memory", resources.memory_mb),
        ("memory_max", resources.memory_max_mb),
    ] {
        if !(0..=MAX_RESOURCE_VALUE).contains(&value) {
            errors.push(format!(
                "{at}: resources: {field} must be between 0 and {MAX_RESOURCE_VALUE}, got {value}"
            ));
        }
    }
    if resources.disk_mb > 0 {
        errors.push(format!(
            "{at}: Task can't ask for disk resources, they have to be specified at the task group level."
        ));
    }
}

/// Checks a canonicalized job. Returns every problem found, each a full sentence.
pub fn validate_job(job: &Job) -> Result<(), Vec<String>> {
    let mut errors = Vec::new();
    let job_at = format!("job {}", quoted(&job.id));
    if job.id.is_empty() {
        errors.push("Missing job ID".to_string());
    } else if job.id.contains(' ') {
        errors.push(format!("{job_at}: ID contains a space"));
    } else if job.id.contains('\0') {
        errors.push("Job ID contains a null character".to_string());
    } else if job.id.chars().any(char::is_control) {
        errors.push(format!("{job_at}: ID contains a control character"));
    } else if job.id == "." || job.id == ".." {
        errors.push(format!("{job_at}: ID cannot be \".\" or \"..\""));
    }
    if job.name.contains('\0') || job.name.chars().any(char::is_control) {
        errors.push(format!(
            "{job_at}: name {} contains a null or control character",
            quoted(&job.name)
        ));
    }
    if ![
        JOB_TYPE_SERVICE,
        JOB_TYPE_BATCH,
        JOB_TYPE_SYSTEM,
        JOB_TYPE_SYSBATCH,
    ]
    .contains(&job.r#type.as_str())
    {
        errors.push(format!(
            "{job_at}: type must be one of service, batch, system, sysbatch; got \"{}\"",
            job.r#type
        ));
    }
    if !(1..=100).contains(&job.priority) {
        errors.push(format!(
            "{job_at}: priority must be between 1 and 100, got {}",
            job.priority
        ));
    }
    if job.task_groups.is_empty() {
        errors.push(format!("{job_at}: Missing job task groups"));
    }
    for constraint in &job.constraints {
        check_constraint_into(&mut errors, &job_at, constraint);
    }
    job_blocks(&mut errors, job);
    let mut seen_groups = std::collections::BTreeSet::new();
    for (i, group) in job.task_groups.iter().enumerate() {
        let at = if group.name.is_empty() {
            errors.push(format!("{job_at}: group {} is missing a name", i + 1));
            format!("{job_at}: group {}", i + 1)
        } else {
            format!("{job_at}: group {}", quoted(&group.name))
        };
        if !group.name.is_empty() {
            name_rules(&mut errors, &at, "Group", &group.name);
        }
        if !group.name.is_empty() && !seen_groups.insert(group.name.clone()) {
            errors.push(format!("{at}: defined more than once"));
        }
        if group.count < 0 {
            errors.push(format!("{at}: count must be >= 0, got {}", group.count));
        } else if job.is_system() && group.count > 1 {
            // Nomad's rule: a system job runs one allocation per node.
            errors.push(format!(
                "{at}: Job task group {} has count {}. Count cannot exceed 1 with system scheduler",
                quoted(&group.name),
                group.count
            ));
        } else if group.count > MAX_GROUP_COUNT {
            errors.push(format!(
                "{at}: count must be at most {MAX_GROUP_COUNT}, got {}",
                group.count
            ));
        }
        if group.tasks.is_empty() {
            errors.push(format!("{at}: Missing tasks for task group"));
        }
        for constraint in &group.constraints {
            check_constraint_into(&mut errors, &at, constraint);
        }
        group_blocks(&mut errors, &at, job, group);
        for spread in &group.spreads {
            let total: i64 = spread.spread_target.iter().map(|t| t.percent).sum();
            if total > 100 {
                errors.push(format!(
                    "{at}: spread on \"{}\": sum of target percentages must be <= 100, got {total}",
                    spread.attribute
                ));
            }
        }
        let mut seen_tasks = std::collections::BTreeSet::new();
        for (j, task) in group.tasks.iter().enumerate() {
            let at = if task.name.is_empty() {
                errors.push(format!("{at}: task {} is missing a name", j + 1));
                format!("{at}: task {}", j + 1)
            } else {
                format!("{at}: task {}", quoted(&task.name))
            };
            if !task.name.is_empty() {
                name_rules(&mut errors, &at, "Task", &task.name);
            }
            if !task.name.is_empty() && !seen_tasks.insert(task.name.clone()) {
                errors.push(format!("{at}: defined more than once"));
            }
            if task.driver.is_empty() {
                errors.push(format!("{at}: Missing task driver"));
            }
            for problem in crate::driver_config::check_driver_config(&task.driver, &task.config) {
                errors.push(format!("{at}: {problem}"));
            }
            if task.resources.cpu < 1 && task.resources.cores == 0 {
                errors.push(format!(
                    "{at}: resources: cpu must be >= 1 MHz, got {}",
                    task.resources.cpu
                ));
            }
            if task.resources.memory_mb < 10 {
                errors.push(format!(
                    "{at}: resources: memory must be >= 10 MB, got {}",
                    task.resources.memory_mb
                ));
            }
            resource_bounds(&mut errors, &at, &task.resources);
            if task.kill_timeout < 0 {
                errors.push(format!("{at}: kill_timeout must be >= 0"));
            }
            for constraint in &task.constraints {
                check_constraint_into(&mut errors, &at, constraint);
            }
            task_blocks(&mut errors, &at, job, group, task);
            if let Some(policy) = &task.restart_policy {
                if !matches!(policy.mode.as_str(), "fail" | "delay") {
                    errors.push(format!(
                        "{at}: restart mode must be \"fail\" or \"delay\", got \"{}\"",
                        policy.mode
                    ));
                }
                if policy.attempts < 0 {
                    errors.push(format!(
                        "{at}: restart attempts must be >= 0, got {}",
                        policy.attempts
                    ));
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn check_constraint_into(errors: &mut Vec<String>, at: &str, constraint: &Constraint) {
    if let Err(e) = check_constraint(constraint) {
        errors.push(format!("{at}: constraint \"{constraint}\": {e}"));
    }
}

/// Nomad's `Constraint.Validate`: a known operator, and a right-hand side that parses for
/// `regexp`, `version` and `semver`.
///
/// ```
/// use caravan_structs::{Constraint, validate::check_constraint};
/// let bad = Constraint { l_target: "${attr.os.name}".into(), operand: "regexp".into(), r_target: "(".into() };
/// assert!(check_constraint(&bad).unwrap_err().starts_with("Regular expression failed to compile"));
/// ```
pub fn check_constraint(constraint: &Constraint) -> Result<(), String> {
    let operand = constraint.operand.as_str();
    if !CONSTRAINT_OPERATORS.contains(&operand) {
        return Err(format!(
            "constraint operator \"{operand}\" is unknown; use one of {}",
            CONSTRAINT_OPERATORS.join(", ")
        ));
    }
    match operand {
        "regexp" => regex::Regex::new(&constraint.r_target)
            .map(|_| ())
            .map_err(|e| format!("Regular expression failed to compile: {e}")),
        "version" | "semver" => check_version_constraint(&constraint.r_target).map_err(|e| {
            let kind = if operand == "version" {
                "Version"
            } else {
                "Semver"
            };
            format!("{kind} constraint is invalid: {e}")
        }),
        _ => Ok(()),
    }
}

/// Checks a version constraint as hashicorp/go-version reads it: comma-separated
/// `[op] version` terms, op one of `= != > < >= <= ~>`.
pub fn check_version_constraint(text: &str) -> Result<(), String> {
    for term in text.split(',') {
        let term = term.trim();
        let version = ["~>", ">=", "<=", "!=", "=", ">", "<"]
            .iter()
            .find_map(|op| term.strip_prefix(op))
            .unwrap_or(term)
            .trim();
        let version = version.strip_prefix('v').unwrap_or(version);
        let core = version.split(['-', '+']).next().unwrap_or("");
        let parts_ok = !core.is_empty()
            && core.split('.').count() <= 4
            && core
                .split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if !parts_ok {
            return Err(format!("Malformed constraint: {term}"));
        }
    }
    Ok(())
}

/// A port's numbers: a static port within 0..=65535, `to` within -1..=65535.
pub fn check_port(port: &Port) -> Result<(), String> {
    if !(0..=MAX_PORT).contains(&port.value) {
        return Err(format!(
            "port \"{}\": static port must be between 0 and {MAX_PORT}, got {}",
            port.label, port.value
        ));
    }
    if !(-1..=MAX_PORT).contains(&port.to) {
        return Err(format!(
            "port \"{}\" cannot be mapped to {}: \"to\" must be between -1 and {MAX_PORT}",
            port.label, port.to
        ));
    }
    Ok(())
}

/// A service name as Nomad accepts it: RFC 1123 labels (letters, digits, dashes), where
/// `${...}` interpolations are allowed since they are resolved on the client.
pub fn check_service_name(name: &str) -> Result<(), String> {
    let mut plain = String::new();
    let mut rest = name;
    while let Some(start) = rest.find("${") {
        plain.push_str(&rest[..start]);
        plain.push('x');
        rest = rest[start..]
            .find('}')
            .map_or("", |end| &rest[start + end + 1..]);
    }
    plain.push_str(rest);
    let valid = !plain.is_empty()
        && plain.len() <= 63
        && plain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !plain.starts_with('-')
        && !plain.ends_with('-');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "service name must be valid per RFC 1123 and can contain only alphanumeric characters or dashes: \"{name}\""
        ))
    }
}

fn fmt_ns(ns: i64) -> String {
    if ns % SECOND_NS == 0 {
        format!("{}s", ns / SECOND_NS)
    } else {
        format!("{ns}ns")
    }
}

fn job_blocks(errors: &mut Vec<String>, job: &Job) {
    let at = format!("job \"{}\"", job.id);
    if let Some(periodic) = &job.periodic
        && periodic.is_enabled()
    {
        if job.r#type != JOB_TYPE_BATCH && job.r#type != JOB_TYPE_SYSBATCH {
            errors.push(format!(
                "{at}: periodic can only be used with \"batch\" or \"sysbatch\" jobs, not \"{}\"",
                job.r#type
            ));
        }
        let spec = periodic.spec.as_deref().unwrap_or("");
        if spec.is_empty() && periodic.specs.is_empty() {
            errors.push(format!("{at}: periodic: must specify a cron spec"));
        }
        if !spec.is_empty() && !periodic.specs.is_empty() {
            errors.push(format!(
                "{at}: periodic: only one of cron and crons may be set"
            ));
        }
        for spec in std::iter::once(spec)
            .filter(|s| !s.is_empty())
            .chain(periodic.specs.iter().map(String::as_str))
        {
            if let Err(e) = check_cron(spec) {
                errors.push(format!("{at}: periodic: invalid cron spec {spec:?}: {e}"));
            }
        }
    }
    if let Some(parameterized) = &job.parameterized_job {
        if job.r#type != JOB_TYPE_BATCH && job.r#type != JOB_TYPE_SYSBATCH {
            errors.push(format!(
                "{at}: parameterized can only be used with \"batch\" or \"sysbatch\" jobs, not \"{}\"",
                job.r#type
            ));
        }
        if !DISPATCH_PAYLOAD_VALUES.contains(&parameterized.payload.as_str()) {
            errors.push(format!(
                "{at}: parameterized: unknown payload requirement \"{}\"; use optional, required or forbidden",
                parameterized.payload
            ));
        }
        let both: Vec<&String> = parameterized
            .meta_required
            .iter()
            .filter(|k| parameterized.meta_optional.contains(k))
            .collect();
        if !both.is_empty() {
            errors.push(format!(
                "{at}: parameterized: meta keys {both:?} are both required and optional"
            ));
        }
    }
}

fn group_blocks(errors: &mut Vec<String>, at: &str, job: &Job, group: &TaskGroup) {
    if group.ephemeral_disk.size_mb < 10 {
        errors.push(format!(
            "{at}: ephemeral_disk: minimum size is 10 MB, got {}",
            group.ephemeral_disk.size_mb
        ));
    } else if group.ephemeral_disk.size_mb > MAX_RESOURCE_VALUE {
        errors.push(format!(
            "{at}: ephemeral_disk: size must be at most {MAX_RESOURCE_VALUE} MB, got {}",
            group.ephemeral_disk.size_mb
        ));
    }
    if let Some(update) = &group.update {
        update_rules(errors, &format!("{at}: update"), update);
    }
    if let Some(migrate) = &group.migrate {
        migrate_rules(errors, &format!("{at}: migrate"), migrate);
    }
    if let Some(policy) = &group.reschedule_policy {
        reschedule_rules(errors, &format!("{at}: reschedule"), policy);
    }
    if let Some(scaling) = &group.scaling {
        let min = scaling.min.unwrap_or(group.count);
        let max = scaling.max.unwrap_or(0);
        if min > max {
            errors.push(format!(
                "{at}: scaling: maximum count ({max}) must not be less than minimum count ({min})"
            ));
        } else if group.count < min || group.count > max {
            errors.push(format!(
                "{at}: count ({}) must be between the scaling min ({min}) and max ({max})",
                group.count
            ));
        }
    }
    for (name, delay) in [
        ("shutdown_delay", group.shutdown_delay),
        (
            "stop_after_client_disconnect",
            group.stop_after_client_disconnect,
        ),
        ("max_client_disconnect", group.max_client_disconnect),
    ] {
        if delay.is_some_and(|d| d < 0) {
            errors.push(format!("{at}: {name} must not be negative"));
        }
    }
    if group.networks.len() > 1 {
        errors.push(format!(
            "{at}: only one network block is allowed per group, got {}",
            group.networks.len()
        ));
    }
    let mut labels = BTreeSet::new();
    let mut statics = BTreeSet::new();
    let task_networks = group.tasks.iter().flat_map(|t| &t.resources.networks);
    for network in group.networks.iter().chain(task_networks) {
        for port in network.ports() {
            if let Err(e) = check_port(port) {
                errors.push(format!("{at}: {e}"));
            }
            if !labels.insert(port.label.as_str()) {
                errors.push(format!(
                    "{at}: port label \"{}\" already in use",
                    port.label
                ));
            }
            if port.value > 0
                && !port.ignore_collision
                && !statics.insert((port.host_network.as_str(), port.value))
            {
                errors.push(format!("{at}: static port {} already reserved", port.value));
            }
        }
    }
    for (name, volume) in &group.volumes {
        if !matches!(volume.r#type.as_str(), "host" | "csi") {
            errors.push(format!(
                "{at}: volume \"{name}\" has unrecognised type \"{}\"; use host or csi",
                volume.r#type
            ));
        }
        if volume.source.is_empty() {
            errors.push(format!("{at}: volume \"{name}\" has an empty source"));
        }
    }
    let mut service_names = BTreeSet::new();
    for service in &group.services {
        service_rules(errors, at, job, group, service);
        if !service_names.insert((service.name.as_str(), service.port_label.as_str())) {
            errors.push(format!(
                "{at}: service \"{}\" is defined more than once for port \"{}\"",
                service.name, service.port_label
            ));
        }
    }
}

fn task_blocks(errors: &mut Vec<String>, at: &str, job: &Job, group: &TaskGroup, task: &Task) {
    if let Some(lifecycle) = &task.lifecycle
        && !LIFECYCLE_HOOKS.contains(&lifecycle.hook.as_str())
    {
        errors.push(format!(
            "{at}: lifecycle: invalid hook \"{}\"; use prestart, poststart or poststop",
            lifecycle.hook
        ));
    }
    if task.shutdown_delay < 0 {
        errors.push(format!("{at}: shutdown_delay must not be negative"));
    }
    if task.log_config.max_files < 1 {
        errors.push(format!(
            "{at}: logs: minimum number of files is 1, got {}",
            task.log_config.max_files
        ));
    }
    if task.log_config.max_file_size_mb < 1 {
        errors.push(format!(
            "{at}: logs: minimum file size is 1 MB, got {}",
            task.log_config.max_file_size_mb
        ));
    }
    let log_mb = task
        .log_config
        .max_files
        .saturating_mul(task.log_config.max_file_size_mb);
    if log_mb >= group.ephemeral_disk.size_mb && group.ephemeral_disk.size_mb >= 10 {
        errors.push(format!(
            "{at}: log storage ({log_mb} MB) must be less than the ephemeral disk ({} MB)",
            group.ephemeral_disk.size_mb
        ));
    }
    if task.resources.memory_max_mb != 0 && task.resources.memory_max_mb < task.resources.memory_mb
    {
        errors.push(format!(
            "{at}: resources: memory_max ({}) must be >= memory ({})",
            task.resources.memory_max_mb, task.resources.memory_mb
        ));
    }
    if task.resources.cores < 0 {
        errors.push(format!("{at}: resources: cores must be >= 0"));
    }
    for artifact in &task.artifacts {
        if artifact.getter_source.as_deref().unwrap_or("").is_empty() {
            errors.push(format!("{at}: artifact: source must be specified"));
        }
        if let Some(mode) = &artifact.getter_mode
            && !matches!(mode.as_str(), "any" | "file" | "dir")
        {
            errors.push(format!(
                "{at}: artifact: invalid mode \"{mode}\"; use any, file or dir"
            ));
        }
    }
    for (i, template) in task.templates.iter().enumerate() {
        let t_at = format!("{at}: template {}", i + 1);
        if template.dest_path.as_deref().unwrap_or("").is_empty() {
            errors.push(format!("{t_at}: must specify a destination"));
        }
        let has_source = !template.source_path.as_deref().unwrap_or("").is_empty();
        let has_data = !template.embedded_tmpl.as_deref().unwrap_or("").is_empty();
        if !has_source && !has_data {
            errors.push(format!(
                "{t_at}: must specify a source path or have an embedded template (data)"
            ));
        }
        match template.change_mode.as_deref().unwrap_or("restart") {
            "restart" | "noop" => {}
            "signal" => {
                if template.change_signal.as_deref().unwrap_or("").is_empty() {
                    errors.push(format!(
                        "{t_at}: change_mode \"signal\" needs a change_signal"
                    ));
                }
            }
            "script" => {
                if template
                    .change_script
                    .as_ref()
                    .is_none_or(|s| s.command.as_deref().unwrap_or("").is_empty())
                {
                    errors.push(format!(
                        "{t_at}: change_mode \"script\" needs a change_script command"
                    ));
                }
            }
            other => errors.push(format!(
                "{t_at}: invalid change_mode \"{other}\"; use restart, noop, signal or script"
            )),
        }
        if template.splay.is_some_and(|s| s < 0) {
            errors.push(format!("{t_at}: splay must not be negative"));
        }
    }
    for (i, mount) in task.volume_mounts.iter().enumerate() {
        let volume = mount.volume.as_deref().unwrap_or("");
        if !group.volumes.contains_key(volume) {
            errors.push(format!(
                "{at}: volume_mount {} references undefined volume \"{volume}\"",
                i + 1
            ));
        }
        if mount.destination.as_deref().unwrap_or("").is_empty() {
            errors.push(format!("{at}: volume_mount {} needs a destination", i + 1));
        }
    }
    if let Some(payload) = &task.dispatch_payload
        && (payload.file.starts_with('/') || payload.file.split('/').any(|p| p == ".."))
    {
        errors.push(format!(
            "{at}: dispatch_payload: file \"{}\" must stay inside the task's local directory",
            payload.file
        ));
    }
    for service in &task.services {
        service_rules(errors, at, job, group, service);
    }
}

fn service_rules(
    errors: &mut Vec<String>,
    at: &str,
    job: &Job,
    group: &TaskGroup,
    service: &Service,
) {
    let s_at = format!("{at}: service \"{}\"", service.name);
    if let Err(e) = check_service_name(&service.name) {
        errors.push(format!("{at}: {e}"));
    }
    if !matches!(service.provider.as_str(), "consul" | "nomad" | "") {
        errors.push(format!(
            "{s_at}: provider must be \"consul\" or \"nomad\", got \"{}\"",
            service.provider
        ));
    }
    // Nomad: a service's port label names a port of the group's (or task's) network, or
    // is a number.
    let port = &service.port_label;
    if !port.is_empty() && port.parse::<u16>().is_err() && !port.contains("${") {
        let known = group
            .networks
            .iter()
            .chain(group.tasks.iter().flat_map(|t| &t.resources.networks))
            .flat_map(|n| n.ports())
            .any(|p| &p.label == port);
        if !known {
            errors.push(format!(
                "{s_at}: port label \"{port}\" does not exist in the group's network"
            ));
        }
    }
    for check in &service.checks {
        let c_at = format!("{s_at}: check \"{}\"", check.name);
        if !matches!(check.r#type.as_str(), "http" | "tcp" | "grpc" | "script") {
            errors.push(format!(
                "{c_at}: type must be one of http, tcp, grpc or script, got \"{}\"",
                check.r#type
            ));
        }
        if service.provider == "nomad" && !matches!(check.r#type.as_str(), "http" | "tcp") {
            errors.push(format!(
                "{c_at}: provider \"nomad\" supports only http and tcp checks, got \"{}\"",
                check.r#type
            ));
        }
        if check.r#type == "script" && check.command.is_empty() {
            errors.push(format!("{c_at}: script checks need a command"));
        }
        if check.r#type == "http" && check.path.is_empty() {
            errors.push(format!("{c_at}: http checks must have a path"));
        }
        // Nomad: minimum check interval and timeout are 1 s.
        if check.interval < SECOND_NS {
            errors.push(format!(
                "{c_at}: interval ({}) cannot be lower than 1s",
                fmt_ns(check.interval)
            ));
        }
        if check.timeout < SECOND_NS {
            errors.push(format!(
                "{c_at}: timeout ({}) cannot be lower than 1s",
                fmt_ns(check.timeout)
            ));
        }
    }
    let _ = job;
}

fn update_rules(errors: &mut Vec<String>, at: &str, u: &UpdateStrategy) {
    let health_check = u.health_check.as_deref().unwrap_or("checks");
    if !matches!(health_check, "checks" | "task_states" | "manual") {
        errors.push(format!(
            "{at}: invalid health check given: \"{health_check}\""
        ));
    }
    let max_parallel = u.max_parallel.unwrap_or(1);
    let canary = u.canary.unwrap_or(0);
    let min_healthy = u.min_healthy_time.unwrap_or(0);
    let healthy_deadline = u.healthy_deadline.unwrap_or(0);
    let progress_deadline = u.progress_deadline.unwrap_or(0);
    let stagger = u.stagger.unwrap_or(0);
    if max_parallel < 0 {
        errors.push(format!(
            "{at}: max_parallel can not be less than zero: {max_parallel} < 0"
        ));
    }
    if canary < 0 {
        errors.push(format!(
            "{at}: canary count can not be less than zero: {canary} < 0"
        ));
    }
    if canary == 0 && u.auto_promote.unwrap_or(false) {
        errors.push(format!(
            "{at}: auto_promote requires a canary count greater than zero"
        ));
    }
    if min_healthy < 0 {
        errors.push(format!("{at}: min_healthy_time may not be less than zero"));
    }
    if healthy_deadline <= 0 {
        errors.push(format!("{at}: healthy_deadline must be greater than zero"));
    }
    if progress_deadline < 0 {
        errors.push(format!("{at}: progress_deadline must be zero or greater"));
    }
    if min_healthy >= healthy_deadline {
        errors.push(format!(
            "{at}: min_healthy_time must be less than healthy_deadline: {} >= {}",
            fmt_ns(min_healthy),
            fmt_ns(healthy_deadline)
        ));
    }
    if progress_deadline != 0 && healthy_deadline >= progress_deadline {
        errors.push(format!(
            "{at}: healthy_deadline must be less than progress_deadline: {} >= {}",
            fmt_ns(healthy_deadline),
            fmt_ns(progress_deadline)
        ));
    }
    if stagger <= 0 {
        errors.push(format!("{at}: stagger must be greater than zero"));
    }
}

fn migrate_rules(errors: &mut Vec<String>, at: &str, m: &MigrateStrategy) {
    let health_check = m.health_check.as_deref().unwrap_or("checks");
    if !matches!(health_check, "checks" | "task_states") {
        errors.push(format!(
            "{at}: invalid health check given: \"{health_check}\""
        ));
    }
    let min_healthy = m.min_healthy_time.unwrap_or(0);
    let healthy_deadline = m.healthy_deadline.unwrap_or(0);
    if m.max_parallel.unwrap_or(1) < 0 {
        errors.push(format!("{at}: max_parallel must be >= 0"));
    }
    if min_healthy < 0 {
        errors.push(format!("{at}: min_healthy_time must be >= 0"));
    }
    if healthy_deadline <= 0 {
        errors.push(format!("{at}: healthy_deadline must be > 0"));
    }
    if min_healthy > healthy_deadline {
        errors.push(format!(
            "{at}: min_healthy_time must be less than healthy_deadline: {} > {}",
            fmt_ns(min_healthy),
            fmt_ns(healthy_deadline)
        ));
    }
}

/// Nomad's minimum reschedule delay.
const RESCHEDULE_MIN_DELAY: i64 = 5 * SECOND_NS;

fn reschedule_rules(errors: &mut Vec<String>, at: &str, r: &ReschedulePolicy) {
    if !r.enabled() {
        return;
    }
    let function = r.delay_function.as_deref().unwrap_or("");
    if !matches!(function, "constant" | "exponential" | "fibonacci") {
        errors.push(format!(
            "{at}: invalid delay function \"{function}\", must be one of constant, exponential, fibonacci"
        ));
    }
    let delay = r.delay.unwrap_or(0);
    if delay < RESCHEDULE_MIN_DELAY {
        errors.push(format!(
            "{at}: delay cannot be less than 5s (got {})",
            fmt_ns(delay)
        ));
    }
    let max_delay = r.max_delay.unwrap_or(0);
    if function != "constant" && max_delay < delay {
        errors.push(format!(
            "{at}: max_delay cannot be less than delay {} (got {})",
            fmt_ns(delay),
            fmt_ns(max_delay)
        ));
    }
    let unlimited = r.unlimited.unwrap_or(false);
    let attempts = r.attempts.unwrap_or(0);
    if unlimited && attempts > 0 {
        errors.push(format!(
            "{at}: attempts = {attempts} and unlimited = true are ambiguous; set one"
        ));
    }
    if !unlimited && attempts > 0 && r.interval.unwrap_or(0) <= 0 {
        errors.push(format!(
            "{at}: interval must be greater than zero when attempts is set"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Task, TaskGroup};

    fn job() -> Job {
        let mut job = Job {
            id: "web".into(),
            task_groups: vec![TaskGroup {
                name: "api".into(),
                tasks: vec![Task {
                    name: "t".into(),
                    driver: "raw_exec".into(),
                    config: serde_json::json!({"command": "/bin/true"})
                        .as_object()
                        .cloned()
                        .unwrap_or_default(),
                    ..Task::default()
                }],
                ..TaskGroup::default()
            }],
            ..Job::default()
        };
        job.canonicalize();
        job
    }

    #[test]
    fn valid_job_passes() {
        assert_eq!(validate_job(&job()), Ok(()));
    }

    #[test]
    fn negative_count_names_group() {
        let mut j = job();
        j.task_groups[0].count = -1;
        let errors = validate_job(&j).unwrap_err();
        assert_eq!(
            errors,
            vec!["job \"web\": group \"api\": count must be >= 0, got -1"]
        );
    }

    #[test]
    fn names_that_could_be_paths_name_the_field() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "task",
                "/etc",
                "job \"web\": group \"api\": task \"/etc\": Task name cannot include slashes",
            ),
            (
                "task",
                "..",
                "job \"web\": group \"api\": task \"..\": Task name cannot be \".\" or \"..\"",
            ),
            (
                "task",
                "a\nb",
                "job \"web\": group \"api\": task \"a\\nb\": Task name cannot include control characters",
            ),
            (
                "group",
                "a/b",
                "job \"web\": group \"a/b\": Group name cannot include slashes",
            ),
        ];
        for (field, name, want) in cases {
            let mut j = job();
            match *field {
                "task" => j.task_groups[0].tasks[0].name = name.to_string(),
                _ => j.task_groups[0].name = name.to_string(),
            }
            let errors = validate_job(&j).unwrap_err();
            assert!(errors.iter().any(|e| e == want), "{name:?}: {errors:?}");
        }
        let mut j = job();
        j.task_groups[0].count = MAX_GROUP_COUNT + 1;
        assert!(validate_job(&j).unwrap_err()[0].contains("count must be at most 100000"));
        assert!(check_submitted_job_id("team/web").is_err());
        assert!(check_submitted_job_id(&"x".repeat(129)).is_err());
        assert!(check_submitted_job_id("web-1").is_ok());
    }

    #[test]
    fn missing_driver_names_task() {
        let mut j = job();
        j.task_groups[0].tasks[0].driver.clear();
        let errors = validate_job(&j).unwrap_err();
        assert_eq!(
            errors,
            vec!["job \"web\": group \"api\": task \"t\": Missing task driver"]
        );
    }

    #[test]
    fn unknown_type_rejected() {
        let mut j = job();
        j.r#type = "cron".into();
        assert!(validate_job(&j).unwrap_err()[0].contains("type must be one of"));
    }
}
