//! Nomad's `BinPackIterator`, as checkers: the group's ports first (`network: ...` when
//! they do not fit), then room for its cpu, memory, disk and cores (`cpu`, `memory`,
//! `disk`, `cores`). What each candidate's live allocations and the plan's placements
//! use is read from the state on the first visit and kept up to date by the placer.

use std::collections::HashSet;
use std::sync::Arc;

use caravan_structs::{
    AllocId, AllocatedPortMapping, Allocation, NetworkResource, Node, NodeId, ResourceUsage,
    Resources,
};

use super::candidates::{Candidates, Capacity};
use super::feasibility::Rejection;
use crate::SchedulerState;
use crate::ports::{self, DynamicRange, UsedPorts};
use crate::shuffle::SplitMix64;

/// Nomad's `AllocsFit` for cpu, memory and disk: whether `allocs` together fit what
/// `node` can hand out, or the first dimension (in the bin-packer's order) they exceed.
pub fn allocs_fit<'a>(
    node: &Node,
    allocs: impl IntoIterator<Item = &'a Allocation>,
) -> Result<(), &'static str> {
    let mut used = ResourceUsage::default();
    for alloc in allocs {
        used += ResourceUsage::of(alloc);
    }
    usage_fits(node, &used)
}

/// Whether `used` fits what `node` can hand out in cpu, memory and disk, or the first
/// dimension (in the bin-packer's order) it exceeds: the plan applier's re-check of a
/// plan against the newest state.
pub fn usage_fits(node: &Node, used: &ResourceUsage) -> Result<(), &'static str> {
    let (cpu, memory_mb) = node.allocatable();
    let disk_mb = node.allocatable_disk_mb();
    if used.cpu > cpu {
        Err("cpu")
    } else if used.memory_mb > memory_mb {
        Err("memory")
    } else if disk_mb > 0 && used.disk_mb > disk_mb {
        Err("disk")
    } else {
        Ok(())
    }
}

/// First visits whose usage is looked up one by one before the rest is read in one walk
/// (see [`NodeLoads::read_all_usage`]): a small evaluation visits only a few of many
/// candidates and need not walk them all, a large one visits them all; at most a
/// thirtieth of them are looked up before the walk.
fn usage_lookups_max(candidates: usize) -> usize {
    (candidates / 32).max(64)
}

/// The node's cores (`cpu.numcores`).
fn node_cores(node: &Node) -> i64 {
    node.attributes
        .get("cpu.numcores")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// A candidate's cpu and memory once the placement is added, and what it can hand out:
/// what the fit is scored on.
pub(super) struct Load {
    pub(super) cpu: i64,
    pub(super) memory_mb: i64,
    pub(super) capacity: Capacity,
}

/// One candidate's capacity and what its live allocations (and the plan's placements)
/// use, side by side in half a cache line: a visit reads both, candidates are visited in
/// shuffled order, and each visit's first read of its slot was a cache miss (5% of the
/// server's time with 64-byte slots, which did not fit a core's cache for 10,000
/// candidates). Figures are MHz and MiB in 32 bits: 2^31 of either is past any node, and
/// a figure beyond it is clamped (a usage that large fits nowhere either way).
#[derive(Clone, Copy)]
#[repr(C, align(32))]
struct Slot {
    /// cpu, memory, disk.
    capacity: [i32; 3],
    /// cpu, memory, disk, cores; meaningful once `read`.
    used: [i32; 4],
    /// Whether `used` was read from the state (on first visit).
    read: bool,
}

const _: () = assert!(std::mem::size_of::<Slot>() == 32);

fn narrow(figure: i64) -> i32 {
    figure.clamp(i32::MIN.into(), i32::MAX.into()) as i32
}

impl Slot {
    fn new(capacity: Capacity) -> Slot {
        Slot {
            capacity: [capacity.cpu, capacity.memory_mb, capacity.disk_mb].map(narrow),
            used: [0; 4],
            read: false,
        }
    }

    fn capacity(&self) -> Capacity {
        let [cpu, memory_mb, disk_mb] = self.capacity.map(i64::from);
        Capacity {
            cpu,
            memory_mb,
            disk_mb,
        }
    }

    fn used(&self) -> Option<ResourceUsage> {
        let [cpu, memory_mb, disk_mb, cores] = self.used.map(i64::from);
        self.read.then_some(ResourceUsage {
            cpu,
            memory_mb,
            disk_mb,
            cores,
        })
    }

    fn set_used(&mut self, used: ResourceUsage) {
        self.used = [used.cpu, used.memory_mb, used.disk_mb, used.cores].map(narrow);
        self.read = true;
    }
}

/// Per candidate: capacity, usage and ports, and the port offers of one placement.
pub(super) struct NodeLoads<'a> {
    state: &'a dyn SchedulerState,
    /// Allocations the plan stops: they free their resources.
    stopping: HashSet<AllocId>,
    /// The nodes those are on: elsewhere the state's usage is what stays.
    stopping_on: HashSet<NodeId>,
    /// Per candidate: what it can hand out and what its live allocations use.
    slots: Vec<Slot>,
    /// The candidates, whose usage is read all at once after [`usage_lookups_max`]
    /// first visits.
    candidates: Arc<Candidates>,
    /// Usage read one candidate at a time so far; `None` once all was read.
    usage_lookups: Option<usize>,
    /// Per candidate: the ports its live allocations (and the plan's) hold, read on the
    /// first visit by a group with a network.
    ports: Vec<Option<UsedPorts>>,
    /// Draws dynamic ports; seeded by the evaluation, so its placements are reproducible.
    port_rng: SplitMix64,
    /// The port offers of the nodes scored for the current placement.
    offers: Vec<(usize, Vec<AllocatedPortMapping>)>,
}

