//! `caravan node status [NODE]` (Nomad's `command/node_status.go`, 1.6+ columns).

use caravan_api_types::{AllocResourceUsage, AllocationListStub, HostStatsResponse, NodeListStub};
use caravan_structs::{Allocation, Node, NodeEvent};

use crate::api_client::ApiClient;
use crate::byte_size::ibytes_mb;
use crate::columnize::{format_kv, format_list};
use crate::commands::{job_status::render_alloc_stubs, lookup, node_usage};
use crate::flags::FlagSet;
use crate::meta::{self, Ui, limit};
use crate::time_format::TimeContext;

const HELP: &str = "Usage: caravan node status [options] <node>

  Display status information about a given node. The list of nodes
  returned includes only nodes which jobs may be scheduled to, and
  includes status and other high-level information.

  If a node ID is passed, information for that specific node will be
  displayed, including resource usage statistics. If no node ID's are
  passed, then a short-hand list of all nodes will be displayed.

Node Status Options:

  -short
    Display short output. Used only when a single node is being
    queried, and drops verbose output about node allocations.

  -verbose
    Display full information.

  -self
    Query the status of the local node.

  -allocs
    Display a count of running allocations for each node.

  -quiet
    Display only node IDs.

  -os
    Display operating system name.

  -stats
    Display detailed resource usage statistics.

  -json
    Output the node in its JSON format.
";

/// The node list table; `os` adds the `OS` column (the stubs of `?os=true`),
/// `running_allocs` the `Running Allocs` column.
pub fn render_node_list(
    nodes: &[NodeListStub],
    verbose: bool,
    os: bool,
    running_allocs: Option<&[usize]>,
) -> String {
    let n = meta::id_length(verbose);
    let mut header = "ID|Node Pool|DC|Name|Class|".to_string();
    if os {
        header.push_str("OS|");
    }
    if verbose {
        header.push_str("Address|Version|");
    }
    header.push_str("Drain|Eligibility|Status");
    if running_allocs.is_some() {
        header.push_str("|Running Allocs");
    }
    let mut rows = vec![header];
    for (i, node) in nodes.iter().enumerate() {
        let mut row = format!(
            "{}|{}|{}|{}|{}",
            limit(&node.id, n),
            node.node_pool,
            node.datacenter,
            node.name,
            node.node_class
        );
        if os {
            let name = node
                .attributes
                .as_ref()
                .and_then(|a| a.get("os.name"))
                .map_or("", String::as_str);
            row.push_str(&format!("|{name}"));
        }
        if verbose {
            row.push_str(&format!("|{}|{}", node.address, node.version));
        }
        row.push_str(&format!(
            "|{}|{}|{}",
            node.drain, node.scheduling_eligibility, node.status
        ));
        if let Some(counts) = running_allocs {
            row.push_str(&format!("|{}", counts.get(i).copied().unwrap_or(0)));
        }
        rows.push(row);
    }
    format_list(&rows)
}

/// Nomad's `formatNodeStubList`: the table shown when a prefix matches several nodes.
pub fn render_node_stub_list(nodes: &[NodeListStub], verbose: bool) -> String {
    let n = meta::id_length(verbose);
    let mut rows = vec!["ID|DC|Name|Class|Drain|Eligibility|Status".to_string()];
    for node in nodes {
        rows.push(format!(
            "{}|{}|{}|{}|{}|{}|{}",
            limit(&node.id, n),
            node.datacenter,
            node.name,
            node.node_class,
            node.drain,
            node.scheduling_eligibility,
            node.status
        ));
    }
    format_list(&rows)
}

/// `node status -quiet`: one full node ID a line.
pub fn render_node_ids(nodes: &[NodeListStub]) -> String {
    let ids: Vec<String> = nodes.iter().map(|n| n.id.to_string()).collect();
    format_list(&ids)
}

