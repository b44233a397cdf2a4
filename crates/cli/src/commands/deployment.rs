//! `caravan deployment list|status|promote|fail|pause|resume|unblock` (Nomad's
//! `command/deployment_*.go`): a deployment found by ID prefix, shown or acted on; an
//! action that creates an evaluation monitors it (and so the deployment) unless
//! `-detach`.

use std::time::Duration;

use caravan_structs::{Deployment, DeploymentUpdateResponse};

use crate::api_client::{ApiClient, ApiError};
use crate::deployment_format::{render_deployment, render_deployment_list};
use crate::deployment_monitor::{self, HttpDeploymentSource, WatchOptions};
use crate::flags::{FlagKind, FlagSet, Parsed};
use crate::meta::{self, Ui, limit};
use crate::monitor::monitor_http;
use crate::time_format::TimeContext;

/// `caravan deployment` without a known subcommand.
pub const DEPLOYMENT_USAGE: &str = "Usage: caravan deployment <subcommand> [options] [args]

  This command groups subcommands for interacting with deployments. Deployments
  are used to manage a transition between two versions of a Caravan job. Users
  can inspect an ongoing deployment, promote canary allocations, force fail
  deployments, and more.

Subcommands:
    fail       Manually fail a deployment
    list       List all deployments
    pause      Pause a deployment
    promote    Promote canaries in a deployment
    resume     Resume a paused deployment
    status     Display the status of a deployment
    unblock    Unblock a blocked deployment";

const LIST_HELP: &str = "Usage: caravan deployment list [options]

  List is used to list the set of deployments tracked by Caravan.

List Options:

  -json
    Output the deployments in a JSON format.

  -t
    Format and display the deployments using a Go template.

  -verbose
    Display full information.
";

const STATUS_HELP: &str = "Usage: caravan deployment status [options] <deployment id>

  Status is used to display the status of a deployment. The status will display
  the number of desired changes as well as the currently applied changes.

Status Options:

  -verbose
    Display full information.

  -json
    Output the deployment in its JSON format.

  -monitor
    Enter monitor mode to poll for updates to the deployment status.

  -wait
    How long to wait before polling an update, used in conjunction with monitor
    mode. Defaults to 2s.

  -t
    Format and display deployment using a Go template.
";

const PROMOTE_HELP: &str = "Usage: caravan deployment promote [options] <deployment id>

  Promote is used to promote task groups in a deployment. Promotion should occur
  when the deployment has placed canaries for a task group and those canaries have
  been deemed healthy. When a task group is promoted, the rolling upgrade of the
  remaining allocations is unblocked. If the canaries are found to be unhealthy,
  the deployment may either be failed using the \"caravan deployment fail\" command,
  the job can be failed forward by submitting a new version or failed backwards by
  reverting to an older version using the \"caravan job revert\" command.

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

const FAIL_HELP: &str = "Usage: caravan deployment fail [options] <deployment id>

  Fail is used to mark a deployment as failed. Failing a deployment will
  stop the placement of new allocations as part of rolling deployment and
  if the job is configured to auto revert, the job will attempt to roll back to a
  stable version.

Fail Options:

  -detach
    Return immediately instead of entering monitor mode. After deployment
    resume, the evaluation ID will be printed to the screen, which can be used
    to examine the evaluation using the eval-status command.

  -verbose
    Display full information.
";

const PAUSE_HELP: &str = "Usage: caravan deployment pause [options] <deployment id>

  Pause is used to pause a deployment. Pausing a deployment will pause the
  placement of new allocations as part of rolling deployment.

Pause Options:

  -verbose
    Display full information.
";

const RESUME_HELP: &str = "Usage: caravan deployment resume [options] <deployment id>

  Resume is used to unpause a paused deployment. Resuming a deployment will
  resume the placement of new allocations as part of rolling deployment.

Resume Options:

  -detach
    Return immediately instead of entering monitor mode. After deployment
    resume, the evaluation ID will be printed to the screen, which can be used
    to examine the evaluation using the eval-status command.

  -verbose
    Display full information.
