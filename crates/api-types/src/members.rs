//! `/v1/agent/members` and `/v1/agent/join`: the servers' gossip membership.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `GET /v1/agent/members` answer (Nomad's `ServerMembers`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServerMembers {
    /// The answering agent's node name.
    pub server_name: String,
    /// The answering agent's region.
    pub server_region: String,
    /// The answering agent's datacenter.
    #[serde(rename = "ServerDC")]
    pub server_dc: String,
    /// Every server the agent knows, in any region.
    pub members: Vec<AgentMember>,
}

/// A server as gossip knows it (Nomad's `AgentMember`, serf's `Member`).
///
/// Nomad's tags name what the CLI shows: `region`, `dc`, `build`, `port` (the RPC
/// port), `raft_vsn`, `role` (`nomad`), `id`, `rpc_addr`, `expect`, `vsn`, `mvn`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AgentMember {
    /// `name.region`.
    pub name: String,
    /// The gossip (serf) address.
    pub addr: String,
    /// The gossip (serf) port.
    pub port: u16,
    /// The member's tags (see above).
    pub tags: BTreeMap<String, String>,
    /// `alive`, `leaving`, `left` or `failed`.
    pub status: String,
    /// Oldest gossip (memberlist) protocol the member speaks.
    pub protocol_min: u8,
    /// Newest gossip protocol the member speaks.
    pub protocol_max: u8,
    /// Gossip protocol the member speaks now (`server members -verbose`'s `Protocol`).
    pub protocol_cur: u8,
    /// Oldest serf (delegate) protocol the member speaks.
    pub delegate_min: u8,
    /// Newest serf protocol the member speaks.
    pub delegate_max: u8,
    /// Serf protocol the member speaks now.
    pub delegate_cur: u8,
}

impl AgentMember {
    /// A member with the protocol versions Nomad's servers report (memberlist 1 to 5,
    /// speaking 2; serf 2 to 5, speaking 4), which clients of the API compare.
    pub fn new(
        name: String,
        addr: String,
        port: u16,
        tags: BTreeMap<String, String>,
        status: &str,
    ) -> AgentMember {
        AgentMember {
            name,
            addr,
            port,
            tags,
            status: status.to_string(),
            protocol_min: 1,
            protocol_max: 5,
            protocol_cur: 2,
            delegate_min: 2,
            delegate_max: 5,
            delegate_cur: 4,
        }
    }

    /// A tag's value, empty when absent (as Go's map lookup reads it).
    pub fn tag(&self, key: &str) -> &str {
        self.tags.get(key).map(String::as_str).unwrap_or_default()
    }
}

/// `PUT /v1/agent/join?address=..` answer. Nomad writes these two keys in lower case.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct JoinResponse {
    /// How many of the addresses were joined.
    pub num_joined: i64,
    /// Why the others were not, empty when all were.
    pub error: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_keys_are_nomads() {
        let members = ServerMembers {
            server_name: "server-1".into(),
            server_region: "global".into(),
            server_dc: "dc1".into(),
            members: vec![AgentMember::new(
                "server-1.global".into(),
                "10.0.0.8".into(),
                4648,
                BTreeMap::from([("port".to_string(), "4647".to_string())]),
                "alive",
            )],
        };
        let json = serde_json::to_string(&members).unwrap();
        assert_eq!(
            json,
            concat!(
                r#"{"ServerName":"server-1","ServerRegion":"global","ServerDC":"dc1","Members":[{"#,
                r#""Name":"server-1.global","Addr":"10.0.0.8","Port":4648,"Tags":{"port":"4647"},"#,
                r#""Status":"alive","ProtocolMin":1,"ProtocolMax":5,"ProtocolCur":2,"#,
                r#""DelegateMin":2,"DelegateMax":5,"DelegateCur":4}]}"#
            )
        );
        let back: ServerMembers = serde_json::from_str(&json).unwrap();
        assert_eq!(back, members);
        assert_eq!(back.members[0].tag("port"), "4647");
        assert_eq!(back.members[0].tag("raft_vsn"), "");
    }

    #[test]
    fn a_member_without_protocols_reads() {
        // Caravan's single-server answer before Raft carried no protocol fields.
        let member: AgentMember =
            serde_json::from_str(r#"{"Name":"a.global","Addr":"127.0.0.1","Port":4647}"#).unwrap();
        assert_eq!((member.port, member.protocol_cur), (4647, 0));
    }

    #[test]
    fn join_response_keys_are_lower_case() {
        let response = JoinResponse {
            num_joined: 1,
            error: String::new(),
        };
        assert_eq!(
            serde_json::to_string(&response).unwrap(),
            r#"{"num_joined":1,"error":""}"#
        );
    }
}