impl<'a> NodeLoads<'a> {
    pub(super) fn new(
        state: &'a dyn SchedulerState,
        stopping: &[&Allocation],
        candidates: Arc<Candidates>,
        seed: u64,
    ) -> NodeLoads<'a> {
        let n = candidates.nodes.len();
        let slots = candidates
            .capacity
            .iter()
            .map(|&capacity| Slot::new(capacity))
            .collect();
        NodeLoads {
            state,
            stopping: stopping.iter().map(|a| a.id.clone()).collect(),
            stopping_on: stopping.iter().map(|a| a.node_id.clone()).collect(),
            slots,
            candidates,
            usage_lookups: Some(0),
            ports: vec![None; n],
            // Another stream than the shuffle's, from the same evaluation seed.
            port_rng: SplitMix64::new(seed ^ 0x706f_7274_7321),
            offers: Vec::new(),
        }
    }

    /// Whether the plan stops the allocation `id`.
    pub(super) fn is_stopping(&self, id: &AllocId) -> bool {
        self.stopping.contains(id)
    }

    /// The live allocations on `node` that the plan keeps.
    fn live_allocs(&self, node: &Node) -> impl Iterator<Item = std::sync::Arc<Allocation>> {
        self.state
            .allocs_by_node(&node.id)
            .into_iter()
            .filter(|alloc| !alloc.terminal() && !self.stopping.contains(&alloc.id))
    }

    /// What candidate `i`'s live allocations (and the plan's placements) use.
    fn usage_of(&mut self, i: usize, node: &Node) -> ResourceUsage {
        if let Some(used) = self.slots[i].used() {
            return used;
        }
        let used = if self.stopping_on.contains(&node.id) {
            let mut staying = ResourceUsage::default();
            for alloc in self.live_allocs(node) {
                staying += ResourceUsage::of(&alloc);
            }
            staying
        } else if self
            .usage_lookups
            .is_some_and(|lookups| lookups >= usage_lookups_max(self.slots.len()))
        {
            // Fills every candidate the plan stops nothing on, this one included.
            self.read_all_usage();
            self.slots[i]
                .used()
                .unwrap_or_else(|| self.state.node_usage(&node.id))
        } else {
            if let Some(lookups) = self.usage_lookups.as_mut() {
                *lookups += 1;
            }
            self.state.node_usage(&node.id)
        };
        self.slots[i].set_used(used);
        used
    }

    /// Reads the usage of every candidate not visited yet (but those the plan stops
    /// allocations on) in one walk of the state.
    fn read_all_usage(&mut self) {
        self.usage_lookups = None;
        let slots = &mut self.slots;
        let stopping_on = &self.stopping_on;
        let nodes = &self.candidates.nodes;
        self.state.node_usages(nodes, &mut |i, used| {
            let slot = &mut slots[i];
            if !slot.read && !stopping_on.contains(&nodes[i].id) {
                slot.set_used(used);
            }
        });
    }

    /// The ports candidate `i`'s live allocations (and the plan's placements) hold.
    fn ports_of(&mut self, i: usize, node: &Node) -> &mut UsedPorts {
        if self.ports[i].is_none() {
            let mut taken = UsedPorts::default();
            for alloc in self.live_allocs(node) {
                for port in alloc.allocated_resources.shared.host_ports() {
                    taken.insert(port);
                }
            }
            self.ports[i] = Some(taken);
        }
        self.ports[i]
            .as_mut()
            .expect("the node's ports were just read")
    }

    /// The port checker: the ports `ask` gets on candidate `i`, kept as its offer for
    /// this placement.
    pub(super) fn assign_ports(
        &mut self,
        i: usize,
        node: &Node,
        ask: &NetworkResource,
    ) -> Result<(), Rejection> {
        self.ports_of(i, node);
        let taken = self.ports[i]
            .as_ref()
            .expect("the node's ports were just read");
        let offer = ports::assign_ports(
            ask,
            taken,
            ports::node_ip(node),
            DynamicRange::default(),
            &mut self.port_rng,
        )
        .map_err(|e| Rejection::Exhausted(format!("network: {e}").into()))?;
        self.offers.push((i, offer));
        Ok(())
    }

    /// The resource checker: room on candidate `i` for `want`, in Nomad's order of
    /// dimensions.
    pub(super) fn check_room(
        &mut self,
        i: usize,
        node: &Node,
        want: &Resources,
    ) -> Result<Load, Rejection> {
        let used = self.usage_of(i, node);
        let capacity = self.slots[i].capacity();
        let cpu = used.cpu + want.cpu;
        let memory_mb = used.memory_mb + want.memory_mb;
        if cpu > capacity.cpu {
            return Err(Rejection::Exhausted("cpu".into()));
        }
        if memory_mb > capacity.memory_mb {
            return Err(Rejection::Exhausted("memory".into()));
        }
        if capacity.disk_mb > 0 && used.disk_mb + want.disk_mb > capacity.disk_mb {
            return Err(Rejection::Exhausted("disk".into()));
        }
        // Nomad reserves whole cores: a node has only so many. Read only for a group
        // that asks for cores (a lookup among the node's attributes).
        if want.cores > 0 && used.cores + want.cores > node_cores(node) {
            return Err(Rejection::Exhausted("cores".into()));
        }
        Ok(Load {
            cpu,
            memory_mb,
            capacity,
        })
    }

    /// The ports offered to candidate `i` in this placement (empty without a network),
    /// forgetting the other offers.
    pub(super) fn take_offer(&mut self, i: usize) -> Vec<AllocatedPortMapping> {
        let ports = match self.offers.iter().position(|(at, _)| *at == i) {
            Some(at) => self.offers.swap_remove(at).1,
            None => Vec::new(),
        };
        self.offers.clear();
        ports
    }

    /// Forgets the offers of the last placement.
    pub(super) fn clear_offers(&mut self) {
        self.offers.clear();
    }

    /// Counts `alloc`, placed by the plan on candidate `i` with `cores` whole cores.
    pub(super) fn add(&mut self, i: usize, node: &Node, alloc: &Allocation, cores: i64) {
        let mut used = self.usage_of(i, node);
        used += ResourceUsage {
            cores,
            ..ResourceUsage::of(alloc)
        };
        self.slots[i].set_used(used);
        let shared = &alloc.allocated_resources.shared;
        if !shared.ports.is_empty() || !shared.networks.is_empty() {
            let taken = self.ports_of(i, node);
            for port in shared.host_ports() {
                taken.insert(port);
            }
        }
    }
}
