//! The client-server RPC: what a client agent sends to its servers on their RPC port
//! (HTTP/JSON, `/v1/internal/...`), and the headers that carry its secret and the kind
//! of an error.

use std::collections::BTreeMap;
use std::time::Duration;

use caravan_structs::{AllocClientUpdate, AllocId, Allocation, NodeId};
use serde::{Deserialize, Serialize};

/// The header a client's secret travels in.
pub const NODE_SECRET_HEADER: &str = "x-caravan-node-secret";
/// The header a forwarding client agent names its node in.
pub const NODE_ID_HEADER: &str = "x-caravan-node-id";
/// The header that names an error's kind (one of the `ERROR_*` values): the client acts
/// on the kind, never on the message's words.
pub const ERROR_KIND_HEADER: &str = "x-caravan-error";
/// Error kind: the node is not registered (the client registers again).
pub const ERROR_NODE_NOT_FOUND: &str = "node-not-found";
/// Error kind: the secret does not match the node's.
pub const ERROR_PERMISSION_DENIED: &str = "permission-denied";
/// Error kind: any other refusal by the server.
pub const ERROR_REFUSED: &str = "refused";
/// Where a client agent sends the `/v1` calls it forwards: `/v1/internal/api/v1/jobs`
/// is `/v1/jobs`, answered only for a registered node with its secret.
pub const FORWARD_PREFIX: &str = "/v1/internal/api";

/// The answer to a node registration (`POST /v1/internal/node/register`, whose body is
/// the `Node`) and to a heartbeat.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HeartbeatResponse {
    /// How long the node may stay silent, in nanoseconds.
    #[serde(rename = "HeartbeatTTL")]
    pub heartbeat_ttl: i64,
    /// The registration's index; 0 for a heartbeat.
    pub index: u64,
}

/// `POST /v1/internal/node/heartbeat` body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HeartbeatRequest {
    /// The node.
    #[serde(rename = "NodeID")]
    pub node_id: NodeId,
    /// Its secret.
    #[serde(rename = "SecretID")]
    pub secret_id: String,
}

/// The answer to `GET /v1/internal/node/:id/client-allocs`, the client's long-poll
/// (Nomad's `Node.GetClientAllocs`): each of the node's allocations with its
/// `AllocModifyIndex`, and in full those whose `AllocModifyIndex` passed the query's
/// `?index=`; the index is the `X-Nomad-Index` header.
///
/// Nomad's client fetches the changed ones in a second call (`Alloc.GetAllocs`, here an
/// [`AllocsGetRequest`]). Here they come with the listing, from the same state, so that
/// the usual change costs one call rather than two; the client fetches only what it
/// has not seen and the listing did not carry (its last fetch failed, say). Generic over
/// what each allocation decodes into, as [`AllocsGetRequest`]'s answer is.
///
/// Nomad's listing names every allocation of the node, each time, so that a client
/// learns which ones the servers removed. Here, when the servers removed none of the
/// node's allocations since the query's index, the listing names only those changed
/// past it ([`NodeClientAllocsResponse::incremental`]): a node of a hundred
/// allocations that gains one receives one entry, not a hundred and one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeClientAllocsResponse<A = Allocation> {
    /// Allocation ID → `AllocModifyIndex`: every allocation of the node, or only those
    /// changed past the query's index when `incremental`.
    #[serde(default)]
    pub allocs: BTreeMap<AllocId, u64>,
    /// The listed allocations changed past the query's index, without their placement
    /// metrics (a client places nothing).
    #[serde(default = "Vec::new")]
    pub changed: Vec<A>,
    /// `allocs` lists only what changed past the query's index, and nothing of the
    /// node's was removed since: the node's allocations are the client's listing at
    /// that index with these entries laid over it. An answer without it (an older
    /// server's) lists everything.
    #[serde(default)]
    pub incremental: bool,
}

impl<A> NodeClientAllocsResponse<A> {
    /// Lays this answer's listing over `listing`, the node's allocations as the client
    /// last knew them: the whole listing unless the answer is incremental.
    pub fn update_listing(&mut self, listing: &mut BTreeMap<AllocId, u64>) {
        let allocs = std::mem::take(&mut self.allocs);
        if self.incremental {
            listing.extend(allocs);
        } else {
            *listing = allocs;
        }
    }
}

/// `POST /v1/internal/allocations/get` body (Nomad's `AllocsGetRequest`): some of the
/// node's allocations, by ID, once the server's state reaches `MinQueryIndex`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocsGetRequest {
    /// The node asking; only its own allocations are answered.
    #[serde(rename = "NodeID")]
    pub node_id: NodeId,
    #[serde(rename = "AllocIDs")]
    pub alloc_ids: Vec<AllocId>,
    /// The server waits until its state's index passes this one (a follower may lag
    /// the server that listed the allocations).
    pub min_query_index: u64,
}

/// How long a server waits for its state to reach an [`AllocsGetRequest`]'s index
/// before it answers what it has.
pub const ALLOCS_GET_WAIT: Duration = Duration::from_secs(30);

/// The answer to an [`AllocsGetRequest`]: the allocations the server holds (IDs it
/// does not are left out) and its state's index. Generic over what each allocation is,
/// as [`NodeClientAllocsResponse`] is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AllocsGetResponse<A = Allocation> {
    #[serde(default = "Vec::new")]
    pub allocs: Vec<A>,
    #[serde(default)]
    pub index: u64,
}

/// `POST /v1/internal/allocations/update` body: a batch of allocation status updates.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocUpdateRequest {
    /// The node reporting.
    #[serde(rename = "NodeID")]
    pub node_id: NodeId,
    /// One entry per allocation.
    pub allocs: Vec<AllocClientUpdate>,
}

/// The answer to [`AllocUpdateRequest`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocUpdateResponse {
    /// The index of the write.
    pub index: u64,
}

/// `POST /v1/internal/services/upsert` body: the service registrations of allocations
/// the node runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServiceUpsertRequest {
    #[serde(rename = "NodeID")]
    pub node_id: NodeId,
    pub services: Vec<caravan_structs::ServiceRegistration>,
}

/// `POST /v1/internal/services/delete` body: the node stopped these allocations, whose
/// registrations go.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServiceDeleteRequest {
    #[serde(rename = "NodeID")]
    pub node_id: NodeId,
    #[serde(rename = "AllocIDs")]
    pub alloc_ids: Vec<caravan_structs::AllocId>,
}

/// The answer to a [`ServiceUpsertRequest`] or [`ServiceDeleteRequest`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServiceWriteResponse {
    /// The index of the write.
    pub index: u64,
}
