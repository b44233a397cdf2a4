//! Submit-time checks of placement rules: what Nomad's `Constraint.Validate`,
//! `Affinity.Validate` and `Spread.Validate` reject, so a job the scheduler could never
//! interpret is refused at registration rather than silently matching no node.
//!
//! Unknown constraint operators are left to `caravan_structs::validate::validate_job`,
//! which already names them; unknown affinity operators are reported here. Both compile
//! rules with the scheduler's own [`CompiledConstraint`], so what passes here is what the
//! scheduler evaluates.

use std::collections::BTreeSet;

use caravan_structs::constraint::{CompiledConstraint, ConstraintError, Operator};
use caravan_structs::{Affinity, Constraint, Job, Spread};

/// Checks every constraint, affinity and spread of a job (job, group and task levels).
/// Each error names where the rule is: `job "web": group "api": constraint
/// "${attr.kernel.version} version >> 3.19": invalid version constraint ...`.
pub fn validate_placement_rules(job: &Job) -> Result<(), Vec<String>> {
    let mut errors = Vec::new();
    let at = format!("job \"{}\"", job.id);
    check_rules(
        &mut errors,
        &at,
        &job.constraints,
        &job.affinities,
        &job.spreads,
    );
    for group in &job.task_groups {
        let at = format!("{at}: group \"{}\"", group.name);
        check_rules(
            &mut errors,
            &at,
            &group.constraints,
            &group.affinities,
            &group.spreads,
        );
        for task in &group.tasks {
            let at = format!("{at}: task \"{}\"", task.name);
            check_rules(&mut errors, &at, &task.constraints, &task.affinities, &[]);
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn check_rules(
    errors: &mut Vec<String>,
    at: &str,
    constraints: &[Constraint],
    affinities: &[Affinity],
    spreads: &[Spread],
) {
    for constraint in constraints {
        let at = format!("{at}: constraint \"{constraint}\"");
        for problem in constraint_problems(constraint) {
            errors.push(format!("{at}: {problem}"));
        }
    }
    for affinity in affinities {
        let at = format!(
            "{at}: affinity \"{} {} {}\"",
            affinity.l_target, affinity.operand, affinity.r_target
        );
        for problem in affinity_problems(affinity) {
            errors.push(format!("{at}: {problem}"));
        }
    }
    for spread in spreads {
        let at = format!("{at}: spread \"{}\"", spread.attribute);
        for problem in spread_problems(spread) {
            errors.push(format!("{at}: {problem}"));
        }
    }
}

/// `Operator "=" requires an RTarget`, for constraints and affinities alike.
fn r_target_problem(operator: Operator, operand: &str, r_target: &str) -> Option<String> {
    (operator.needs_r_target() && r_target.is_empty())
        .then(|| format!("Operator \"{operand}\" requires an RTarget"))
}

/// A constraint's problems beyond what the model's `validate_job` reports (the operator,
/// regexp and version values, which the job file reader also checks, with positions).
fn constraint_problems(constraint: &Constraint) -> Vec<String> {
    let mut problems = Vec::new();
    let operand = constraint.operand.as_str();
    let operator = Operator::parse(operand);
    if let Some(operator) = operator {
        problems.extend(r_target_problem(operator, operand, &constraint.r_target));
        if operator.refuses_r_target() && !constraint.r_target.is_empty() {
            problems.push(format!(
                "Operator \"{operand}\" does not support an RTarget"
            ));
        }
    }
    if operator == Some(Operator::DistinctProperty)
        && !constraint.r_target.is_empty()
        && !matches!(constraint.r_target.parse::<u64>(), Ok(n) if n >= 1)
    {
        problems.push(format!(
            "distinct_property allows a count of 1 or more allocations per value; got \"{}\"",
            constraint.r_target
        ));
    }
    if operator.is_none_or(Operator::needs_l_target) && constraint.l_target.is_empty() {
        problems.push("no attribute provided but is required by operator".to_string());
    }
    problems
}

fn affinity_problems(affinity: &Affinity) -> Vec<String> {
    let mut problems = Vec::new();
    let operand = affinity.operand.as_str();
    match Operator::parse(operand).filter(|o| o.allowed_in_affinity()) {
        Some(operator) => {
            problems.extend(r_target_problem(operator, operand, &affinity.r_target));
            match CompiledConstraint::compile(&affinity.l_target, operand, &affinity.r_target) {
                Err(ConstraintError::Regex(error)) => problems.push(format!(
                    "Regular expression failed to compile: {}",
                    error.lines().last().unwrap_or_default().trim()
                )),
                Err(ConstraintError::Version { message, .. }) => problems.push(format!(
                    "invalid {operand} constraint \"{}\": {message}",
                    affinity.r_target
                )),
                Err(ConstraintError::UnknownOperator(_)) | Ok(_) => {}
            }
        }
        None => problems.push(format!("Unknown affinity operator \"{operand}\"")),
    }
    if affinity.l_target.is_empty() {
        problems.push("no attribute provided but is required by operator".to_string());
    }
    if affinity.weight == 0 {
        problems.push("Affinity weight cannot be zero".to_string());
    }
    if !(-100..=100).contains(&affinity.weight) {
        problems.push("Affinity weight must be within the range [-100,100]".to_string());
    }
    problems
}

fn spread_problems(spread: &Spread) -> Vec<String> {
    let mut problems = Vec::new();
    if spread.attribute.is_empty() {
        problems.push("Missing spread attribute".to_string());
    }
    if !(1..=100).contains(&spread.weight) {
        problems.push("Spread block must have a positive weight from 0 to 100".to_string());
    }
    let mut seen = BTreeSet::new();
    let mut sum = 0;
    for target in &spread.spread_target {
        if !seen.insert(target.value.as_str()) {
            problems.push(format!(
                "Spread target value \"{}\" already defined",
                target.value
            ));
        }
        if !(0..=100).contains(&target.percent) {
            problems.push(format!(
                "Spread target percentage for value \"{}\" must be between 0 and 100",
                target.value
            ));
        }
        sum += target.percent;
    }
    if sum > 100 {
        problems.push(format!(
            "Sum of spread target percentages must not be greater than 100%; got {sum}%"
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> Job {
        caravan_testkit::job("web")
            .group_name("api")
            .task_name("server")
            .command("/bin/true")
            .canonical()
    }

    fn constraint(l: &str, op: &str, r: &str) -> Constraint {
        Constraint {
            l_target: l.into(),
            r_target: r.into(),
            operand: op.into(),
        }
    }

    /// What registration reports: the model's checks, then these.
    fn group_constraint_errors(c: Constraint) -> Vec<String> {
        let mut j = job();
        j.task_groups[0].constraints.push(c);
        let mut errors = caravan_structs::validate::validate_job(&j)
            .err()
            .unwrap_or_default();
        errors.extend(validate_placement_rules(&j).err().unwrap_or_default());
        errors
    }

    #[test]
    fn valid_rules_pass() {
        let ok = [
            constraint("${attr.kernel.name}", "=", "linux"),
            constraint("${attr.kernel.version}", "version", ">= 1.2, < 2.0"),
            constraint("${attr.kernel.version}", "semver", "~> 1.2"),
            constraint("${attr.kernel.version}", "regexp", "^5\\."),
            constraint("${meta.rack}", "is_set", ""),
            constraint("", "distinct_hosts", "true"),
            constraint("${meta.rack}", "distinct_property", ""),
            constraint("${meta.rack}", "distinct_property", "3"),
            constraint("${meta.tags}", "set_contains", "a,b"),
        ];
        for c in ok {
            assert_eq!(
                group_constraint_errors(c.clone()),
                Vec::<String>::new(),
                "{c}"
            );
        }
    }

    #[test]
    fn constraint_problems_name_job_group_and_rule() {
        let cases = [
            (
                constraint("${attr.kernel.version}", "version", ">> 3.19"),
                "job \"web\": group \"api\": constraint \"${attr.kernel.version} version >> 3.19\": Version constraint is invalid: Malformed constraint: >> 3.19",
            ),
            (
                constraint("${attr.os.name}", "=", ""),
                "job \"web\": group \"api\": constraint \"${attr.os.name} = \": Operator \"=\" requires an RTarget",
            ),
            (
                constraint("${meta.tags}", "set_contains_any", ""),
                "job \"web\": group \"api\": constraint \"${meta.tags} set_contains_any \": Operator \"set_contains_any\" requires an RTarget",
            ),
            (
                constraint("${meta.rack}", "is_set", "yes"),
                "job \"web\": group \"api\": constraint \"${meta.rack} is_set yes\": Operator \"is_set\" does not support an RTarget",
            ),
            (
                constraint("", ">=", "4"),
                "job \"web\": group \"api\": constraint \" >= 4\": no attribute provided but is required by operator",
            ),
            (
                constraint("${meta.rack}", "distinct_property", "0"),
                "job \"web\": group \"api\": constraint \"${meta.rack} distinct_property 0\": distinct_property allows a count of 1 or more allocations per value; got \"0\"",
            ),
            (
                constraint("${attr.x}", "semver", "1.x"),
                "job \"web\": group \"api\": constraint \"${attr.x} semver 1.x\": Semver constraint is invalid: Malformed constraint: 1.x",
            ),
        ];
        for (c, want) in cases {
            assert_eq!(group_constraint_errors(c), vec![want.to_string()]);
        }
        let errors = group_constraint_errors(constraint("${attr.x}", "regexp", "(["));
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with("job \"web\": group \"api\": constraint \"${attr.x} regexp ([\": Regular expression failed to compile: "),
            "{errors:?}"
        );
    }

    #[test]
    fn job_and_task_levels_are_named() {
        let mut j = job();
        j.constraints.push(constraint("${attr.os.name}", "!=", ""));
        j.task_groups[0].tasks[0].constraints.push(constraint(
            "${attr.os.name}",
            "is_not_set",
            "x",
        ));
        assert_eq!(
            validate_placement_rules(&j).unwrap_err(),
            vec![
                "job \"web\": constraint \"${attr.os.name} != \": Operator \"!=\" requires an RTarget",
                "job \"web\": group \"api\": task \"server\": constraint \"${attr.os.name} is_not_set x\": Operator \"is_not_set\" does not support an RTarget",
            ]
        );
    }

    #[test]
    fn affinity_rules() {
        let affinity = |op: &str, weight: i64| Affinity {
            l_target: "${meta.rack}".into(),
            r_target: "r1".into(),
            operand: op.into(),
            weight,
        };
        let errors = |a: Affinity| {
            let mut j = job();
            j.task_groups[0].affinities.push(a);
            validate_placement_rules(&j).err().unwrap_or_default()
        };
        assert!(errors(affinity("=", -100)).is_empty());
        assert!(errors(affinity("set_contains_any", 100)).is_empty());
        let at = "job \"web\": group \"api\": affinity \"${meta.rack} ";
        assert_eq!(
            errors(affinity("is_set", 50)),
            vec![format!(
                "{at}is_set r1\": Unknown affinity operator \"is_set\""
            )]
        );
        assert_eq!(
            errors(affinity("distinct_hosts", 50)),
            vec![format!(
                "{at}distinct_hosts r1\": Unknown affinity operator \"distinct_hosts\""
            )]
        );
        assert_eq!(
            errors(affinity("=", 0)),
            vec![format!("{at}= r1\": Affinity weight cannot be zero")]
        );
        assert_eq!(
            errors(affinity("=", 101)),
            vec![format!(
                "{at}= r1\": Affinity weight must be within the range [-100,100]"
            )]
        );
    }

    #[test]
    fn spread_rules() {
        let spread = |weight: i64, targets: &[(&str, i64)]| {
            caravan_testkit::spread("${meta.rack}", weight, targets)
        };
        let errors = |s: Spread| {
            let mut j = job();
            j.spreads.push(s);
            validate_placement_rules(&j).err().unwrap_or_default()
        };
        assert!(errors(spread(100, &[("r1", 50), ("r2", 50)])).is_empty());
        assert!(errors(spread(1, &[])).is_empty());
        let at = "job \"web\": spread \"${meta.rack}\": ";
        assert_eq!(
            errors(spread(50, &[("r1", 70), ("r2", 40)])),
            vec![format!(
                "{at}Sum of spread target percentages must not be greater than 100%; got 110%"
            )]
        );
        assert_eq!(
            errors(spread(50, &[("r1", 10), ("r1", 20)])),
            vec![format!("{at}Spread target value \"r1\" already defined")]
        );
        assert_eq!(
            errors(spread(101, &[])),
            vec![format!(
                "{at}Spread block must have a positive weight from 0 to 100"
            )]
        );
        assert_eq!(
            errors(spread(50, &[("r1", 120)])),
            vec![
                format!("{at}Spread target percentage for value \"r1\" must be between 0 and 100"),
                format!(
                    "{at}Sum of spread target percentages must not be greater than 100%; got 120%"
                ),
            ]
        );
    }
}
