//! The state store: every job, evaluation, allocation and node the servers know.
//!
//! Readers take a [`Snapshot`] (an `Arc` of persistent maps) and keep it as long as they
//! like while writers go on; a write clones the current snapshot's maps (cheap: imbl maps
//! share structure), applies one [`Command`], bumps the index and publishes the result.
//! Every write gets the next index; [`StateStore::wait_past`] lets blocking queries sleep
//! until the index moves past what the caller has seen.
//!
//! Commands are the unit a replicated log would carry: [`StateStore::apply`] is the FSM.

mod apply;
mod deployments;
pub mod events;
mod scaling;
mod security;
mod services;
mod shared_jobs;
mod snapshot;
mod summary;
mod variables;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use caravan_structs::NodeId;

use arc_swap::ArcSwap;
use tokio::sync::watch;

pub use apply::{AllocStopped, Command, Refused};
pub use deployments::DeploymentCommand;
pub use scaling::ScalingIndexes;
pub use security::{SecurityCommand, SecurityIndexes, bootstrap_done_message};
pub use services::ServiceCommand;
pub use snapshot::Snapshot;
pub use variables::{KEYRING_INITIALIZED, VARIABLE_CONFLICT, VariableCommand, new_lock};

/// The store. Cheap to share (`Arc<StateStore>`); writes are serialized.
pub struct StateStore {
    current: ArcSwap<Snapshot>,
    // One writer at a time. The lock is held only while applying, never across an await.
    writer: Mutex<()>,
    latest_index: watch::Sender<u64>,
    /// Every command applied, in order, when the store records them
    /// ([`StateStore::recording`]): a replicated log's entries.
    log: Option<Mutex<Vec<Command>>>,
    /// The newest writes' events, for `/v1/event/stream`; written under `writer`.
    events: Mutex<events::EventBuffer>,
    /// The nodes whose clients' long-polls wait for their allocations to change, each
    /// told the index of every write that changes them.
    node_waiters: Mutex<HashMap<NodeId, watch::Sender<u64>>>,
}

impl Default for StateStore {
    fn default() -> Self {
        StateStore::new()
    }
}

impl StateStore {
    /// An empty store at index 0.
    pub fn new() -> StateStore {
        let (latest_index, _) = watch::channel(0);
        StateStore {
            current: ArcSwap::from_pointee(Snapshot::default()),
            writer: Mutex::new(()),
            latest_index,
            log: None,
            events: Mutex::new(events::EventBuffer::new(events::DEFAULT_EVENT_BUFFER_SIZE)),
            node_waiters: Mutex::default(),
        }
    }

    /// Keeps the events of the latest `size` writes (Nomad's `event_buffer_size`); 0
    /// derives none (`enable_event_broker = false`). Set before the first write.
    pub fn set_event_buffer_size(&self, size: usize) {
        *self.events.lock().unwrap_or_else(|p| p.into_inner()) = events::EventBuffer::new(size);
    }

    /// Whether writes make events (a non-zero buffer).
    pub fn events_enabled(&self) -> bool {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .enabled()
    }

    /// The buffered event batches at index `from` or later, oldest first, and the
    /// store's index when they were read: a follower of the stream next waits past it.
    pub fn events_since(&self, from: u64) -> (Vec<Arc<events::EventBatch>>, u64) {
        let (batches, latest) = {
            let buffer = self.events.lock().unwrap_or_else(|p| p.into_inner());
            (buffer.since(from), *self.latest_index.borrow())
        };
        // Packed outside the lock (the first reader of a batch packs it), without
        // holding up the writes.
        (batches.iter().map(|b| b.packed()).collect(), latest)
    }

    /// An empty store that keeps every command it applies, for [`StateStore::recorded`].
    pub fn recording() -> StateStore {
        StateStore {
            log: Some(Mutex::new(Vec::new())),
            ..StateStore::new()
        }
    }

