//! openraft's network: each message to a peer is one [`PeerClient`] call.
//!
//! openraft waits for an AppendEntries only as long as a heartbeat interval (100 ms per
//! `raft_multiplier`), and drops the call when that runs out. A large message (a batch
//! of big entries, a restored state) can take longer to send and to be made durable
//! on the peer; dropped mid-way, it would be sent again from the start, time out again,
//! and the peer would never catch up. So each message is sent by a task of its own that
//! finishes even when openraft stops waiting; until it does, further messages to that
//! peer answer "unreachable" (openraft backs off and retries), and the retry finds the
//! peer holding what the finished send carried.

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

/// How long one message may take to reach a peer and be answered once openraft has
/// stopped waiting for it.
const SEND_DEADLINE: std::time::Duration = std::time::Duration::from_secs(120);

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
            sending: None,
        }
    }
}

/// Messages to one peer.
pub struct PeerConnection {
    peers: PeerClient,
    target: u64,
    node: ServerNode,
    /// The send of the last message, which may outlive openraft's wait for it.
    sending: Option<tokio::task::JoinHandle<()>>,
}

/// A failure that is not an answer from the peer's Raft: it was not reached, or it
/// answered something unreadable.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct PeerFailure(String);

impl PeerConnection {
    async fn call<B, T, E>(
        &mut self,
        path: &'static str,
        body: B,
        option: &RPCOption,
    ) -> Result<T, RPCError<u64, ServerNode, E>>
    where
        B: Serialize + Send + 'static,
        T: DeserializeOwned + Send + 'static,
        E: std::error::Error + DeserializeOwned + Send + 'static,
    {
        let unreachable = |why: String| RPCError::Unreachable(Unreachable::new(&PeerFailure(why)));
        if self
            .sending
            .as_ref()
            .is_some_and(|send| !send.is_finished())
        {
            return Err(unreachable(format!(
                "{}: the previous message is still being sent",
                self.node.rpc_addr
            )));
        }
        let (answer_to, answer) = tokio::sync::oneshot::channel();
        let peers = self.peers.clone();
        let address = self.node.rpc_addr.clone();
        let timeout = option.hard_ttl().max(SEND_DEADLINE);
        self.sending = Some(tokio::spawn(async move {
            let answer: Result<Result<T, E>, TransportError> =
                peers.msgpack(&address, path, body, timeout).await;
            let _ = answer_to.send(answer);
        }));
        match answer.await {
            Ok(Ok(Ok(value))) => Ok(value),
            Ok(Ok(Err(remote))) => Err(RPCError::RemoteError(RemoteError::new_with_node(
                self.target,
                self.node.clone(),
                remote,
            ))),
            Ok(Err(TransportError::Unreachable(why))) => Err(unreachable(why)),
            Ok(Err(TransportError::Refused(why))) => {
                Err(RPCError::Network(NetworkError::new(&PeerFailure(why))))
            }
            Err(_) => Err(unreachable("the send was cancelled".into())),
        }
    }
}

impl RaftNetwork<TypeConfig> for PeerConnection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RPCError<u64, ServerNode, RaftError<u64>>> {
        self.call(paths::APPEND_ENTRIES, rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<u64>,
        RPCError<u64, ServerNode, RaftError<u64, InstallSnapshotError>>,
    > {
        self.call(paths::INSTALL_SNAPSHOT, rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        option: RPCOption,
    ) -> Result<VoteResponse<u64>, RPCError<u64, ServerNode, RaftError<u64>>> {
        self.call(paths::VOTE, rpc, &option).await
    }
}
