//! The deployment CLI against a dev agent, as Nomad's deployment tutorials run it:
//! `job run` monitors the deployment to its end, `job status` shows the latest one, a
//! canary waits in `deployment status` until `job promote` or `deployment promote`,
//! and `deployment list|pause|resume|fail` and `job deployments` print Nomad's text.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;

/// A raw_exec service job `name` of `count` sleeping allocations, updated under
/// `update` (`min_healthy_time = "1s"` keeps the tests short).
fn service_job(name: &str, count: u32, update: &str, version: &str) -> String {
    job_hcl(
        name,
        &format!("  update {{\n{update}\n  }}\n"),
        &format!(
            "    count = {count}\n    task \"t\" {{\n      driver = \"raw_exec\"\n      env {{\n        VERSION = \"{version}\"\n      }}\n      config {{\n        command = \"/bin/sleep\"\n        args = [\"300\"]\n      }}\n      resources {{\n        cpu    = 20\n        memory = 20\n      }}\n    }}"
        ),
    )
}

const QUICK: &str = "    min_healthy_time = \"1s\"";
const CANARY: &str = "    min_healthy_time = \"1s\"\n    canary = 1\n    max_parallel = 1";

/// The ID of job `job`'s newest deployment, read through the API.
fn latest_deployment_id(agent: &Agent, job: &str) -> String {
    let latest = agent
        .get_json(&format!("/v1/job/{job}/deployment"))
        .expect("the latest deployment");
    latest["ID"].as_str().expect("a deployment ID").to_string()
}

/// The ID of job `job`'s deployment of `version`, once the agent has made it.
fn deployment_of_version(agent: &Agent, job: &str, version: u64) -> String {
    let mut id = String::new();
    agent.eventually(
        "the deployment of the new version",
        Duration::from_secs(30),
        || {
            let latest = agent
                .get_json(&format!("/v1/job/{job}/deployment"))
                .unwrap_or_default();
            if latest["JobVersion"] == version {
                id = latest["ID"].as_str().unwrap_or_default().to_string();
            }
            !id.is_empty()
        },
    );
    id
}

/// Waits until the canary of deployment `id` (group `g`) is healthy.
fn wait_for_healthy_canary(agent: &Agent, id: &str) {
    agent.eventually("the canary to be healthy", Duration::from_secs(30), || {
        let d = agent
            .get_json(&format!("/v1/deployment/{id}"))
            .unwrap_or_default();
        d["TaskGroups"]["g"]["HealthyAllocs"] == 1
    });
}

fn deployment_status(agent: &Agent, id: &str) -> String {
    agent
        .get_json(&format!("/v1/deployment/{id}"))
        .expect("the deployment")["Status"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn run_quick_job(agent: &Agent, cwd: &Path) -> String {
    write(cwd, "web.nomad", &service_job("web", 2, QUICK, "1"));
    let run = agent.cli(&["job", "run", "web.nomad"], cwd);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}{}",
        stdout(&run),
        stderr(&run)
    );
    stdout(&run)
}

