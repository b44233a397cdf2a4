//! The node drain monitor of `node drain` (Nomad's `api.Nodes.MonitorDrain` and
//! `NodeDrainCommand.monitorDrain`):
//!
//! ```text
//! 2026-11-25T12:00:00Z: Ctrl-C to stop monitoring: will not cancel the node drain
//! 2026-11-25T12:00:00Z: Node "6477d9ed-…" drain strategy set
//! 2026-11-25T12:00:01Z: Alloc "48154342-…" marked for migration
//! 2026-11-25T12:00:03Z: Alloc "48154342-…" status running -> complete
//! 2026-11-25T12:00:03Z: All allocations on node "6477d9ed-…" have stopped
//! 2026-11-25T12:00:03Z: Drain complete for node 6477d9ed-…
//! ```
//!
//! Like Nomad, two watchers run side by side, each on its own blocking query: one on the
//! node (done when it no longer drains), one on the node's allocations (done when none
//! is pending or running). Their messages are printed as they come, stamped with the
//! time. [`NodeWatch`] and [`AllocWatch`] are pure (data in, messages out);
//! [`monitor_drain`] drives them over a [`DrainSource`], the HTTP API in the CLI and a
//! script in tests.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use caravan_structs::{
    AllocClientStatus, AllocDesiredStatus, AllocId, Allocation, JobType, Node, NodeStatus,
};

use crate::api_client::{ApiClient, ApiError, Indexed, QueryOptions};

/// `DesiredDescription` of an allocation the scheduler migrates off a draining node.
/// Caravan's stand-in for Nomad's `DesiredTransition.Migrate`.
pub const ALLOC_MIGRATING: &str = "alloc is being migrated";

/// How long one blocking query may wait (Nomad's default `WaitTime`).
const BLOCKING_WAIT: Duration = Duration::from_secs(300);

/// Nomad's `MonitorMsgLevel`: where and how a message is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// `Ui.Output` (stdout).
    Normal,
    /// `Ui.Info` (stdout).
    Info,
    /// `Ui.Warn` (stderr).
    Warn,
    /// `Ui.Error` (stderr); ends the monitor.
    Error,
}

/// One line of drain monitor output, without its time stamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrainMessage {
    /// Where it goes.
    pub level: Level,
    /// The text after `<time>: `.
    pub text: String,
}

impl DrainMessage {
    fn new(level: Level, text: String) -> DrainMessage {
        DrainMessage { level, text }
    }
}

/// Watches the node (Nomad's `monitorDrainNode`).
#[derive(Debug, Clone)]
pub struct NodeWatch {
    node_id: String,
}

impl NodeWatch {
    /// A watch on `node_id` (the full ID, as Nomad prints it).
    pub fn new(node_id: &str) -> NodeWatch {
        NodeWatch {
            node_id: node_id.to_string(),
        }
    }

    /// Applies one read of the node: its messages, and whether the watch is done.
    pub fn observe(&mut self, node: &Node) -> (Vec<DrainMessage>, bool) {
        // Nomad: `node.DrainStrategy == nil`; Caravan's node carries the `Drain` flag.
        if !node.drain {
            let text = format!("Drain complete for node {}", self.node_id);
            return (vec![DrainMessage::new(Level::Info, text)], true);
        }
        let mut messages = Vec::new();
        if node.status == NodeStatus::Down {
            let text = format!("Node {:?} down", self.node_id);
            messages.push(DrainMessage::new(Level::Warn, text));
        }
        (messages, false)
    }
}

/// What the alloc watch remembers of one allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SeenAlloc {
    client_status: AllocClientStatus,
    desired_status: AllocDesiredStatus,
    migrating: bool,
}

impl SeenAlloc {
    fn of(alloc: &Allocation) -> SeenAlloc {
        SeenAlloc {
            client_status: alloc.client_status,
            desired_status: alloc.desired_status,
            migrating: alloc.desired_description == ALLOC_MIGRATING,
        }
    }
}

/// Watches the node's allocations (Nomad's `monitorDrainAllocs`).
#[derive(Debug, Clone)]
pub struct AllocWatch {
    node_id: String,
    ignore_system: bool,
    seen: HashMap<AllocId, SeenAlloc>,
}

impl AllocWatch {
    /// A watch on `node_id`'s allocations; `ignore_system` leaves system jobs' allocations
    /// out of the "all stopped" test (`-ignore-system`).
    pub fn new(node_id: &str, ignore_system: bool) -> AllocWatch {
        AllocWatch {
            node_id: node_id.to_string(),
            ignore_system,
            seen: HashMap::new(),
        }
    }