/// Nomad's `outputTruncatedNodeDriverInfo`: detected drivers, sorted, unhealthy marked.
pub fn driver_status(node: &Node) -> String {
    let mut drivers: Vec<String> = node
        .drivers
        .iter()
        .filter(|(_, info)| info.detected)
        .map(|(name, info)| {
            if info.healthy {
                name.clone()
            } else {
                format!("{name} (unhealthy)")
            }
        })
        .collect();
    drivers.sort();
    drivers.join(",")
}

fn render_events(events: &[NodeEvent], verbose: bool, time: &TimeContext) -> String {
    let mut rows = vec![if verbose {
        "Time|Subsystem|Message|Details".to_string()
    } else {
        "Time|Subsystem|Message".to_string()
    }];
    for event in events.iter().rev() {
        // Nomad's `formatEventSubsystem`: any event naming a driver shows it.
        let subsystem = match event.details.get("driver") {
            Some(driver) if !driver.is_empty() => format!("Driver: {driver}"),
            _ => event.subsystem.clone(),
        };
        let mut row = format!(
            "{}|{subsystem}|{}",
            time.format_text(&event.timestamp),
            event.message
        );
        if verbose {
            let details: Vec<String> = event
                .details
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            row.push('|');
            row.push_str(&details.join(", "));
        }
        rows.push(row);
    }
    format_list(&rows)
}

/// Everything `node status <node>` shows.
#[derive(Debug, Clone, Default)]
pub struct NodeView {
    /// The node (`GET /v1/node/:id`).
    pub node: Node,
    /// Its allocations (`GET /v1/node/:id/allocations`).
    pub allocs: Vec<Allocation>,
    /// The host's usage (`GET /v1/client/stats?node_id=`), when its client answered.
    pub host_stats: Option<HostStatsResponse>,
    /// The running allocations' usage, when every one of them answered.
    pub alloc_usage: Option<Vec<AllocResourceUsage>>,
    /// `-stats`: the host's CPU, memory and disk blocks too.
    pub show_stats: bool,
}

/// The node's host volumes, by name, comma-separated (Nomad's `nodeVolumeNames`).
fn host_volume_names(node: &Node) -> String {
    node.host_volumes
        .keys()
        .cloned()
        .collect::<Vec<_>>()
        .join(",")
}

/// `-verbose`'s Host Volumes table (Nomad's `outputNodeVolumeInfo`).
fn host_volume_rows(node: &Node) -> Vec<String> {
    let mut rows = vec!["Name|ReadOnly|Source".to_string()];
    for (name, volume) in &node.host_volumes {
        rows.push(format!("{name}|{}|{}", volume.read_only, volume.path));
    }
    rows
}

