//! How Nomad prints deployments (`command/deployment_status.go`, `deployment_list.go`,
//! `job_status.go`): the list table, one deployment's key/values and its `Deployed`
//! table, whose optional columns appear only when some group needs them.

use caravan_structs::Deployment;

use crate::columnize::{format_kv, format_list};
use crate::meta::{Ui, limit};
use crate::time_format::{TimeContext, parse_rfc3339};

/// Nomad's `formatDeployments`: `ID  Job ID  Job Version  Status  Description`, or
/// `No deployments found`.
pub fn render_deployment_list(deployments: &[Deployment], length: usize) -> String {
    if deployments.is_empty() {
        return "No deployments found".to_string();
    }
    let mut rows = vec!["ID|Job ID|Job Version|Status|Description".to_string()];
    rows.extend(deployments.iter().map(|d| {
        format!(
            "{}|{}|{}|{}|{}",
            limit(&d.id, length),
            d.job_id,
            d.job_version,
            d.status,
            d.status_description
        )
    }));
    format_list(&rows)
}

/// Nomad's `formatDeployment` (`deployment status`): ID, Job ID, Job Version, Status
/// and Description, then the `Deployed` table when the deployment has groups.
pub fn render_deployment(
    deployment: &Deployment,
    length: usize,
    ui: Ui,
    time: &TimeContext,
) -> String {
    let kv = format_kv(&[
        format!("ID|{}", limit(&deployment.id, length)),
        format!("Job ID|{}", deployment.job_id),
        format!("Job Version|{}", deployment.job_version),
        format!("Status|{}", deployment.status),
        format!("Description|{}", deployment.status_description),
    ]);
    with_groups(kv, deployment, ui, time)
}

/// The `Latest Deployment` body of `job status`: ID, Status and Description, then the
/// `Deployed` table.
pub fn render_latest_deployment(
    deployment: &Deployment,
    length: usize,
    ui: Ui,
    time: &TimeContext,
) -> String {
    let kv = format_kv(&[
        format!("ID|{}", limit(&deployment.id, length)),
        format!("Status|{}", deployment.status),
        format!("Description|{}", deployment.status_description),
    ]);
    with_groups(kv, deployment, ui, time)
}

fn with_groups(kv: String, deployment: &Deployment, ui: Ui, time: &TimeContext) -> String {
    if deployment.task_groups.is_empty() {
        return kv;
    }
    format!(
        "{kv}\n{}\n{}",
        ui.section("Deployed"),
        render_deployment_groups(deployment, time)
    )
}

/// Nomad's `formatDeploymentGroups`: `Task Group  [Auto Revert]  [Promoted]  Desired
/// [Canaries]  Placed  Healthy  Unhealthy  [Progress Deadline]`, groups by name. A
/// bracketed column is shown when any group auto-reverts, has canaries, or has a
/// progress deadline.
pub fn render_deployment_groups(deployment: &Deployment, time: &TimeContext) -> String {
    let groups = &deployment.task_groups;
    let auto_revert = groups.values().any(|g| g.auto_revert);
    let canaries = groups.values().any(|g| g.desired_canaries > 0);
    let deadline = groups.values().any(|g| g.progress_deadline != 0);
    let mut header = vec!["Task Group"];
    if auto_revert {
        header.push("Auto Revert");
    }
    if canaries {
        header.push("Promoted");
    }
    header.push("Desired");
    if canaries {
        header.push("Canaries");
    }
    header.extend(["Placed", "Healthy", "Unhealthy"]);
    if deadline {
        header.push("Progress Deadline");
    }
    let mut rows = vec![header.join("|")];
    // A BTreeMap: already in name order, as Nomad sorts them.
    for (name, group) in groups {
        let mut cells = vec![name.clone()];
        if auto_revert {
            cells.push(group.auto_revert.to_string());
        }
        if canaries {
            cells.push(if group.desired_canaries > 0 {
                group.promoted.to_string()
            } else {
                "N/A".to_string()
            });
        }
        cells.push(group.desired_total.to_string());
        if canaries {
            cells.push(group.desired_canaries.to_string());
        }
        cells.push(group.placed_allocs.to_string());
        cells.push(group.healthy_allocs.to_string());
        cells.push(group.unhealthy_allocs.to_string());
        if deadline {
            cells.push(match parse_rfc3339(&group.require_progress_by) {
                Some(at) => time.format(at),
                None => "N/A".to_string(),
            });
        }
        rows.push(cells.join("|"));
    }
    format_list(&rows)
}

#[cfg(test)]
#[path = "deployment_format_tests.rs"]
mod tests;
