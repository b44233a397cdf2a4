//! `caravan job inspect JOB` and `caravan job allocs JOB`.

use caravan_api_types::JobListStub;
use caravan_structs::Job;

use crate::api_client::ApiClient;
use crate::commands::job_status::{render_alloc_stubs, render_job_list};
use crate::commands::lookup;
use crate::flags::FlagSet;
use crate::meta;
use crate::time_format::TimeContext;

const INSPECT_HELP: &str = "Usage: caravan job inspect [options] <job>
Alias: caravan inspect

  Inspect is used to see the specification of a submitted job.

Inspect Options:

  -version <job version>
    Display the job at the given job version.

  -json
    Output the job in its JSON format.
";

const ALLOCS_HELP: &str = "Usage: caravan job allocs [options] <job>

  Display allocations for a particular job.

Allocs Options:

  -all
    Display all allocations matching the job ID, even those from an older
    instance of the job.

  -json
    Output the allocations in a JSON format.

  -verbose
    Display full information.
";

/// Resolves a job prefix the way `inspect` and `allocs` do; `Err` is the exit code
/// after the error was printed. `what` completes `Error <what>: <err>`.
fn resolve_job(client: &ApiClient, job_id: &str, what: &str) -> Result<JobListStub, i32> {
    let jobs = lookup::jobs_with_prefix(client, job_id).map_err(|e| {
        meta::err(&format!("Error {what}: {e}"));
        1
    })?;
    if jobs.is_empty() {
        meta::err(&format!("No job(s) with prefix or id {job_id:?} found"));
        return Err(1);
    }
    if jobs.len() > 1 && jobs[0].id != job_id {
        meta::err(&format!(
            "Prefix matched multiple jobs\n\n{}",
            render_job_list(&jobs, &TimeContext::system())
        ));
        return Err(1);
    }
    Ok(jobs.into_iter().next().expect("checked non-empty above"))
}

/// `caravan job inspect`: prints `{"Job": ...}` as indented JSON.
pub fn run_inspect(args: &[String]) -> i32 {
    let set = FlagSet::new().bools(&["json"]).strings(&["version", "t"]);
    let parsed = match meta::parse(set, args, INSPECT_HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let [job_id] = parsed.args.as_slice() else {
        meta::err("This command takes one argument: <job>");
        meta::err(&meta::help_hint("job inspect"));
        return 1;
    };
    let job_id = job_id.trim();
    let client = match meta::client(&parsed) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let stub = match resolve_job(&client, job_id, "inspecting job") {
        Ok(stub) => stub,
        Err(code) => return code,
    };
    let job: Result<Job, String> = match parsed.string("version") {
        None => client
            .run(|api| api.job(&stub.id))
            .map(|r| r.value)
            .map_err(|e| e.to_string()),
        Some(version) => job_version(&client, &stub.id, version),
    };
    match job {
        Ok(job) if parsed.bool("json") => {
            meta::out(&meta::json_pretty(&job));
            0
        }
        Ok(job) => {
            meta::out(&meta::json_pretty(&serde_json::json!({ "Job": job })));
            0
        }
        Err(e) => {
            meta::err(&format!("Error inspecting job: {e}"));
            1
        }
    }
}

/// One version of a job from `GET /v1/job/:id/versions`.
fn job_version(client: &ApiClient, job_id: &str, version: &str) -> Result<Job, String> {
    let wanted: u64 = version
        .parse()
        .map_err(|_| format!("version {version:?} is not a number"))?;
    let versions = client
        .run(|api| api.job_versions(job_id, false))
        .map_err(|e| e.to_string())?
        .value;
    versions
        .versions
        .into_iter()
        .find(|j| j.version == wanted)
        .ok_or_else(|| format!("job version {wanted} not found"))
}

/// `caravan job allocs`.
pub fn run_allocs(args: &[String]) -> i32 {
    let set = FlagSet::new()
        .bools(&["all", "json", "verbose"])
        .strings(&["t"]);
    let parsed = match meta::parse(set, args, ALLOCS_HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let [job_id] = parsed.args.as_slice() else {
        meta::err("This command takes one argument: <job>");
        meta::err(&meta::help_hint("job allocs"));
        return 1;
    };
    let client = match meta::client(&parsed) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let stub = match resolve_job(&client, job_id.trim(), "listing jobs") {
        Ok(stub) => stub,
        Err(code) => return code,
    };
    match client.run(|api| api.job_allocations(&stub.id, parsed.bool("all"))) {
        Ok(read) if parsed.bool("json") => {
            meta::out(&meta::json_pretty(&read.value));
            0
        }
        Ok(read) => {
            meta::out(&render_alloc_stubs(
                &read.value,
                parsed.bool("verbose"),
                &TimeContext::system(),
            ));
            0
        }
        Err(e) => {
            meta::err(&format!("Error retrieving allocations: {e}"));
            1
        }
    }
}