/// The whole `node status <node>` output.
pub fn render_node(
    view: &NodeView,
    verbose: bool,
    short: bool,
    ui: Ui,
    time: &TimeContext,
) -> String {
    let node = &view.node;
    let mut basic = vec![
        format!("ID|{}", node.id),
        format!("Name|{}", node.name),
        format!("Node Pool|{}", node.node_pool),
        format!("Class|{}", node.node_class),
        format!("DC|{}", node.datacenter),
        format!("Drain|{}", node_usage::format_drain(node, time)),
        format!("Eligibility|{}", node.scheduling_eligibility),
        format!("Status|{}", node.status),
        "CSI Controllers|".to_string(),
        "CSI Drivers|".to_string(),
    ];
    let stubs: Vec<AllocationListStub> = view.allocs.iter().map(AllocationListStub::new).collect();
    let mut out = Vec::new();
    if short {
        basic.push(format!("Host Volumes|{}", host_volume_names(node)));
        basic.push("Host Networks|".to_string());
        basic.push("CSI Volumes|".to_string());
        basic.push(format!("Drivers|{}", driver_status(node)));
        out.push(format_kv(&basic));
        out.push(ui.section("Allocations"));
        out.push(render_alloc_stubs(&stubs, verbose, time));
        return out.join("\n");
    }
    if let Some(stats) = &view.host_stats {
        basic.push(format!("Uptime|{}", node_usage::uptime(stats)));
    }
    if !verbose {
        basic.push(format!("Host Volumes|{}", host_volume_names(node)));
        basic.push("Host Networks|".to_string());
        basic.push("CSI Volumes|".to_string());
        basic.push(format!("Driver Status|{}", driver_status(node)));
    }
    out.push(format_kv(&basic));
    if verbose {
        out.push(ui.section("Host Volumes"));
        out.push(format_list(&host_volume_rows(node)));
        out.push(ui.section("Drivers"));
        let mut rows = vec!["Driver|Detected|Healthy|Message|Time".to_string()];
        for (name, info) in &node.drivers {
            rows.push(format!(
                "{name}|{}|{}|{}|{}",
                info.detected,
                info.healthy,
                info.health_description,
                time.format_text(&info.update_time)
            ));
        }
        out.push(format_list(&rows));
    }
    out.push(ui.section("Node Events"));
    out.push(render_events(&node.events, verbose, time));

    let running: Vec<&Allocation> = view
        .allocs
        .iter()
        .filter(|a| a.client_status == caravan_structs::AllocClientStatus::Running)
        .collect();
    let cpu: i64 = running.iter().map(|a| a.allocated_resources.cpu()).sum();
    let mem: i64 = running
        .iter()
        .map(|a| a.allocated_resources.memory_mb())
        .sum();
    let disk: i64 = running
        .iter()
        .map(|a| a.allocated_resources.shared.disk_mb)
        .sum();
    let (total_cpu, total_mem) = node.allocatable();
    let total_disk = node.allocatable_disk_mb();
    out.push(ui.section("Allocated Resources"));
    out.push(format_list(&[
        "CPU|Memory|Disk".to_string(),
        format!(
            "{cpu}/{total_cpu} MHz|{}/{}|{}/{}",
            ibytes_mb(mem),
            ibytes_mb(total_mem),
            ibytes_mb(disk),
            ibytes_mb(total_disk)
        ),
    ]));
    if let Some(usage) = &view.alloc_usage {
        out.push(ui.section("Allocation Resource Utilization"));
        out.push(format_list(&node_usage::alloc_utilization(node, usage)));
    }
    if let Some(stats) = &view.host_stats {
        out.push(ui.section("Host Resource Utilization"));
        out.push(format_list(&node_usage::host_utilization(node, stats)));
        if view.show_stats {
            out.push(ui.section("CPU Stats"));
            out.push(node_usage::cpu_stats(stats));
            out.push(ui.section("Memory Stats"));
            out.push(node_usage::memory_stats(stats));
            out.push(ui.section("Disk Stats"));
            out.push(node_usage::disk_stats(stats));
        }
    }
    out.push(ui.section("Allocations"));
    out.push(render_alloc_stubs(&stubs, verbose, time));
    if verbose {
        out.push(ui.section("Attributes"));
        let rows: Vec<String> = node
            .attributes
            .iter()
            .filter(|(k, _)| !k.is_empty())
            .map(|(k, v)| format!("{k}|{v}"))
            .collect();
        out.push(format_kv(&rows));
        out.push(ui.section("Meta"));
        let rows: Vec<String> = node
            .meta
            .iter()
            .filter(|(k, _)| !k.is_empty())
            .map(|(k, v)| format!("{k}|{v}"))
            .collect();
        out.push(format_kv(&rows));
    }
    out.join("\n")
}

fn node_allocs(client: &ApiClient, node_id: &str) -> Result<Vec<Allocation>, String> {
    client
        .run(|api| api.node_allocations(node_id, Default::default()))
        .map(|read| read.value)
        .map_err(|e| format!("Error querying node allocations: {e}"))
}

