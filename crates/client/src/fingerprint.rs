//! Fingerprinting: what this machine is, in Nomad's attribute names and formats.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use caravan_structs::{CpuResources, DiskResources, MemoryResources, NodeResources};

/// Facts about the host, read once at start.
#[derive(Debug, Clone, Default)]
pub struct HostFacts {
    pub attributes: BTreeMap<String, String>,
    pub resources: NodeResources,
    pub hostname: String,
}

/// The agent's `cpu_total_compute`, `memory_total_mb`, `disk_total_mb` and
/// `disk_free_mb`: what to report instead of what was detected. Unset or 0 keeps the
/// detected value, as in Nomad.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResourceOverrides {
    pub cpu_total_compute: Option<i64>,
    pub memory_total_mb: Option<i64>,
    pub disk_total_mb: Option<i64>,
    pub disk_free_mb: Option<i64>,
}

impl HostFacts {
    /// Replaces the detected figures `overrides` sets, in the node's resources (what the
    /// scheduler places against) and in the attributes that report them alike.
    pub fn apply(&mut self, overrides: &ResourceOverrides) {
        const MIB: i64 = 1024 * 1024;
        let set = |value: Option<i64>| value.filter(|v| *v > 0);
        let attributes = &mut self.attributes;
        if let Some(mhz) = set(overrides.cpu_total_compute) {
            self.resources.cpu.cpu_shares = mhz;
            attributes.insert("cpu.totalcompute".into(), mhz.to_string());
        }
        if let Some(mib) = set(overrides.memory_total_mb) {
            self.resources.memory.memory_mb = mib;
            attributes.insert("memory.totalbytes".into(), (mib * MIB).to_string());
        }
        if let Some(mib) = set(overrides.disk_total_mb) {
            attributes.insert("unique.storage.bytestotal".into(), (mib * MIB).to_string());
        }
        if let Some(mib) = set(overrides.disk_free_mb) {
            self.resources.disk.disk_mb = mib;
            attributes.insert("unique.storage.bytesfree".into(), (mib * MIB).to_string());
        }
    }
}

