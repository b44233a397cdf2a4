//! `caravan operator raft list-peers` and `remove-peer` (Nomad's
//! `command/operator_raft_list.go`, `operator_raft_remove.go`): the Raft peer set, and
//! removing a peer that is gone for good.

use caravan_api_types::RaftConfiguration;

use crate::columnize::format_list_with_spaces;
use crate::flags::FlagSet;
use crate::meta;

/// `caravan operator` without a subcommand.
pub const OPERATOR_USAGE: &str = "Usage: caravan operator <subcommand> [options]

  Provides cluster-level tools for Caravan operators, such as interacting with
  the Raft subsystem. NOTE: Use this command with extreme caution, as improper
  use could lead to a Caravan outage and even loss of data.

  Please see the individual subcommand help for detailed usage information.

Subcommands:
    api          Query Caravan's HTTP API
    raft         Provides access to the Raft subsystem
    root         Provides access to the root encryption keyring
    scheduler    Provides access to the scheduler configuration
    snapshot     Saves and inspects snapshots of Caravan server state";

/// `caravan operator raft` without a subcommand.
pub const RAFT_USAGE: &str = "Usage: caravan operator raft <subcommand> [options]

  This command groups subcommands for interacting with Caravan's Raft subsystem.
  The command can be used to verify Raft peers or in rare cases to recover
  quorum by removing invalid peers.

  List Raft peers:

      $ caravan operator raft list-peers

  Remove a Raft peer:

      $ caravan operator raft remove-peer -peer-address \"IP:Port\"

  Please see the individual subcommand help for detailed usage information.

Subcommands:
    list-peers     Display the current Raft peer configuration
    remove-peer    Remove a Caravan server from the Raft configuration";

const LIST_HELP: &str = "Usage: caravan operator raft list-peers [options]

  Displays the current Raft peer configuration.

  If ACLs are enabled, this command requires a management token.

List Peers Options:

  -stale=[true|false]
    The -stale argument defaults to \"false\" which means the leader provides the
    result. If the cluster is in an outage state without a leader, you may need
    to set -stale to \"true\" to get the configuration from a non-leader server.
";

const REMOVE_HELP: &str = "Usage: caravan operator raft remove-peer [options]

  Remove the Caravan server with given -peer-address from the Raft configuration.

  There are rare cases where a peer may be left behind in the Raft quorum even
  though the server is no longer present and known to the cluster. This command
  can be used to remove the failed server so that it is no longer affects the
  Raft quorum. If the server still shows in the output of the \"caravan
  server members\" command, it is preferable to clean up by simply running \"caravan
  server force-leave\" instead of this command.

  If ACLs are enabled, this command requires a management token.

Remove Peer Options:

  -peer-address=\"IP:port\"
    Remove a Caravan server with given address from the Raft configuration.

  -peer-id=\"id\"
    Remove a Caravan server with the given ID from the Raft configuration.
";

/// `list-peers`' table: `Node  ID  Address  State  Voter  RaftProtocol`, sorted by
/// node name, the leader's state `leader` and every other's `follower`.
pub fn render_peers(configuration: &RaftConfiguration) -> String {
    let mut servers: Vec<_> = configuration.servers.iter().collect();
    servers.sort_by(|a, b| a.node.cmp(&b.node));
    let mut rows = vec!["Node|ID|Address|State|Voter|RaftProtocol".to_string()];
    rows.extend(servers.iter().map(|s| {
        let state = if s.leader { "leader" } else { "follower" };
        format!(
            "{}|{}|{}|{state}|{}|{}",
            s.node, s.id, s.address, s.voter, s.raft_protocol
        )
    }));
    format_list_with_spaces(&rows)
}

/// The peer `remove-peer` names: by address or by ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerToRemove {
    /// `-peer-address`.
    Address(String),
    /// `-peer-id`.
    Id(String),
}