/// `caravan node status`.
pub fn run(args: &[String]) -> i32 {
    let set = FlagSet::new()
        .bools(&[
            "short", "verbose", "allocs", "json", "stats", "os", "quiet", "self",
        ])
        .strings(&["t", "filter"]);
    let parsed = match meta::parse(set, args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if parsed.args.len() > 1 {
        meta::err("This command takes either one or no arguments");
        meta::err(&meta::help_hint("node status"));
        return 1;
    }
    let client = match meta::client(&parsed) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let verbose = parsed.bool("verbose");
    let ui = Ui::from_flags(&parsed);
    let time = TimeContext::system();
    let use_self = parsed.bool("self");
    let node_id = match (use_self, parsed.args.first()) {
        (true, _) => match lookup::local_node_id(&client) {
            Ok(id) => Some(id),
            Err(e) => {
                meta::err(&e);
                return 1;
            }
        },
        (false, arg) => arg.cloned(),
    };
    let Some(node_id) = node_id else {
        let os = parsed.bool("os");
        let nodes = match client.run(|api| api.node_list(os)) {
            Ok(read) => read.value,
            Err(e) => {
                meta::err(&format!("Error querying node status: {e}"));
                return 1;
            }
        };
        if parsed.bool("json") {
            meta::out(&meta::json_pretty(&nodes));
            return 0;
        }
        if nodes.is_empty() {
            meta::out("No nodes registered");
            return 0;
        }
        if parsed.bool("quiet") {
            meta::out(&render_node_ids(&nodes));
            return 0;
        }
        let counts = if parsed.bool("allocs") {
            let mut counts = Vec::with_capacity(nodes.len());
            for node in &nodes {
                match node_allocs(&client, &node.id) {
                    Ok(allocs) => counts.push(
                        allocs
                            .iter()
                            .filter(|a| {
                                a.client_status == caravan_structs::AllocClientStatus::Running
                            })
                            .count(),
                    ),
                    Err(e) => {
                        meta::err(&e);
                        return 1;
                    }
                }
            }
            Some(counts)
        } else {
            None
        };
        meta::out(&render_node_list(&nodes, verbose, os, counts.as_deref()));
        return 0;
    };
    let words = lookup::NodeLookup {
        error_prefix: "Error querying node info",
        not_found: "prefix",
        verbose,
    };
    let node = match lookup::find_node(&client, &node_id, words) {
        Ok(found) => found.node.value,
        Err(code) => return code,
    };
    if parsed.bool("json") {
        meta::out(&meta::json_pretty(&node));
        return 0;
    }
    let allocs = match node_allocs(&client, &node.id) {
        Ok(a) => a,
        Err(e) => {
            meta::err(&e);
            return 1;
        }
    };
    let short = parsed.bool("short");
    let (host_stats, alloc_usage) = if short {
        (None, None)
    } else {
        measured_usage(&client, &node.id, &allocs)
    };
    let view = NodeView {
        node,
        allocs,
        host_stats,
        alloc_usage,
        show_stats: parsed.bool("stats"),
    };
    meta::out(&render_node(&view, verbose, short, ui, &time));
    0
}

/// The host's usage and the running allocations' usage, as far as the clients answer.
/// A host that does not answer is reported on stderr as Nomad's CLI does (twice: once
/// for the stats, once for the section that needed them); allocations that do not
/// leave their section out.
fn measured_usage(
    client: &ApiClient,
    node_id: &str,
    allocs: &[Allocation],
) -> (Option<HostStatsResponse>, Option<Vec<AllocResourceUsage>>) {
    let host_stats = match client.run(|api| api.host_stats(node_id)) {
        Ok(read) => Some(read.value),
        Err(e) => {
            meta::out("");
            meta::err(&format!("error fetching node stats: {e}"));
            meta::out("");
            meta::err("error fetching node stats: actual resource usage not present");
            None
        }
    };
    let mut usage = Vec::new();
    for alloc in allocs
        .iter()
        .filter(|a| a.client_status == caravan_structs::AllocClientStatus::Running)
    {
        match client.run(|api| api.allocation_stats(&alloc.id)) {
            Ok(read) => usage.push(read.value),
            Err(_) => return (host_stats, None),
        }
    }
    (host_stats, Some(usage))
}

#[cfg(test)]
#[path = "node_status_tests.rs"]
mod tests;
