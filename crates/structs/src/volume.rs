//! `volume "name" { }` in groups and `volume_mount { }` in tasks.

use serde::{Deserialize, Serialize};

/// `volume "name" { type source read_only ... }` (`api.VolumeRequest`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeRequest {
    pub name: String,
    /// `host` or `csi`.
    pub r#type: String,
    pub source: String,
    pub read_only: bool,
    pub sticky: bool,
    pub access_mode: String,
    pub attachment_mode: String,
    pub mount_options: Option<CsiMountOptions>,
    pub per_alloc: bool,
}

/// `mount_options { fs_type mount_flags }` of a CSI volume.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CsiMountOptions {
    #[serde(rename = "FSType")]
    pub fs_type: String,
    pub mount_flags: Vec<String>,
}

/// `volume_mount { volume destination read_only propagation_mode }` (`api.VolumeMount`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeMount {
    pub volume: Option<String>,
    pub destination: Option<String>,
    pub read_only: Option<bool>,
    /// `private` (default), `host-to-task` or `bidirectional`.
    pub propagation_mode: Option<String>,
    #[serde(rename = "SELinuxLabel")]
    pub selinux_label: Option<String>,
}

impl VolumeMount {
    /// Nomad's `VolumeMount.Canonicalize`.
    pub fn canonicalize(&mut self) {
        self.propagation_mode
            .get_or_insert_with(|| "private".to_string());
        self.read_only.get_or_insert(false);
        self.selinux_label.get_or_insert_with(String::new);
    }
}

/// A directory a client offers jobs as a host volume: the agent's
/// `client { host_volume "name" { path read_only } }`, reported on the node
/// (`Node.HostVolumes`, Nomad's `ClientHostVolumeConfig`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ClientHostVolumeConfig {
    pub name: String,
    pub path: String,
    /// Every mount of it is read-only, whatever the job asks.
    pub read_only: bool,
}

/// `volume { type = "host" }`.
pub const VOLUME_TYPE_HOST: &str = "host";
/// `volume { type = "csi" }`.
pub const VOLUME_TYPE_CSI: &str = "csi";