/// Reads the host: kernel, OS, CPU, memory, disk of `data_dir`, hostname, address, and
/// on EC2 the instance metadata.
pub async fn fingerprint_host(data_dir: &Path, address: &str) -> HostFacts {
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

    // Only asked on a machine whose firmware says EC2, so elsewhere this costs nothing and
    // sends nothing; on EC2 the link-local service answers in milliseconds.
    attributes.extend(probe_aws(Duration::from_millis(300)).await);

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

/// The EC2 instance metadata service (link-local, only reachable on EC2).
const AWS_METADATA: &str = "http://169.254.169.254";

/// Metadata keys Nomad's `env_aws` fingerprinter reads, and whether each is unique to
/// the instance (those get the `unique.` prefix).
const AWS_KEYS: &[(&str, bool)] = &[
    ("ami-id", false),
    ("instance-type", false),
    ("instance-life-cycle", false),
    ("placement/availability-zone", false),
    ("hostname", true),
    ("instance-id", true),
    ("local-hostname", true),
    ("local-ipv4", true),
    ("public-hostname", true),
    ("public-ipv4", true),
    ("mac", true),
];

/// Whether the machine says it is an EC2 instance (DMI vendor or product UUID), so the
/// metadata service is only ever asked on EC2.
pub fn looks_like_ec2() -> bool {
    let read = |path: &str| {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    };
    read("/sys/class/dmi/id/sys_vendor").contains("amazon")
        || read("/sys/class/dmi/id/board_vendor").contains("amazon")
        || read("/sys/class/dmi/id/product_uuid").starts_with("ec2")
        || read("/sys/hypervisor/uuid").starts_with("ec2")
}

/// The attribute name Nomad gives a metadata key: `platform.aws.placement.availability-zone`,
/// `unique.platform.aws.instance-id`.
pub fn aws_attribute(key: &str, unique: bool) -> String {
    let name = format!("platform.aws.{}", key.replace('/', "."));
    if unique {
        format!("unique.{name}")
    } else {
        name
    }
}

/// Reads the instance metadata (IMDSv2: a token, then each key), each request bounded
/// by `timeout`. Returns nothing off EC2 or when the service does not answer.
pub async fn probe_aws(timeout: Duration) -> BTreeMap<String, String> {
    if !looks_like_ec2() {
        return BTreeMap::new();
    }
    read_aws_metadata(AWS_METADATA, timeout).await
}

/// The metadata attributes the service at `base` answers.
async fn read_aws_metadata(base: &str, timeout: Duration) -> BTreeMap<String, String> {
    let mut attributes = BTreeMap::new();
    let http = match reqwest::Client::builder()
        // The service is link-local: never through a proxy.
        .no_proxy()
        .connect_timeout(timeout)
        .timeout(timeout)
        .build()
    {
        Ok(http) => http,
        Err(_) => return attributes,
    };
    let token = metadata(
        http.put(format!("{base}/latest/api/token"))
            .header("X-aws-ec2-metadata-token-ttl-seconds", "60")
            .body(""),
    )
    .await;
    for (key, unique) in AWS_KEYS {
        let mut request = http.get(format!("{base}/latest/meta-data/{key}"));
        if let Some(token) = &token {
            request = request.header("X-aws-ec2-metadata-token", token.trim());
        }
        if let Some(value) = metadata(request).await {
            let value = value.trim();
            if !value.is_empty() {
                attributes.insert(aws_attribute(key, *unique), value.to_string());
            }
        }
    }
    attributes
}

/// The body of a 200 answer (at most 64 KiB); `None` on any failure or other status.
async fn metadata(request: reqwest::RequestBuilder) -> Option<String> {
    const LIMIT: usize = 64 * 1024;
    let mut response = request.send().await.ok()?;
    if response.status() != reqwest::StatusCode::OK {
        return None;
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.ok()? {
        body.extend_from_slice(&chunk);
        if body.len() >= LIMIT {
            body.truncate(LIMIT);
            break;
        }
    }
    String::from_utf8(body).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_attribute_names_follow_nomad() {
        assert_eq!(
            aws_attribute("instance-type", false),
            "platform.aws.instance-type"
        );
        assert_eq!(
            aws_attribute("placement/availability-zone", false),
            "platform.aws.placement.availability-zone"
        );
        assert_eq!(
            aws_attribute("instance-id", true),
            "unique.platform.aws.instance-id"
        );
    }

    #[tokio::test]
    async fn host_fingerprint_has_nomads_keys() {
        let dir = tempfile::tempdir().unwrap();
        let facts = fingerprint_host(dir.path(), "127.0.0.1").await;
        for key in [
            "kernel.name",
            "kernel.version",
            "os.name",
            "cpu.arch",
            "cpu.numcores",
            "cpu.frequency",
            "cpu.totalcompute",
            "memory.totalbytes",
            "unique.hostname",
            "unique.network.ip-address",
            "nomad.version",
        ] {
            assert!(facts.attributes.contains_key(key), "missing {key}");
        }
        assert_eq!(facts.attributes["kernel.name"], "linux");
        assert!(facts.resources.cpu.cpu_shares > 0 && facts.resources.memory.memory_mb > 0);
    }

    #[tokio::test]
    async fn configured_totals_replace_what_was_detected_and_zero_keeps_it() {
        let dir = tempfile::tempdir().unwrap();
        let detected = fingerprint_host(dir.path(), "127.0.0.1").await;
        let mut facts = detected.clone();
        facts.apply(&ResourceOverrides {
            cpu_total_compute: Some(8000),
            memory_total_mb: Some(2048),
            disk_total_mb: Some(0),
            disk_free_mb: Some(50_000),
        });
        assert_eq!(facts.resources.cpu.cpu_shares, 8000);
        assert_eq!(facts.attributes["cpu.totalcompute"], "8000");
        assert_eq!(facts.resources.memory.memory_mb, 2048);
        assert_eq!(facts.attributes["memory.totalbytes"], "2147483648");
        assert_eq!(facts.resources.disk.disk_mb, 50_000);
        assert_eq!(facts.attributes["unique.storage.bytesfree"], "52428800000");
        assert_eq!(
            facts.attributes.get("unique.storage.bytestotal"),
            detected.attributes.get("unique.storage.bytestotal"),
            "0 keeps the detected total"
        );
    }

    /// A stand-in for the metadata service: IMDSv2 (a token from `PUT`, required on
    /// every read), two keys, 404 for the rest.
    async fn fake_metadata_service() -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n")
                    && stream.read(&mut byte).await.is_ok_and(|n| n == 1)
                {
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
                let has_token = head.contains("x-aws-ec2-metadata-token: tok\r\n");
                let (status, body) = match head.lines().next().unwrap_or_default() {
                    "put /latest/api/token http/1.1"
                        if head.contains("x-aws-ec2-metadata-token-ttl-seconds: 60") =>
                    {
                        ("200 OK", "tok")
                    }
                    _ if !has_token => ("401 Unauthorized", ""),
                    "get /latest/meta-data/instance-type http/1.1" => ("200 OK", "t3.micro\n"),
                    "get /latest/meta-data/instance-id http/1.1" => ("200 OK", "i-0abc"),
                    _ => ("404 Not Found", "nope"),
                };
                let answer = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            }
        });
        format!("http://{address}")
    }

    #[tokio::test]
    async fn aws_metadata_with_a_token() {
        let base = fake_metadata_service().await;
        let attributes = read_aws_metadata(&base, Duration::from_secs(5)).await;
        assert_eq!(
            attributes,
            BTreeMap::from([
                (
                    "platform.aws.instance-type".to_string(),
                    "t3.micro".to_string()
                ),
                (
                    "unique.platform.aws.instance-id".to_string(),
                    "i-0abc".to_string()
                ),
            ])
        );
    }

    #[tokio::test]
    async fn no_metadata_service_no_attributes() {
        // Port 1 on loopback is closed on any sane machine.
        let attributes = read_aws_metadata("http://127.0.0.1:1", Duration::from_millis(300)).await;
        assert!(attributes.is_empty());
    }
}
