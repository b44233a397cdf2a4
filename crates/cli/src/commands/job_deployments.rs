//! `caravan job deployments` and `caravan job promote` (Nomad's
//! `command/job_deployments.go`, `job_promote.go`): a job's deployments, and promoting
//! the canaries of its newest one.

use crate::commands::deployment::follow;
use crate::commands::lookup;
use crate::deployment_format::{render_deployment, render_deployment_list};
use crate::flags::{FlagKind, FlagSet};
use crate::meta::{self, Ui};
use crate::time_format::TimeContext;

const DEPLOYMENTS_HELP: &str = "Usage: caravan job deployments [options] <job>

  Deployments is used to display the deployments for a particular job.

Deployments Options:

  -json
    Output the deployments in a JSON format.

  -t
    Format and display deployments using a Go template.

  -latest
    Display the latest deployment only.

  -verbose
    Display full information.

  -all
    Display all deployments matching the job ID, including those
    from an older instance of the job.
";

const PROMOTE_HELP: &str = "Usage: caravan job promote [options] <job id>

  Promote is used to promote task groups in the most recent deployment for the
  given job. Promotion should occur when the deployment has placed canaries for a
  task group and those canaries have been deemed healthy. When a task group is
  promoted, the rolling upgrade of the remaining allocations is unblocked. If the
  canaries are found to be unhealthy, the deployment may either be failed using
  the \"caravan deployment fail\" command, the job can be failed forward by
  submitting a new version or failed backwards by reverting to an older version
  using the \"caravan job revert\" command.

Promote Options:

  -group
    Group may be specified many times and is used to promote that particular
    group. If no specific groups are specified, all groups are promoted.

  -detach
    Return immediately instead of entering monitor mode. After deployment
    resume, the evaluation ID will be printed to the screen, which can be used
    to examine the evaluation using the eval-status command.

  -verbose
    Display full information.
";

/// `caravan job deployments`.
pub fn run_deployments(args: &[String]) -> i32 {
    let set = FlagSet::new()
        .bools(&["json", "latest", "verbose", "all"])
        .strings(&["t"]);
    let parsed = match meta::parse(set, args, DEPLOYMENTS_HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let [job] = parsed.args.as_slice() else {
        meta::err("This command takes one argument: <job>");
        meta::err(&meta::help_hint("job deployments"));
        return 1;
    };
    if let Err(code) = meta::no_template(&parsed) {
        return code;
    }
    let client = match meta::client(&parsed) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let job_id = match lookup::job_id_by_prefix(&client, job.trim(), &|_| true) {
        Ok(id) => id,
        Err(message) => {
            meta::err(&message);
            return 1;
        }
    };
    let length = meta::id_length(parsed.bool("verbose"));
    let json = parsed.bool("json");
    if parsed.bool("latest") {
        return meta::finish(
            client.run(|api| api.job_latest_deployment(&job_id)),
            "Error retrieving deployments",
            |read| match read.value {
                _ if json => meta::out(&meta::json_pretty(&read.value)),
                Some(deployment) => meta::out(&render_deployment(
                    &deployment,
                    length,
                    Ui::from_flags(&parsed),
                    &TimeContext::system(),
                )),
                // Nomad's formatDeployment of no deployment.
                None => meta::out("No deployment found"),
            },
        );
    }
    meta::finish(
        client.run(|api| api.job_deployments(&job_id, parsed.bool("all"))),
        "Error retrieving deployments",
        |read| {
            if json {
                meta::out(&meta::json_pretty(&read.value));
            } else {
                meta::out(&render_deployment_list(&read.value, length));
            }
        },
    )
}

/// `caravan job promote`.
pub fn run_promote(args: &[String]) -> i32 {
    let set = FlagSet::new()
        .bools(&["detach", "verbose"])
        .flag("group", FlagKind::List);
    let parsed = match meta::parse(set, args, PROMOTE_HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let [job] = parsed.args.as_slice() else {
        meta::err("This command takes one argument: <job id>");
        meta::err(&meta::help_hint("job promote"));
        return 1;
    };
    let length = meta::id_length(parsed.bool("verbose"));
    let client = match meta::client(&parsed) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let job_id = match lookup::job_id_by_prefix(&client, job.trim(), &|_| true) {
        Ok(id) => id,
        Err(message) => {
            meta::err(&message);
            return 1;
        }
    };
    let deployment = match client.run(|api| api.job_latest_deployment(&job_id)) {
        Ok(read) => read.value,
        Err(e) => {
            meta::err(&format!("Error retrieving deployment: {e}"));
            return 1;
        }
    };
    let Some(deployment) = deployment else {
        meta::err(&format!("Job {job_id:?} has no deployment to promote"));
        return 1;
    };
    let groups = parsed.list("group");
    match client.run(|api| api.promote_deployment(&deployment.id, &groups)) {
        Ok(response) => follow(
            &client,
            &response,
            parsed.bool("detach"),
            true,
            false,
            length,
        ),
        Err(e) => {
            meta::err(&format!(
                "Error promoting deployment {:?} for job {job_id:?}: {e}",
                deployment.id
            ));
            1
        }
    }
}
