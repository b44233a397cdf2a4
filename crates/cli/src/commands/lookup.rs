//! Prefix lookups shared by the commands, with Nomad's error messages.

use caravan_api_types::{AllocationListStub, JobListStub, NodeListStub};
use caravan_structs::{Allocation, Evaluation, Node};

use crate::api_client::{ApiClient, ApiError, Indexed};
use crate::commands::job_status::{render_alloc_stubs, render_job_list};
use crate::commands::node_status::render_node_stub_list;
use crate::flags::Parsed;
use crate::meta::{self, sanitize_uuid_prefix};
use crate::time_format::TimeContext;

/// `GET /v1/jobs?prefix=`.
pub fn jobs_with_prefix(client: &ApiClient, prefix: &str) -> Result<Vec<JobListStub>, ApiError> {
    Ok(client.run(|api| api.jobs(prefix))?.value)
}

/// `GET /v1/allocations?prefix=`.
pub fn allocs_with_prefix(
    client: &ApiClient,
    prefix: &str,
) -> Result<Vec<AllocationListStub>, ApiError> {
    Ok(client.run(|api| api.allocations(prefix))?.value)
}

/// `GET /v1/nodes?prefix=`.
pub fn nodes_with_prefix(client: &ApiClient, prefix: &str) -> Result<Vec<NodeListStub>, ApiError> {
    Ok(client.run(|api| api.nodes(prefix))?.value)
}

/// `GET /v1/evaluations?prefix=`.
pub fn evals_with_prefix(client: &ApiClient, prefix: &str) -> Result<Vec<Evaluation>, ApiError> {
    Ok(client.run(|api| api.evaluations(prefix))?.value)
}

/// Nomad's `JobIDByPrefix`: the one job whose ID starts with `prefix` among those
/// `filter` keeps (an exact match wins over longer IDs). `Err` is the message to print:
/// `No job(s) with prefix or ID "x" found` or `Prefix "x" matched multiple jobs` with
/// the job list.
pub fn job_id_by_prefix(
    client: &ApiClient,
    prefix: &str,
    filter: &dyn Fn(&JobListStub) -> bool,
) -> Result<String, String> {
    let jobs = jobs_with_prefix(client, prefix)
        .map_err(|e| format!("Error querying job prefix {prefix:?}: {e}"))?;
    pick_job_by_prefix(prefix, jobs, filter, &TimeContext::system())
}

/// The choice [`job_id_by_prefix`] makes among the listed jobs.
pub fn pick_job_by_prefix(
    prefix: &str,
    jobs: Vec<JobListStub>,
    filter: &dyn Fn(&JobListStub) -> bool,
    time: &TimeContext,
) -> Result<String, String> {
    let jobs: Vec<JobListStub> = jobs.into_iter().filter(|j| filter(j)).collect();
    match jobs.as_slice() {
        [] => Err(format!("No job(s) with prefix or ID {prefix:?} found")),
        [job] => Ok(job.id.to_string()),
        [first, ..] if first.id == prefix => Ok(first.id.to_string()),
        _ => Err(format!(
            "Prefix {prefix:?} matched multiple jobs\n\n{}",
            render_job_list(&jobs, time)
        )),
    }
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
    client
        .run(|api| api.allocation(&allocs[0].id))
        .map(|read| read.value)
        .map_err(|e| {
            meta::err(&format!("Error querying allocation: {e}"));
            1
        })
}

/// The allocation an `alloc` command names: by ID prefix, or with `-job` a random
/// allocation of that job. `job_error` is how the command words a failed job lookup
/// (`Error querying API`, `Error fetching allocations`).
pub fn find_alloc_or_job_alloc(
    client: &ApiClient,
    arg: &str,
    by_job: bool,
    verbose: bool,
    job_error: &str,
) -> Result<Allocation, i32> {
    let alloc_id = if by_job {
        random_job_alloc(client, arg).map_err(|e| {
            meta::err(&format!("{job_error}: {e}"));
            1
        })?
    } else {
        arg.to_string()
    };
    find_alloc(client, &alloc_id, verbose)
}

/// The API client of the flags and the allocation their first argument names (as
/// [`find_alloc_or_job_alloc`] finds it, with `-job` and `-verbose`): how `alloc fs` and
/// `alloc logs` start.
pub fn client_and_alloc(parsed: &Parsed, job_error: &str) -> Result<(ApiClient, Allocation), i32> {
    let client = meta::client(parsed)?;
    let alloc = find_alloc_or_job_alloc(
        &client,
        &parsed.args[0],
        parsed.bool("job"),
        parsed.bool("verbose"),
        job_error,
    )?;
    Ok((client, alloc))
}

