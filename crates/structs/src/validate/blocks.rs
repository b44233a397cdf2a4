//! The rules of a job's blocks: job-level settings, groups (disk, update, migrate,
//! reschedule, networks, volumes, services) and tasks (logs, templates, artifacts,
//! services and their checks).

use super::*;

pub(super) fn fmt_ns(ns: i64) -> String {
    if ns % SECOND_NS == 0 {
        format!("{}s", ns / SECOND_NS)
    } else {
        format!("{ns}ns")
    }
}

pub(super) fn job_blocks(errors: &mut Vec<String>, job: &Job) {
    let at = format!("job \"{}\"", job.id);
    if let Some(periodic) = &job.periodic
        && periodic.is_enabled()
    {
        if !job.r#type.is_some_and(JobType::is_batch) {
            errors.push(format!(
                "{at}: periodic can only be used with \"batch\" or \"sysbatch\" jobs, not \"{}\"",
                job.r#type.map_or("", JobType::as_str)
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
        if !job.r#type.is_some_and(JobType::is_batch) {
            errors.push(format!(
                "{at}: parameterized can only be used with \"batch\" or \"sysbatch\" jobs, not \"{}\"",
                job.r#type.map_or("", JobType::as_str)
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

pub(super) fn group_blocks(errors: &mut Vec<String>, at: &str, job: &Job, group: &TaskGroup) {
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
        let at = format!("{at}: update");
        update_rules(errors, &at, update);
        let canary = update.canary.unwrap_or(0);
        if canary > 0 && canary > group.count {
            errors.push(format!(
                "{at}: canary count ({canary}) can not be greater than the group's count ({}): a canary stands in for one allocation of the group",
                group.count
            ));
        }
        if canary > 0 && update.max_parallel == Some(0) {
            errors.push(format!(
                "{at}: canary ({canary}) requires max_parallel greater than zero: with max_parallel = 0 the group has no deployments to place canaries in"
            ));
        }
    }
    if let Some(migrate) = &group.migrate {
        migrate_rules(errors, &format!("{at}: migrate"), migrate);
    }
    if let Some(policy) = &group.reschedule_policy {
        reschedule_rules(errors, &format!("{at}: reschedule"), policy);
    }
    crate::scaling::scaling_rules(errors, at, group);
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
            errors.push(format!(
                "{at}: volume \"{name}\" has an empty source; name the client's host_volume"
            ));
        }
        // Nomad's `VolumeRequest.Validate`: the access and attachment modes are CSI's.
        if volume.r#type == crate::VOLUME_TYPE_HOST {
            if !volume.access_mode.is_empty() {
                errors.push(format!(
                    "{at}: volume \"{name}\": host volumes cannot have an access mode"
                ));
            }
            if !volume.attachment_mode.is_empty() {
                errors.push(format!(
                    "{at}: volume \"{name}\": host volumes cannot have an attachment mode"
                ));
            }
        }
    }
    let mut service_names = BTreeSet::new();
    for service in &group.services {
        service_rules(errors, at, job, group, service);
        // A group's script check runs in one of its tasks: the check names it, or the
        // group has only one.
        for check in service.checks.iter().filter(|c| c.r#type == "script") {
            let named = &check.task_name;
            if named.is_empty() && group.tasks.len() > 1 {
                errors.push(format!(
                    "{at}: service \"{}\": check \"{}\": a script check of a group's service must name the task it runs in (task = \"<task>\")",
                    service.name, check.name
                ));
            } else if !named.is_empty() && !group.tasks.iter().any(|t| &t.name == named) {
                errors.push(format!(
                    "{at}: service \"{}\": check \"{}\": task \"{named}\" does not exist in the group",
                    service.name, check.name
                ));
            }
        }
        if !service_names.insert((service.name.as_str(), service.port_label.as_str())) {
            errors.push(format!(
                "{at}: service \"{}\" is defined more than once for port \"{}\"",
                service.name, service.port_label
            ));
        }
    }
}

pub(super) fn task_blocks(
    errors: &mut Vec<String>,
    at: &str,
    job: &Job,
    group: &TaskGroup,
    task: &Task,
) {
    if let Some(lifecycle) = &task.lifecycle {
        if lifecycle.hook.is_empty() {
            errors.push(format!(
                "{at}: lifecycle: no lifecycle hook provided; set hook to prestart, poststart or poststop"
            ));
        } else if !LIFECYCLE_HOOKS.contains(&lifecycle.hook.as_str()) {
            errors.push(format!(
                "{at}: lifecycle: invalid hook: {}; use prestart, poststart or poststop",
                lifecycle.hook
            ));
        }
    }
    if task.shutdown_delay < 0 {
        errors.push(format!("{at}: shutdown_delay must not be negative"));
    }
    // Nomad's `LogConfig.Validate` and `Task.Validate`, in their words.
    if task.log_config.max_files < 1 {
        errors.push(format!(
            "{at}: logs: minimum number of files is 1; got {}",
            task.log_config.max_files
        ));
    }
    if task.log_config.max_file_size_mb < 1 {
        errors.push(format!(
            "{at}: logs: minimum file size is 1MB; got {}",
            task.log_config.max_file_size_mb
        ));
    }
    let log_mb = task
        .log_config
        .max_files
        .saturating_mul(task.log_config.max_file_size_mb);
    if group.ephemeral_disk.size_mb <= log_mb {
        errors.push(format!(
            "{at}: log storage ({log_mb} MB) must be less than requested disk capacity ({} MB)",
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
        if volume.is_empty() {
            errors.push(format!(
                "{at}: volume_mount {} references an empty volume; name one of the group's volume blocks",
                i + 1
            ));
        } else if !group.volumes.contains_key(volume) {
            errors.push(format!(
                "{at}: volume_mount {} references undefined volume \"{volume}\"",
                i + 1
            ));
        }
        let mode = mount.propagation_mode.as_deref().unwrap_or("");
        if !matches!(mode, "" | "private" | "host-to-task" | "bidirectional") {
            errors.push(format!(
                "{at}: volume_mount {} has an invalid propagation mode: \"{mode}\"",
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

pub(super) fn service_rules(
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
    // Nomad: a service's (or its checks') port label names a port of the group's (or
    // task's) network, or is a number.
    let known_port = |port: &str| {
        port.is_empty()
            || port.parse::<u16>().is_ok()
            || port.contains("${")
            || group
                .networks
                .iter()
                .chain(group.tasks.iter().flat_map(|t| &t.resources.networks))
                .flat_map(|n| n.ports())
                .any(|p| p.label == port)
    };
    let unknown_ports: BTreeSet<&str> = std::iter::once(service.port_label.as_str())
        .chain(service.checks.iter().map(|c| c.port_label.as_str()))
        .filter(|port| !known_port(port))
        .collect();
    for port in unknown_ports {
        errors.push(format!(
            "{at}: port label \"{port}\" referenced by services {} does not exist",
            service.name
        ));
    }
    for check in &service.checks {
        let c_at = format!("{s_at}: check \"{}\"", check.name);
        if !matches!(check.r#type.as_str(), "http" | "tcp" | "grpc" | "script") {
            errors.push(format!(
                "{c_at}: type must be one of http, tcp, grpc or script, got \"{}\"",
                check.r#type
            ));
        }
        // Nomad's own provider runs http and tcp checks; Caravan's client also runs
        // script checks for it (Nomad leaves those to Consul).
        if service.provider == "nomad" && matches!(check.r#type.as_str(), "grpc") {
            errors.push(format!(
                "{c_at}: invalid check type (\"{}\"), must be one of http, tcp, script for the nomad provider",
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

pub(super) fn update_rules(errors: &mut Vec<String>, at: &str, u: &UpdateStrategy) {
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

pub(super) fn migrate_rules(errors: &mut Vec<String>, at: &str, m: &MigrateStrategy) {
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

pub(super) fn reschedule_rules(errors: &mut Vec<String>, at: &str, r: &ReschedulePolicy) {
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
