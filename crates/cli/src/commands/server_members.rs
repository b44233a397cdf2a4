//! `caravan server members` (Nomad's `command/server_members.go`): the servers gossip
//! knows, and which of them leads its region.

use std::collections::{BTreeMap, BTreeSet};

use caravan_api_types::AgentMember;

use crate::columnize::format_list_with_spaces;
use crate::flags::FlagSet;
use crate::meta;

/// `caravan server` without a subcommand.
pub const SERVER_USAGE: &str = "Usage: caravan server <subcommand> [options] [args]

  This command groups subcommands for interacting with Caravan servers. Users can
  list Servers, join a server to the cluster, and force leave a server.

  List Caravan servers:

      $ caravan server members

  Join a new server to another:

      $ caravan server join \"IP:Port\"

  Force a server to leave:

      $ caravan server force-leave <name>

  Please see the individual subcommand help for detailed usage information.

Subcommands:
    force-leave    Force a server into the 'left' state
    join           Join server nodes together
    members        Display a list of known servers and their status";

const HELP: &str = "Usage: caravan server members [options]

  Display a list of the known servers and their status. Only Caravan servers are
  able to service this command.

  If ACLs are enabled, this option requires a token with the 'node:read'
  capability.

Server Members Options:

  -verbose
    Show detailed information about each member. This dumps a raw set of tags
    which shows more information than the default output format.

  -json
    Output the latest information about each member in a JSON format.

  -t
    Format and display latest information about each member using a Go template.
";

/// Each region's leader, `ip:port` of its RPC listener as `/v1/status/leader` says.
pub type RegionLeaders = BTreeMap<String, String>;

/// Nomad's `AgentMembersNameSort`: by region, then datacenter, then name.
pub fn sort_members(members: &mut [AgentMember]) {
    members.sort_by(|a, b| {
        (a.tag("region"), a.tag("dc"), a.name.as_str()).cmp(&(
            b.tag("region"),
            b.tag("dc"),
            b.name.as_str(),
        ))
    });
}

/// The regions whose leader to ask for: those of every member that has not left
/// (Nomad: a region all of whose members left has no leader to ask).
pub fn leader_regions(members: &[AgentMember]) -> BTreeSet<String> {
    members
        .iter()
        .filter(|m| m.status != "left")
        .map(|m| m.tag("region").to_string())
        .collect()
}

/// Go's `net.JoinHostPort`: an IPv6 host gets brackets.
fn join_host_port(host: &str, port: &str) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Whether `member` leads its region: its address with its RPC port (the `port` tag)
/// is the leader address the region reported.
pub fn is_leader(member: &AgentMember, leaders: &RegionLeaders) -> bool {
    let address = join_host_port(&member.addr, member.tag("port"));
    leaders.get(member.tag("region")) == Some(&address)
}

/// The default table: `Name  Address  Port  Status  Leader  Raft Version  Build
/// Datacenter  Region`, members in the order given.
pub fn render_members(members: &[AgentMember], leaders: &RegionLeaders) -> String {
    let mut rows =
        vec!["Name|Address|Port|Status|Leader|Raft Version|Build|Datacenter|Region".to_string()];
    rows.extend(members.iter().map(|m| {
        format!(
            "{}|{}|{}|{}|{}|{}|{}|{}|{}",
            m.name,
            m.addr,
            m.port,
            m.status,
            is_leader(m, leaders),
            m.tag("raft_vsn"),
            m.tag("build"),
            m.tag("dc"),
            m.tag("region"),
        )
    }));
    format_list_with_spaces(&rows)
}

/// The `-verbose` (or `-detailed`) table: the default columns plus the gossip
/// `Protocol` and every tag as `k=v`, comma-separated. Nomad prints the tags in Go's
/// random map order; here they are sorted by key.
pub fn render_members_verbose(members: &[AgentMember], leaders: &RegionLeaders) -> String {
    let mut rows = vec![
        "Name|Address|Port|Status|Leader|Protocol|Raft Version|Build|Datacenter|Region|Tags"
            .to_string(),
    ];
    rows.extend(members.iter().map(|m| {
        let tags: Vec<String> = m.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!(
            "{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}",
            m.name,
            m.addr,
            m.port,
            m.status,
            is_leader(m, leaders),
            m.protocol_cur,
            m.tag("raft_vsn"),
            m.tag("build"),
            m.tag("dc"),
            m.tag("region"),
            tags.join(","),
        )
    }));
    format_list_with_spaces(&rows)
}

/// `-json`: the members with a `Leader` tag of `true` or `false` added, as Nomad does.
pub fn members_with_leader_tag(
    members: &[AgentMember],
    leaders: &RegionLeaders,
) -> Vec<AgentMember> {
    members
        .iter()
        .map(|m| {
            let mut m = m.clone();
            let leader = is_leader(&m, leaders);
            m.tags.insert("Leader".into(), leader.to_string());
            m
        })
        .collect()
}

/// go-multierror's text for the regions whose leader could not be read:
/// `1 error occurred:\n\t* Region "global": ...\n\n`.
pub fn leader_errors_text(errors: &[String]) -> String {
    let count = match errors.len() {
        1 => "1 error occurred".to_string(),
        n => format!("{n} errors occurred"),
    };
    let lines: Vec<String> = errors.iter().map(|e| format!("\t* {e}")).collect();
    format!("{count}:\n{}\n\n", lines.join("\n"))
}

/// `caravan server members`.
pub fn run(args: &[String]) -> i32 {
    let set = FlagSet::new()
        .bools(&["detailed", "verbose", "json"])
        .strings(&["t"]);
    let parsed = match meta::parse(set, args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if let Err(code) = meta::no_arguments(&parsed, "server members") {
        return code;
    }
    if parsed.is_set("t") {
        meta::err("-t (Go templates) is not supported by Caravan; use -json");
        return 1;
    }
    // Nomad keeps -detailed as the old name of -verbose.
    let verbose = parsed.bool("verbose") || parsed.bool("detailed");
    let client = match meta::client(&parsed) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut members = match client.run(|api| api.agent_members()) {
        Ok(answer) => answer.members,
        Err(e) => {
            meta::err(&format!("Error querying servers: {e}"));
            return 1;
        }
    };
    sort_members(&mut members);
    let mut leaders = RegionLeaders::new();
    let mut leader_errors = Vec::new();
    for region in leader_regions(&members) {
        match client.run(|api| api.status_region_leader(&region)) {
            Ok(leader) => {
                leaders.insert(region, leader);
            }
            Err(e) => leader_errors.push(format!("Region {region:?}: {e}")),
        }
    }
    if parsed.bool("json") {
        meta::out(&meta::json_pretty(&members_with_leader_tag(
            &members, &leaders,
        )));
        return 0;
    }
    if verbose {
        meta::out(&render_members_verbose(&members, &leaders));
    } else {
        meta::out(&render_members(&members, &leaders));
    }
    if !leader_errors.is_empty() {
        meta::out("");
        meta::err(&format!(
            "Error determining leaders: {}",
            leader_errors_text(&leader_errors)
        ));
        return 1;
    }
    0
}

#[cfg(test)]
#[path = "server_members_tests.rs"]
mod tests;
