//! What the Raft log carries and how servers are named in its membership.

use std::fmt;
use std::io::Cursor;

use caravan_state::Command;
use serde::{Deserialize, Serialize};

/// A server as the Raft membership records it: enough for another server to reach it
/// and for `server members` / `operator raft list-peers` to name it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerNode {
    /// The server's ID (a UUID kept in `<data_dir>/server/node-id`); the Raft node ID
    /// is derived from it ([`raft_id`]).
    pub id: String,
    /// `<node name>.<region>`, as Nomad names servers.
    pub name: String,
    /// `host:port` of the RPC listener: Raft traffic and clients.
    pub rpc_addr: String,
    /// `host:port` of the HTTP listener: where followers forward API calls.
    pub http_addr: String,
    /// `host:port` of the serf listener: joins and membership pings.
    pub serf_addr: String,
    pub region: String,
    pub datacenter: String,
    /// The `bootstrap_expect` the server was started with.
    #[serde(default)]
    pub bootstrap_expect: u32,
}

impl fmt::Display for ServerNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.rpc_addr)
    }
}

/// The Raft node ID of a server: the first 8 bytes of its UUID. Two servers of one
/// cluster colliding would need 2^32 servers.
pub fn raft_id(server_id: &str) -> u64 {
    let hex: String = server_id
        .chars()
        .filter(|c| c.is_ascii_hexdigit())
        .take(16)
        .collect();
    u64::from_str_radix(&hex, 16).unwrap_or(0)
}

/// The answer of one applied entry: the state's index after it, or why the state
/// refused the command (a conflict check: nothing was written).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryApplied {
    pub index: u64,
    pub refused: Option<String>,
}

openraft::declare_raft_types!(
    /// Caravan's Raft: state-store commands as entries, servers as nodes, snapshots as
    /// bytes (the file's contents).
    pub TypeConfig:
        D = Command,
        R = EntryApplied,
        NodeId = u64,
        Node = ServerNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

pub type LogId = openraft::LogId<u64>;
pub type Vote = openraft::Vote<u64>;
pub type Entry = openraft::Entry<TypeConfig>;
pub type StorageError = openraft::StorageError<u64>;
pub type SnapshotMeta = openraft::SnapshotMeta<u64, ServerNode>;
pub type Raft = openraft::Raft<TypeConfig>;

/// A storage error from anything that is a `std::error::Error`.
pub(crate) fn any_error<E: std::error::Error + 'static>(error: E) -> openraft::AnyError {
    openraft::AnyError::new(&error)
}

#[cfg(test)]
mod tests {
    use super::raft_id;

    #[test]
    fn a_server_id_gives_its_raft_id_from_its_first_sixteen_hex_digits() {
        for (server_id, expected) in [
            (
                "0ee651c3-344d-4391-bc05-f758b8e30769",
                0x0ee6_51c3_344d_4391,
            ),
            ("ffffffff-ffff-ffff-0000-000000000000", u64::MAX),
            ("00000000-0000-0001-ffff-ffffffffffff", 1),
        ] {
            assert_eq!(raft_id(server_id), expected, "{server_id}");
        }
    }
}
