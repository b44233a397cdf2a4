//! openraft's network: each message to a peer is one [`PeerClient`] call.

use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ServerNode;
use crate::transport::{PeerClient, TransportError, paths};
use crate::types::TypeConfig;

/// Makes a [`PeerConnection`] per peer.
#[derive(Clone)]
pub struct Network {
    pub(crate) peers: PeerClient,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = PeerConnection;

    async fn new_client(&mut self, target: u64, node: &ServerNode) -> PeerConnection {
        PeerConnection {
            peers: self.peers.clone(),
            target,
            node: node.clone(),
        }
    }
}

/// Messages to one peer.
pub struct PeerConnection {
    peers: PeerClient,
    target: u64,
    node: ServerNode,
}

/// A failure that is not an answer from the peer's Raft: it was not reached, or it
/// answered something unreadable.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct PeerFailure(String);

impl PeerConnection {
    async fn call<B, T, E>(
        &self,
        path: &str,
        body: &B,
        option: &RPCOption,
    ) -> Result<T, RPCError<u64, ServerNode, E>>
    where
        B: Serialize,
        T: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let answer: Result<Result<T, E>, TransportError> = self
            .peers
            .msgpack(&self.node.rpc_addr, path, body, option.hard_ttl())
            .await;
        match answer {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(remote)) => Err(RPCError::RemoteError(RemoteError::new_with_node(
                self.target,
                self.node.clone(),
                remote,
            ))),
            Err(TransportError::Unreachable(why)) => {
                Err(RPCError::Unreachable(Unreachable::new(&PeerFailure(why))))
            }
            Err(TransportError::Refused(why)) => {
                Err(RPCError::Network(NetworkError::new(&PeerFailure(why))))
            }
        }
    }
}

impl RaftNetwork<TypeConfig> for PeerConnection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RPCError<u64, ServerNode, RaftError<u64>>> {
        self.call(paths::APPEND_ENTRIES, &rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<u64>,
        RPCError<u64, ServerNode, RaftError<u64, InstallSnapshotError>>,
    > {
        self.call(paths::INSTALL_SNAPSHOT, &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        option: RPCOption,
    ) -> Result<VoteResponse<u64>, RPCError<u64, ServerNode, RaftError<u64>>> {
        self.call(paths::VOTE, &rpc, &option).await
    }
}