    /// The commands applied so far, in order (empty unless [`StateStore::recording`]).
    pub fn recorded(&self) -> Vec<Command> {
        self.log.as_ref().map_or_else(Vec::new, |log| {
            log.lock().unwrap_or_else(|p| p.into_inner()).clone()
        })
    }

    /// The latest committed state. Holding it does not block writers.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Applies one command as one write and returns its index. For commands that may be
    /// refused (a job registration) use [`StateStore::try_apply`]: here a refusal leaves
    /// the state as it was and answers its index.
    pub fn apply(&self, command: Command) -> u64 {
        self.try_apply(command)
            .unwrap_or_else(|_| self.current.load().index)
    }

    /// Applies one command as one write and returns its index, or why the state refused
    /// it (nothing written, no index used). The check runs under the writer lock, on the
    /// state the write would change.
    pub fn try_apply(&self, command: Command) -> Result<u64, Refused> {
        self.apply_locked(command, None)
    }

    /// [`StateStore::try_apply`] at a given index: a replicated log's, where entries the
    /// store never sees (elections, membership changes) use indexes too. When the state
    /// already stands at or above it (after an operator's restore), the write gets the
    /// next index instead.
    pub fn try_apply_at(&self, command: Command, index: u64) -> Result<u64, Refused> {
        self.apply_locked(command, Some(index))
    }

    fn apply_locked(&self, command: Command, at: Option<u64>) -> Result<u64, Refused> {
        // A poisoned lock only means another writer panicked mid-apply; the published
        // snapshot is still the last complete one, so writing on is safe.
        let _guard = self
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let current = self.current.load();
        // A log's index, unless a restored state already stands above it (an operator
        // restored a snapshot taken at a later index than this log has reached):
        // indexes only ever grow, and every server derives the same ones from the
        // same log.
        let index = at.unwrap_or(0).max(current.index + 1);
        current.check(&command)?;
        // A restored state may change any node's allocations.
        let restoring = matches!(command, Command::RestoreSnapshot { .. });
        let mut next = Snapshot::clone(&current);
        next.index = index;
        if let Some(log) = &self.log {
            log.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(command.clone());
        }
        let mut events = self.events.lock().unwrap_or_else(|p| p.into_inner());
        let sources = events
            .enabled()
            .then(|| events::EventSources::of(&command, &current));
        next.apply(command, index);
        if let Some(sources) = sources {
            let batch = sources.events(&next, index);
            events.push(index, batch);
        }
        drop(events);
        // A restore may have raised it past its own index (see `Command::RestoreSnapshot`).
        let index = next.index;
        let changed_nodes = std::mem::take(&mut next.allocs_changed_on.0);
        self.current.store(Arc::new(next));
        self.latest_index.send_replace(index);
        self.wake_node_waiters(index, (!restoring).then_some(&changed_nodes));
        Ok(index)
    }

    /// Tells the long-polls of `nodes` (of every waiting node for `None`) that their
    /// allocations changed at `index`.
    fn wake_node_waiters(&self, index: u64, nodes: Option<&[NodeId]>) {
        let waiters = self.node_waiters.lock().unwrap_or_else(|p| p.into_inner());
        if waiters.is_empty() {
            return;
        }
        match nodes {
            Some(nodes) => {
                for node_id in nodes {
                    if let Some(waiter) = waiters.get(node_id) {
                        waiter.send_if_modified(|seen| std::mem::replace(seen, index) != index);
                    }
                }
            }
            None => {
                for waiter in waiters.values() {
                    waiter.send_replace(index);
                }
            }
        }
    }

    /// Replaces the whole state with `snapshot` (a replicated log's snapshot installed,
    /// an operator's restore). Blocking queries wake when its index is above theirs.
    pub fn restore(&self, mut snapshot: Snapshot) {
        let _guard = self
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let index = snapshot.index;
        // Whatever the clients listed before, they list everything again.
        snapshot.alloc_removals = snapshot::AllocRemovals::known_from(index);
        self.current.store(Arc::new(snapshot));
        self.latest_index.send_replace(index);
        self.wake_node_waiters(index, None);
    }