    /// Applies one read of the node's allocations: the changes since the last read, and
    /// whether the watch is done (nothing pending or running any more).
    pub fn observe(&mut self, allocs: &[Allocation]) -> (Vec<DrainMessage>, bool) {
        // Nomad's `Nodes.Allocations` sorts newest first (by CreateIndex).
        let mut sorted: Vec<&Allocation> = allocs.iter().collect();
        sorted.sort_by_key(|a| std::cmp::Reverse(a.create_index));
        let mut messages = Vec::new();
        let mut running = 0;
        for alloc in sorted {
            let now = SeenAlloc::of(alloc);
            let before = self.seen.insert(alloc.id.clone(), now.clone());
            // The first read only records what is there, as in Nomad.
            let change = match before {
                None => None,
                Some(before) if before.client_status != now.client_status => Some(format!(
                    "status {} -> {}",
                    before.client_status, now.client_status
                )),
                Some(before) if now.migrating && !before.migrating => {
                    Some("marked for migration".to_string())
                }
                Some(before)
                    if now.migrating
                        && before.desired_status != now.desired_status
                        && now.desired_status == AllocDesiredStatus::Stop =>
                {
                    Some("draining".to_string())
                }
                Some(_) => None,
            };
            if let Some(change) = change {
                let text = format!("Alloc {:?} {change}", alloc.id);
                messages.push(DrainMessage::new(Level::Normal, text));
            }
            let system = alloc
                .job
                .as_ref()
                .is_some_and(|job| job.r#type == Some(JobType::System));
            if self.ignore_system && system {
                continue;
            }
            if alloc.client_status == AllocClientStatus::Pending
                || alloc.client_status == AllocClientStatus::Running
            {
                running += 1;
            }
        }
        if running == 0 {
            let text = format!("All allocations on node {:?} have stopped", self.node_id);
            messages.push(DrainMessage::new(Level::Info, text));
            return (messages, true);
        }
        (messages, false)
    }
}

/// Where the monitor reads the node and its allocations from.
pub trait DrainSource: Send + Sync + 'static {
    /// The node, once its index passes `index` (a plain read when 0).
    fn node(&self, node_id: &str, index: u64) -> Result<Indexed<Node>, ApiError>;
    /// The node's allocations, once their index passes `index` (a plain read when 0).
    fn allocations(&self, node_id: &str, index: u64) -> Result<Indexed<Vec<Allocation>>, ApiError>;
}

impl DrainSource for ApiClient {
    fn node(&self, node_id: &str, index: u64) -> Result<Indexed<Node>, ApiError> {
        let options = QueryOptions::blocking(index, BLOCKING_WAIT);
        self.run(|api| api.node(node_id, options))
    }

    fn allocations(&self, node_id: &str, index: u64) -> Result<Indexed<Vec<Allocation>>, ApiError> {
        let options = QueryOptions::blocking(index, BLOCKING_WAIT);
        self.run(|api| api.node_allocations(node_id, options))
    }
}

/// Runs both watchers until they are done (or one reports an error) and hands each
/// message to `emit` as it arrives. `index` is the node index to wait past first (the
/// drain update's, or the node read's with `-monitor`).
pub fn monitor_drain<S: DrainSource>(
    source: Arc<S>,
    node_id: &str,
    index: u64,
    ignore_system: bool,
    mut emit: impl FnMut(&DrainMessage),
) {
    let (tx, rx) = mpsc::channel::<DrainMessage>();
    // Set when the monitor returns, so a watcher still polling stops at its next turn.
    let stop = Arc::new(AtomicBool::new(false));
    {
        let (source, tx, node_id) = (Arc::clone(&source), tx.clone(), node_id.to_string());
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut watch = NodeWatch::new(&node_id);
            let mut index = index;
            while !stop.load(Ordering::Relaxed) {
                let read = match source.node(&node_id, index) {
                    Ok(read) => read,
                    Err(e) => {
                        let text = format!("Error monitoring node: {e}");
                        let _ = tx.send(DrainMessage::new(Level::Error, text));
                        return;
                    }
                };
                let (messages, done) = watch.observe(&read.value);
                for message in messages {
                    if tx.send(message).is_err() {
                        return;
                    }
                }
                if done {
                    return;
                }
                index = next_index(index, read.index);
            }
        });
    }
    {
        let (source, node_id) = (Arc::clone(&source), node_id.to_string());
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut watch = AllocWatch::new(&node_id, ignore_system);
            let mut index = 0;
            while !stop.load(Ordering::Relaxed) {
                let read = match source.allocations(&node_id, index) {
                    Ok(read) => read,
                    Err(e) => {
                        let text = format!("Error monitoring allocations: {e}");
                        let _ = tx.send(DrainMessage::new(Level::Error, text));
                        return;
                    }
                };
                let (messages, done) = watch.observe(&read.value);
                for message in messages {
                    if tx.send(message).is_err() {
                        return;
                    }
                }
                if done {
                    return;
                }
                index = next_index(index, read.index);
            }
        });
    }
    // Ends when both watchers have dropped their senders, or on the first error.
    for message in rx {
        emit(&message);
        if message.level == Level::Error {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
}

/// The index to block on next. An answer without an index (0) would turn the next
/// blocking query into a plain read and the loop into a busy one: wait a little instead.
fn next_index(previous: u64, answered: u64) -> u64 {
    if answered == 0 {
        std::thread::sleep(std::time::Duration::from_millis(500));
        return previous;
    }
    answered
}

#[cfg(test)]
#[path = "drain_monitor_tests.rs"]
mod tests;