impl PeerToRemove {
    /// The peer the flags name; exactly one of them must be set (Nomad's
    /// `raftRemovePeers` wording when not).
    pub fn from_flags(address: &str, id: &str) -> Result<PeerToRemove, &'static str> {
        match (address.is_empty(), id.is_empty()) {
            (true, true) => Err("an address or id is required for the peer to remove"),
            (false, false) => Err("cannot give both an address and id"),
            (false, true) => Ok(PeerToRemove::Address(address.to_string())),
            (true, false) => Ok(PeerToRemove::Id(id.to_string())),
        }
    }

    /// What Nomad prints once the peer is removed.
    pub fn removed_line(&self) -> String {
        match self {
            PeerToRemove::Address(address) => format!("Removed peer with address {address:?}"),
            PeerToRemove::Id(id) => format!("Removed peer with id {id:?}"),
        }
    }
}

/// `caravan operator raft list-peers`.
pub fn run_list_peers(args: &[String]) -> i32 {
    let parsed = match meta::parse(FlagSet::new().bools(&["stale"]), args, LIST_HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let client = match meta::client(&parsed) {
        Ok(c) => c,
        Err(code) => return code,
    };
    match client.run(|api| api.raft_configuration(parsed.bool("stale"))) {
        Ok(configuration) => {
            meta::out(&render_peers(&configuration));
            0
        }
        Err(e) => {
            meta::err(&format!("Failed to retrieve raft configuration: {e}"));
            1
        }
    }
}

/// `caravan operator raft remove-peer`.
pub fn run_remove_peer(args: &[String]) -> i32 {
    let set = FlagSet::new().strings(&["peer-address", "peer-id"]);
    let parsed = match meta::parse(set, args, REMOVE_HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let address = parsed.string("peer-address").unwrap_or_default();
    let id = parsed.string("peer-id").unwrap_or_default();
    let peer = match PeerToRemove::from_flags(address, id) {
        Ok(peer) => peer,
        Err(why) => {
            meta::err(&format!("Error removing peer: {why}"));
            return 1;
        }
    };
    let client = match meta::client(&parsed) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let removed = match &peer {
        PeerToRemove::Address(address) => {
            client.run(|api| api.raft_remove_peer_by_address(address))
        }
        PeerToRemove::Id(id) => client.run(|api| api.raft_remove_peer_by_id(id)),
    };
    match removed {
        Ok(()) => {
            meta::out(&peer.removed_line());
            0
        }
        Err(e) => {
            meta::err(&format!("Error removing peer: {e}"));
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use caravan_api_types::RaftServer;

    use super::*;

    fn server(node: &str, id: &str, leader: bool, voter: bool) -> RaftServer {
        RaftServer {
            id: id.into(),
            node: node.into(),
            address: format!("10.0.0.{}:4647", &id[..1]),
            leader,
            voter,
            raft_protocol: "3".into(),
        }
    }

    #[test]
    fn peers_table_sorted_by_node() {
        let configuration = RaftConfiguration {
            index: 7,
            servers: vec![
                server("server-2.global", "2f0c", true, true),
                server("server-1.global", "1a9e", false, true),
                server("server-3.global", "3b71", false, false),
            ],
        };
        assert_eq!(
            render_peers(&configuration),
            "\
Node             ID    Address        State     Voter  RaftProtocol
server-1.global  1a9e  10.0.0.1:4647  follower  true   3
server-2.global  2f0c  10.0.0.2:4647  leader    true   3
server-3.global  3b71  10.0.0.3:4647  follower  false  3"
        );
    }

    #[test]
    fn an_empty_peer_set_is_the_header() {
        assert_eq!(
            render_peers(&RaftConfiguration::default()),
            "Node  ID  Address  State  Voter  RaftProtocol"
        );
    }

    #[test]
    fn remove_peer_takes_exactly_one_flag() {
        let cases = [
            (
                "neither",
                "",
                "",
                Err("an address or id is required for the peer to remove"),
            ),
            (
                "both",
                "10.0.0.3:4647",
                "3b71",
                Err("cannot give both an address and id"),
            ),
            (
                "address",
                "10.0.0.3:4647",
                "",
                Ok(r#"Removed peer with address "10.0.0.3:4647""#),
            ),
            ("id", "", "3b71", Ok(r#"Removed peer with id "3b71""#)),
        ];
        for (name, address, id, want) in cases {
            let got = PeerToRemove::from_flags(address, id).map(|p| p.removed_line());
            assert_eq!(got.as_deref().map_err(|e| *e), want, "case {name}");
        }
    }
}