/// How a node command words its lookup errors.
#[derive(Debug, Clone, Copy)]
pub struct NodeLookup {
    /// Put before an API error, e.g. `Error querying node info`.
    pub error_prefix: &'static str,
    /// `prefix` (`node status`) or `prefix or id` (`node drain`, `node eligibility`), as
    /// in `No node(s) with prefix or id "x" found`.
    pub not_found: &'static str,
    /// Full IDs in the `Prefix matched multiple nodes` table.
    pub verbose: bool,
}

/// A node found by ID prefix, and the prefix as it was looked up.
#[derive(Debug, Clone)]
pub struct FoundNode {
    /// The sanitized prefix (Nomad compares it with the full ID to decide whether to ask
    /// for confirmation).
    pub prefix: String,
    /// `GET /v1/node/:id`, with its index for blocking queries.
    pub node: Indexed<Node>,
}

/// Resolves a node ID prefix to the full node, printing Nomad's errors
/// (`Identifier must contain at least two characters.`, `No node(s) with prefix "x"
/// found`, `Prefix matched multiple nodes`). `Err` carries the exit code.
pub fn find_node(client: &ApiClient, node_id: &str, words: NodeLookup) -> Result<FoundNode, i32> {
    if node_id.len() == 1 {
        meta::err("Identifier must contain at least two characters.");
        return Err(1);
    }
    let prefix = sanitize_uuid_prefix(node_id);
    let fail = |e: ApiError| {
        meta::err(&format!("{}: {e}", words.error_prefix));
        1
    };
    let nodes = nodes_with_prefix(client, prefix).map_err(fail)?;
    if nodes.is_empty() {
        meta::err(&format!(
            "No node(s) with {} {prefix:?} found",
            words.not_found
        ));
        return Err(1);
    }
    if nodes.len() > 1 {
        meta::err(&format!(
            "Prefix matched multiple nodes\n\n{}",
            render_node_stub_list(&nodes, words.verbose)
        ));
        return Err(1);
    }
    let node = client
        .run(|api| api.node(&nodes[0].id, Default::default()))
        .map_err(fail)?;
    Ok(FoundNode {
        prefix: prefix.to_string(),
        node,
    })
}

/// Nomad's `getLocalNodeID`: the node of the agent the CLI talks to
/// (`GET /v1/agent/self` → `stats.client.node_id`). The error is ready to print.
pub fn local_node_id(client: &ApiClient) -> Result<String, String> {
    let info = client
        .run(|api| api.agent_self())
        .map_err(|e| format!("Error querying agent info: {e}"))?
        .value;
    local_node_id_from(&info)
}

/// The node ID in an `/v1/agent/self` answer, with Nomad's errors.
pub fn local_node_id_from(info: &serde_json::Value) -> Result<String, String> {
    let not_client = || "Nomad not running in client mode".to_string();
    let stats = info
        .get("stats")
        .and_then(|s| s.get("client"))
        .and_then(serde_json::Value::as_object)
        .ok_or_else(not_client)?;
    match stats.get("node_id").and_then(serde_json::Value::as_str) {
        // Caravan: a server-only agent reports an empty node ID where Nomad has no
        // `client` stats at all.
        Some("") => Err(not_client()),
        Some(id) => Ok(id.to_string()),
        None => Err("Failed to determine node ID".to_string()),
    }
}

/// Nomad's `getRandomJobAlloc`: a running allocation of the job, else any of its
/// allocations. The error is ready to print after `Error fetching allocations: `.
pub fn random_job_alloc(client: &ApiClient, job_id: &str) -> Result<String, String> {
    let allocs = client
        .run(|api| api.job_allocations(job_id, false))
        .map_err(|e| format!("error querying job {job_id:?}: {e}"))?
        .value;
    if allocs.is_empty() {
        return Err(format!(
            "job {job_id:?} doesn't exist or it has no allocations"
        ));
    }
    let running: Vec<&AllocationListStub> = allocs
        .iter()
        .filter(|a| a.client_status == caravan_structs::AllocClientStatus::Running)
        .collect();
    let pool: Vec<&AllocationListStub> = if running.is_empty() {
        allocs.iter().collect()
    } else {
        running
    };
    let pick = (crate::time_format::now_nanos().unsigned_abs() as usize) % pool.len();
    Ok(pool[pick].id.to_string())
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn local_node_id_table() {
        let cases = [
            (
                "client_agent",
                json!({"stats": {"client": {"node_id": "6477d9ed-1"}}}),
                Ok("6477d9ed-1".to_string()),
            ),
            (
                "no_client_stats",
                json!({"stats": {}}),
                Err("Nomad not running in client mode".to_string()),
            ),
            (
                "server_only_caravan_agent",
                json!({"stats": {"client": {"node_id": ""}}}),
                Err("Nomad not running in client mode".to_string()),
            ),
            (
                "no_node_id",
                json!({"stats": {"client": {}}}),
                Err("Failed to determine node ID".to_string()),
            ),
        ];
        for (name, info, want) in cases {
            assert_eq!(local_node_id_from(&info), want, "case {name}");
        }
    }
}
