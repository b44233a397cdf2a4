//! The event stream's source (Nomad's event broker): every applied [`Command`] becomes a
//! batch of [`Event`]s at its index, kept in a bounded buffer that `/v1/event/stream`
//! replays from and follows.
//!
//! Events are derived from the write itself, on every server that applies it (a Raft
//! follower too), so any server's stream shows the cluster's changes. As in Nomad, an
//! event's `Type` is the write's (`JobRegistered`, `PlanResult`, ...) and its `Topic` the
//! table an object changed in: registering a job gives a `Job` and an `Evaluation`
//! event, both `JobRegistered`.

mod batch;
mod derive;
mod filter;

use std::collections::VecDeque;
use std::sync::Arc;

use caravan_structs::acl::{AclPolicy, AclToken};
use caravan_structs::{Allocation, Deployment, Evaluation, Job, Node, ServiceRegistration};
use serde::Serialize;

use batch::PendingBatch;
pub use batch::{EventBatch, EventRef};
pub(crate) use derive::EventSources;
pub use filter::{EventFilter, TopicParseError};

/// Nomad's `event_buffer_size` default.
pub const DEFAULT_EVENT_BUFFER_SIZE: usize = 100;

/// What an event is about: Nomad's topic names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Topic {
    Job,
    Evaluation,
    Allocation,
    Deployment,
    Node,
    Service,
    #[serde(rename = "ACLToken")]
    AclToken,
    #[serde(rename = "ACLPolicy")]
    AclPolicy,
}

impl Topic {
    /// The name in the stream and in `?topic=`.
    pub fn as_str(self) -> &'static str {
        match self {
            Topic::Job => "Job",
            Topic::Evaluation => "Evaluation",
            Topic::Allocation => "Allocation",
            Topic::Deployment => "Deployment",
            Topic::Node => "Node",
            Topic::Service => "Service",
            Topic::AclToken => "ACLToken",
            Topic::AclPolicy => "ACLPolicy",
        }
    }

    /// Whether its events carry a namespace (and need a namespace capability to read).
    pub fn namespaced(self) -> bool {
        matches!(
            self,
            Topic::Job | Topic::Evaluation | Topic::Allocation | Topic::Deployment | Topic::Service
        )
    }
}

/// The object an event carries, under Nomad's payload key (`{"Job": {...}}`). Secrets
/// are stripped (a node's, a token's) and an allocation's job is left out, as Nomad's
/// events do.
#[derive(Debug, Clone, Serialize)]
pub enum Payload {
    Job(Arc<Job>),
    Evaluation(Arc<Evaluation>),
    Allocation(Arc<Allocation>),
    Deployment(Arc<Deployment>),
    Node(Arc<Node>),
    Service(Arc<ServiceRegistration>),
    #[serde(rename = "ACLToken")]
    AclToken(Arc<AclToken>),
    #[serde(rename = "ACLPolicy")]
    AclPolicy(Arc<AclPolicy>),
}

/// One change, as `/v1/event/stream` sends it; the buffer keeps it packed
/// ([`EventBatch::pack`]).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Event {
    pub topic: Topic,
    /// Why: the write's type (`JobRegistered`, `NodeDrain`, ...).
    #[serde(rename = "Type")]
    pub event_type: &'static str,
    /// The object's ID (a job's, an allocation's, a token's accessor, a policy's name).
    pub key: String,
    /// Empty for objects without one (nodes, ACL objects).
    pub namespace: String,
    /// Other keys a `?topic=Topic:key` also matches (an allocation's job ID...).
    pub filter_keys: Vec<String>,
    pub index: u64,
    pub payload: Payload,
}

/// The newest batches, at most `capacity` (Nomad's `event_buffer_size`); 0 keeps none
/// and derives none (`enable_event_broker = false`).
#[derive(Debug)]
pub(crate) struct EventBuffer {
    capacity: usize,
    batches: VecDeque<Arc<PendingBatch>>,
}

impl EventBuffer {
    pub(crate) fn new(capacity: usize) -> EventBuffer {
        EventBuffer {
            capacity,
            batches: VecDeque::new(),
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.capacity > 0
    }

    /// Buffers the events of the write at `index`. They are packed only when a stream
    /// first reads them: a server nobody subscribes to (most, most of the time) never
    /// writes its events as JSON, as Nomad's broker does not.
    pub(crate) fn push(&mut self, index: u64, events: Vec<Event>) {
        if events.is_empty() || !self.enabled() {
            return;
        }
        while self.batches.len() >= self.capacity {
            self.batches.pop_front();
        }
        self.batches
            .push_back(Arc::new(PendingBatch::new(index, events)));
    }

    /// The batches at `from` or later, oldest first. A `from` older than the buffer
    /// starts at its oldest batch (Nomad: "the next available index").
    pub(crate) fn since(&self, from: u64) -> Vec<Arc<PendingBatch>> {
        self.batches
            .iter()
            .filter(|b| b.index() >= from)
            .cloned()
            .collect()
    }
}
