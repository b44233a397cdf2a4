//! Fingerprinting: what this machine is, in Nomad's attribute names and formats.

use std::collections::BTreeMap;
use std::path::Path;

use caravan_structs::{CpuResources, DiskResources, MemoryResources, NodeResources};

/// Facts about the host, read once at start.
#[derive(Debug, Clone, Default)]
pub struct HostFacts {
    pub attributes: BTreeMap<String, String>,
    pub resources: NodeResources,
    pub hostname: String,
}

/// Reads the host: kernel, OS, CPU, memory, disk of `data_dir`, hostname, address.
pub fn fingerprint_host(data_dir: &Path, address: &str) -> HostFacts {
    let mut attributes = BTreeMap::new();
    let uname = nix::sys::utsname::uname().ok();
    let hostname = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_default();
    attributes.insert("kernel.name".into(), std::env::consts::OS.to_string());
    if let Some(uname) = &uname {
        attributes.insert(
            "kernel.version".into(),
            uname.release().to_string_lossy().into_owned(),
        );
        attributes.insert(
            "kernel.arch".into(),
            uname.machine().to_string_lossy().into_owned(),
        );
    }
    let os_release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let os_field = |key: &str| {
        os_release
            .lines()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
            .map(|value| value.trim_matches('"').to_string())
    };
    if let Some(name) = os_field("ID") {
        attributes.insert("os.name".into(), name);
    }
    if let Some(version) = os_field("VERSION_ID") {
        attributes.insert("os.version".into(), version);
    }
    // Nomad reports Go's GOARCH names.
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    };
    attributes.insert("cpu.arch".into(), arch.to_string());

    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1) as i64;
    let model = cpuinfo.lines().find_map(|l| {
        l.strip_prefix("model name")
            .and_then(|r| r.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
    });
    let mhz = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("cpu MHz")
                .and_then(|r| r.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .and_then(|v| v.parse::<f64>().ok())
        .map(|v| v.round() as i64)
        .unwrap_or(1000);
    if let Some(model) = model {
        attributes.insert("cpu.modelname".into(), model);
    }
    attributes.insert("cpu.numcores".into(), cores.to_string());
    attributes.insert("cpu.frequency".into(), mhz.to_string());
    let total_compute = mhz * cores;
    attributes.insert("cpu.totalcompute".into(), total_compute.to_string());

    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kb = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
        .unwrap_or(0);
    attributes.insert("memory.totalbytes".into(), (mem_kb * 1024).to_string());

    let disk_mb = nix::sys::statvfs::statvfs(data_dir)
        .map(|s| (s.blocks_available() as i64 * s.fragment_size() as i64) / (1024 * 1024))
        .unwrap_or(0);
    if let Ok(stat) = nix::sys::statvfs::statvfs(data_dir) {
        attributes.insert(
            "unique.storage.bytestotal".into(),
            (stat.blocks() as i64 * stat.fragment_size() as i64).to_string(),
        );
        attributes.insert(
            "unique.storage.bytesfree".into(),
            (disk_mb * 1024 * 1024).to_string(),
        );
    }
    attributes.insert(
        "unique.storage.volume".into(),
        data_dir.display().to_string(),
    );
    attributes.insert("unique.hostname".into(), hostname.clone());
    attributes.insert("unique.network.ip-address".into(), address.to_string());
    attributes.insert(
        "nomad.version".into(),
        caravan_structs::CARAVAN_VERSION.to_string(),
    );
    attributes.insert("nomad.revision".into(), "caravan".to_string());
    let cgroup_version = if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        "2"
    } else {
        "1"
    };
    attributes.insert("os.cgroups.version".into(), cgroup_version.to_string());
    attributes.insert(
        "os.signals".into(),
        "SIGABRT,SIGALRM,SIGBUS,SIGCHLD,SIGCONT,SIGFPE,SIGHUP,SIGILL,SIGINT,SIGIO,SIGKILL,SIGPIPE,SIGPROF,SIGQUIT,\
         SIGSEGV,SIGSTOP,SIGSYS,SIGTERM,SIGTRAP,SIGTSTP,SIGTTIN,SIGTTOU,SIGURG,SIGUSR1,SIGUSR2,SIGVTALRM,SIGWINCH,\
         SIGXCPU,SIGXFSZ"
            .to_string(),
    );

    let resources = NodeResources {
        cpu: CpuResources {
            cpu_shares: total_compute,
        },
        memory: MemoryResources {
            memory_mb: mem_kb / 1024,
            memory_max_mb: 0,
        },
        disk: DiskResources { disk_mb },
    };
    HostFacts {
        attributes,
        resources,
        hostname,
    }
}
