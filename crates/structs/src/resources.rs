//! Resource requests of tasks and capacities of nodes.

use serde::{Deserialize, Serialize};

/// What a task asks for (`resources { cpu memory }`). Nomad's defaults: 100 MHz, 300 MB.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Resources {
    #[serde(rename = "CPU")]
    pub cpu: i64,
    pub cores: i64,
    #[serde(rename = "MemoryMB")]
    pub memory_mb: i64,
    #[serde(rename = "MemoryMaxMB")]
    pub memory_max_mb: i64,
    #[serde(rename = "DiskMB")]
    pub disk_mb: i64,
    /// Deprecated task-level `network` blocks (Nomad moved networks to groups).
    pub networks: Vec<crate::NetworkResource>,
    /// `device "nvidia/gpu" { count constraint affinity }`.
    pub devices: Vec<RequestedDevice>,
}

/// `device "vendor/type/name" { count constraint affinity }` (`api.RequestedDevice`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RequestedDevice {
    pub name: String,
    /// How many instances; 1 by default.
    pub count: Option<u64>,
    pub constraints: Vec<crate::Constraint>,
    pub affinities: Vec<crate::Affinity>,
}

impl Default for Resources {
    fn default() -> Self {
        Resources {
            cpu: 100,
            cores: 0,
            memory_mb: 300,
            memory_max_mb: 0,
            disk_mb: 0,
            networks: Vec::new(),
            devices: Vec::new(),
        }
    }
}

/// CPU in MHz shares, as `AllocatedResources.Tasks[t].Cpu` and `NodeResources.Cpu`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CpuResources {
    pub cpu_shares: i64,
}

/// Memory in MB, as `AllocatedResources.Tasks[t].Memory` and `NodeResources.Memory`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct MemoryResources {
    #[serde(rename = "MemoryMB")]
    pub memory_mb: i64,
    #[serde(rename = "MemoryMaxMB")]
    pub memory_max_mb: i64,
}

/// Disk in MB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DiskResources {
    #[serde(rename = "DiskMB")]
    pub disk_mb: i64,
}

/// A node's total capacity (`Node.NodeResources`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeResources {
    pub cpu: CpuResources,
    pub memory: MemoryResources,
    pub disk: DiskResources,
}

/// What the client keeps for itself (`Node.ReservedResources`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeReservedResources {
    pub cpu: CpuResources,
    pub memory: MemoryResources,
    pub disk: DiskResources,
}

/// Resources given to one task of an allocation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocatedTaskResources {
    pub cpu: CpuResources,
    pub memory: MemoryResources,
}

/// Resources shared by the tasks of an allocation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocatedSharedResources {
    #[serde(rename = "DiskMB")]
    pub disk_mb: i64,
    /// The group network as placed: the ask with its dynamic ports' values and the
    /// node's IP filled in (Nomad's `AllocatedPortsToNetworkResouce`).
    pub networks: Vec<crate::NetworkResource>,
    /// Every port the allocation holds on its node, static and dynamic.
    pub ports: Vec<crate::AllocatedPortMapping>,
}

impl AllocatedSharedResources {
    /// The ports the allocation holds on its node: [`Self::ports`], or for allocations
    /// that only recorded networks, the ports of those (Nomad's `AddAllocs` fallback).
    pub fn host_ports(&self) -> impl Iterator<Item = i64> + '_ {
        let from_networks = if self.ports.is_empty() {
            self.networks.as_slice()
        } else {
            &[]
        };
        self.ports.iter().map(|p| p.value).chain(
            from_networks
                .iter()
                .flat_map(|n| n.ports())
                .map(|p| p.value),
        )
    }
}

/// `Allocation.AllocatedResources`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocatedResources {
    pub tasks: crate::FlatMap<AllocatedTaskResources>,
    pub shared: AllocatedSharedResources,
}

impl AllocatedResources {
    /// Total CPU (MHz) over all tasks.
    pub fn cpu(&self) -> i64 {
        self.tasks.values().map(|t| t.cpu.cpu_shares).sum()
    }

    /// Total memory (MB) over all tasks.
    pub fn memory_mb(&self) -> i64 {
        self.tasks.values().map(|t| t.memory.memory_mb).sum()
    }
}

/// What allocations hold of a node, summed: what the bin-packer and the plan applier
/// check against what the node can hand out. The state keeps it per node, so neither
/// adds up a node's allocations for each look.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResourceUsage {
    pub cpu: i64,
    pub memory_mb: i64,
    pub disk_mb: i64,
    /// Whole cores reserved (`resources { cores = N }`), read from the allocation's job.
    pub cores: i64,
}

impl ResourceUsage {
    /// What `alloc` holds while it is live (the caller decides whether it is).
    pub fn of(alloc: &crate::Allocation) -> ResourceUsage {
        let resources = &alloc.allocated_resources;
        ResourceUsage {
            cpu: resources.cpu(),
            memory_mb: resources.memory_mb(),
            disk_mb: resources.shared.disk_mb,
            cores: alloc
                .job
                .as_ref()
                .and_then(|job| job.group(&alloc.task_group))
                .map_or(0, |group| {
                    group.tasks.iter().map(|t| t.resources.cores).sum()
                }),
        }
    }

    /// What the live ones of `allocs` hold together.
    pub fn of_live<'a>(allocs: impl IntoIterator<Item = &'a crate::Allocation>) -> ResourceUsage {
        let mut used = ResourceUsage::default();
        for alloc in allocs {
            if !alloc.terminal() {
                used += ResourceUsage::of(alloc);
            }
        }
        used
    }

    pub fn is_zero(&self) -> bool {
        *self == ResourceUsage::default()
    }
}

impl std::ops::Neg for ResourceUsage {
    type Output = ResourceUsage;

    fn neg(self) -> ResourceUsage {
        ResourceUsage {
            cpu: -self.cpu,
            memory_mb: -self.memory_mb,
            disk_mb: -self.disk_mb,
            cores: -self.cores,
        }
    }
}

impl std::ops::Sub for ResourceUsage {
    type Output = ResourceUsage;

    fn sub(mut self, other: ResourceUsage) -> ResourceUsage {
        self -= other;
        self
    }
}

impl std::ops::AddAssign for ResourceUsage {
    fn add_assign(&mut self, other: ResourceUsage) {
        self.cpu += other.cpu;
        self.memory_mb += other.memory_mb;
        self.disk_mb += other.disk_mb;
        self.cores += other.cores;
    }
}

impl std::ops::SubAssign for ResourceUsage {
    fn sub_assign(&mut self, other: ResourceUsage) {
        self.cpu -= other.cpu;
        self.memory_mb -= other.memory_mb;
        self.disk_mb -= other.disk_mb;
        self.cores -= other.cores;
    }
}
