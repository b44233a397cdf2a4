//! `/v1/operator/raft/*`: the Raft peer set as `operator raft list-peers` reads it.

use serde::{Deserialize, Serialize};

/// `GET /v1/operator/raft/configuration` answer (Nomad's `RaftConfiguration`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RaftConfiguration {
    /// The Raft index of this configuration; the latest one may not be committed yet.
    pub index: u64,
    /// Every server of the peer set, voters or not.
    pub servers: Vec<RaftServer>,
}

/// One server of a [`RaftConfiguration`] (Nomad's `RaftServer`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RaftServer {
    /// The server's Raft ID (a UUID with Raft protocol 3).
    #[serde(rename = "ID")]
    pub id: String,
    /// The server's node name (`name.region`), or `(unknown)` when it is not a member.
    pub node: String,
    /// `ip:port` of its RPC listener, which Raft travels over.
    pub address: String,
    /// Whether it leads the cluster.
    pub leader: bool,
    /// Whether it votes (a server still catching up does not).
    pub voter: bool,
    /// Its Raft protocol version, as text: Nomad's JSON carries `"3"`.
    pub raft_protocol: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nomads_sample_and_writes_its_keys() {
        // Nomad's API docs' sample answer.
        let sample = r#"{"Index":0,"Servers":[{"Address":"10.1.0.20:4647",
            "ID":"d7927f2b-067f-45a4-6266-af8bb84de082","Leader":true,
            "Node":"node2.global","RaftProtocol":"3","Voter":true}]}"#;
        let config: RaftConfiguration = serde_json::from_str(sample).unwrap();
        let server = RaftServer {
            id: "d7927f2b-067f-45a4-6266-af8bb84de082".into(),
            node: "node2.global".into(),
            address: "10.1.0.20:4647".into(),
            leader: true,
            voter: true,
            raft_protocol: "3".into(),
        };
        assert_eq!(config.servers, std::slice::from_ref(&server));
        assert_eq!(
            serde_json::to_string(&server).unwrap(),
            r#"{"ID":"d7927f2b-067f-45a4-6266-af8bb84de082","Node":"node2.global","Address":"10.1.0.20:4647","Leader":true,"Voter":true,"RaftProtocol":"3"}"#
        );
    }
}
