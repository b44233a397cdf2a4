//! Job validation: every rule names the job, group or task it applies to.

use crate::{JOB_TYPE_BATCH, JOB_TYPE_SERVICE, JOB_TYPE_SYSBATCH, JOB_TYPE_SYSTEM, Job};

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

/// Checks a canonicalized job. Returns every problem found, each a full sentence.
pub fn validate_job(job: &Job) -> Result<(), Vec<String>> {
    let mut errors = Vec::new();
    if job.id.is_empty() {
        errors.push("Missing job ID".to_string());
    } else if job.id.contains(' ') {
        errors.push(format!("job \"{}\": ID contains a space", job.id));
    } else if job.id.contains('\0') {
        errors.push("Job ID contains a null character".to_string());
    }
    let job_name = &job.id;
    if ![
        JOB_TYPE_SERVICE,
        JOB_TYPE_BATCH,
        JOB_TYPE_SYSTEM,
        JOB_TYPE_SYSBATCH,
    ]
    .contains(&job.r#type.as_str())
    {
        errors.push(format!(
            "job \"{job_name}\": type must be one of service, batch, system, sysbatch; got \"{}\"",
            job.r#type
        ));
    }
    if !(1..=100).contains(&job.priority) {
        errors.push(format!(
            "job \"{job_name}\": priority must be between 1 and 100, got {}",
            job.priority
        ));
    }
    if job.task_groups.is_empty() {
        errors.push(format!("job \"{job_name}\": Missing job task groups"));
    }
    for constraint in &job.constraints {
        check_operator(
            &mut errors,
            &format!("job \"{job_name}\""),
            &constraint.operand,
        );
    }
    let mut seen_groups = std::collections::BTreeSet::new();
    for (i, group) in job.task_groups.iter().enumerate() {
        let at = if group.name.is_empty() {
            errors.push(format!(
                "job \"{job_name}\": group {} is missing a name",
                i + 1
            ));
            format!("job \"{job_name}\": group {}", i + 1)
        } else {
            format!("job \"{job_name}\": group \"{}\"", group.name)
        };
        if !group.name.is_empty() && !seen_groups.insert(group.name.clone()) {
            errors.push(format!("{at}: defined more than once"));
        }
        if group.count < 0 {
            errors.push(format!("{at}: count must be >= 0, got {}", group.count));
        }
        if group.tasks.is_empty() {
            errors.push(format!("{at}: Missing tasks for task group"));
        }
        for constraint in &group.constraints {
            check_operator(&mut errors, &at, &constraint.operand);
        }
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
                format!("{at}: task \"{}\"", task.name)
            };
            if !task.name.is_empty() && !seen_tasks.insert(task.name.clone()) {
                errors.push(format!("{at}: defined more than once"));
            }
            if task.driver.is_empty() {
                errors.push(format!("{at}: Missing task driver"));
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
            if task.kill_timeout < 0 {
                errors.push(format!("{at}: kill_timeout must be >= 0"));
            }
            for constraint in &task.constraints {
                check_operator(&mut errors, &at, &constraint.operand);
            }
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

fn check_operator(errors: &mut Vec<String>, at: &str, operand: &str) {
    if !CONSTRAINT_OPERATORS.contains(&operand) {
        errors.push(format!(
            "{at}: constraint operator \"{operand}\" is unknown; use one of {}",
            CONSTRAINT_OPERATORS.join(", ")
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
