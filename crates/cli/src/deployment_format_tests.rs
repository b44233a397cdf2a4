//! Deployment rendering: structs in, Nomad's exact text out.

use caravan_structs::{Deployment, DeploymentState};

use super::*;

const S: i64 = 1_000_000_000;
const ID: &str = "1b2c3d4e-0000-0000-0000-000000000000";

fn group(desired: i64, placed: i64, healthy: i64) -> DeploymentState {
    DeploymentState {
        desired_total: desired,
        placed_allocs: placed,
        healthy_allocs: healthy,
        progress_deadline: 600 * S,
        require_progress_by: "2026-08-21T10:10:11Z".into(),
        ..DeploymentState::default()
    }
}

fn deployment(groups: Vec<(&str, DeploymentState)>) -> Deployment {
    Deployment {
        id: ID.into(),
        job_id: "example".into(),
        job_version: 0,
        status: "successful".into(),
        status_description: "Deployment completed successfully".into(),
        task_groups: groups
            .into_iter()
            .map(|(name, g)| (name.to_string(), g))
            .collect(),
        ..Deployment::default()
    }
}

fn utc() -> TimeContext {
    TimeContext::fixed_utc(0)
}

#[test]
fn latest_deployment_like_job_status() {
    let d = deployment(vec![("cache", group(1, 1, 1))]);
    assert_eq!(
        render_latest_deployment(&d, 8, Ui::plain(), &utc()),
        "ID          = 1b2c3d4e
Status      = successful
Description = Deployment completed successfully

Deployed
Task Group  Desired  Placed  Healthy  Unhealthy  Progress Deadline
cache       1        1       1        0          2026-08-21T10:10:11Z"
    );
}

#[test]
fn canary_columns_only_when_a_group_has_canaries() {
    let mut web = group(4, 1, 1);
    web.desired_canaries = 1;
    web.auto_revert = true;
    let mut d = deployment(vec![("web", web), ("api", group(2, 0, 0))]);
    d.status = "running".into();
    d.status_description = "Deployment is running but requires manual promotion".into();
    assert_eq!(
        render_deployment(&d, 8, Ui::plain(), &utc()),
        "ID          = 1b2c3d4e
Job ID      = example
Job Version = 0
Status      = running
Description = Deployment is running but requires manual promotion

Deployed
Task Group  Auto Revert  Promoted  Desired  Canaries  Placed  Healthy  Unhealthy  Progress Deadline
api         false        N/A       2        0         0       0        0          2026-08-21T10:10:11Z
web         true         false     4        1         1       1        0          2026-08-21T10:10:11Z"
    );
}

#[test]
fn no_progress_deadline_column_without_deadlines() {
    let mut g = group(2, 2, 0);
    g.progress_deadline = 0;
    g.require_progress_by = caravan_structs::alloc::ZERO_TIME.into();
    let d = deployment(vec![("cache", g)]);
    assert_eq!(
        render_deployment_groups(&d, &utc()),
        "Task Group  Desired  Placed  Healthy  Unhealthy\ncache       2        2       0        0"
    );
}

#[test]
fn zero_require_progress_by_is_na() {
    let mut g = group(2, 0, 0);
    g.require_progress_by = caravan_structs::alloc::ZERO_TIME.into();
    let d = deployment(vec![("cache", g)]);
    assert!(render_deployment_groups(&d, &utc()).ends_with("0          N/A"));
}

#[test]
fn deployment_without_groups_is_its_key_values() {
    let d = deployment(vec![]);
    assert!(!render_deployment(&d, 36, Ui::plain(), &utc()).contains("Deployed"));
    assert!(
        render_deployment(&d, 36, Ui::plain(), &utc()).starts_with(&format!("ID          = {ID}"))
    );
}

#[test]
fn list_table() {
    let d = deployment(vec![]);
    assert_eq!(
        render_deployment_list(&[d], 8),
        "ID        Job ID   Job Version  Status      Description
1b2c3d4e  example  0            successful  Deployment completed successfully"
    );
    assert_eq!(render_deployment_list(&[], 8), "No deployments found");
}