";

const UNBLOCK_HELP: &str = "Usage: caravan deployment unblock [options] <deployment id>

  Unblock is used to unblock a multiregion deployment that's waiting for
  peer region deployments to complete.

Unblock Options:

  -detach
    Return immediately instead of entering monitor mode. After deployment
    unblock, the evaluation ID will be printed to the screen, which can be used
    to examine the evaluation using the eval-status command.

  -verbose
    Display full information.
";

/// Nomad's `getDeployment`: the deployment a full ID or an ID prefix names. `Ok(Err)`
/// carries the deployments a prefix matched when it matched more than one.
pub fn find_deployment(
    client: &ApiClient,
    id: &str,
) -> Result<Result<Deployment, Vec<Deployment>>, String> {
    if id.len() == 36 {
        return client
            .run(|api| api.deployment(id, Default::default()))
            .map(|read| Ok(read.value))
            .map_err(|e| e.to_string());
    }
    let even = deployment_prefix(id)?;
    let found = client
        .run(|api| api.deployments(&even))
        .map_err(|e| e.to_string())?
        .value;
    match found.len() {
        0 => Err(format!("Deployment ID {even:?} matched no deployments")),
        1 => Ok(Ok(found.into_iter().next().expect("one deployment"))),
        _ => Ok(Err(found)),
    }
}

/// The prefix Nomad's `getDeployment` searches for: an odd number of digits drops the
/// last one, so that a prefix names whole bytes. (Nomad also drops the hyphens, which
/// its UUID index ignores; Caravan's index compares the IDs as written, so they stay.)
pub fn deployment_prefix(id: &str) -> Result<String, String> {
    if id.replace('-', "").chars().count() == 1 {
        return Err("Identifier must contain at least two characters.".to_string());
    }
    Ok(meta::sanitize_uuid_prefix(id).to_string())
}

/// The deployment a command's one argument names, printing Nomad's errors.
fn target(client: &ApiClient, id: &str, length: usize) -> Result<Deployment, i32> {
    match find_deployment(client, id) {
        Ok(Ok(found)) => Ok(found),
        Ok(Err(several)) => {
            meta::err(&format!(
                "Prefix matched multiple deployments\n\n{}",
                render_deployment_list(&several, length)
            ));
            Err(1)
        }
        Err(e) => {
            meta::err(&format!("Error retrieving deployment: {e}"));
            Err(1)
        }
    }
}

/// Parses the flags of a command that takes one `<deployment id>`; the client and the
/// ID length go with them.
fn start(
    set: FlagSet,
    args: &[String],
    help: &str,
    name: &str,
) -> Result<(Parsed, ApiClient, String, usize), i32> {
    let parsed = meta::parse(set, args, help)?;
    let [id] = parsed.args.as_slice() else {
        meta::err("This command takes one argument: <deployment id>");
        meta::err(&meta::help_hint(name));
        return Err(1);
    };
    let id = id.clone();
    let length = meta::id_length(parsed.bool("verbose"));
    let client = meta::client(&parsed)?;
    Ok((parsed, client, id, length))
}

/// [`start`], then the deployment its argument names: what each action on one
/// deployment begins with.
fn start_on_deployment(
    set: FlagSet,
    args: &[String],
    help: &str,
    name: &str,
) -> Result<(Parsed, ApiClient, Deployment, usize), i32> {
    let (parsed, client, id, length) = start(set, args, help, name)?;
    let deployment = target(&client, &id, length)?;
    Ok((parsed, client, deployment, length))
}

