//! Prefix lookups shared by the commands, with Nomad's error messages.

use caravan_structs::{Allocation, AllocationListStub, Evaluation, JobListStub, NodeListStub};

use crate::api_client::{ApiClient, ApiError, path_escape};
use crate::commands::job_status::render_alloc_stubs;
use crate::meta::{self, sanitize_uuid_prefix};
use crate::time_format::TimeContext;

/// `GET /v1/jobs?prefix=`.
pub fn jobs_with_prefix(client: &ApiClient, prefix: &str) -> Result<Vec<JobListStub>, ApiError> {
    Ok(client
        .get("/v1/jobs", &[("prefix", prefix.to_string())])?
        .value)
}

/// `GET /v1/allocations?prefix=`.
pub fn allocs_with_prefix(
    client: &ApiClient,
    prefix: &str,
) -> Result<Vec<AllocationListStub>, ApiError> {
    Ok(client
        .get("/v1/allocations", &[("prefix", prefix.to_string())])?
        .value)
}

/// `GET /v1/nodes?prefix=`.
pub fn nodes_with_prefix(client: &ApiClient, prefix: &str) -> Result<Vec<NodeListStub>, ApiError> {
    Ok(client
        .get("/v1/nodes", &[("prefix", prefix.to_string())])?
        .value)
}

/// `GET /v1/evaluations?prefix=`.
pub fn evals_with_prefix(client: &ApiClient, prefix: &str) -> Result<Vec<Evaluation>, ApiError> {
    Ok(client
        .get("/v1/evaluations", &[("prefix", prefix.to_string())])?
        .value)
}

/// Resolves an allocation ID prefix to the full allocation, printing Nomad's errors
/// (`Alloc ID must contain at least two characters.`, `No allocation(s) with prefix or
/// id "x" found`, `Prefix matched multiple allocations`). `Err` carries the exit code.
pub fn find_alloc(client: &ApiClient, alloc_id: &str, verbose: bool) -> Result<Allocation, i32> {
    if alloc_id.len() == 1 {
        meta::err("Alloc ID must contain at least two characters.");
        return Err(1);
    }
    let prefix = sanitize_uuid_prefix(alloc_id);
    let allocs = allocs_with_prefix(client, prefix).map_err(|e| {
        meta::err(&format!("Error querying allocation: {e}"));
        1
    })?;
    if allocs.is_empty() {
        meta::err(&format!(
            "No allocation(s) with prefix or id {prefix:?} found"
        ));
        return Err(1);
    }
    if allocs.len() > 1 {
        let table = render_alloc_stubs(&allocs, verbose, &TimeContext::system());
        meta::err(&format!("Prefix matched multiple allocations\n\n{table}"));
        return Err(1);
    }
    let path = format!("/v1/allocation/{}", path_escape(&allocs[0].id));
    client
        .get::<Allocation>(&path, &[])
        .map(|read| read.value)
        .map_err(|e| {
            meta::err(&format!("Error querying allocation: {e}"));
            1
        })
}

/// Nomad's `getRandomJobAlloc`: a running allocation of the job, else any of its
/// allocations. The error is ready to print after `Error fetching allocations: `.
pub fn random_job_alloc(client: &ApiClient, job_id: &str) -> Result<String, String> {
    let path = format!("/v1/job/{}/allocations", path_escape(job_id));
    let allocs: Vec<AllocationListStub> = client
        .get(&path, &[])
        .map_err(|e| format!("error querying job {job_id:?}: {e}"))?
        .value;
    if allocs.is_empty() {
        return Err(format!(
            "job {job_id:?} doesn't exist or it has no allocations"
        ));
    }
    let running: Vec<&AllocationListStub> = allocs
        .iter()
        .filter(|a| a.client_status == caravan_structs::ALLOC_CLIENT_RUNNING)
        .collect();
    let pool: Vec<&AllocationListStub> = if running.is_empty() {
        allocs.iter().collect()
    } else {
        running
    };
    let pick = (crate::time_format::now_nanos().unsigned_abs() as usize) % pool.len();
    Ok(pool[pick].id.clone())
}

/// For `caravan status ID` when no job matches: shows the allocation, node or
/// evaluation the ID is a prefix of, if any. `None` when nothing matched.
pub fn status_of_other_kinds(id: &str, args: &[String]) -> Option<i32> {
    if id.len() < 2 {
        return None;
    }
    let parsed = meta::with_client_flags(crate::flags::FlagSet::new())
        .bools(&["short", "evals", "all-allocs", "verbose", "json"])
        .strings(&["t"])
        .parse(args)
        .ok()?;
    let client = meta::client(&parsed).ok()?;
    let prefix = sanitize_uuid_prefix(id);
    if allocs_with_prefix(&client, prefix).is_ok_and(|a| !a.is_empty()) {
        return Some(crate::commands::alloc_status::run(args));
    }
    if nodes_with_prefix(&client, prefix).is_ok_and(|n| !n.is_empty()) {
        return Some(crate::commands::node_status::run(args));
    }
    if evals_with_prefix(&client, prefix).is_ok_and(|e| !e.is_empty()) {
        return Some(crate::commands::eval_status::run(args));
    }
    None
}