#[test]
fn job_run_monitors_the_deployment_until_it_succeeds() {
    let agent = DevAgent::start();
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();

    let out = run_quick_job(&agent, cwd);
    let id = latest_deployment_id(&agent, "web");
    let short = &id[..8];
    assert!(
        out.contains(&format!("    Evaluation within deployment: \"{short}\"\n")),
        "{out}"
    );
    let monitoring = out
        .lines()
        .find(|l| l.contains("Monitoring deployment"))
        .unwrap_or_else(|| panic!("no deployment monitor in:\n{out}"));
    assert!(monitoring.starts_with("==> 20"), "{monitoring}");
    assert!(
        monitoring.ends_with(&format!(": Monitoring deployment \"{short}\"")),
        "{monitoring}"
    );
    // Not on a terminal: blocks, the last of which is the successful deployment.
    let last_block = out.rsplit("\n    \n").next().unwrap_or_default();
    let lines: Vec<&str> = last_block.lines().collect();
    assert!(
        lines[0].starts_with("20"),
        "a timestamp first: {last_block}"
    );
    assert_eq!(
        lines[1..7].join("\n"),
        format!(
            "ID          = {short}\nJob ID      = web\nJob Version = 0\nStatus      = successful\nDescription = Deployment completed successfully\n"
        ),
        "{out}"
    );
    assert_eq!(lines[7], "Deployed");
    assert_eq!(
        lines[8],
        "Task Group  Desired  Placed  Healthy  Unhealthy  Progress Deadline"
    );
    assert!(
        lines[9].starts_with("g           2        2       2        0          20"),
        "{last_block}"
    );

    // job status: the Latest Deployment section before the allocations.
    let status = succeeded(&agent.cli(&["job", "status", "web"], cwd));
    assert!(
        status.contains(&format!(
            "\nLatest Deployment\nID          = {short}\nStatus      = successful\nDescription = Deployment completed successfully\n\nDeployed\nTask Group  Desired  Placed  Healthy  Unhealthy  Progress Deadline\ng           2        2       2        0          "
        )),
        "{status}"
    );
    assert!(status.find("Latest Deployment") < status.find("\nAllocations\n"));

    // alloc status: the allocation's health within its deployment.
    let alloc = agent.allocations("web")[0]["ID"]
        .as_str()
        .unwrap()
        .to_string();
    let alloc_status = succeeded(&agent.cli(&["alloc", "status", &alloc], cwd));
    assert!(
        alloc_status.contains(&format!(
            "Deployment ID       = {short}\nDeployment Health   = healthy\n"
        )),
        "{alloc_status}"
    );
    assert!(!alloc_status.contains("Canary"), "{alloc_status}");

    // deployment list, job deployments (and -latest, -json), deployment status.
    let list = succeeded(&agent.cli(&["deployment", "list"], cwd));
    assert_eq!(
        list.trim_end(),
        format!(
            "ID        Job ID  Job Version  Status      Description\n{short}  web     0            successful  Deployment completed successfully"
        )
    );
    let by_job = succeeded(&agent.cli(&["job", "deployments", "web"], cwd));
    assert_eq!(by_job, list);
    let verbose = succeeded(&agent.cli(&["job", "deployments", "-verbose", "web"], cwd));
    assert!(verbose.contains(&id), "{verbose}");
    let latest = succeeded(&agent.cli(&["job", "deployments", "-latest", "web"], cwd));
    assert!(
        latest.starts_with(&format!("ID          = {short}\nJob ID      = web\n")),
        "{latest}"
    );
    let json = succeeded(&agent.cli(&["job", "deployments", "-json", "web"], cwd));
    let parsed: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(parsed[0]["ID"], id.as_str());
    let status = succeeded(&agent.cli(&["deployment", "status", short], cwd));
    assert_eq!(status, latest);
    // A longer prefix, hyphen included, finds it too.
    let longer = succeeded(&agent.cli(&["deployment", "status", &id[..13]], cwd));
    assert_eq!(longer, latest);

    // A finished deployment cannot be promoted: Nomad's error, exit 1.
    let promote = agent.cli(&["deployment", "promote", short], cwd);
    assert_eq!(promote.status.code(), Some(1));
    assert_eq!(
        stderr(&promote).trim_end(),
        "Error promoting deployment: Unexpected response code: 500 (can't promote terminal deployment)"
    );
    let missing = agent.cli(&["deployment", "status", "0123"], cwd);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(
        stderr(&missing).trim_end(),
        "Error retrieving deployment: Deployment ID \"0123\" matched no deployments"
    );

    agent.stop_job("web", cwd);
}