    /// Waits until a write with an index above `index` happens, or `timeout` passes.
    /// Returns the latest snapshot either way. Callers re-check their own table index
    /// and call again if what they watch did not move.
    pub async fn wait_past(&self, index: u64, timeout: Duration) -> Arc<Snapshot> {
        let mut receiver = self.latest_index.subscribe();
        let _ = tokio::time::timeout(timeout, receiver.wait_for(|latest| *latest > index)).await;
        self.snapshot()
    }

    /// Waits until the allocations of `node_id` stand past `index` (placed, updated by
    /// a scheduler, removed) or `timeout` passes; returns the latest snapshot either
    /// way. Only the node's own changes wake it: thousands of clients long-poll at once,
    /// and waking each of them on every write cost more than the writes.
    pub async fn wait_node_allocs_past(
        &self,
        node_id: &NodeId,
        index: u64,
        timeout: Duration,
    ) -> Arc<Snapshot> {
        let mut changed = {
            let mut waiters = self.node_waiters.lock().unwrap_or_else(|p| p.into_inner());
            waiters
                .entry(node_id.clone())
                .or_insert_with(|| watch::channel(0).0)
                .subscribe()
        };
        let deadline = tokio::time::Instant::now() + timeout;
        // Read after subscribing: a write published before this read is in it, one
        // published after wakes the receiver. A wake without a change (a restore wakes
        // every node) waits on.
        let snapshot = loop {
            let snapshot = self.snapshot();
            if snapshot.node_allocs_index(node_id) > index {
                break snapshot;
            }
            // Not held while waiting: thousands of clients wait at once, and the
            // versions they started from would all stay in memory.
            drop(snapshot);
            match tokio::time::timeout_at(deadline, changed.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => break self.snapshot(),
            }
        };
        drop(changed);
        let mut waiters = self.node_waiters.lock().unwrap_or_else(|p| p.into_inner());
        if waiters
            .get(node_id)
            .is_some_and(|waiter| waiter.receiver_count() == 0)
        {
            waiters.remove(node_id);
        }
        drop(waiters);
        snapshot
    }

    /// Runs `query` on snapshots until the index it reports is above `min_index` or
    /// `wait` has passed (Nomad's blocking query). With `min_index` 0 it answers at once.
    pub async fn blocking_query<T>(
        &self,
        min_index: u64,
        wait: Duration,
        query: impl Fn(&Snapshot) -> (T, u64),
    ) -> (T, u64) {
        self.answer_past(min_index, wait, |snapshot| query(snapshot))
            .await
    }

    /// The newest snapshot once `index_of` it is above `min_index` or `wait` has
    /// passed, with that index: [`StateStore::blocking_query`] for callers that read
    /// more than one thing from the snapshot.
    pub async fn snapshot_past(
        &self,
        min_index: u64,
        wait: Duration,
        index_of: impl Fn(&Snapshot) -> u64,
    ) -> (Arc<Snapshot>, u64) {
        self.answer_past(min_index, wait, |snapshot| {
            (snapshot.clone(), index_of(snapshot))
        })
        .await
    }

