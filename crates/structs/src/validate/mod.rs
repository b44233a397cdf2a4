//! Job validation: every rule names the job, group or task it applies to.

use std::collections::BTreeSet;

use crate::driver_schema::DriverSchemas;
use crate::names::{MAX_JOB_ID_BYTES, MAX_NAME_BYTES, path_component_problem, quoted};
use crate::network::MAX_PORT;
use crate::periodic::{DISPATCH_PAYLOAD_VALUES, check_cron};
use crate::{
    Constraint, Job, JobType, LIFECYCLE_HOOKS, MigrateStrategy, Port, ReschedulePolicy, SECOND_NS,
    Service, Task, TaskGroup, UpdateStrategy,
};

pub use crate::constraint::CONSTRAINT_OPERATORS;

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
    check_submitted(id, false)
}

/// [`check_submitted_job_id`], and Nomad's rule that a user cannot submit a job marked
/// `Dispatched` (only `job dispatch` makes those).
pub fn check_submitted(id: &str, dispatched: bool) -> Result<(), String> {
    if dispatched {
        return Err(
            "job can't be submitted with 'Dispatched' set; dispatch the parameterized job instead (job dispatch)"
                .to_string(),
        );
    }
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

/// Checks a canonicalized job. Returns every problem found, each a full sentence. Task
/// `config` blocks are not checked: that needs the drivers' schemas
/// ([`validate_job_with_drivers`]), which the servers have and a CLI does not (Nomad's
/// `job validate` says "Driver configuration not validated" when it checks locally).
pub fn validate_job(job: &Job) -> Result<(), Vec<String>> {
    validate_job_with_drivers(job, &DriverSchemas::default())
}

/// [`validate_job`], with each task's `config` checked against its driver's schema
/// (drivers without a schema in `drivers` are left to the client that would run them).
pub fn validate_job_with_drivers(job: &Job, drivers: &DriverSchemas) -> Result<(), Vec<String>> {
    let mut errors = Vec::new();
    let job_at = format!("job {}", quoted(job.id.as_str()));
    let id = job.id.as_str();
    if id.is_empty() {
        errors.push("Missing job ID".to_string());
    } else if id.contains(' ') {
        errors.push(format!("{job_at}: ID contains a space"));
    } else if id.contains('\0') {
        errors.push("Job ID contains a null character".to_string());
    } else if id.chars().any(char::is_control) {
        errors.push(format!("{job_at}: ID contains a control character"));
    } else if id == "." || id == ".." {
        errors.push(format!("{job_at}: ID cannot be \".\" or \"..\""));
    }
    if job.name.contains('\0') || job.name.chars().any(char::is_control) {
        errors.push(format!(
            "{job_at}: name {} contains a null or control character",
            quoted(&job.name)
        ));
    }
    // Any other word is refused where the job is read (`JobType`'s deserializer, with
    // the same sentence); only a job never canonicalized arrives here without a type.
    if job.r#type.is_none() {
        errors.push(format!(
            "{job_at}: type must be one of {}; got \"\"",
            JobType::WORDS.join(", ")
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
        }
        // No upper bound, as in Nomad: a group's missing allocations are a number to
        // the scheduler, which stops trying once one fails to place and only counts
        // the rest (`CoalescedFailures`), so memory grows with what is placed.
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
            for problem in drivers.check(&task.driver, &task.config) {
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
/// `regexp`, `version` and `semver` (compiled as the scheduler compiles it).
///
/// ```
/// use caravan_structs::{Constraint, validate::check_constraint};
/// let bad = Constraint { l_target: "${attr.os.name}".into(), operand: "regexp".into(), r_target: "(".into() };
/// assert!(check_constraint(&bad).unwrap_err().starts_with("Regular expression failed to compile"));
/// ```
pub fn check_constraint(constraint: &Constraint) -> Result<(), String> {
    constraint.compile().map(|_| ()).map_err(|e| e.to_string())
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

mod blocks;
#[cfg(test)]
mod tests;

use blocks::{group_blocks, job_blocks, task_blocks};

/// Nomad's `validateJobUpdate`: what a job may not change about itself once registered
/// (`old` is the stored version, `None` for a new job). The state store applies it when
/// it writes the job, so that no other write can slip between check and write.
pub fn check_job_update(old: Option<&Job>, new: &Job) -> Result<(), String> {
    let Some(old) = old else {
        return Ok(());
    };
    if old.r#type != new.r#type {
        return Err(format!(
            "cannot update job from type {:?} to {:?}; stop and purge it first (job stop -purge {})",
            old.r#type.map_or("", JobType::as_str),
            new.r#type.map_or("", JobType::as_str),
            old.id
        ));
    }
    match (old.is_periodic(), new.is_periodic()) {
        (true, false) => return Err("cannot update periodic job to being non-periodic".into()),
        (false, true) => return Err("cannot update non-periodic job to being periodic".into()),
        _ => {}
    }
    match (old.is_parameterized(), new.is_parameterized()) {
        (true, false) => {
            return Err("cannot update parameterized job to being non-parameterized".into());
        }
        (false, true) => {
            return Err("cannot update non-parameterized job to being parameterized".into());
        }
        _ => {}
    }
    if old.dispatched != new.dispatched {
        return Err("field 'Dispatched' is read-only".into());
    }
    Ok(())
}

/// Nomad's `job run -check-index`: `expected` is the job modify index the caller
/// planned against (0: the job must not exist), `current` the stored one.
pub fn check_enforced_index(expected: u64, current: Option<u64>) -> Result<(), String> {
    match current {
        None if expected != 0 => Err(format!(
            "Enforcing job modify index {expected}: job does not exist"
        )),
        Some(current) if current != expected => Err(format!(
            "Enforcing job modify index {expected}: job exists with conflicting job modify index: {current}"
        )),
        _ => Ok(()),
    }
}