/// `caravan deployment list`.
pub fn run_list(args: &[String]) -> i32 {
    let set = FlagSet::new().bools(&["json", "verbose"]).strings(&["t"]);
    let parsed = match meta::parse(set, args, LIST_HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if let Err(code) = meta::no_arguments(&parsed, "deployment list") {
        return code;
    }
    if let Err(code) = meta::no_template(&parsed) {
        return code;
    }
    let client = match meta::client(&parsed) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let length = meta::id_length(parsed.bool("verbose"));
    meta::finish(
        client.run(|api| api.deployments("")),
        "Error retrieving deployments",
        |read| {
            if parsed.bool("json") {
                meta::out(&meta::json_pretty(&read.value));
            } else {
                meta::out(&render_deployment_list(&read.value, length));
            }
        },
    )
}

/// `caravan deployment status`.
pub fn run_status(args: &[String]) -> i32 {
    let set = FlagSet::new()
        .bools(&["json", "verbose", "monitor", "ui"])
        .strings(&["t", "wait"]);
    let parsed = match meta::parse(set, args, STATUS_HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let wait = match parsed.string("wait").map(caravan_jobspec::parse_duration) {
        None => Duration::from_secs(2),
        Some(Ok(nanos)) => Duration::from_nanos(nanos.max(0) as u64),
        Some(Err(e)) => {
            meta::err(&format!(
                "invalid value {:?} for flag -wait: {e}",
                parsed.string("wait").unwrap_or_default()
            ));
            return 1;
        }
    };
    let json = parsed.bool("json");
    let template = parsed.is_set("t");
    let monitor = parsed.bool("monitor");
    if monitor && (json || template) {
        meta::err("The monitor flag cannot be used with the '-json' or '-t' flags");
        return 1;
    }
    if parsed.args.len() > 1 {
        meta::err("This command takes one argument: <deployment id>");
        meta::err(&meta::help_hint("deployment status"));
        return 1;
    }
    if let Err(code) = meta::no_template(&parsed) {
        return code;
    }
    let verbose = parsed.bool("verbose");
    let length = meta::id_length(verbose);
    let client = match meta::client(&parsed) {
        Ok(c) => c,
        Err(code) => return code,
    };
    // Nomad: without an ID, the list.
    let Some(id) = parsed.args.first() else {
        return meta::finish(
            client.run(|api| api.deployments("")),
            "Error retrieving deployments",
            |read| meta::out(&render_deployment_list(&read.value, length)),
        );
    };
    let deployment = match target(&client, id, length) {
        Ok(d) => d,
        Err(code) => return code,
    };
    if json {
        meta::out(&meta::json_pretty(&deployment));
        return 0;
    }
    let ui = Ui::from_flags(&parsed);
    if monitor {
        let time = TimeContext::system();
        meta::out(&format!(
            "{}: Monitoring deployment {:?}",
            time.format(time.now),
            limit(&deployment.id, length)
        ));
        let options = WatchOptions {
            length,
            verbose,
            prefixed: false,
            tty: deployment_monitor::stdout_is_terminal(),
            wait,
            ui,
        };
        let mut source = HttpDeploymentSource::new(&client);
        // Nomad waits past the index it read the deployment at.
        let index = deployment.modify_index;
        deployment_monitor::watch(
            &mut source,
            &deployment.id,
            index,
            options,
            &mut deployment_monitor::print_line,
        );
        return 0;
    }
    meta::out(&render_deployment(
        &deployment,
        length,
        ui,
        &TimeContext::system(),
    ));
    0
}

/// What an action that may create an evaluation does next: nothing without one,
/// its ID with `-detach` (`print_eval_id`: promote and unblock print it, fail and
/// resume do not), else its monitor (after a blank line when the action printed one).
pub fn follow(
    client: &ApiClient,
    response: &DeploymentUpdateResponse,
    detach: bool,
    print_eval_id: bool,
    blank_before_monitor: bool,
    length: usize,
) -> i32 {
    if response.eval_id.is_empty() {
        return 0;
    }
    if detach {
        if print_eval_id {
            meta::out(&format!("Evaluation ID: {}", response.eval_id));
        }
        return 0;
    }
    if blank_before_monitor {
        meta::out("");
    }
    monitor_http(client, &response.eval_id, length)
}

/// `caravan deployment promote`.
pub fn run_promote(args: &[String]) -> i32 {
    let set = FlagSet::new()
        .bools(&["detach", "verbose"])
        .flag("group", FlagKind::List);
    let (parsed, client, deployment, length) =
        match start_on_deployment(set, args, PROMOTE_HELP, "deployment promote") {
            Ok(started) => started,
            Err(code) => return code,
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
        Err(e) => action_error("promoting", &e),
    }
}

/// `caravan deployment fail`.
pub fn run_fail(args: &[String]) -> i32 {
    let set = FlagSet::new().bools(&["detach", "verbose"]);
    let (parsed, client, deployment, length) =
        match start_on_deployment(set, args, FAIL_HELP, "deployment fail") {
            Ok(started) => started,
            Err(code) => return code,
        };
    let response = match client.run(|api| api.fail_deployment(&deployment.id)) {
        Ok(r) => r,
        Err(e) => return action_error("failing", &e),
    };
    match response.reverted_job_version {
        Some(version) => meta::out(&format!(
            "Deployment {:?} failed. Auto-reverted to job version {version}.",
            deployment.id
        )),
        None => meta::out(&format!("Deployment {:?} failed", deployment.id)),
    }
    follow(
        &client,
        &response,
        parsed.bool("detach"),
        false,
        true,
        length,
    )
}

/// `caravan deployment pause`.
pub fn run_pause(args: &[String]) -> i32 {
    let set = FlagSet::new().bools(&["verbose"]);
    let (_, client, deployment, _) =
        match start_on_deployment(set, args, PAUSE_HELP, "deployment pause") {
            Ok(started) => started,
            Err(code) => return code,
        };
    match client.run(|api| api.pause_deployment(&deployment.id, true)) {
        Ok(_) => {
            meta::out(&format!("Deployment {:?} paused", deployment.id));
            0
        }
        Err(e) => action_error("pausing", &e),
    }
}

/// `caravan deployment resume`.
pub fn run_resume(args: &[String]) -> i32 {
    let set = FlagSet::new().bools(&["detach", "verbose"]);
    let (parsed, client, deployment, length) =
        match start_on_deployment(set, args, RESUME_HELP, "deployment resume") {
            Ok(started) => started,
            Err(code) => return code,
        };
    let response = match client.run(|api| api.pause_deployment(&deployment.id, false)) {
        Ok(r) => r,
        Err(e) => return action_error("resuming", &e),
    };
    meta::out(&format!("Deployment {:?} resumed", deployment.id));
    follow(
        &client,
        &response,
        parsed.bool("detach"),
        false,
        true,
        length,
    )
}

/// `caravan deployment unblock`.
pub fn run_unblock(args: &[String]) -> i32 {
    let set = FlagSet::new().bools(&["detach", "verbose"]);
    let (parsed, client, deployment, length) =
        match start_on_deployment(set, args, UNBLOCK_HELP, "deployment unblock") {
            Ok(started) => started,
            Err(code) => return code,
        };
    let response = match client.run(|api| api.unblock_deployment(&deployment.id)) {
        Ok(r) => r,
        Err(e) => return action_error("unblocking", &e),
    };
    meta::out(&format!("Deployment {:?} unblocked", deployment.id));
    follow(
        &client,
        &response,
        parsed.bool("detach"),
        true,
        true,
        length,
    )
}

/// `Error <doing> deployment: <error>`, exit 1.
fn action_error(doing: &str, error: &ApiError) -> i32 {
    meta::err(&format!("Error {doing} deployment: {error}"));
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_as_nomad_searches_them() {
        assert_eq!(deployment_prefix("1b2c").as_deref(), Ok("1b2c"));
        assert_eq!(deployment_prefix("1b2c3").as_deref(), Ok("1b2c"));
        assert_eq!(
            deployment_prefix("1b2c3d4e-55").as_deref(),
            Ok("1b2c3d4e-55")
        );
        assert_eq!(deployment_prefix("1b2c3d4e-5").as_deref(), Ok("1b2c3d4e-"));
        assert_eq!(
            deployment_prefix("1").unwrap_err(),
            "Identifier must contain at least two characters."
        );
    }
}