    async fn answer_past<T>(
        &self,
        min_index: u64,
        wait: Duration,
        answer: impl Fn(&Arc<Snapshot>) -> (T, u64),
    ) -> (T, u64) {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let snapshot = self.snapshot();
            let (result, index) = answer(&snapshot);
            let now = tokio::time::Instant::now();
            if min_index == 0 || index > min_index || now >= deadline {
                return (result, index.max(1));
            }
            let seen = snapshot.index;
            // Neither is held while waiting: thousands of queries wait at once, and
            // the versions they started from would all stay in memory.
            drop((result, snapshot));
            self.wait_past(seen, deadline - now).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restored_state_above_the_log_keeps_indexes_growing() {
        let store = StateStore::new();
        let restored = Snapshot {
            index: 500,
            ..Snapshot::default()
        };
        let restore = Command::RestoreSnapshot {
            state: Box::new(restored),
        };
        // Restored at log index 20 in a new cluster: above the state's own 500.
        assert_eq!(store.try_apply_at(restore, 20), Ok(501));
        assert_eq!(store.snapshot().table_index().jobs, 501);
        let write = || Command::EvalsUpsert { evals: Vec::new() };
        assert_eq!(store.try_apply_at(write(), 21), Ok(502));
        // Once the log passes the restored state, its indexes are used again.
        assert_eq!(store.try_apply_at(write(), 900), Ok(900));
    }

    fn place_on(store: &StateStore, alloc_id: &str, node: &str) -> u64 {
        let job = caravan_testkit::job("web").build();
        let alloc = caravan_testkit::alloc(alloc_id, &job, node).build();
        store.apply(Command::JobRegister {
            job,
            eval: None,
            now: 1,
            enforce_index: None,
        });
        place(store, vec![alloc])
    }

    /// A plan that places `allocs` and nothing else; answers its index.
    fn place(store: &StateStore, allocs: Vec<caravan_structs::Allocation>) -> u64 {
        store.apply(Command::plan_apply(
            &[],
            allocs,
            Vec::new(),
            2,
            None,
            Vec::new(),
        ))
    }

    /// A client's long-poll on `node`'s allocations past `index`, waiting in a task.
    fn long_poll(
        store: &Arc<StateStore>,
        node: &str,
        index: u64,
    ) -> tokio::task::JoinHandle<Arc<Snapshot>> {
        let (store, node) = (store.clone(), NodeId::from(node));
        tokio::spawn(async move {
            store
                .wait_node_allocs_past(&node, index, Duration::from_secs(30))
                .await
        })
    }

    /// A client's report that allocation `id` is now `status`.
    fn report_status(store: &StateStore, id: &str, status: caravan_structs::AllocClientStatus) {
        store.apply(Command::AllocClientUpdate {
            updates: vec![caravan_structs::AllocClientUpdate {
                id: id.into(),
                client_status: status,
                ..Default::default()
            }],
            now: 3,
            evals: Vec::new(),
        });
    }

    #[test]
    fn a_nodes_usage_follows_its_live_allocations() {
        use caravan_structs::{AllocClientStatus, ResourceUsage};
        let store = StateStore::new();
        let job = caravan_testkit::job("web").build();
        let alloc = |id: &str, node: &str, cpu: i64| {
            let mut alloc = caravan_testkit::alloc(id, &job, node)
                .client(AllocClientStatus::Pending)
                .build();
            alloc.allocated_resources = caravan_testkit::allocated("web", cpu, 10 * cpu, 100);
            alloc
        };
        store.apply(Command::JobRegister {
            job: job.clone(),
            eval: None,
            now: 1,
            enforce_index: None,
        });
        let placements = vec![
            alloc("a", "n1", 100),
            alloc("b", "n1", 200),
            alloc("c", "n2", 50),
        ];
        place(&store, placements);
        let usage = |node: &str| store.snapshot().node_usage(node);
        let held = |cpu: i64, disk_mb: i64| ResourceUsage {
            cpu,
            memory_mb: 10 * cpu,
            disk_mb,
            cores: 0,
        };
        assert_eq!(usage("n1"), held(300, 200));
        assert_eq!(usage("n2"), held(50, 100));
        let report = |id: &str, status| report_status(&store, id, status);
        // Running holds what pending did; a finished allocation holds nothing.
        report("a", AllocClientStatus::Running);
        assert_eq!(usage("n1"), held(300, 200));
        report("b", AllocClientStatus::Complete);
        assert_eq!(usage("n1"), held(100, 100));
        report("c", AllocClientStatus::Failed);
        assert_eq!(usage("n2"), ResourceUsage::default());
        // A decoded state counts the same.
        let snapshot = store.snapshot();
        let bytes = rmp_serde::to_vec_named(&*snapshot).unwrap();
        let decoded: Snapshot = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(decoded.node_usage("n1"), held(100, 100));
        assert_eq!(decoded, *snapshot);
    }

    #[test]
    fn usages_read_in_one_walk_match_lookups_in_any_order() {
        use caravan_structs::{NodeId, ResourceUsage};
        let store = StateStore::new();
        let job = caravan_testkit::job("web").build();
        store.apply(Command::JobRegister {
            job: job.clone(),
            eval: None,
            now: 1,
            enforce_index: None,
        });
        let placements = [("a", "n2", 100), ("b", "n4", 200), ("c", "n4", 50)]
            .into_iter()
            .map(|(id, node, cpu)| {
                let mut alloc = caravan_testkit::alloc(id, &job, node).build();
                alloc.allocated_resources = caravan_testkit::allocated("web", cpu, cpu, 0);
                alloc
            })
            .collect();
        place(&store, placements);
        let snapshot = store.snapshot();
        // In ID order, with nodes that hold nothing before, between and after; then out
        // of order, and a node twice.
        for order in [
            &["n1", "n2", "n3", "n4", "n5"][..],
            &["n4", "n2", "n5", "n1", "n4", "n2"][..],
        ] {
            let ids: Vec<NodeId> = order.iter().map(|id| NodeId::from(*id)).collect();
            let mut walked = vec![None; ids.len()];
            snapshot.node_usages(&ids, |i, used| walked[i] = Some(used));
            let looked_up: Vec<Option<ResourceUsage>> =
                ids.iter().map(|id| Some(snapshot.node_usage(id))).collect();
            assert_eq!(walked, looked_up, "{order:?}");
        }
        assert_eq!(snapshot.node_usage("n4").cpu, 250);
    }

    #[test]
    fn a_job_summary_counts_its_allocations_as_they_change() {
        use caravan_structs::{AllocClientStatus, AllocDesiredStatus, TaskGroupSummary};
        let store = StateStore::new();
        let job = caravan_testkit::job("web").canonical();
        let pending = |id: &str| {
            caravan_testkit::alloc(id, &job, "n1")
                .client(AllocClientStatus::Pending)
                .build()
        };
        store.apply(Command::JobRegister {
            job: job.clone(),
            eval: None,
            now: 1,
            enforce_index: None,
        });
        let mut stopped = pending("d");
        stopped.desired_status = AllocDesiredStatus::Stop;
        let mut elsewhere = pending("e");
        elsewhere.task_group = "gone".into();
        let placements = vec![pending("a"), pending("b"), pending("c"), stopped, elsewhere];
        place(&store, placements);
        let counts = |group: &str| {
            let summary = store.snapshot().job_summary("default", "web").unwrap();
            summary.summary.get(group).cloned()
        };
        let group = job.task_groups[0].name.clone();
        // One the scheduler stopped before it ran counts nowhere; a group the job no
        // longer has is still listed while it has allocations.
        let starting = |n| TaskGroupSummary {
            starting: n,
            ..TaskGroupSummary::default()
        };
        assert_eq!(counts(&group), Some(starting(3)));
        assert_eq!(counts("gone"), Some(starting(1)));
        let report = |id: &str, status| report_status(&store, id, status);
        report("a", AllocClientStatus::Running);
        report("b", AllocClientStatus::Running);
        report("c", AllocClientStatus::Failed);
        report("b", AllocClientStatus::Complete);
        let expected = TaskGroupSummary {
            running: 1,
            complete: 1,
            failed: 1,
            ..TaskGroupSummary::default()
        };
        assert_eq!(counts(&group), Some(expected.clone()));
        // Collected allocations leave the counts (the summary shows it when the job is
        // next written, as it always has).
        report("e", AllocClientStatus::Complete);
        store.apply(Command::GarbageCollect {
            evals: Vec::new(),
            allocs: vec!["e".into(), "c".into()],
            jobs: Vec::new(),
            nodes: Vec::new(),
            deployments: Vec::new(),
        });
        let snapshot = store.snapshot();
        let counted = snapshot
            .alloc_counts(&("default".to_string(), "web".into()))
            .cloned();
        let without_failed = TaskGroupSummary {
            failed: 0,
            ..expected
        };
        assert_eq!(counted, Some([(group.clone(), without_failed)].into()));
        // A decoded state counts the same.
        let bytes = rmp_serde::to_vec_named(&*snapshot).unwrap();
        let decoded: Snapshot = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(decoded, *snapshot);
    }

    #[test]
    fn a_node_that_lost_an_allocation_says_so_and_a_restored_state_cannot_tell() {
        let store = StateStore::new();
        place_on(&store, "a0", "n1");
        let placed = place_on(&store, "b0", "n2");
        assert!(!store.snapshot().node_allocs_removed_since("n1", 1));
        let collected = store.apply(Command::GarbageCollect {
            evals: Vec::new(),
            allocs: vec!["a0".into()],
            jobs: Vec::new(),
            nodes: Vec::new(),
            deployments: Vec::new(),
        });
        let snapshot = store.snapshot();
        assert!(snapshot.node_allocs_removed_since("n1", collected - 1));
        assert!(!snapshot.node_allocs_removed_since("n1", collected));
        assert!(!snapshot.node_allocs_removed_since("n2", placed));

        // Decoded (a replicated log's snapshot) or restored, a state does not know what
        // was removed before it, on any node; what it removes next, it knows.
        let bytes = rmp_serde::to_vec_named(&*snapshot).unwrap();
        let decoded: Snapshot = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(decoded, *snapshot);
        assert!(decoded.node_allocs_removed_since("n2", collected - 1));
        assert!(!decoded.node_allocs_removed_since("n2", collected));
        let restored = StateStore::new();
        restored.restore(Snapshot::clone(&snapshot));
        assert!(
            restored
                .snapshot()
                .node_allocs_removed_since("n2", collected - 1)
        );
        let at = restored.apply(Command::RestoreSnapshot {
            state: Box::new(Snapshot::clone(&snapshot)),
        });
        assert!(restored.snapshot().node_allocs_removed_since("n2", at - 1));
        assert!(!restored.snapshot().node_allocs_removed_since("n2", at));
    }

    #[tokio::test]
    async fn a_long_poll_wakes_for_its_own_nodes_allocations_only() {
        let store = Arc::new(StateStore::new());
        let n1: NodeId = "n1".into();
        let seen = place_on(&store, "a0", "n1");
        let read_by_the_waiter = store.snapshot();
        let waiting = long_poll(&store, "n1", seen);
        tokio::time::sleep(Duration::from_millis(50)).await;
        place_on(&store, "b0", "n2");
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "woken by another node's allocation");
        // It does not keep the state it read while it waits: ten thousand waiting
        // clients would keep as many old versions alive.
        assert_eq!(Arc::strong_count(&read_by_the_waiter), 1);
        let placed = place_on(&store, "a1", "n1");
        let woken = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("not woken by its own node's allocation")
            .expect("the waiter panicked");
        assert_eq!(woken.node_allocs_index(&n1), placed);
        // Nobody waits any more: the store forgets the node.
        assert!(store.node_waiters.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_long_poll_answers_at_once_when_its_node_already_moved_and_a_restore_wakes_all() {
        let store = Arc::new(StateStore::new());
        let n1: NodeId = "n1".into();
        let placed = place_on(&store, "a0", "n1");
        let at_once = tokio::time::timeout(
            Duration::from_secs(5),
            store.wait_node_allocs_past(&n1, placed - 1, Duration::from_secs(30)),
        )
        .await
        .expect("waited although the node's allocations had moved");
        assert_eq!(at_once.node_allocs_index(&n1), placed);

        let waiting = long_poll(&store, "n1", placed);
        tokio::time::sleep(Duration::from_millis(50)).await;
        // A state where n1 holds one more allocation, restored as a whole: no write
        // names n1, yet its long-poll must answer.
        let elsewhere = StateStore::new();
        place_on(&elsewhere, "a0", "n1");
        place_on(&elsewhere, "a1", "n1");
        store.restore(Snapshot::clone(&elsewhere.snapshot()));
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("a restore did not wake the long-poll")
            .expect("the waiter panicked");
    }
}