#[test]
fn a_canary_waits_for_promotion() {
    let agent = DevAgent::start();
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    run_quick_job(&agent, cwd);

    // Version 1 with a canary: the deployment waits for a promotion.
    write(cwd, "web.nomad", &service_job("web", 2, CANARY, "2"));
    succeeded(&agent.cli(&["job", "run", "-detach", "web.nomad"], cwd));
    let id = deployment_of_version(&agent, "web", 1);
    let short = id[..8].to_string();
    wait_for_healthy_canary(&agent, &id);
    let status = succeeded(&agent.cli(&["deployment", "status", &short], cwd));
    let lines: Vec<&str> = status.lines().collect();
    assert_eq!(
        lines[..8].join("\n"),
        format!(
            "ID          = {short}\nJob ID      = web\nJob Version = 1\nStatus      = running\nDescription = Deployment is running but requires manual promotion\n\nDeployed\nTask Group  Promoted  Desired  Canaries  Placed  Healthy  Unhealthy  Progress Deadline"
        ),
        "{status}"
    );
    assert!(
        lines[8]
            .starts_with("g           false     2        1         1       1        0          20"),
        "{status}"
    );

    let canary = agent
        .allocations("web")
        .into_iter()
        .find(|a| a["DeploymentStatus"]["Canary"] == true)
        .expect("the canary");
    let alloc_status =
        succeeded(&agent.cli(&["alloc", "status", canary["ID"].as_str().unwrap()], cwd));
    assert!(
        alloc_status.contains("Deployment Health   = healthy\nCanary              = true\n"),
        "{alloc_status}"
    );

    // job promote monitors the promotion's evaluation and then the deployment.
    let promote = agent.cli(&["job", "promote", "web"], cwd);
    let out = stdout(&promote);
    assert_eq!(promote.status.code(), Some(0), "{out}{}", stderr(&promote));
    assert!(out.starts_with("==> Monitoring evaluation \""), "{out}");
    assert!(
        out.contains(&format!(": Monitoring deployment \"{short}\"")),
        "{out}"
    );
    assert!(out.contains("Status      = successful"), "{out}");
    assert_eq!(deployment_status(&agent, &id), "successful");

    agent.stop_job("web", cwd);
}

#[test]
fn deployment_promote_pause_resume_and_fail() {
    let agent = DevAgent::start();
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    run_quick_job(&agent, cwd);

    write(cwd, "web.nomad", &service_job("web", 2, CANARY, "2"));
    let detached = succeeded(&agent.cli(&["job", "run", "-detach", "web.nomad"], cwd));
    assert!(
        detached.contains("Job registration successful\nEvaluation ID: "),
        "{detached}"
    );
    let id = deployment_of_version(&agent, "web", 1);
    let short = &id[..8];

    let paused = succeeded(&agent.cli(&["deployment", "pause", short], cwd));
    assert_eq!(paused.trim_end(), format!("Deployment \"{id}\" paused"));
    assert_eq!(deployment_status(&agent, &id), "paused");
    let status = succeeded(&agent.cli(&["deployment", "status", short], cwd));
    assert!(
        status.contains("Status      = paused\nDescription = Deployment is paused\n"),
        "{status}"
    );

    let resumed = succeeded(&agent.cli(&["deployment", "resume", "-detach", short], cwd));
    assert_eq!(resumed.trim_end(), format!("Deployment \"{id}\" resumed"));
    assert_eq!(deployment_status(&agent, &id), "running");

    // Failing it ends the roll-out; the evaluation it creates is monitored.
    let failed = agent.cli(&["deployment", "fail", short], cwd);
    let out = stdout(&failed);
    assert!(
        out.starts_with(&format!(
            "Deployment \"{id}\" failed\n\n==> Monitoring evaluation \""
        )),
        "{out}{}",
        stderr(&failed)
    );
    assert_eq!(deployment_status(&agent, &id), "failed");
    let again = agent.cli(&["deployment", "fail", short], cwd);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).starts_with("Error failing deployment: Unexpected response code: "),
        "{}",
        stderr(&again)
    );

    // A new canary version: `deployment promote -detach` prints the evaluation.
    write(cwd, "web.nomad", &service_job("web", 2, CANARY, "3"));
    succeeded(&agent.cli(&["job", "run", "-detach", "web.nomad"], cwd));
    let id = deployment_of_version(&agent, "web", 2);
    wait_for_healthy_canary(&agent, &id);
    let promoted = succeeded(&agent.cli(&["deployment", "promote", "-detach", &id[..8]], cwd));
    assert!(promoted.starts_with("Evaluation ID: "), "{promoted}");
    assert_eq!(
        promoted.trim_end().len(),
        "Evaluation ID: ".len() + 36,
        "{promoted}"
    );
    agent.eventually(
        "the promoted deployment to succeed",
        Duration::from_secs(60),
        || deployment_status(&agent, &id) == "successful",
    );

    agent.stop_job("web", cwd);
}
